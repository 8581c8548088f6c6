//! One running load balancer: its listener (bound first, so a clash refuses
//! the record before anything else happens), its balancer, the serve task,
//! and its link to the registry (feed + acks).

use super::watcher::Link;
use skiff_proxy::{Balancer, Mode, ProxyConfig};
use skiff_registry::Registry;
use skiff_store::LeaseId;
use skiff_types::topology::LbMode;
use skiff_types::{LbDef, LbStatus};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct RunningLb {
    pub def: LbDef,
    balancer: Arc<Balancer>,
    serve: JoinHandle<()>,
    link: Link,
}

/// Binds `addr` now (std, so the error is the kernel's own: in use, not
/// local, permission).
pub fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    let l = std::net::TcpListener::bind(addr).map_err(|e| format!("listen on {addr}: {e}"))?;
    l.set_nonblocking(true)
        .map_err(|e| format!("listen on {addr}: {e}"))?;
    tokio::net::TcpListener::from_std(l).map_err(|e| format!("listen on {addr}: {e}"))
}

pub fn config(mode: LbMode) -> ProxyConfig {
    ProxyConfig {
        mode: match mode {
            LbMode::Http => Mode::Http,
            LbMode::Tcp => Mode::Tcp,
        },
        ..ProxyConfig::default()
    }
}

impl RunningLb {
    /// Binds, links to the registry, and serves. Nothing is left behind on error.
    pub async fn start(
        def: LbDef,
        registry: Registry,
        node: &str,
        lease: watch::Receiver<Option<LeaseId>>,
    ) -> Result<RunningLb, String> {
        let listener = bind(def.listen)?;
        let balancer = Balancer::new(def.service.clone(), config(def.mode));
        let name = format!("{}@{node}", def.name);
        let link = Link::start(registry, node, name, def.port, lease, balancer.clone()).await?;
        let serve = tokio::spawn({
            let b = balancer.clone();
            let lb = def.name.clone();
            async move {
                let r = match b.config().mode {
                    Mode::Http => skiff_proxy::http::serve(listener, b).await,
                    Mode::Tcp => skiff_proxy::tcp::serve(listener, b).await,
                };
                if let Err(e) = r {
                    eprintln!("skiff daemon: load balancer {lb} stopped: {e}");
                }
            }
        });
        Ok(RunningLb {
            def,
            balancer,
            serve,
            link,
        })
    }

    /// Closes the listener (the port is free when this returns) and the link.
    pub async fn stop(self) {
        self.serve.abort();
        let _ = self.serve.await;
        self.link.close().await;
    }

    pub fn status(&self) -> LbStatus {
        let set = self.balancer.current();
        LbStatus {
            def: self.def.clone(),
            running: true,
            error: None,
            backends: set.backends().iter().map(|b| b.addr).collect(),
            applied: self.balancer.applied_revision(),
        }
    }
}
