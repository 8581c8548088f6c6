//! The ambassador: a TCP forwarder on a local address (inside or next to a
//! client container) that forwards each new connection to a current
//! instance of a service. Updates rewire it on the fly: new connections go
//! to the new set at once, existing ones finish on the backend they have
//! (and count for its drain), and the client never restarts.

use crate::balancer::Balancer;
use crate::config::{Mode, ProxyConfig};
use crate::error::ProxyError;
use skiff_types::service::ServiceUpdate;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A running ambassador; dropping it stops the listener and the feed
/// (established connections run to their end).
#[derive(Debug)]
pub struct Ambassador {
    local_addr: SocketAddr,
    balancer: Arc<Balancer>,
    tasks: [JoinHandle<()>; 2],
}

impl Ambassador {
    /// Binds `addr` and forwards to `service`'s instances from `updates`.
    pub async fn start(
        addr: SocketAddr,
        service: &str,
        mut cfg: ProxyConfig,
        updates: mpsc::Receiver<ServiceUpdate>,
    ) -> Result<Self, ProxyError> {
        cfg.mode = Mode::Tcp;
        let listener = crate::bind(addr).await?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Bind { addr, source })?;
        let balancer = Balancer::new(service, cfg);
        let serve = tokio::spawn({
            let b = balancer.clone();
            async move {
                let _ = crate::tcp::serve(listener, b).await;
            }
        });
        let feed = tokio::spawn(balancer.clone().feed(updates));
        Ok(Ambassador {
            local_addr,
            balancer,
            tasks: [serve, feed],
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn balancer(&self) -> &Arc<Balancer> {
        &self.balancer
    }
}

impl Drop for Ambassador {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
