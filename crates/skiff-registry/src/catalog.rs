//! [`Catalog`]: an immutable snapshot of every service's instances at one
//! revision, folded forward by [`CatalogUpdate`]s; [`LiveCatalog`]: the
//! latest snapshot, swapped atomically by a task that follows the registry
//! (what the DNS server reads on every query, without touching the store).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use skiff_types::Instance;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::by_service;
use crate::watch::CatalogUpdate;
use crate::Registry;

/// Every service's instances at `revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    revision: u64,
    services: BTreeMap<String, Vec<Instance>>,
}

impl Catalog {
    pub fn new(revision: u64, instances: Vec<Instance>) -> Self {
        let mut services = by_service(instances);
        for list in services.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Self { revision, services }
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Service names with at least one instance, sorted.
    pub fn services(&self) -> impl Iterator<Item = (&str, &[Instance])> {
        self.services
            .iter()
            .map(|(name, list)| (name.as_str(), list.as_slice()))
    }

    /// The instances of `service` (empty if unknown), sorted by id.
    pub fn instances(&self, service: &str) -> &[Instance] {
        self.services.get(service).map_or(&[], Vec::as_slice)
    }

    /// Folds one update in (a `Reset` replaces everything).
    pub fn apply(&mut self, update: CatalogUpdate) {
        match update {
            CatalogUpdate::Reset {
                revision,
                instances,
            } => *self = Catalog::new(revision, instances),
            CatalogUpdate::Add { revision, instance } => {
                let list = self.services.entry(instance.service.clone()).or_default();
                match list.binary_search_by(|i| i.id.cmp(&instance.id)) {
                    Ok(at) => list[at] = instance,
                    Err(at) => list.insert(at, instance),
                }
                self.revision = revision;
            }
            CatalogUpdate::Remove {
                revision,
                service,
                id,
            } => {
                if let Some(list) = self.services.get_mut(&service) {
                    list.retain(|i| i.id != id);
                    if list.is_empty() {
                        self.services.remove(&service);
                    }
                }
                self.revision = revision;
            }
        }
    }
}

/// The latest [`Catalog`], kept current by a background task. Cheap to clone.
#[derive(Clone)]
pub struct LiveCatalog {
    current: Arc<RwLock<Arc<Catalog>>>,
    revisions: watch::Receiver<u64>,
    _task: Arc<TaskGuard>,
}

struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl LiveCatalog {
    /// Follows `registry` from now on. Store outages are retried every
    /// `retry`; meanwhile the last snapshot keeps answering.
    pub fn follow(registry: Registry, retry: Duration) -> Self {
        let current = Arc::new(RwLock::new(Arc::new(Catalog::default())));
        let (tx, revisions) = watch::channel(0);
        let shared = current.clone();
        let task = tokio::spawn(async move {
            let mut working = Catalog::default();
            loop {
                let mut w = match registry.watch_all(None).await {
                    Ok(w) => w,
                    Err(_) => {
                        tokio::time::sleep(retry).await;
                        continue;
                    }
                };
                while let Some(item) = w.next().await {
                    match item {
                        Ok(update) => {
                            working.apply(update);
                            let snapshot = Arc::new(working.clone());
                            *shared.write().unwrap_or_else(|p| p.into_inner()) = snapshot;
                            tx.send_replace(working.revision());
                        }
                        Err(_) => tokio::time::sleep(retry).await,
                    }
                }
                tokio::time::sleep(retry).await;
            }
        });
        Self {
            current,
            revisions,
            _task: Arc::new(TaskGuard(task)),
        }
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until the snapshot has reached `revision`.
    pub async fn wait_for(&self, revision: u64) {
        let mut rx = self.revisions.clone();
        let _ = rx.wait_for(|r| *r >= revision).await;
    }
}
