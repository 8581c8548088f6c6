//! One backend (a service instance as the proxy sees it): its address, the
//! in-flight counter that both p2c and drains read, passive health, the
//! keep-alive pool and its statistics. A `Backend` lives as long as any set
//! or in-flight request holds it; its counters survive set swaps because the
//! balancer carries the same `Arc<Backend>` into every new set.

use crate::health::Health;
use crate::metrics::Histogram;
use crate::pool::Pool;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Backend {
    pub id: String,
    pub addr: SocketAddr,
    inflight: AtomicU64,
    idle: Notify,
    removed: AtomicBool,
    pub(crate) health: Health,
    pub(crate) pool: Pool,
    pub(crate) requests: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) latency: Histogram,
}

impl Backend {
    pub fn new(id: String, addr: SocketAddr, max_idle: usize) -> Self {
        Backend {
            id,
            addr,
            inflight: AtomicU64::new(0),
            idle: Notify::new(),
            removed: AtomicBool::new(false),
            health: Health::default(),
            pool: Pool::new(max_idle),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency: Histogram::default(),
        }
    }

    /// Requests (HTTP) or connections (TCP) currently using this backend.
    pub fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::SeqCst)
    }

    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    /// Marks the backend removed from the set and drops its idle
    /// connections; in-flight requests finish normally.
    pub(crate) fn retire(&self) {
        self.removed.store(true, Ordering::SeqCst);
        self.pool.clear();
        self.idle.notify_waiters();
    }

    /// Claims the backend for one request. Fails if it was removed: the
    /// increment comes before the check (both SeqCst) and `retire` sets the
    /// flag before a drain reads the counter, so a drain that saw zero can
    /// never be followed by a new request on this backend.
    pub(crate) fn claim(self: &Arc<Self>) -> Option<InflightGuard> {
        self.inflight.fetch_add(1, Ordering::SeqCst);
        let guard = InflightGuard(self.clone());
        if self.is_removed() {
            return None; // the guard's drop undoes the increment
        }
        Some(guard)
    }

    /// Resolves once the backend is removed and has nothing in flight.
    pub async fn drained(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_removed() && self.inflight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Holds one unit of a backend's in-flight count until dropped.
#[derive(Debug)]
pub struct InflightGuard(Arc<Backend>);

impl InflightGuard {
    pub fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.is_removed() {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_waits_for_removal_and_last_request() {
        let b = Arc::new(Backend::new("a".into(), "127.0.0.1:1".parse().unwrap(), 1));
        let g = b.claim().expect("claim");
        assert_eq!(b.inflight(), 1);
        b.retire();
        assert!(b.claim().is_none(), "no new requests after removal");
        assert_eq!(b.inflight(), 1);
        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.drained().await }
        });
        drop(g);
        waiter.await.unwrap();
        assert_eq!(b.inflight(), 0);
    }
}
