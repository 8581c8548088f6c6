//! TCP mode: each client connection is piped to one backend. Connect
//! failures (refused, reset, timed out) count toward passive health and are
//! retried on another backend, within the retry budget; once connected,
//! bytes flow both ways until either side closes. A connection counts as in
//! flight for drains until it closes.

use crate::backend::Backend;
use crate::balancer::Balancer;
use crate::error::{ProxyError, TryError};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream};

/// Serves TCP on `listener` until an unrecoverable accept error.
pub async fn serve(listener: TcpListener, balancer: Arc<Balancer>) -> Result<(), ProxyError> {
    let local = listener.local_addr().map_err(|source| ProxyError::Accept {
        addr: ([0, 0, 0, 0], 0).into(),
        source,
    })?;
    loop {
        if let Some((stream, _)) = crate::accept(&listener, local).await? {
            tokio::spawn(pipe(balancer.clone(), stream));
        }
    }
}

/// Connects `client` to a backend and copies bytes until either side ends.
pub async fn pipe(bal: Arc<Balancer>, mut client: TcpStream) {
    bal.metrics.requests.inc();
    bal.budget.deposit(bal.now());
    let _ = client.set_nodelay(true);
    let mut tried: Vec<Arc<Backend>> = Vec::new();
    for attempt in 0..bal.cfg.retry.max_tries.max(1) {
        if attempt > 0 {
            if !bal.budget.withdraw(bal.now()) {
                bal.metrics.retry_budget_exhausted.inc();
                return;
            }
            bal.metrics.retries.inc();
        }
        let Some(guard) = bal.claim(&tried) else {
            break;
        };
        let b = guard.backend().clone();
        let addr = b.addr;
        let err =
            match tokio::time::timeout(bal.cfg.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(mut upstream)) => {
                    b.health.on_success();
                    let _ = upstream.set_nodelay(true);
                    let started = Instant::now();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    b.latency.observe(started.elapsed());
                    return;
                }
                Ok(Err(source)) => TryError::Connect { addr, source },
                Err(_) => TryError::ConnectTimeout { addr },
            };
        bal.on_failure(&b, true);
        bal.metrics.error(err.kind());
        tried.push(b);
    }
    if tried.is_empty() {
        bal.metrics.no_backend.inc();
    }
    // dropping the client closes it: no backend could take it
}
