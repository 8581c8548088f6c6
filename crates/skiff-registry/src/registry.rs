//! [`Registry`]: reads and typed watches of the catalog; [`NodeSession`]:
//! one node's presence (its key under a lease kept alive in the background)
//! and the instances it registers under that lease.
//!
//! Leases make the registry exact when a host dies: its daemon stops
//! renewing, the store deletes the node key and every instance with it, and
//! watchers get `Remove`s. A session first tries to adopt the lease its
//! previous incarnation left on the node key (a daemon restarted after
//! kill -9 keeps its acknowledged registrations); if that lease is gone it
//! grants a new one. If the lease is lost while running (store unreachable
//! for longer than the TTL) the session grants a new one and announces it on
//! [`NodeSession::lease_changes`], so the owner can register everything again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use skiff_store::{LeaseId, Store, StoreError};
use skiff_types::{Instance, NodeOffer, NodeRecord};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::keys::{self, validate_segment, validate_service};
use crate::watch::{decode, CatalogWatch, ServiceWatch};
use crate::{Catalog, RegistryError};

/// etcd refuses transactions of more than 128 operations by default.
pub const DEFAULT_MAX_BATCH: usize = skiff_store::MAX_TXN_OPS;

/// The catalog over a store. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    max_batch: usize,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }

    /// Registrations per store commit in `register_batch` (default 128, etcd's
    /// transaction limit; the embedded store takes far more per commit).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Every instance of every service, at one revision.
    pub async fn catalog(&self) -> Result<Catalog, RegistryError> {
        let (kvs, revision) = self.store.range(keys::SERVICES).await?;
        let instances = kvs.iter().filter_map(decode).collect();
        Ok(Catalog::new(
            u64::try_from(revision).unwrap_or(0),
            instances,
        ))
    }

    /// The instances of one service and the revision they were read at.
    pub async fn instances(&self, service: &str) -> Result<(Vec<Instance>, u64), RegistryError> {
        validate_service(service)?;
        let (kvs, revision) = self.store.range(&keys::service_prefix(service)).await?;
        let instances = kvs.iter().filter_map(decode).collect();
        Ok((instances, u64::try_from(revision).unwrap_or(0)))
    }

    /// Live nodes (those whose lease is alive).
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, RegistryError> {
        let (kvs, _) = self.store.range(keys::NODES).await?;
        Ok(kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
            .collect())
    }

    /// A typed watch of one service from `from` (default: now).
    pub async fn watch(
        &self,
        service: &str,
        from: Option<u64>,
    ) -> Result<ServiceWatch, RegistryError> {
        ServiceWatch::open(self.store.clone(), service, from).await
    }

    /// A typed watch of every service (what DNS consumes).
    pub async fn watch_all(&self, from: Option<u64>) -> Result<CatalogWatch, RegistryError> {
        CatalogWatch::open(self.store.clone(), keys::SERVICES.to_owned(), from).await
    }

    /// Joins as `node` offering nothing measured (see [`Registry::join_with`]).
    pub async fn join(&self, node: &str, ttl: Duration) -> Result<NodeSession, RegistryError> {
        self.join_with(node, ttl, NodeOffer::default()).await
    }

    /// Joins as `node`: adopts the node's live lease or grants one of `ttl`,
    /// writes the node key (publishing `offer`: capacity and labels), and
    /// keeps the lease alive until the session drops.
    pub async fn join_with(
        &self,
        node: &str,
        ttl: Duration,
        offer: NodeOffer,
    ) -> Result<NodeSession, RegistryError> {
        validate_segment("node name", node)?;
        let shared = Arc::new(Shared {
            store: self.store.clone(),
            node: node.to_owned(),
            ttl,
            offer,
            max_batch: self.max_batch,
            lease: watch::channel(0).0,
            renewing: Mutex::new(()),
        });
        let lease = match shared.adopt().await? {
            Some(lease) => lease,
            None => shared.grant().await?,
        };
        shared.lease.send_replace(lease);
        let task = tokio::spawn(keepalive_loop(shared.clone()));
        Ok(NodeSession { shared, task })
    }
}

struct Shared {
    store: Arc<dyn Store>,
    node: String,
    ttl: Duration,
    offer: NodeOffer,
    max_batch: usize,
    lease: watch::Sender<LeaseId>,
    renewing: Mutex<()>,
}

impl Shared {
    fn record(&self, lease_ttl: Duration) -> Vec<u8> {
        let rec = NodeRecord {
            node: self.node.clone(),
            ttl_ms: u64::try_from(lease_ttl.as_millis()).unwrap_or(u64::MAX),
            capacity: self.offer.capacity,
            labels: self.offer.labels.clone(),
        };
        serde_json::to_vec(&rec).unwrap_or_default()
    }

