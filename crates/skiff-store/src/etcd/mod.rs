//! [`EtcdStore`]: the cluster backend, a thin mapping onto a real etcd
//! (3.4+) through etcd-client. Revisions are etcd's revisions, leases are
//! etcd leases, transactions are etcd transactions; nothing is emulated.
//!
//! Every unary call is bounded by [`EtcdOptions::request_timeout`], so a
//! cluster that lost quorum yields [`StoreError::Unavailable`] ("store
//! unavailable: ...") quickly instead of hanging. Watches reconnect by
//! themselves (see `watch.rs`).

mod errors;
mod range;
mod watch;

use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, Compare as EtcdCompare, CompareOp, ConnectOptions, DeleteOptions,
    PutOptions, Txn as EtcdTxn, TxnOp as EtcdTxnOp,
};

use crate::{
    Compare, DeleteResult, KeyValue, Lease, LeaseId, Revision, Store, StoreError, StoreFuture, Txn,
    TxnOp, TxnResult, Watch,
};
use errors::{bounded, ErrCtx};

/// How to reach an etcd cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdOptions {
    /// Client URLs of the members, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Upper bound for every unary request (and for connecting).
    pub request_timeout: Duration,
}

impl EtcdOptions {
    /// Options for `endpoints` with a 3 s request timeout.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            request_timeout: Duration::from_secs(3),
        }
    }
}

impl std::str::FromStr for EtcdOptions {
    type Err = StoreError;

    /// Parses the daemon's `--store` form: `etcd://host:port[,host:port...]`
    /// (members may also be given as full `http://` URLs).
    fn from_str(spec: &str) -> Result<Self, StoreError> {
        let rest = spec.strip_prefix("etcd://").ok_or_else(|| {
            StoreError::invalid(format!(
                "store {spec:?} must look like etcd://host:port,..."
            ))
        })?;
        let endpoints: Vec<String> = rest
            .split(',')
            .map(str::trim)
            .filter(|member| !member.is_empty())
            .map(|member| match member.starts_with("http://") {
                true => member.to_owned(),
                false => format!("http://{member}"),
            })
            .collect();
        if endpoints.is_empty() {
            return Err(StoreError::invalid(format!(
                "store {spec:?} names no etcd members"
            )));
        }
        Ok(Self::new(endpoints))
    }
}

/// A [`Store`] on an etcd cluster. Cloning shares the connection.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    timeout: Duration,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects and checks that the cluster answers.
    pub async fn connect(options: EtcdOptions) -> Result<Self, StoreError> {
        if options.endpoints.is_empty() {
            return Err(StoreError::invalid("no etcd endpoints given"));
        }
        let connect = ConnectOptions::new()
            .with_connect_timeout(options.request_timeout)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        let endpoints = options.endpoints.clone();
        let ctx = ErrCtx::op("connect");
        let client = bounded(options.request_timeout, ctx, || {
            Client::connect(endpoints.clone(), Some(connect.clone()))
        })
        .await?;
        let store = Self {
            client,
            timeout: options.request_timeout,
        };
        store.get("/").await?;
        Ok(store)
    }
}

pub(crate) fn convert_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    let key = kv.key_str().map_err(|_| {
        StoreError::internal(format!(
            "etcd key {:?} is not UTF-8",
            String::from_utf8_lossy(kv.key())
        ))
    })?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: (kv.lease() != 0).then_some(kv.lease()),
    })
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision, StoreError> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| StoreError::internal("etcd response without header"))
}

/// Reads everything under `prefix` at `at` (default: now), in pages.
pub(crate) async fn range_at(
    client: &Client,
    timeout: Duration,
    prefix: &str,
    at: Option<Revision>,
) -> Result<(Vec<KeyValue>, Revision), StoreError> {
    range::range_paged(client, timeout, prefix, at, range::PAGE).await
}

fn put_options(lease: Option<LeaseId>) -> Option<PutOptions> {
    lease.map(|id| PutOptions::new().with_lease(id))
}

fn convert_txn(txn: Txn) -> EtcdTxn {
    let compares: Vec<EtcdCompare> = txn
        .compares
        .into_iter()
        .map(|c| match c {
            Compare::ModRevision { key, revision } => {
                EtcdCompare::mod_revision(key, CompareOp::Equal, revision)
            }
            Compare::Absent { key } => EtcdCompare::version(key, CompareOp::Equal, 0),
            Compare::Value { key, value } => EtcdCompare::value(key, CompareOp::Equal, value),
        })
        .collect();
    let ops = |ops: Vec<TxnOp>| -> Vec<EtcdTxnOp> {
        ops.into_iter()
            .map(|op| match op {
                TxnOp::Put { key, value, lease } => EtcdTxnOp::put(key, value, put_options(lease)),
                TxnOp::Delete { key } => EtcdTxnOp::delete(key, None),
                TxnOp::DeletePrefix { prefix } => {
                    EtcdTxnOp::delete(prefix, Some(DeleteOptions::new().with_prefix()))
                }
            })
            .collect()
    };
    EtcdTxn::new()
        .when(compares)
        .and_then(ops(txn.success))
        .or_else(ops(txn.failure))
}

fn first_lease(txn: &Txn) -> Option<LeaseId> {
    txn.success
        .iter()
        .chain(&txn.failure)
        .find_map(|op| match op {
            TxnOp::Put { lease, .. } => *lease,
            _ => None,
        })
}

