//! The redb backend's tables and their engine views. One generic struct
//! serves both read transactions (read-only tables) and write transactions,
//! so reads inside a write see exactly what reads outside it see.

use std::time::Duration;

use redb::{
    MultimapTable, MultimapTableDefinition, ReadOnlyMultimapTable, ReadOnlyTable, ReadTransaction,
    ReadableMultimapTable, ReadableTable, Table, TableDefinition, WriteTransaction,
};

use super::codec;
use crate::engine::{LogRow, ReadTables, WriteTables};
use crate::{KeyValue, LeaseId, Revision, StoreError};

pub(crate) const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("skiff_kv_v1");
pub(crate) const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("skiff_log_v1");
pub(crate) const META: TableDefinition<&str, i64> = TableDefinition::new("skiff_meta_v1");
/// Lease id -> TTL in milliseconds. Deadlines are not stored (see `LeaseClock`).
pub(crate) const LEASES: TableDefinition<i64, u64> = TableDefinition::new("skiff_leases_v1");
pub(crate) const LEASE_KEYS: MultimapTableDefinition<i64, &str> =
    MultimapTableDefinition::new("skiff_lease_keys_v1");

const META_REVISION: &str = "revision";
const META_COMPACTED: &str = "compacted";
const META_NEXT_LEASE: &str = "next_lease";

pub(crate) fn db_err(context: &str, e: impl Into<redb::Error>) -> StoreError {
    StoreError::internal(format!("redb {context}: {}", e.into()))
}

/// The five tables of one transaction.
pub(crate) struct Tables<K, L, M, S, A> {
    kv: K,
    log: L,
    meta: M,
    leases: S,
    lease_keys: A,
}

pub(crate) type ReadView = Tables<
    ReadOnlyTable<&'static str, &'static [u8]>,
    ReadOnlyTable<i64, &'static [u8]>,
    ReadOnlyTable<&'static str, i64>,
    ReadOnlyTable<i64, u64>,
    ReadOnlyMultimapTable<i64, &'static str>,
>;

pub(crate) type WriteView<'t> = Tables<
    Table<'t, &'static str, &'static [u8]>,
    Table<'t, i64, &'static [u8]>,
    Table<'t, &'static str, i64>,
    Table<'t, i64, u64>,
    MultimapTable<'t, i64, &'static str>,
>;

pub(crate) fn read_view(tx: &ReadTransaction) -> Result<ReadView, StoreError> {
    let open = |e| db_err("open table", e);
    Ok(Tables {
        kv: tx.open_table(KV).map_err(open)?,
        log: tx.open_table(LOG).map_err(open)?,
        meta: tx.open_table(META).map_err(open)?,
        leases: tx.open_table(LEASES).map_err(open)?,
        lease_keys: tx.open_multimap_table(LEASE_KEYS).map_err(open)?,
    })
}

pub(crate) fn write_view(tx: &WriteTransaction) -> Result<WriteView<'_>, StoreError> {
    let open = |e| db_err("open table", e);
    Ok(Tables {
        kv: tx.open_table(KV).map_err(open)?,
        log: tx.open_table(LOG).map_err(open)?,
        meta: tx.open_table(META).map_err(open)?,
        leases: tx.open_table(LEASES).map_err(open)?,
        lease_keys: tx.open_multimap_table(LEASE_KEYS).map_err(open)?,
    })
}

impl<K, L, M, S, A> Tables<K, L, M, S, A>
where
    M: ReadableTable<&'static str, i64>,
{
    fn meta(&self, name: &str, default: i64) -> Result<i64, StoreError> {
        let value = self.meta.get(name).map_err(|e| db_err("read meta", e))?;
        Ok(value.map_or(default, |v| v.value()))
    }
}

