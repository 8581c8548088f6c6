//! Who watches a service, and how far each watcher got: the acks that make
//! drains exact.
//!
//! ```text
//! /skiff/watchers/<service>/<watcher>   JSON WatcherRecord, under its node's lease
//! ```
//!
//! A proxy or ambassador [`announce`]s itself before it opens its watch of
//! the service, then rewrites its record as it goes: `applied` is the last
//! registry revision whose update it has applied (new requests no longer see
//! removed instances), `drained` the revision up to which every removed
//! instance has also finished its in-flight requests. A stopper deregisters
//! an instance at revision R and [`wait_acked`] until every record of the
//! service has `drained >= R` (or the deadline passes); only then is the
//! container signalled. A watcher that goes away (deleted, lease expired)
//! is no longer waited for; no watcher means no wait.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skiff_store::{LeaseId, Store, WatchEvent};

use crate::keys::{validate_segment, validate_service};
use crate::RegistryError;

pub const WATCHERS: &str = "/skiff/watchers/";

/// What a watcher's key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherRecord {
    /// Unique per service: `<lb name>@<node>` or `uses-<container>@<node>`.
    pub watcher: String,
    pub node: String,
    /// Last registry revision applied.
    pub applied: u64,
    /// Every instance removed at or before this revision has drained.
    pub drained: u64,
}

/// `/skiff/watchers/<service>/`.
pub fn service_watchers_prefix(service: &str) -> String {
    format!("{WATCHERS}{service}/")
}

/// `/skiff/watchers/<service>/<watcher>`.
pub fn watcher_key(service: &str, watcher: &str) -> String {
    format!("{WATCHERS}{service}/{watcher}")
}

/// Writes (or rewrites) `rec` as a watcher of `service` under `lease`.
pub async fn announce(
    store: &dyn Store,
    service: &str,
    rec: &WatcherRecord,
    lease: Option<LeaseId>,
) -> Result<u64, RegistryError> {
    validate_service(service)?;
    validate_segment("watcher name", &rec.watcher)?;
    let key = watcher_key(service, &rec.watcher);
    let value = serde_json::to_vec(rec).map_err(|e| RegistryError::Corrupt {
        key: key.clone(),
        detail: e.to_string(),
    })?;
    Ok(u64::try_from(store.put(&key, value, lease).await?).unwrap_or(0))
}

/// Removes a watcher's record (it stopped watching).
pub async fn retract(store: &dyn Store, service: &str, watcher: &str) -> Result<(), RegistryError> {
    store.delete(&watcher_key(service, watcher)).await?;
    Ok(())
}

/// The watchers of `service` now.
pub async fn watchers(
    store: &dyn Store,
    service: &str,
) -> Result<Vec<WatcherRecord>, RegistryError> {
    validate_service(service)?;
    let (kvs, _) = store.range(&service_watchers_prefix(service)).await?;
    Ok(kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect())
}

/// Waits until every watcher of `service` has drained up to `revision`.
/// `Ok(true)`: all acked (or there are none); `Ok(false)`: `deadline`
/// passed first. Records that do not decode are not waited for.
pub async fn wait_acked(
    store: &dyn Store,
    service: &str,
    revision: u64,
    deadline: Duration,
) -> Result<bool, RegistryError> {
    validate_service(service)?;
    let prefix = service_watchers_prefix(service);
    let mut watch = store.watch(&prefix, None).await?;
    let mut pending = std::collections::BTreeMap::<String, bool>::new();
    let wait = async {
        while let Some(item) = watch.next().await {
            match item? {
                WatchEvent::Reset { kvs, .. } => {
                    pending = kvs
                        .iter()
                        .map(|kv| (kv.key.clone(), !acked(&kv.value, revision)))
                        .collect();
                }
                WatchEvent::Put(kv) => {
                    pending.insert(kv.key.clone(), !acked(&kv.value, revision));
                }
                WatchEvent::Delete { key, .. } => {
                    pending.remove(&key);
                }
            }
            if !pending.values().any(|p| *p) {
                return Ok(true);
            }
        }
        // The store closed: nothing more to wait for.
        Ok::<bool, RegistryError>(true)
    };
    match tokio::time::timeout(deadline, wait).await {
        Ok(r) => r,
        Err(_) => Ok(false),
    }
}

fn acked(value: &[u8], revision: u64) -> bool {
    serde_json::from_slice::<WatcherRecord>(value)
        .map(|r| r.drained >= revision)
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_store::MemoryStore;
    use std::sync::Arc;

    fn rec(name: &str, applied: u64, drained: u64) -> WatcherRecord {
        WatcherRecord {
            watcher: name.into(),
            node: "n1".into(),
            applied,
            drained,
        }
    }

    #[tokio::test]
    async fn no_watcher_means_no_wait() {
        let store = MemoryStore::new();
        assert!(wait_acked(&store, "web", 5, Duration::from_secs(60))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn waits_for_every_watcher_to_drain_past_the_revision() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        announce(&*store, "web", &rec("a@n1", 1, 1), None)
            .await
            .unwrap();
        announce(&*store, "web", &rec("b@n1", 1, 1), None)
            .await
            .unwrap();
        announce(&*store, "api", &rec("c@n1", 0, 0), None)
            .await
            .unwrap();
        let s = store.clone();
        let waiter =
            tokio::spawn(async move { wait_acked(&*s, "web", 10, Duration::from_secs(60)).await });
        announce(&*store, "web", &rec("a@n1", 10, 9), None)
            .await
            .unwrap();
        announce(&*store, "web", &rec("a@n1", 10, 10), None)
            .await
            .unwrap();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        // b goes away instead of acking: no longer waited for
        retract(&*store, "web", "b@n1").await.unwrap();
        assert!(waiter.await.unwrap().unwrap());
        assert_eq!(
            watchers(&*store, "web").await.unwrap(),
            vec![rec("a@n1", 10, 10)]
        );
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline() {
        let store = MemoryStore::new();
        announce(&store, "web", &rec("a@n1", 1, 1), None)
            .await
            .unwrap();
        let ok = wait_acked(&store, "web", 2, Duration::from_millis(20))
            .await
            .unwrap();
        assert!(!ok);
    }
}