    /// The lease on the node key, if it is still alive; the key is written
    /// again under it, so a restarted daemon's new offer replaces the old.
    async fn adopt(&self) -> Result<Option<LeaseId>, RegistryError> {
        let key = keys::node_key(&self.node);
        let (kv, _) = self.store.get(&key).await?;
        let Some(lease) = kv.and_then(|kv| kv.lease) else {
            return Ok(None);
        };
        match self.store.keepalive(lease).await {
            Ok(_) => {}
            Err(StoreError::LeaseExpired { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        match self
            .store
            .put(&key, self.record(self.ttl), Some(lease))
            .await
        {
            Ok(_) => Ok(Some(lease)),
            Err(StoreError::LeaseExpired { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A new lease with the node key attached.
    async fn grant(&self) -> Result<LeaseId, RegistryError> {
        let lease = self.store.grant(self.ttl).await?;
        let key = keys::node_key(&self.node);
        self.store
            .put(&key, self.record(lease.ttl), Some(lease.id))
            .await?;
        Ok(lease.id)
    }

    /// Replaces a lost lease (once, however many callers noticed).
    async fn renew(&self, lost: LeaseId) -> Result<LeaseId, RegistryError> {
        let _one = self.renewing.lock().await;
        let current = *self.lease.borrow();
        if current != lost {
            return Ok(current);
        }
        let lease = self.grant().await?;
        self.lease.send_replace(lease);
        Ok(lease)
    }
}

async fn keepalive_loop(shared: Arc<Shared>) {
    let period = (shared.ttl / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(period).await;
        let lease = *shared.lease.borrow();
        match shared.store.keepalive(lease).await {
            Ok(_) => {}
            Err(StoreError::LeaseExpired { .. }) => {
                // Errors here mean the store is unreachable; try next period.
                let _ = shared.renew(lease).await;
            }
            Err(_) => {}
        }
    }
}

/// A node's presence in the registry. Dropping it stops the keepalive (the
/// lease then expires after its TTL); [`NodeSession::leave`] revokes at once.
pub struct NodeSession {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for NodeSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn validate(inst: &Instance) -> Result<(), RegistryError> {
    validate_service(&inst.service)?;
    validate_segment("instance id", &inst.id)
}

impl NodeSession {
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// The current lease.
    pub fn lease(&self) -> LeaseId {
        *self.shared.lease.borrow()
    }

    /// Changes whenever the lease was lost and replaced: everything
    /// registered before is gone and must be registered again.
    pub fn lease_changes(&self) -> watch::Receiver<LeaseId> {
        self.shared.lease.subscribe()
    }

    /// Instances this node registered (found in the store, e.g. left by a
    /// previous incarnation of the daemon).
    pub async fn registered(&self) -> Result<Vec<Instance>, RegistryError> {
        let (kvs, _) = self.shared.store.range(keys::SERVICES).await?;
        Ok(kvs
            .iter()
            .filter_map(decode)
            .filter(|i| i.node == self.shared.node)
            .collect())
    }

    /// Writes `instance` under the node's lease; returns the revision.
    pub async fn register(&self, instance: &Instance) -> Result<u64, RegistryError> {
        self.register_batch(std::slice::from_ref(instance)).await
    }

    /// Writes many instances, one store commit per `max_batch` (the batching path).
    pub async fn register_batch(&self, instances: &[Instance]) -> Result<u64, RegistryError> {
        let mut values = Vec::with_capacity(instances.len());
        for inst in instances {
            validate(inst)?;
            let value = serde_json::to_vec(inst).map_err(|e| RegistryError::Corrupt {
                key: keys::instance_key(&inst.service, &inst.id),
                detail: e.to_string(),
            })?;
            values.push((keys::instance_key(&inst.service, &inst.id), value));
        }
        let mut revision = 0;
        for chunk in values.chunks(self.shared.max_batch) {
            revision = self.put_chunk(chunk).await?;
        }
        Ok(revision)
    }

    async fn put_chunk(&self, chunk: &[(String, Vec<u8>)]) -> Result<u64, RegistryError> {
        let items = |lease| {
            chunk
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), Some(lease)))
                .collect()
        };
        let lease = self.lease();
        let revision = match self.shared.store.put_batch(items(lease)).await {
            Err(StoreError::LeaseExpired { .. }) => {
                let lease = self.shared.renew(lease).await?;
                self.shared.store.put_batch(items(lease)).await?
            }
            other => other?,
        };
        Ok(u64::try_from(revision).unwrap_or(0))
    }

    /// Removes one instance at once.
    pub async fn deregister(&self, service: &str, id: &str) -> Result<u64, RegistryError> {
        validate_service(service)?;
        let result = self
            .shared
            .store
            .delete(&keys::instance_key(service, id))
            .await?;
        Ok(u64::try_from(result.revision).unwrap_or(0))
    }

    /// Leaves now: revokes the lease, deleting the node key and every
    /// instance registered under it.
    pub async fn leave(self) -> Result<(), RegistryError> {
        self.task.abort();
        match self.shared.store.revoke(self.lease()).await {
            Ok(()) | Err(StoreError::LeaseExpired { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Groups instances by service (for `Catalog`).
pub(crate) fn by_service(instances: Vec<Instance>) -> BTreeMap<String, Vec<Instance>> {
    let mut map: BTreeMap<String, Vec<Instance>> = BTreeMap::new();
    for inst in instances {
        map.entry(inst.service.clone()).or_default().push(inst);
    }
    map
}
