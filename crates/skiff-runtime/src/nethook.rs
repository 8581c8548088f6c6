//! The seam between the engine and networking: the engine calls these at
//! create, start, exit, remove and daemon start; the daemon plugs skiff-net in
//! (the runtime never imports it). Without hooks, bridged containers get a
//! namespace with only loopback, as `none`.

use skiff_types::{ApiError, ContainerSpec};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

/// A container as networking sees it at start.
pub struct NetContainer<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    pub spec: &'a ContainerSpec,
    pub dir: &'a Path,
}

pub trait NetworkHooks: Send + Sync + 'static {
    /// Checks the network part of a spec at create time.
    fn validate(&self, spec: &ContainerSpec) -> Result<(), ApiError>;
    /// Wires the container into `netns` (None: host network) before its init runs; returns
    /// (container path, host file) pairs to bind-mount (/etc/hosts, resolv.conf, hostname).
    fn attach(
        &self,
        c: &NetContainer<'_>,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<Vec<(String, PathBuf)>, ApiError>;
    /// The container's init exited (or its start failed): undo `attach`.
    fn detach(&self, id: &str);
    /// The container was removed: release its addresses.
    fn release(&self, id: &str);
    /// Daemon start: every known container id, and which of them run.
    fn reconcile(&self, known: &[String], alive: &[String]);
    /// The container's addresses on its networks, primary first.
    fn addresses(&self, id: &str) -> Vec<std::net::IpAddr>;
}