impl EtcdStore {
    async fn delete_with(
        &self,
        key: &str,
        options: Option<DeleteOptions>,
    ) -> Result<DeleteResult, StoreError> {
        let resp = bounded(self.timeout, ErrCtx::op("delete"), || {
            let (mut kv, options) = (self.client.kv_client(), options.clone());
            async move { kv.delete(key, options).await }
        })
        .await?;
        let deleted = u64::try_from(resp.deleted()).unwrap_or_default();
        Ok(DeleteResult {
            deleted,
            revision: header_revision(resp.header())?,
        })
    }

    async fn keepalive_once(&self, id: LeaseId) -> Result<Duration, StoreError> {
        let ctx = ErrCtx::lease("lease keepalive", Some(id));
        // Opening the stream sends one keepalive and fails if the lease is gone.
        let (mut keeper, mut stream) = bounded(self.timeout, ctx, || {
            let mut lease = self.client.lease_client();
            async move { lease.keep_alive(id).await }
        })
        .await?;
        keeper
            .keep_alive()
            .await
            .map_err(|e| errors::map_err(e, ctx))?;
        let reply = tokio::time::timeout(self.timeout, stream.message()).await;
        let reply = reply.map_err(|_| StoreError::unavailable("etcd lease keepalive timed out"))?;
        match reply.map_err(|e| errors::map_err(e, ctx))? {
            Some(resp) if resp.ttl() > 0 => Ok(Duration::from_secs(resp.ttl().unsigned_abs())),
            Some(_) => Err(StoreError::LeaseExpired { id }),
            None => Err(StoreError::unavailable(
                "etcd closed the lease keepalive stream",
            )),
        }
    }
}

impl Store for EtcdStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, (Option<KeyValue>, Revision)> {
        Box::pin(async move {
            let resp = bounded(self.timeout, ErrCtx::op("get"), || {
                let mut kv = self.client.kv_client();
                async move { kv.get(key, None).await }
            })
            .await?;
            let found = resp.kvs().first().map(convert_kv).transpose()?;
            Ok((found, header_revision(resp.header())?))
        })
    }

    fn range<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, (Vec<KeyValue>, Revision)> {
        Box::pin(range_at(&self.client, self.timeout, prefix, None))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    ) -> StoreFuture<'a, Revision> {
        Box::pin(async move {
            let ctx = ErrCtx::lease("put", lease);
            let resp = bounded(self.timeout, ctx, || {
                let (mut kv, value) = (self.client.kv_client(), value.clone());
                async move { kv.put(key, value, put_options(lease)).await }
            })
            .await?;
            header_revision(resp.header())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, DeleteResult> {
        Box::pin(self.delete_with(key, None))
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, DeleteResult> {
        Box::pin(self.delete_with(prefix, Some(DeleteOptions::new().with_prefix())))
    }

    fn txn(&self, txn: Txn) -> StoreFuture<'_, TxnResult> {
        Box::pin(async move {
            let ctx = ErrCtx::lease("txn", first_lease(&txn));
            let etcd_txn = convert_txn(txn);
            let resp = bounded(self.timeout, ctx, || {
                let (mut kv, etcd_txn) = (self.client.kv_client(), etcd_txn.clone());
                async move { kv.txn(etcd_txn).await }
            })
            .await?;
            Ok(TxnResult {
                succeeded: resp.succeeded(),
                revision: header_revision(resp.header())?,
            })
        })
    }

    fn grant(&self, ttl: Duration) -> StoreFuture<'_, Lease> {
        Box::pin(async move {
            if ttl.is_zero() {
                return Err(StoreError::invalid("lease TTL must be positive"));
            }
            let secs = i64::try_from(ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0))
                .map_err(|_| StoreError::invalid(format!("lease TTL {ttl:?} too large")))?;
            let resp = bounded(self.timeout, ErrCtx::op("lease grant"), || {
                let mut lease = self.client.lease_client();
                async move { lease.grant(secs, None).await }
            })
            .await?;
            if !resp.error().is_empty() {
                return Err(StoreError::internal(format!(
                    "etcd lease grant: {}",
                    resp.error()
                )));
            }
            Ok(Lease {
                id: resp.id(),
                ttl: Duration::from_secs(resp.ttl().unsigned_abs()),
            })
        })
    }

    fn keepalive(&self, id: LeaseId) -> StoreFuture<'_, Duration> {
        Box::pin(self.keepalive_once(id))
    }

    fn revoke(&self, id: LeaseId) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let ctx = ErrCtx::lease("lease revoke", Some(id));
            bounded(self.timeout, ctx, || {
                let mut lease = self.client.lease_client();
                async move { lease.revoke(id).await }
            })
            .await
            .map(|_| ())
        })
    }

    fn compact(&self, revision: Revision) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let ctx = ErrCtx::revision("compact", revision);
            bounded(self.timeout, ctx, || {
                let mut kv = self.client.kv_client();
                let options = CompactionOptions::new().with_physical();
                async move { kv.compact(revision, Some(options)).await }
            })
            .await
            .map(|_| ())
        })
    }

    fn watch<'a>(&'a self, prefix: &'a str, from: Option<Revision>) -> StoreFuture<'a, Watch> {
        Box::pin(watch::start(
            self.client.clone(),
            self.timeout,
            prefix,
            from,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_flag() {
        let options: EtcdOptions = "etcd://10.0.0.1:2379, http://h2:2379"
            .parse()
            .expect("parse");
        assert_eq!(
            options.endpoints,
            ["http://10.0.0.1:2379", "http://h2:2379"]
        );
        assert!("redb:///x".parse::<EtcdOptions>().is_err());
        assert!("etcd://".parse::<EtcdOptions>().is_err());
    }
}
