//! Start-path networking: a network namespace for bridged containers (from the
//! pool, else made on a throwaway thread), handed to the [`crate::NetworkHooks`]
//! to wire before the keeper spawns the init into it; and the undo after exit.

use super::{err, Container, Runtime};
use crate::nethook::NetContainer;
use skiff_types::{ApiError, ContainerSpec, ErrorKind};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

/// The namespace to join (bridged) and the files to bind-mount.
pub(super) type Wired = (Option<OwnedFd>, Vec<(String, PathBuf)>);

impl Runtime {
    pub(super) async fn wire_network(
        &self,
        c: &Container,
        spec: &ContainerSpec,
    ) -> Result<Wired, ApiError> {
        let Some(hooks) = self.inner.network.clone() else {
            return Ok((None, Vec::new()));
        };
        // A user-namespaced container cannot create the mount points of the /etc files
        // in its (unmapped) rootfs: it keeps the image's own (and runs without a bridge).
        if spec.userns_auto {
            return Ok((None, Vec::new()));
        }
        let ns = if spec.network.is_bridged() && !spec.userns_auto {
            match self.inner.netns_pool.as_ref().and_then(|p| p.take()) {
                Some(fd) => Some(fd),
                None => Some(new_netns().await?),
            }
        } else {
            None
        };
        let id = c.id.to_string();
        let name = c.rec().name.clone();
        let hostname = spec
            .hostname
            .clone()
            .unwrap_or_else(|| c.id.short().to_string());
        let dir = c.dir.0.clone();
        let spec = spec.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let files = hooks.attach(
                &NetContainer {
                    id: &id,
                    name: &name,
                    hostname: &hostname,
                    spec: &spec,
                    dir: &dir,
                },
                ns.as_ref().map(|f| f.as_fd()),
            )?;
            Ok::<_, ApiError>((ns, files))
        })
        .await
        .map_err(|e| err(ErrorKind::Internal, format!("network setup: {e}")))?;
        joined
    }

    /// Undoes `wire_network` (exit, failed start); the lease stays until `rm`.
    pub(super) async fn unwire_network(&self, c: &Container) {
        if let Some(hooks) = self.inner.network.clone() {
            let id = c.id.to_string();
            let _ = tokio::task::spawn_blocking(move || hooks.detach(&id)).await;
        }
    }
}

/// A fresh namespace made on a thread that ends right after (so a failure to
/// return it to the host namespace can never leak into a pooled thread).
async fn new_netns() -> Result<OwnedFd, ApiError> {
    let made = tokio::task::spawn_blocking(|| {
        std::thread::spawn(skiff_sys::netns::create_detached)
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
    })
    .await
    .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    made.map_err(|e| err(ErrorKind::Unavailable, format!("network namespace: {e}")))
}
