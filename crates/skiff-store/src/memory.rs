//! [`MemoryStore`]: the in-process backend for tests. Tables are plain maps
//! behind one mutex; all semantics come from the shared engine, so this is the
//! reference the other backends are held to by the conformance suite.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::engine::{self, Applied, LogRow, ReadTables, Snapshot, WriteTables};
use crate::local::{self, LeaseClock, LocalBackend};
use crate::{
    DeleteResult, KeyValue, Lease, LeaseId, Revision, Store, StoreError, StoreFuture, Txn, TxnOp,
    TxnResult, Watch,
};

/// Revisions of history kept for watchers before automatic compaction.
pub const DEFAULT_RETENTION: u64 = 10_000;

/// An in-memory [`Store`]. Cloning shares the same data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<MemoryInner>,
}

#[derive(Debug)]
struct MemoryInner {
    tables: Mutex<MemTables>,
    clock: LeaseClock,
    revisions: watch::Sender<Revision>,
    retention: u64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store at revision 1 (like a fresh etcd).
    pub fn new() -> Self {
        Self::with_retention(DEFAULT_RETENTION)
    }

    /// An empty store that keeps about `retention` revisions of history.
    pub fn with_retention(retention: u64) -> Self {
        let tables = MemTables {
            revision: 1,
            next_lease: 1,
            ..MemTables::default()
        };
        let inner = MemoryInner {
            tables: Mutex::new(tables),
            clock: LeaseClock::default(),
            revisions: watch::Sender::new(1),
            retention,
        };
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl MemoryInner {
    fn tables(&self) -> Result<MutexGuard<'_, MemTables>, StoreError> {
        self.tables
            .lock()
            .map_err(|_| StoreError::internal("memory store mutex poisoned"))
    }

    fn write<R>(
        &self,
        f: impl FnOnce(&mut MemTables) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut tables = self.tables()?;
        let result = f(&mut tables)?;
        local::publish(&self.revisions, tables.revision);
        Ok(result)
    }

    fn apply(&self, txn: &Txn) -> Result<Applied, StoreError> {
        self.write(|t| engine::apply_txn(t, txn, self.retention))
    }
}

impl LocalBackend for MemoryInner {
    fn read_snapshot(&self, prefix: &str, at: Option<Revision>) -> Result<Snapshot, StoreError> {
        engine::snapshot(&*self.tables()?, prefix, at)
    }

    fn read_rows_after(
        &self,
        after: Revision,
        limit: usize,
    ) -> Result<Option<(Vec<LogRow>, Revision)>, StoreError> {
        engine::rows_after(&*self.tables()?, after, limit)
    }

    fn revisions(&self) -> watch::Receiver<Revision> {
        self.revisions.subscribe()
    }

    fn clock(&self) -> &LeaseClock {
        &self.clock
    }

    fn expire(self: Arc<Self>, id: LeaseId) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            self.write(|t| engine::revoke(t, id, self.retention))
                .map(|_| ())
        })
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, (Option<KeyValue>, Revision)> {
        Box::pin(async move {
            engine::validate_key(key)?;
            let t = self.inner.tables()?;
            Ok((t.get(key)?, t.revision))
        })
    }

    fn range<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, (Vec<KeyValue>, Revision)> {
        Box::pin(async move {
            let t = self.inner.tables()?;
            Ok((t.range(prefix)?, t.revision))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> StoreFuture<'a, Revision> {
        let txn = Txn::single(TxnOp::Put {
            key: key.to_owned(),
            value,
            lease,
        });
        Box::pin(async move { Ok(self.inner.apply(&txn)?.revision) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, DeleteResult> {
        let txn = Txn::single(TxnOp::Delete {
            key: key.to_owned(),
        });
        Box::pin(async move { Ok(self.inner.apply(&txn)?.delete_result()) })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, DeleteResult> {
        let txn = Txn::single(TxnOp::DeletePrefix {
            prefix: prefix.to_owned(),
        });
        Box::pin(async move { Ok(self.inner.apply(&txn)?.delete_result()) })
    }

    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResult> {
        Box::pin(async move { Ok(self.inner.apply(&txn)?.txn_result()) })
    }

    fn grant(&self, ttl: Duration) -> StoreFuture<'_, Lease> {
        Box::pin(async move {
            let id = self.inner.write(|t| engine::grant(t, ttl))?;
            self.inner.clock.arm(id, ttl);
            local::ensure_reaper(&self.inner);
            Ok(Lease { id, ttl })
        })
    }

    fn keepalive(&self, id: LeaseId) -> StoreFuture<'_, Duration> {
        Box::pin(async move { self.inner.clock.renew(id) })
    }

    fn revoke(&self, id: LeaseId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.inner.clock.remove(id);
            self.inner
                .write(|t| engine::revoke(t, id, self.inner.retention))
                .map(|_| ())
        })
    }

    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.inner.write(|t| engine::compact(t, revision)) })
    }

    fn watch<'a>(&'a self, prefix: &'a str, from: Option<Revision>) -> StoreFuture<'a, Watch> {
        Box::pin(async move { local::start_watch(&self.inner, prefix, from) })
    }
}

/// The memory backend's tables.
#[derive(Debug, Default)]
struct MemTables {
    kv: BTreeMap<String, KeyValue>,
    log: BTreeMap<Revision, LogRow>,
    revision: Revision,
    compacted: Revision,
    leases: HashMap<LeaseId, Duration>,
    lease_keys: HashMap<LeaseId, BTreeSet<String>>,
    next_lease: LeaseId,
}

impl ReadTables for MemTables {
    fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.revision)
    }

    fn compacted(&self) -> Result<Revision, StoreError> {
        Ok(self.compacted)
    }

    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.kv.get(key).cloned())
    }

    fn range(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let from = prefix.to_owned();
        Ok(self
            .kv
            .range(from..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect())
    }

    fn log_after(&self, after: Revision, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        Ok(self
            .log
            .range(after + 1..)
            .take(limit)
            .map(|(_, row)| row.clone())
            .collect())
    }

    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        Ok(self.leases.get(&id).copied())
    }

    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lease_keys
            .get(&id)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default())
    }
}

impl WriteTables for MemTables {
    fn put_kv(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        self.kv.insert(kv.key.clone(), kv.clone());
        Ok(())
    }

    fn remove_kv(&mut self, key: &str) -> Result<(), StoreError> {
        self.kv.remove(key);
        Ok(())
    }

    fn set_revision(&mut self, revision: Revision) -> Result<(), StoreError> {
        self.revision = revision;
        Ok(())
    }

    fn append_log(&mut self, row: &LogRow) -> Result<(), StoreError> {
        self.log.insert(row.revision, row.clone());
        Ok(())
    }

    fn trim_log(&mut self, upto: Revision) -> Result<(), StoreError> {
        self.log = self.log.split_off(&(upto + 1));
        self.compacted = upto;
        Ok(())
    }

    fn next_lease_id(&mut self) -> Result<LeaseId, StoreError> {
        let id = self.next_lease;
        self.next_lease += 1;
        Ok(id)
    }

    fn put_lease(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError> {
        self.leases.insert(id, ttl);
        Ok(())
    }

    fn remove_lease(&mut self, id: LeaseId) -> Result<(), StoreError> {
        self.leases.remove(&id);
        self.lease_keys.remove(&id);
        Ok(())
    }

    fn attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.lease_keys
            .entry(id)
            .or_default()
            .insert(key.to_owned());
        Ok(())
    }

    fn detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        if let Some(keys) = self.lease_keys.get_mut(&id) {
            keys.remove(key);
        }
        Ok(())
    }
}
