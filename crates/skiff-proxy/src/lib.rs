//! skiff-proxy: the L4/L7 load balancer and the ambassador, fed by the
//! registry's `ServiceUpdate` stream (Reset/Add/Remove of instances).
//!
//! It owns: the backend set of one service (immutable, swapped atomically per
//! update), the pick (round robin or power of two choices, pure), passive
//! health, retries with a budget, HTTP/1.1 and TCP forwarding, the drain side
//! of removals (per-backend in-flight counts, `Balancer::wait_drained`) and
//! the ack hook (`Balancer::applied`), and Prometheus metrics.
//!
//! It must not: read the store or talk to the registry (the daemon connects
//! a watch to `Balancer::feed`), nor decide when an instance stops (the
//! daemon waits for acks and drains, then signals the container).
//!
//! ```text
//!  ServiceUpdate --feed--> Balancer{ArcSwap<BackendSet>} --claim--> Backend
//!  client --http::serve_connection / tcp::pipe--> forward (pool, retries) --> backend
//! ```
//!
//! HTTP mode runs on its own HTTP/1.1 codec (httparse for heads, `chunked`
//! for bodies, `relay` to stream them): one task per client connection,
//! no per-request allocation or timer registration on the hot path, and
//! for a small exchange one read and one write on each side (hyper's client
//! and server pair cost 1.6x the CPU per request; see BENCHMARKS.md).
//! hyper serves only the admin listener.
//!
//! API as of the codec change: `Proxy`, `Balancer`, `http::serve`,
//! `tcp::serve`, `admin::serve`, `Ambassador` and the config types are
//! unchanged. Gone: `http::handle` (hyper `Request` in, `Response` out),
//! the `body` module and the HeaderMap helpers of `headers`; in their place
//! `http::serve_connection` serves one accepted connection, and `codec` /
//! `chunked` expose the head and body parsers. `TryError`'s `Unsent` and
//! `Exchange` carry an `std::io::Error`, `Handshake` became `Protocol` (a
//! backend answer that is not HTTP/1.1; metrics label `protocol`), and
//! `TryError::status` returns a `u16`.

#![forbid(unsafe_code)]

pub mod admin;
pub mod ambassador;
pub mod backend;
pub mod balancer;
pub mod budget;
mod buf;
pub mod chunked;
pub mod codec;
pub mod config;
mod deadline;
pub mod error;
mod forward;
pub mod health;
pub mod http;
pub mod metrics;
pub mod pick;
mod pool;
mod relay;
pub mod tcp;

pub use ambassador::Ambassador;
pub use balancer::{BackendSet, Balancer, Removed};
pub use config::{Balance, HealthConfig, Mode, ProxyConfig, RetryConfig};
pub use error::{ProxyError, Stage, TryError};

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// A bound proxy listener for one service.
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    local_addr: SocketAddr,
    balancer: Arc<Balancer>,
}

impl Proxy {
    /// Binds `addr` (port 0 picks one) for `service` with `cfg`.
    pub async fn bind(
        addr: SocketAddr,
        service: &str,
        cfg: ProxyConfig,
    ) -> Result<Self, ProxyError> {
        let listener = bind(addr).await?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ProxyError::Bind { addr, source })?;
        Ok(Proxy {
            listener,
            local_addr,
            balancer: Balancer::new(service, cfg),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn balancer(&self) -> Arc<Balancer> {
        self.balancer.clone()
    }

    /// Serves until an unrecoverable listener error.
    pub async fn run(self) -> Result<(), ProxyError> {
        match self.balancer.config().mode {
            Mode::Http => http::serve(self.listener, self.balancer).await,
            Mode::Tcp => tcp::serve(self.listener, self.balancer).await,
        }
    }
}

pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProxyError::Bind { addr, source })
}

/// Accepts one connection. Per-connection and resource errors (aborted
/// handshakes, fd exhaustion) are survived: `None` after a short pause so
/// an fd shortage does not spin; anything else ends the listener.
pub(crate) async fn accept(
    listener: &TcpListener,
    addr: SocketAddr,
) -> Result<Option<(TcpStream, SocketAddr)>, ProxyError> {
    use std::io::ErrorKind::*;
    match listener.accept().await {
        Ok(c) => Ok(Some(c)),
        Err(e) if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) => Ok(None),
        Err(e) if matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) => {
            // ENFILE, EMFILE, ENOBUFS, ENOMEM: wait for fds to come back
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            Ok(None)
        }
        Err(source) => Err(ProxyError::Accept { addr, source }),
    }
}
