//! skiff-net plugged into the engine's network seam (`skiff_runtime::NetworkHooks`).

use skiff_net::{NetError, NetManager};
use skiff_runtime::{NetContainer, NetworkHooks};
use skiff_types::{ApiError, ContainerSpec, ErrorKind};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;

/// Networking, plus the `--uses` forwarders that live in a container's namespace.
pub struct Hooks(
    pub NetManager,
    pub std::sync::Arc<super::lb::uses::Ambassadors>,
);

pub fn api_error(e: NetError) -> ApiError {
    let kind = match &e {
        NetError::Invalid(_) => ErrorKind::Invalid,
        NetError::NotFound(_) => ErrorKind::NotFound,
        NetError::Conflict(_) => ErrorKind::Conflict,
        NetError::Io { .. } => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

impl NetworkHooks for Hooks {
    fn validate(&self, spec: &ContainerSpec) -> Result<(), ApiError> {
        if !spec.uses.is_empty()
            && (spec.userns_auto || spec.network == skiff_types::NetworkMode::None)
        {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "--uses needs the container's network (bridge, a user network or host); not with --network none or --userns=auto",
            ));
        }
        super::lb::uses::Ambassadors::validate(&spec.uses)?;
        self.0.validate(spec).map_err(api_error)
    }

    fn attach(
        &self,
        c: &NetContainer<'_>,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<Vec<(String, PathBuf)>, ApiError> {
        let req = skiff_net::attach::AttachRequest {
            id: c.id,
            name: c.name,
            hostname: c.hostname,
            spec: c.spec,
            exposed: &c.spec.exposed_ports,
            dir: c.dir,
        };
        let files = self.0.attach(&req, netns).map_err(api_error)?;
        if let Err(e) = self.1.attach(c.id, &c.spec.uses, netns) {
            self.0.detach(c.id);
            return Err(e);
        }
        Ok(files)
    }

    fn detach(&self, id: &str) {
        self.1.detach(id);
        self.0.detach(id)
    }

    fn release(&self, id: &str) {
        self.0.release(id)
    }

    fn addresses(&self, id: &str) -> Vec<std::net::IpAddr> {
        self.0.addresses(id)
    }

    fn reconcile(&self, known: &[String], alive: &[String]) {
        self.0.reconcile(known, alive)
    }
}
