//! The balancer of one service: the current backend set (immutable, swapped
//! atomically with arc-swap on each `ServiceUpdate`), the pick, passive
//! health, the retry budget, and the drain and ack side of removals.
//!
//! Readers (every request) load the set without a lock; the single updater
//! builds a new set from the old one, reusing each surviving `Arc<Backend>`
//! so counters and pools carry over, stores it, then retires what left:
//!
//! ```text
//!   update -> new BackendSet -> store (readers switch) -> retire removed
//!          -> announce Removed{id, revision} -> applied revision = R (ack)
//! ```
//!
//! arc-swap rather than `RwLock<Arc<..>>`: a load is a few atomic ops and
//! never waits for the writer, so an update under load cannot stall requests.

use crate::backend::{Backend, InflightGuard};
use crate::budget::RetryBudget;
use crate::config::ProxyConfig;
use crate::metrics::Metrics;
use crate::pick::{mix, pick, SplitMix};
use arc_swap::ArcSwap;
use skiff_types::service::{Instance, ServiceUpdate};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, watch};

/// An immutable backend set at a registry revision, sorted by instance id.
#[derive(Debug, Default)]
pub struct BackendSet {
    revision: u64,
    backends: Vec<Arc<Backend>>,
}

impl BackendSet {
    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn backends(&self) -> &[Arc<Backend>] {
        &self.backends
    }
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }
}

/// A backend that left the set; `drained()` resolves when its last
/// in-flight request has finished.
#[derive(Debug, Clone)]
pub struct Removed {
    pub revision: u64,
    pub backend: Arc<Backend>,
}

impl Removed {
    pub async fn drained(&self) {
        self.backend.drained().await
    }
}

#[derive(Debug)]
pub struct Balancer {
    name: String,
    pub(crate) cfg: ProxyConfig,
    set: ArcSwap<BackendSet>,
    cursor: AtomicU64,
    rng: AtomicU64,
    epoch: Instant,
    applied: watch::Sender<u64>,
    removed_tx: broadcast::Sender<Removed>,
    retired: Mutex<HashMap<String, Arc<Backend>>>,
    pub(crate) budget: RetryBudget,
    pub metrics: Metrics,
}

