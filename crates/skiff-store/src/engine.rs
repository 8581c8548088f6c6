//! The revision engine: etcd's MVCC semantics written once, over abstract
//! tables, so the in-memory and redb backends cannot drift apart. It owns
//! compare evaluation, revision and version bookkeeping, lease attachment,
//! the change log (which watches replay) and its compaction. It does no I/O
//! itself and never looks at a clock; backends supply the tables and decide
//! when a lease has expired.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::{
    Compare, DeleteResult, KeyValue, LeaseId, Revision, StoreError, Txn, TxnOp, TxnResult,
};

/// One change recorded in the log, with the state before it so that a
/// snapshot at an older revision can be rebuilt by undoing newer changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogEvent {
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    Delete {
        prev: KeyValue,
    },
}

impl LogEvent {
    pub(crate) fn key(&self) -> &str {
        match self {
            Self::Put { kv, .. } => &kv.key,
            Self::Delete { prev } => &prev.key,
        }
    }
}

/// All changes made at one revision, in the order they were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRow {
    pub revision: Revision,
    pub events: Vec<LogEvent>,
}

/// A consistent read view of a backend.
pub(crate) trait ReadTables {
    fn revision(&self) -> Result<Revision, StoreError>;
    /// Log rows at or below this revision are gone.
    fn compacted(&self) -> Result<Revision, StoreError>;
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;
    fn range(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError>;
    /// Log rows with revision > `after`, ascending, at most `limit`.
    fn log_after(&self, after: Revision, limit: usize) -> Result<Vec<LogRow>, StoreError>;
    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError>;
    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError>;
}

/// A write view; a backend commits or discards all of it at once.
pub(crate) trait WriteTables: ReadTables {
    fn put_kv(&mut self, kv: &KeyValue) -> Result<(), StoreError>;
    fn remove_kv(&mut self, key: &str) -> Result<(), StoreError>;
    fn set_revision(&mut self, revision: Revision) -> Result<(), StoreError>;
    fn append_log(&mut self, row: &LogRow) -> Result<(), StoreError>;
    /// Drops log rows <= `upto` and records `upto` as the compacted revision.
    fn trim_log(&mut self, upto: Revision) -> Result<(), StoreError>;
    fn next_lease_id(&mut self) -> Result<LeaseId, StoreError>;
    fn put_lease(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError>;
    /// Removes the lease and its attachment set (not the keys).
    fn remove_lease(&mut self, id: LeaseId) -> Result<(), StoreError>;
    fn attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError>;
    fn detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError>;
}

/// The full state under a prefix at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub kvs: Vec<KeyValue>,
    pub revision: Revision,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    pub succeeded: bool,
    pub revision: Revision,
    pub deleted: u64,
    /// Whether a new revision was committed (watchers must be woken).
    pub changed: bool,
}

impl Applied {
    pub(crate) fn txn_result(self) -> TxnResult {
        TxnResult {
            succeeded: self.succeeded,
            revision: self.revision,
        }
    }

