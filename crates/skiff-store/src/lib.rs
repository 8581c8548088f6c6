//! skiff-store owns skiff's source of truth: a revisioned key-value store with
//! etcd's v3 semantics behind one [`Store`] trait.
//!
//! Every decision elsewhere in skiff reads a snapshot together with its
//! revision and writes back with compare-and-swap on that revision
//! ([`Txn`], [`Store::compare_and_put`]). Watches start with the full state
//! ([`WatchEvent::Reset`]) and then deliver every change exactly once, in
//! revision order; a watcher that falls behind compaction gets a new `Reset`.
//!
//! Backends:
//! - [`MemoryStore`]: in-process, for tests; its semantics come from the shared
//!   engine (`engine.rs`), which [`RedbStore`] uses too.
//! - [`RedbStore`]: embedded and durable (every acknowledged write is fsynced),
//!   the single-host default.
//! - [`EtcdStore`]: a real etcd cluster through etcd-client, for many hosts.
//!
//! All three pass one suite (`conformance`, behind the `conformance` feature).
//! This crate must not know about jobs, services or anything above it: keys
//! are strings, values are bytes.

mod engine;
mod error;
mod etcd;
mod local;
mod memory;
mod redb_store;
mod types;
mod watch;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod etcd_server;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use error::StoreError;

/// etcd's default `--max-txn-ops`: the most compares, and the most ops in
/// each branch, one transaction may carry. Writers that batch stay within it
/// so the same code runs on the embedded store and on an unconfigured etcd.
pub const MAX_TXN_OPS: usize = 128;
pub use etcd::{EtcdOptions, EtcdStore};
pub use memory::MemoryStore;
pub use redb_store::{RedbOptions, RedbStore};
pub use types::{
    Compare, DeleteResult, KeyValue, Lease, LeaseId, Revision, Txn, TxnOp, TxnResult, WatchEvent,
};
pub use watch::Watch;

/// The boxed future every [`Store`] method returns (keeps the trait usable as
/// `Arc<dyn Store>`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A revisioned key-value store with transactions, leases and watches.
pub trait Store: Send + Sync + 'static {
    /// The key (if present) and the store revision the read was served at.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, (Option<KeyValue>, Revision)>;

    /// All keys starting with `prefix`, sorted by key, and the read's revision.
    fn range<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, (Vec<KeyValue>, Revision)>;

    /// Creates or replaces `key`, attached to `lease` if given (a put without
    /// a lease detaches the key). Returns the new revision.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> StoreFuture<'a, Revision>;

    /// Deletes `key` if present.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, DeleteResult>;

    /// Deletes every key starting with `prefix`, at one revision.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, DeleteResult>;

    /// Atomically checks `txn.compares` and applies one branch.
    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResult>;

    /// Creates a lease. etcd rounds `ttl` up to whole seconds (minimum ~2 s).
    fn grant(&self, ttl: Duration) -> StoreFuture<'_, Lease>;

    /// Restarts the lease's TTL; returns the TTL. Fails with
    /// [`StoreError::LeaseExpired`] once the lease is gone.
    fn keepalive(&self, id: LeaseId) -> StoreFuture<'_, Duration>;

    /// Ends the lease now, deleting its keys (with watch events).
    fn revoke(&self, id: LeaseId) -> StoreFuture<'_, ()>;

    /// Discards history older than `revision`; watches from before it relist.
    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()>;

    /// Watches keys under `prefix`. The first item is the snapshot at `from`
    /// (default: now), then every later change. If `from` is compacted the
    /// snapshot is taken now instead.
    fn watch<'a>(&'a self, prefix: &'a str, from: Option<Revision>) -> StoreFuture<'a, Watch>;

    /// Puts many keys at one revision in one durable commit (the fast path for
    /// bulk writes). etcd limits a transaction to [`MAX_TXN_OPS`] by default.
    fn put_batch(
        &self,
        items: Vec<(String, Vec<u8>, Option<LeaseId>)>,
    ) -> StoreFuture<'_, Revision> {
        let success = items
            .into_iter()
            .map(|(key, value, lease)| TxnOp::Put { key, value, lease })
            .collect();
        let txn = Txn {
            compares: Vec::new(),
            success,
            failure: Vec::new(),
        };
        Box::pin(async move { Ok(self.txn(txn).await?.revision) })
    }

    /// Writes `key` only if it is still at `expected` (`None`: absent).
    /// Returns the new revision, or [`StoreError::Conflict`].
    fn compare_and_put<'a>(
        &'a self,
        key: &'a str,
        expected: Option<Revision>,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> StoreFuture<'a, Revision> {
        let compare = match expected {
            Some(revision) => Compare::ModRevision {
                key: key.to_owned(),
                revision,
            },
            None => Compare::Absent {
                key: key.to_owned(),
            },
        };
        let put = TxnOp::Put {
            key: key.to_owned(),
            value,
            lease,
        };
        let txn = Txn {
            compares: vec![compare],
            success: vec![put],
            failure: Vec::new(),
        };
        Box::pin(async move {
            let result = self.txn(txn).await?;
            if result.succeeded {
                return Ok(result.revision);
            }
            let detail = match expected {
                Some(r) => format!("expected mod revision {r}"),
                None => "expected the key to be absent".to_owned(),
            };
            Err(StoreError::Conflict {
                key: key.to_owned(),
                detail,
            })
        })
    }
}
