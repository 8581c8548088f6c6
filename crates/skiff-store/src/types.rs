//! The data model shared by every backend: revisioned key-values, transactions
//! (compare-and-swap), leases and watch events. Pure data, no I/O.

use std::time::Duration;

/// A store-wide, strictly increasing version. Every write that changes anything
/// gets a new revision; all changes of one transaction share it (etcd semantics).
pub type Revision = i64;

/// Identifies a lease; keys attached to it are deleted when it expires.
pub type LeaseId = i64;

/// One key with its value and MVCC metadata, as in etcd's v3 API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision at which the key was (last) created.
    pub create_revision: Revision,
    /// Revision of the last change to this key.
    pub mod_revision: Revision,
    /// Number of puts since creation (1 after the first put).
    pub version: i64,
    pub lease: Option<LeaseId>,
}

/// A condition checked atomically at the start of a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key was last modified at exactly this revision (0: it is absent).
    ModRevision { key: String, revision: Revision },
    /// The key does not exist.
    Absent { key: String },
    /// The key exists and holds exactly this value.
    Value { key: String, value: Vec<u8> },
}

/// A write inside a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    },
    Delete {
        key: String,
    },
    DeletePrefix {
        prefix: String,
    },
}

/// If all `compares` hold, apply `success`, otherwise `failure`; atomically.
/// A key may appear in at most one op of a branch (etcd rejects duplicates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<TxnOp>,
    pub failure: Vec<TxnOp>,
}

impl Txn {
    /// An unconditional transaction of one operation (how plain put/delete run).
    pub fn single(op: TxnOp) -> Txn {
        Txn {
            compares: Vec::new(),
            success: vec![op],
            failure: Vec::new(),
        }
    }
}

/// Outcome of a [`Txn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnResult {
    /// Whether the compares held (and `success` ran).
    pub succeeded: bool,
    /// The store revision after the transaction (unchanged if nothing was written).
    pub revision: Revision,
}

/// Outcome of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteResult {
    /// How many keys were deleted.
    pub deleted: u64,
    /// The store revision after the delete (unchanged if nothing was deleted).
    pub revision: Revision,
}

/// A granted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub id: LeaseId,
    /// The TTL the store actually granted (etcd rounds up to whole seconds and
    /// enforces a minimum).
    pub ttl: Duration,
}

/// One item of a watch stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// The complete state under the watched prefix at `revision`. Always the
    /// first item; sent again whenever the watcher fell behind compaction, in
    /// which case the consumer must replace (not merge) its view.
    Reset {
        kvs: Vec<KeyValue>,
        revision: Revision,
    },
    /// A key was created or updated; `kv.mod_revision` is the change's revision.
    Put(KeyValue),
    /// A key was deleted (explicitly or by lease expiry) at `revision`.
    Delete { key: String, revision: Revision },
}

impl WatchEvent {
    /// The revision this item brings the watcher up to.
    pub fn revision(&self) -> Revision {
        match self {
            Self::Reset { revision, .. } | Self::Delete { revision, .. } => *revision,
            Self::Put(kv) => kv.mod_revision,
        }
    }
}
