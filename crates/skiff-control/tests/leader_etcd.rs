//! Leader election on a real etcd started by the test: two candidates on
//! their own leases; the first leads, the second waits; the leader's lease is
//! revoked -> the key goes with it, the old leader sees the loss, the other
//! takes over, and the deposed leader's fenced writes are refused by etcd.
//! FAILS (never skips) without the etcd binary: install `etcd-server`.

use skiff_control::Elector;
use skiff_store::etcd_server::EtcdCluster;
use skiff_store::{Store, Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;

/// Generous bound for a test that would otherwise hang on a bug.
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_leader_is_replaced_by_the_other_candidate() {
    let cluster = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(cluster.connect().await.unwrap());
    // Long TTLs: only the revoke ends a lease here, never a slow machine.
    let la = store.grant(Duration::from_secs(120)).await.unwrap().id;
    let lb = store.grant(Duration::from_secs(120)).await.unwrap().id;
    let a = Elector::new(store.clone(), "node-a");
    let b = Elector::new(store.clone(), "node-b");

    let lead = a.campaign(la).await.unwrap();
    assert_eq!(b.leader().await.unwrap().as_deref(), Some("node-a"));
    let b2 = b.clone();
    let follower = tokio::spawn(async move { b2.campaign(lb).await });
    // While a's lease lives, b stays a follower.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!follower.is_finished(), "b took over a held leadership");
    assert_eq!(a.leader().await.unwrap().as_deref(), Some("node-a"));

    store.revoke(la).await.unwrap();
    tokio::time::timeout(PATIENCE, lead.lost())
        .await
        .expect("the old leader notices its loss");
    let next = tokio::time::timeout(PATIENCE, follower)
        .await
        .expect("b takes over")
        .unwrap()
        .unwrap();
    assert_eq!(a.leader().await.unwrap().as_deref(), Some("node-b"));
    assert_eq!(next.lease(), lb);

    let write = |fence| Txn {
        compares: vec![fence],
        success: vec![TxnOp::Put {
            key: "/skiff/test/fenced".into(),
            value: b"x".to_vec(),
            lease: None,
        }],
        failure: Vec::new(),
    };
    assert!(!store.txn(write(lead.fence())).await.unwrap().succeeded);
    assert!(store.txn(write(next.fence())).await.unwrap().succeeded);
    // b resigns; a cannot win on its dead lease, but on a new one it leads.
    next.resign().await.unwrap();
    assert!(a.campaign(la).await.is_err());
    let la2 = store.grant(Duration::from_secs(120)).await.unwrap().id;
    let again = tokio::time::timeout(PATIENCE, a.campaign(la2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.lease(), la2);
    assert_eq!(b.leader().await.unwrap().as_deref(), Some("node-a"));
}