impl Balancer {
    pub fn new(name: impl Into<String>, cfg: ProxyConfig) -> Arc<Self> {
        let budget = RetryBudget::new(cfg.retry.budget_ratio, cfg.retry.budget_min_per_sec);
        Arc::new(Balancer {
            name: name.into(),
            rng: AtomicU64::new(cfg.seed),
            cfg,
            set: ArcSwap::from_pointee(BackendSet::default()),
            cursor: AtomicU64::new(0),
            epoch: Instant::now(),
            applied: watch::channel(0).0,
            removed_tx: broadcast::channel(256).0,
            retired: Mutex::new(HashMap::new()),
            budget,
            metrics: Metrics::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.cfg
    }

    /// Nanoseconds since this balancer started (never 0).
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64 + 1
    }

    /// The current set (a cheap snapshot; it never changes).
    pub fn current(&self) -> Arc<BackendSet> {
        self.set.load_full()
    }

    /// No backend at all (cheaper than `current()`: no reference count).
    pub fn is_empty(&self) -> bool {
        self.set.load().is_empty()
    }

    /// The ack hook: the last revision whose update is fully applied (new
    /// requests no longer see removed backends).
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    pub fn applied_revision(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Every backend removal, with a handle to wait for its drain.
    pub fn subscribe_removed(&self) -> broadcast::Receiver<Removed> {
        self.removed_tx.subscribe()
    }

    /// Waits until backend `id` has been removed (by an update already
    /// applied) and its in-flight requests have finished. Returns false if
    /// no removed backend has that id.
    pub async fn wait_drained(&self, id: &str) -> bool {
        let b = self.retired_lock().get(id).cloned();
        match b {
            Some(b) => {
                b.drained().await;
                self.retired_lock().retain(|_, r| r.inflight() > 0);
                true
            }
            None => false,
        }
    }

    fn retired_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Backend>>> {
        self.retired.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one update: swap the set, retire removed backends, then ack.
    pub fn apply(&self, update: ServiceUpdate) {
        let old = self.set.load_full();
        let revision = update.revision();
        let by_id: HashMap<&str, &Arc<Backend>> =
            old.backends.iter().map(|b| (b.id.as_str(), b)).collect();
        let reuse =
            |i: &Instance, by_id: &HashMap<&str, &Arc<Backend>>| match by_id.get(i.id.as_str()) {
                Some(b) if b.addr == i.socket_addr() => (*b).clone(),
                _ => Arc::new(Backend::new(
                    i.id.clone(),
                    i.socket_addr(),
                    self.cfg.max_idle_per_backend,
                )),
            };
        let mut next: Vec<Arc<Backend>> = match &update {
            ServiceUpdate::Reset { instances, .. } => {
                instances.iter().map(|i| reuse(i, &by_id)).collect()
            }
            ServiceUpdate::Add { instance, .. } => {
                let b = reuse(instance, &by_id);
                let mut v: Vec<_> = old
                    .backends
                    .iter()
                    .filter(|o| o.id != b.id)
                    .cloned()
                    .collect();
                v.push(b);
                v
            }
            ServiceUpdate::Remove { id, .. } => old
                .backends
                .iter()
                .filter(|o| &o.id != id)
                .cloned()
                .collect(),
        };
        next.sort_by(|a, b| a.id.cmp(&b.id));
        next.dedup_by(|a, b| a.id == b.id);
        // gone, or replaced by a new address
        let gone: Vec<Arc<Backend>> = old
            .backends
            .iter()
            .filter(|o| !next.iter().any(|n| Arc::ptr_eq(n, o)))
            .cloned()
            .collect();
        self.set.store(Arc::new(BackendSet {
            revision,
            backends: next,
        }));
        for b in gone {
            b.retire();
            self.retired_lock().insert(b.id.clone(), b.clone());
            let _ = self.removed_tx.send(Removed {
                revision,
                backend: b,
            });
        }
        self.applied.send_replace(revision);
    }

    /// Applies updates from `rx` until the sender is dropped.
    pub async fn feed(self: Arc<Self>, mut rx: mpsc::Receiver<ServiceUpdate>) {
        while let Some(u) = rx.recv().await {
            self.apply(u);
        }
    }

    /// Picks a backend not in `tried` and claims it for one request.
    /// Ejected backends are skipped unless every untried one is ejected
    /// (then they are used anyway: passive health may be wrong, and a
    /// refusal would certainly fail the request).
    pub fn claim(&self, tried: &[Arc<Backend>]) -> Option<InflightGuard> {
        for _ in 0..8 {
            let set = self.set.load();
            let bs = &set.backends;
            let now = self.now();
            let untried = |i: usize| !tried.iter().any(|t| Arc::ptr_eq(t, &bs[i]));
            let healthy = |i: usize| untried(i) && bs[i].health.eligible(now);
            let cursor = match self.cfg.balance {
                crate::config::Balance::RoundRobin => self.cursor.fetch_add(1, Relaxed),
                crate::config::Balance::P2c => 0,
            };
            let mut rng = SplitMix(mix(self.rng.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed)));
            let load = |i: usize| bs[i].inflight();
            let i = pick(self.cfg.balance, bs.len(), healthy, load, cursor, &mut rng)
                .or_else(|| pick(self.cfg.balance, bs.len(), untried, load, cursor, &mut rng))?;
            if let Some(g) = bs[i].claim() {
                bs[i].requests.fetch_add(1, Relaxed);
                return Some(g);
            }
            // removed between load and claim: the new set is already stored
        }
        None
    }

    pub(crate) fn on_failure(&self, b: &Backend, health: bool) {
        b.failures.fetch_add(1, Relaxed);
        if health {
            b.health.on_failure(self.now(), &self.cfg.health);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, port: u16) -> Instance {
        Instance {
            id: id.into(),
            service: "web".into(),
            node: "n1".into(),
            addr: "127.0.0.1".parse().unwrap(),
            port,
            proto: Default::default(),
            tags: vec![],
            meta: Default::default(),
        }
    }

    #[test]
    fn updates_swap_sets_and_keep_surviving_backends() {
        let b = Balancer::new("web", ProxyConfig::default());
        b.apply(ServiceUpdate::Reset {
            revision: 1,
            instances: vec![inst("a", 1), inst("b", 2)],
        });
        let a1 = b.current().backends()[0].clone();
        let mut removed = b.subscribe_removed();
        b.apply(ServiceUpdate::Add {
            revision: 2,
            instance: inst("c", 3),
        });
        assert!(Arc::ptr_eq(&a1, &b.current().backends()[0]));
        b.apply(ServiceUpdate::Remove {
            revision: 3,
            id: "a".into(),
        });
        let ids: Vec<_> = b
            .current()
            .backends()
            .iter()
            .map(|x| x.id.clone())
            .collect();
        assert_eq!(ids, ["b", "c"]);
        assert_eq!(b.applied_revision(), 3);
        let r = removed.try_recv().unwrap();
        assert_eq!((r.revision, r.backend.id.as_str()), (3, "a"));
        assert!(a1.is_removed());
        // an address change replaces the backend and retires the old one
        b.apply(ServiceUpdate::Reset {
            revision: 4,
            instances: vec![inst("b", 9), inst("c", 3)],
        });
        assert_eq!(removed.try_recv().unwrap().backend.addr.port(), 2);
        assert_eq!(b.current().backends()[0].addr.port(), 9);
    }

    #[test]
    fn claim_skips_tried_and_ejected_and_never_returns_removed() {
        let mut cfg = ProxyConfig::default();
        cfg.health.eject_after = 1;
        let b = Balancer::new("web", cfg);
        b.apply(ServiceUpdate::Reset {
            revision: 1,
            instances: vec![inst("a", 1), inst("b", 2)],
        });
        let a = b.current().backends()[0].clone();
        let g = b.claim(std::slice::from_ref(&a)).unwrap();
        assert_eq!(g.backend().id, "b");
        drop(g);
        b.on_failure(&a, true);
        for _ in 0..4 {
            assert_eq!(b.claim(&[]).unwrap().backend().id, "b");
        }
        // all ejected or tried: the ejected one is still used
        let bb = b.current().backends()[1].clone();
        assert_eq!(b.claim(&[bb]).unwrap().backend().id, "a");
        b.apply(ServiceUpdate::Reset {
            revision: 2,
            instances: vec![],
        });
        assert!(b.claim(&[]).is_none());
    }
}