    pub(crate) fn delete_result(self) -> DeleteResult {
        DeleteResult {
            deleted: self.deleted,
            revision: self.revision,
        }
    }
}

/// Applies a transaction. Everything that can be refused is checked before
/// the first mutation, so an `Err` never leaves a half-applied change behind
/// even in a backend without rollback.
pub(crate) fn apply_txn<T: WriteTables>(
    t: &mut T,
    txn: &Txn,
    retention: u64,
) -> Result<Applied, StoreError> {
    validate_ops(&txn.success)?;
    validate_ops(&txn.failure)?;
    let mut succeeded = true;
    for compare in &txn.compares {
        if !compare_holds(t, compare)? {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    for op in ops {
        if let TxnOp::Put {
            lease: Some(id), ..
        } = op
        {
            if t.lease_ttl(*id)?.is_none() {
                return Err(StoreError::LeaseExpired { id: *id });
            }
        }
    }
    let revision = t.revision()? + 1;
    let mut events = Vec::new();
    for op in ops {
        apply_op(t, op, revision, &mut events)?;
    }
    finish(t, succeeded, revision, events, retention)
}

fn validate_ops(ops: &[TxnOp]) -> Result<(), StoreError> {
    let mut keys = HashSet::new();
    let mut prefixes = Vec::new();
    for op in ops {
        match op {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } => {
                validate_key(key)?;
                if !keys.insert(key.as_str()) {
                    return Err(StoreError::invalid(format!("duplicate key {key:?} in txn")));
                }
            }
            TxnOp::DeletePrefix { prefix } => prefixes.push(prefix.as_str()),
        }
    }
    let overlapping = ops.iter().find_map(|op| match op {
        TxnOp::Put { key, .. } => prefixes.iter().find(|p| key.starts_with(**p)).map(|_| key),
        _ => None,
    });
    match overlapping {
        Some(key) => Err(StoreError::invalid(format!(
            "put {key:?} overlaps a delete in txn"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::invalid("empty key"));
    }
    Ok(())
}

fn compare_holds<T: ReadTables>(t: &T, compare: &Compare) -> Result<bool, StoreError> {
    Ok(match compare {
        // As in etcd, an absent key has mod revision 0.
        Compare::ModRevision { key, revision } => {
            t.get(key)?.map_or(0, |kv| kv.mod_revision) == *revision
        }
        Compare::Absent { key } => t.get(key)?.is_none(),
        Compare::Value { key, value } => t.get(key)?.is_some_and(|kv| kv.value == *value),
    })
}

fn apply_op<T: WriteTables>(
    t: &mut T,
    op: &TxnOp,
    revision: Revision,
    events: &mut Vec<LogEvent>,
) -> Result<(), StoreError> {
    match op {
        TxnOp::Put { key, value, lease } => {
            let prev = t.get(key)?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                mod_revision: revision,
                version: prev.as_ref().map_or(1, |p| p.version + 1),
                lease: *lease,
            };
            let old_lease = prev.as_ref().and_then(|p| p.lease);
            if old_lease != *lease {
                if let Some(old) = old_lease {
                    t.detach(old, key)?;
                }
                if let Some(new) = lease {
                    t.attach(*new, key)?;
                }
            }
            t.put_kv(&kv)?;
            events.push(LogEvent::Put { kv, prev });
        }
        TxnOp::Delete { key } => delete_key(t, key, events)?,
        TxnOp::DeletePrefix { prefix } => {
            for kv in t.range(prefix)? {
                delete_key(t, &kv.key, events)?;
            }
        }
    }
    Ok(())
}

fn delete_key<T: WriteTables>(
    t: &mut T,
    key: &str,
    events: &mut Vec<LogEvent>,
) -> Result<(), StoreError> {
    if let Some(prev) = t.get(key)? {
        if let Some(id) = prev.lease {
            t.detach(id, key)?;
        }
        t.remove_kv(key)?;
        events.push(LogEvent::Delete { prev });
    }
    Ok(())
}

/// Commits `events` as one new revision (if there are any) and compacts the
/// log down to `retention` revisions once it has grown to twice that.
fn finish<T: WriteTables>(
    t: &mut T,
    succeeded: bool,
    revision: Revision,
    events: Vec<LogEvent>,
    retention: u64,
) -> Result<Applied, StoreError> {
    let deleted = events
        .iter()
        .filter(|e| matches!(e, LogEvent::Delete { .. }))
        .count() as u64;
    if events.is_empty() {
        return Ok(Applied {
            succeeded,
            revision: revision - 1,
            deleted,
            changed: false,
        });
    }
    t.append_log(&LogRow { revision, events })?;
    t.set_revision(revision)?;
    let retention = i64::try_from(retention).unwrap_or(i64::MAX);
    if revision - t.compacted()? > retention.saturating_mul(2) {
        t.trim_log(revision - retention)?;
    }
    Ok(Applied {
        succeeded,
        revision,
        deleted,
        changed: true,
    })
}

/// Registers a new lease.
pub(crate) fn grant<T: WriteTables>(t: &mut T, ttl: Duration) -> Result<LeaseId, StoreError> {
    if ttl.is_zero() {
        return Err(StoreError::invalid("lease TTL must be positive"));
    }
    let id = t.next_lease_id()?;
    t.put_lease(id, ttl)?;
    Ok(id)
}

/// Ends a lease and deletes every key still attached to it, at one revision.
pub(crate) fn revoke<T: WriteTables>(
    t: &mut T,
    id: LeaseId,
    retention: u64,
) -> Result<Applied, StoreError> {
    if t.lease_ttl(id)?.is_none() {
        return Err(StoreError::LeaseExpired { id });
    }
    let revision = t.revision()? + 1;
    let mut events = Vec::new();
    for key in t.lease_keys(id)? {
        if t.get(&key)?.is_some_and(|kv| kv.lease == Some(id)) {
            delete_key(t, &key, &mut events)?;
        }
    }
    t.remove_lease(id)?;
    finish(t, true, revision, events, retention)
}

/// Forgets history at or below `revision` (etcd's compact).
pub(crate) fn compact<T: WriteTables>(t: &mut T, revision: Revision) -> Result<(), StoreError> {
    let current = t.revision()?;
    if revision > current {
        return Err(StoreError::invalid(format!(
            "compact revision {revision} is in the future (current {current})"
        )));
    }
    let compacted = t.compacted()?;
    if revision <= compacted {
        return Err(StoreError::Compacted { revision });
    }
    t.trim_log(revision)
}

/// The state under `prefix` at revision `at` (default: current), rebuilt by
/// undoing newer log rows.
pub(crate) fn snapshot<T: ReadTables>(
    t: &T,
    prefix: &str,
    at: Option<Revision>,
) -> Result<Snapshot, StoreError> {
    let current = t.revision()?;
    let at = at.unwrap_or(current);
    if at < 1 || at > current {
        return Err(StoreError::invalid(format!(
            "revision {at} is outside 1..={current}"
        )));
    }
    let compacted = t.compacted()?;
    if at < compacted {
        return Err(StoreError::Compacted { revision: at });
    }
    let mut kvs: BTreeMap<String, KeyValue> = t
        .range(prefix)?
        .into_iter()
        .map(|kv| (kv.key.clone(), kv))
        .collect();
    if at < current {
        for row in t.log_after(at, usize::MAX)?.iter().rev() {
            for event in row
                .events
                .iter()
                .rev()
                .filter(|e| e.key().starts_with(prefix))
            {
                undo(&mut kvs, event);
            }
        }
    }
    Ok(Snapshot {
        kvs: kvs.into_values().collect(),
        revision: at,
    })
}

fn undo(kvs: &mut BTreeMap<String, KeyValue>, event: &LogEvent) {
    match event {
        LogEvent::Put {
            kv,
            prev: Some(prev),
        } => kvs.insert(kv.key.clone(), prev.clone()),
        LogEvent::Put { kv, prev: None } => kvs.remove(&kv.key),
        LogEvent::Delete { prev } => kvs.insert(prev.key.clone(), prev.clone()),
    };
}

/// Log rows after `after` for a watcher: `Ok(None)` if `after` was compacted
/// away (the watcher must relist), else the rows and the revision the watcher
/// may advance to (the view's revision if the batch is not truncated).
pub(crate) fn rows_after<T: ReadTables>(
    t: &T,
    after: Revision,
    limit: usize,
) -> Result<Option<(Vec<LogRow>, Revision)>, StoreError> {
    if after < t.compacted()? {
        return Ok(None);
    }
    let rows = t.log_after(after, limit)?;
    let upto = match rows.last() {
        Some(last) if rows.len() == limit => last.revision,
        _ => t.revision()?,
    };
    Ok(Some((rows, upto)))
}
