//! The conformance suite against [`MemoryStore`], plus memory-only checks that
//! use paused tokio time.

use std::time::Duration;

use skiff_store::conformance::{run_all, StoreFactory};
use skiff_store::{MemoryStore, Store, StoreError, WatchEvent};

struct Memory;

impl StoreFactory for Memory {
    type Store = MemoryStore;
    async fn store(&self) -> MemoryStore {
        MemoryStore::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_conformance() {
    run_all(&Memory).await;
}

#[tokio::test(start_paused = true)]
async fn lease_expires_on_the_monotonic_clock() {
    let store = MemoryStore::new();
    let lease = store.grant(Duration::from_secs(10)).await.expect("grant");
    store
        .put("/k", b"v".to_vec(), Some(lease.id))
        .await
        .expect("put");
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(store.get("/k").await.expect("get").0.is_some());
    store.keepalive(lease.id).await.expect("keepalive");
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        store.get("/k").await.expect("get").0.is_some(),
        "keepalive restarted the TTL"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(store.get("/k").await.expect("get").0, None);
    assert_eq!(
        store.keepalive(lease.id).await,
        Err(StoreError::LeaseExpired { id: lease.id })
    );
}

/// On the current-thread runtime the watcher cannot run while the writes
/// happen, so it falls behind the automatic compaction and must relist.
#[tokio::test]
async fn automatic_compaction_makes_slow_watchers_relist() {
    let store = MemoryStore::with_retention(10);
    let mut watch = store.watch("/", None).await.expect("watch");
    for i in 0..50u8 {
        store.put("/k", vec![i], None).await.expect("put");
    }
    let first = watch.next().await.expect("item").expect("ok");
    assert_eq!(
        first,
        WatchEvent::Reset {
            kvs: vec![],
            revision: 1
        }
    );
    match watch.next().await.expect("item").expect("ok") {
        WatchEvent::Reset { kvs, revision: 51 } => assert_eq!(kvs[0].value, vec![49]),
        other => panic!("expected a relist at revision 51, got {other:?}"),
    }
    assert!(matches!(
        store.compact(5).await,
        Err(StoreError::Compacted { revision: 5 })
    ));
}