impl<K, L, M, S, A> ReadTables for Tables<K, L, M, S, A>
where
    K: ReadableTable<&'static str, &'static [u8]>,
    L: ReadableTable<i64, &'static [u8]>,
    M: ReadableTable<&'static str, i64>,
    S: ReadableTable<i64, u64>,
    A: ReadableMultimapTable<i64, &'static str>,
{
    fn revision(&self) -> Result<Revision, StoreError> {
        self.meta(META_REVISION, 1)
    }

    fn compacted(&self) -> Result<Revision, StoreError> {
        self.meta(META_COMPACTED, 0)
    }

    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        match self.kv.get(key).map_err(|e| db_err("read kv", e))? {
            Some(value) => Ok(Some(codec::decode_value(key, value.value())?)),
            None => Ok(None),
        }
    }

    fn range(&self, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .kv
            .range::<&str>(prefix..)
            .map_err(|e| db_err("range kv", e))?
        {
            let (key, value) = item.map_err(|e| db_err("range kv", e))?;
            if !key.value().starts_with(prefix) {
                break;
            }
            out.push(codec::decode_value(key.value(), value.value())?);
        }
        Ok(out)
    }

    fn log_after(&self, after: Revision, limit: usize) -> Result<Vec<LogRow>, StoreError> {
        let mut rows = Vec::new();
        let range = self
            .log
            .range((after + 1)..)
            .map_err(|e| db_err("range log", e))?;
        for item in range.take(limit) {
            let (revision, value) = item.map_err(|e| db_err("range log", e))?;
            let revision = revision.value();
            let events = codec::decode_events(revision, value.value())?;
            rows.push(LogRow { revision, events });
        }
        Ok(rows)
    }

    fn lease_ttl(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        let ttl = self.leases.get(id).map_err(|e| db_err("read lease", e))?;
        Ok(ttl.map(|ms| Duration::from_millis(ms.value())))
    }

    fn lease_keys(&self, id: LeaseId) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        for key in self
            .lease_keys
            .get(id)
            .map_err(|e| db_err("read lease keys", e))?
        {
            keys.push(
                key.map_err(|e| db_err("read lease keys", e))?
                    .value()
                    .to_owned(),
            );
        }
        Ok(keys)
    }
}

impl WriteTables for WriteView<'_> {
    fn put_kv(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(32 + kv.value.len());
        codec::encode_value(kv, &mut value);
        self.kv
            .insert(kv.key.as_str(), value.as_slice())
            .map_err(|e| db_err("write kv", e))?;
        Ok(())
    }

    fn remove_kv(&mut self, key: &str) -> Result<(), StoreError> {
        self.kv.remove(key).map_err(|e| db_err("delete kv", e))?;
        Ok(())
    }

    fn set_revision(&mut self, revision: Revision) -> Result<(), StoreError> {
        self.meta
            .insert(META_REVISION, revision)
            .map_err(|e| db_err("write meta", e))?;
        Ok(())
    }

    fn append_log(&mut self, row: &LogRow) -> Result<(), StoreError> {
        let bytes = codec::encode_events(&row.events);
        self.log
            .insert(row.revision, bytes.as_slice())
            .map_err(|e| db_err("write log", e))?;
        Ok(())
    }

    fn trim_log(&mut self, upto: Revision) -> Result<(), StoreError> {
        self.log
            .retain_in(..=upto, |_, _| false)
            .map_err(|e| db_err("trim log", e))?;
        self.meta
            .insert(META_COMPACTED, upto)
            .map_err(|e| db_err("write meta", e))?;
        Ok(())
    }

    fn next_lease_id(&mut self) -> Result<LeaseId, StoreError> {
        let id = self.meta(META_NEXT_LEASE, 1)?;
        self.meta
            .insert(META_NEXT_LEASE, id + 1)
            .map_err(|e| db_err("write meta", e))?;
        Ok(id)
    }

    fn put_lease(&mut self, id: LeaseId, ttl: Duration) -> Result<(), StoreError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.leases
            .insert(id, ms)
            .map_err(|e| db_err("write lease", e))?;
        Ok(())
    }

    fn remove_lease(&mut self, id: LeaseId) -> Result<(), StoreError> {
        self.leases
            .remove(id)
            .map_err(|e| db_err("delete lease", e))?;
        self.lease_keys
            .remove_all(id)
            .map_err(|e| db_err("delete lease keys", e))?;
        Ok(())
    }

    fn attach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.lease_keys
            .insert(id, key)
            .map_err(|e| db_err("attach lease", e))?;
        Ok(())
    }

    fn detach(&mut self, id: LeaseId, key: &str) -> Result<(), StoreError> {
        self.lease_keys
            .remove(id, key)
            .map_err(|e| db_err("detach lease", e))?;
        Ok(())
    }
}

/// All lease ids with their TTLs (to re-arm deadlines on open).
pub(crate) fn all_leases(view: &ReadView) -> Result<Vec<(LeaseId, Duration)>, StoreError> {
    let mut out = Vec::new();
    for item in view.leases.iter().map_err(|e| db_err("list leases", e))? {
        let (id, ms) = item.map_err(|e| db_err("list leases", e))?;
        out.push((id.value(), Duration::from_millis(ms.value())));
    }
    Ok(out)
}
