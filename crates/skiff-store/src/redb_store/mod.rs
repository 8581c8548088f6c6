//! [`RedbStore`]: the embedded, durable backend (the single-host default).
//!
//! Every acknowledged write is one redb commit with `Durability::Immediate`
//! (fsynced before `put`/`txn` returns). The revision counter, the change log
//! that watchers replay and the leases (with TTLs, not deadlines) live in the
//! same database, so they commit atomically with the data. After a restart
//! every lease gets a fresh full TTL from the moment of opening, measured on
//! the monotonic clock, so a crash never expires a lease early.
//!
//! redb allows one writer at a time; commits run on the blocking pool. Reads
//! (including watch catch-up) run inline: they hit cached pages and take
//! microseconds, less than a hop to the blocking pool would cost.

mod codec;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, DatabaseError};
use tokio::sync::watch;

use crate::engine::{self, LogRow, ReadTables, Snapshot};
use crate::local::{self, LeaseClock, LocalBackend};
use crate::memory::DEFAULT_RETENTION;
use crate::{
    DeleteResult, KeyValue, Lease, LeaseId, Revision, Store, StoreError, StoreFuture, Txn, TxnOp,
    TxnResult, Watch,
};
use tables::{db_err, ReadView, WriteView};

/// Tuning for [`RedbStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedbOptions {
    /// Revisions of change log kept for watchers that resume from an older
    /// revision; older ones are compacted automatically (they relist).
    pub retention: u64,
}

impl Default for RedbOptions {
    fn default() -> Self {
        Self {
            retention: DEFAULT_RETENTION,
        }
    }
}

/// A durable embedded [`Store`] in one redb file. Cloning shares the handle.
#[derive(Debug, Clone)]
pub struct RedbStore {
    inner: Arc<RedbInner>,
}

#[derive(Debug)]
struct RedbInner {
    db: Database,
    path: PathBuf,
    clock: LeaseClock,
    revisions: watch::Sender<Revision>,
    retention: u64,
}

impl RedbStore {
    /// Opens (or creates) the database at `path` with default options.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, RedbOptions::default()).await
    }

    /// Opens (or creates) the database at `path`, recovering after a crash.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: RedbOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_path = path.clone();
        let (db, revision, leases) = blocking(move || open_db(&open_path)).await?;
        let inner = RedbInner {
            db,
            path,
            clock: LeaseClock::default(),
            revisions: watch::Sender::new(revision),
            retention: options.retention,
        };
        let inner = Arc::new(inner);
        for (id, ttl) in leases {
            inner.clock.arm(id, ttl);
        }
        local::ensure_reaper(&inner);
        Ok(Self { inner })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

type Opened = (Database, Revision, Vec<(LeaseId, Duration)>);

fn open_db(path: &Path) -> Result<Opened, StoreError> {
    let db = Database::create(path).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::unavailable(format!(
            "redb database {} is already open (another skiff daemon?)",
            path.display()
        )),
        other => StoreError::internal(format!("open redb {}: {other}", path.display())),
    })?;
    // Create every table up front so read transactions never miss one.
    let tx = db.begin_write().map_err(|e| db_err("begin write", e))?;
    drop(tables::write_view(&tx)?);
    tx.commit().map_err(|e| db_err("commit", e))?;
    let tx = db.begin_read().map_err(|e| db_err("begin read", e))?;
    let view = tables::read_view(&tx)?;
    let revision = view.revision()?;
    let leases = tables::all_leases(&view)?;
    drop(view);
    drop(tx);
    Ok((db, revision, leases))
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::internal(format!("redb worker failed: {e}")))?
}

impl RedbInner {
    fn read<R>(&self, f: impl FnOnce(&ReadView) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let tx = self.db.begin_read().map_err(|e| db_err("begin read", e))?;
        f(&tables::read_view(&tx)?)
    }

    /// Runs `f` in one durable write transaction; an `Err` rolls it back.
    async fn write<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut WriteView<'_>, u64) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let this = Arc::clone(self);
        blocking(move || {
            let tx = this
                .db
                .begin_write()
                .map_err(|e| db_err("begin write", e))?;
            let mut view = tables::write_view(&tx)?;
            let result = f(&mut view, this.retention)?;
            let revision = view.revision()?;
            drop(view);
            tx.commit().map_err(|e| db_err("commit", e))?;
            // Wake the watchers from here, not after this task is scheduled again.
            local::publish(&this.revisions, revision);
            Ok(result)
        })
        .await
    }

    async fn apply(self: &Arc<Self>, txn: Txn) -> Result<engine::Applied, StoreError> {
        self.write(move |t, retention| engine::apply_txn(t, &txn, retention))
            .await
    }
}

impl LocalBackend for RedbInner {
    fn read_snapshot(&self, prefix: &str, at: Option<Revision>) -> Result<Snapshot, StoreError> {
        self.read(|view| engine::snapshot(view, prefix, at))
    }

    fn read_rows_after(
        &self,
        after: Revision,
        limit: usize,
    ) -> Result<Option<(Vec<LogRow>, Revision)>, StoreError> {
        self.read(|view| engine::rows_after(view, after, limit))
    }

    fn revisions(&self) -> watch::Receiver<Revision> {
        self.revisions.subscribe()
    }

    fn clock(&self) -> &LeaseClock {
        &self.clock
    }

    fn expire(self: Arc<Self>, id: LeaseId) -> StoreFuture<'static, ()> {
        Box::pin(async move {
            self.write(move |t, retention| engine::revoke(t, id, retention))
                .await
                .map(|_| ())
        })
    }
}

impl Store for RedbStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, (Option<KeyValue>, Revision)> {
        Box::pin(async move {
            engine::validate_key(key)?;
            self.inner
                .read(|view| Ok((view.get(key)?, view.revision()?)))
        })
    }

    fn range<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, (Vec<KeyValue>, Revision)> {
        Box::pin(async move {
            self.inner
                .read(|view| Ok((view.range(prefix)?, view.revision()?)))
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
        Box::pin(async move { Ok(self.inner.apply(txn).await?.revision) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, DeleteResult> {
        let txn = Txn::single(TxnOp::Delete {
            key: key.to_owned(),
        });
        Box::pin(async move { Ok(self.inner.apply(txn).await?.delete_result()) })
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, DeleteResult> {
        let txn = Txn::single(TxnOp::DeletePrefix {
            prefix: prefix.to_owned(),
        });
        Box::pin(async move { Ok(self.inner.apply(txn).await?.delete_result()) })
    }

    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResult> {
        Box::pin(async move { Ok(self.inner.apply(txn).await?.txn_result()) })
    }

    fn grant(&self, ttl: Duration) -> StoreFuture<'_, Lease> {
        Box::pin(async move {
            let id = self.inner.write(move |t, _| engine::grant(t, ttl)).await?;
            self.inner.clock.arm(id, ttl);
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
                .write(move |t, retention| engine::revoke(t, id, retention))
                .await
                .map(|_| ())
        })
    }

    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.inner
                .write(move |t, _| engine::compact(t, revision))
                .await
        })
    }

    fn watch<'a>(&'a self, prefix: &'a str, from: Option<Revision>) -> StoreFuture<'a, Watch> {
        Box::pin(async move { local::start_watch(&self.inner, prefix, from) })
    }
}
