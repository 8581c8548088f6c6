//! The conformance suite against [`RedbStore`], plus durability across
//! reopen: data, revisions, history and leases survive; lease deadlines
//! restart from the reopen.

use std::time::Duration;

use skiff_store::conformance::{run_all, StoreFactory};
use skiff_store::{RedbStore, Store, StoreError, WatchEvent};

struct Redb {
    dir: tempfile::TempDir,
}

impl StoreFactory for Redb {
    type Store = RedbStore;
    async fn store(&self) -> RedbStore {
        let file = tempfile::NamedTempFile::new_in(self.dir.path()).expect("temp file");
        let (_, path) = file.keep().expect("keep temp file");
        std::fs::remove_file(&path).expect("start from no file");
        RedbStore::open(&path).await.expect("open redb")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_passes_conformance() {
    let factory = Redb {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    run_all(&factory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_data_history_and_leases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let (lease, r1, r2) = {
        let store = RedbStore::open(&path).await.expect("open");
        let lease = store.grant(Duration::from_secs(2)).await.expect("grant");
        let r1 = store.put("/a", b"1".to_vec(), None).await.expect("put");
        let r2 = store
            .put("/leased", b"2".to_vec(), Some(lease.id))
            .await
            .expect("put");
        (lease, r1, r2)
    };
    let store = RedbStore::open(&path).await.expect("reopen after close");
    let (kv, rev) = store.get("/a").await.expect("get");
    assert_eq!((kv.expect("/a").mod_revision, rev), (r1, r2));
    assert!(
        store.put("/b", vec![], None).await.expect("put") > r2,
        "revisions continue"
    );

    let mut watch = store.watch("/", Some(r1)).await.expect("watch history");
    assert!(
        matches!(watch.next().await, Some(Ok(WatchEvent::Reset { revision, .. })) if revision == r1)
    );
    assert!(matches!(watch.next().await, Some(Ok(WatchEvent::Put(kv))) if kv.key == "/leased"));

    // The lease survived the restart with a fresh TTL, and still expires.
    store
        .keepalive(lease.id)
        .await
        .expect("lease alive after reopen");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.get("/leased").await.expect("get").0.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.keepalive(lease.id).await,
        Err(StoreError::LeaseExpired { id: lease.id })
    );
}

#[tokio::test]
async fn second_open_of_the_same_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.redb");
    let _first = RedbStore::open(&path).await.expect("open");
    let second = RedbStore::open(&path).await;
    assert!(
        matches!(second, Err(StoreError::Unavailable { .. })),
        "{second:?}"
    );
}
