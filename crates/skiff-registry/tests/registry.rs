//! The registry over every store backend (memory, redb, a real etcd): typed
//! watches, lease expiry, lease adoption and replacement, DNS snapshots.
//! The etcd tests FAIL (never skip) without the etcd binary.

mod support;

use std::sync::Arc;
use std::time::Duration;

use skiff_registry::dns::{answer, Answer, QueryType};
use skiff_registry::{LiveCatalog, NodeOffer, Registry};
use skiff_store::etcd_server::EtcdCluster;
use skiff_store::{MemoryStore, RedbStore, Store};
use skiff_types::{Capacity, ServiceUpdate};
use support::{inst, next};

async fn watch_is_reset_then_adds_and_removes_in_order(store: Arc<dyn Store>) {
    let reg = Registry::new(store);
    let node = reg.join("n1", Duration::from_secs(10)).await.unwrap();
    node.register(&inst("web", "a", "n1")).await.unwrap();
    node.register(&inst("web", "b", "n1")).await.unwrap();
    node.register(&inst("api", "z", "n1")).await.unwrap();
    let mut w = reg.watch("web", None).await.unwrap();
    let ServiceUpdate::Reset {
        revision: r0,
        instances,
    } = next(&mut w).await
    else {
        panic!("first update must be Reset");
    };
    let ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let r1 = node.register(&inst("web", "c", "n1")).await.unwrap();
    node.register(&inst("api", "y", "n1")).await.unwrap();
    let r2 = node.deregister("web", "a").await.unwrap();
    node.deregister("web", "a").await.unwrap();
    let add = next(&mut w).await;
    assert!(matches!(&add, ServiceUpdate::Add { instance, .. } if instance.id == "c"));
    assert_eq!(add.revision(), r1);
    assert!(r1 > r0);
    let rm = next(&mut w).await;
    assert_eq!(
        rm,
        ServiceUpdate::Remove {
            revision: r2,
            id: "a".into()
        }
    );
    // Resuming from an old revision starts with the state at that revision.
    let mut again = reg.watch("web", Some(r0)).await.unwrap();
    match next(&mut again).await {
        ServiceUpdate::Reset {
            revision,
            instances,
        } => {
            assert_eq!(revision, r0);
            assert_eq!(instances.len(), 2);
        }
        other => panic!("want Reset, got {other:?}"),
    }
    assert!(matches!(next(&mut again).await, ServiceUpdate::Add { .. }));
    let catalog = reg.catalog().await.unwrap();
    assert_eq!(catalog.instances("web").len(), 2);
    assert_eq!(catalog.instances("api").len(), 2);
    assert!(reg.watch("Bad_Name", None).await.is_err());
    assert!(node.register(&inst("web", "a/b", "n1")).await.is_err());
}

async fn instances_expire_with_the_node_lease(store: Arc<dyn Store>) {
    let reg = Registry::new(store);
    let node = reg.join("dying", Duration::from_secs(2)).await.unwrap();
    node.register(&inst("exp", "i1", "dying")).await.unwrap();
    let mut w = reg.watch("exp", None).await.unwrap();
    assert!(
        matches!(next(&mut w).await, ServiceUpdate::Reset { instances, .. } if instances.len() == 1)
    );
    // The node stops renewing (as a daemon killed with -9 does).
    drop(node);
    assert_eq!(
        next(&mut w).await,
        ServiceUpdate::Remove {
            revision: match reg.instances("exp").await.unwrap() {
                (list, rev) if list.is_empty() => rev,
                _ => panic!("instance still there after the Remove"),
            },
            id: "i1".into()
        }
    );
    assert!(reg.nodes().await.unwrap().iter().all(|n| n.node != "dying"));
}

async fn a_restarted_node_adopts_its_live_lease(store: Arc<dyn Store>) {
    let reg = Registry::new(store.clone());
    let first = reg.join("again", Duration::from_secs(30)).await.unwrap();
    first.register(&inst("keep", "k1", "again")).await.unwrap();
    let lease = first.lease();
    drop(first);
    // The restarted daemon publishes a new offer under the adopted lease.
    let offer = NodeOffer {
        capacity: Some(Capacity::new(1500, 256 << 20)),
        labels: [("zone".to_string(), "b".to_string())].into(),
    };
    let second = reg
        .join_with("again", Duration::from_secs(30), offer.clone())
        .await
        .unwrap();
    assert_eq!(second.lease(), lease, "the live lease is adopted");
    let mine = second.registered().await.unwrap();
    assert_eq!(mine.len(), 1);
    let rec = reg.nodes().await.unwrap();
    let rec = rec.iter().find(|n| n.node == "again").unwrap();
    assert_eq!((rec.capacity, &rec.labels), (offer.capacity, &offer.labels));
    assert_eq!(rec.ttl_ms, 30_000);
    // Leaving revokes the lease: node key and instances go at once.
    second.leave().await.unwrap();
    assert!(reg.instances("keep").await.unwrap().0.is_empty());
    assert!(reg.nodes().await.unwrap().iter().all(|n| n.node != "again"));
}

async fn a_lost_lease_is_replaced_and_announced(store: Arc<dyn Store>) {
    let reg = Registry::new(store.clone());
    let node = reg.join("lost", Duration::from_secs(2)).await.unwrap();
    let mut changes = node.lease_changes();
    let old = node.lease();
    node.register(&inst("lost", "l1", "lost")).await.unwrap();
    store.revoke(old).await.unwrap();
    assert!(reg.instances("lost").await.unwrap().0.is_empty());
    // A register on the dead lease replaces it on the spot.
    node.register(&inst("lost", "l2", "lost")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), changes.changed())
        .await
        .expect("lease change announced")
        .unwrap();
    assert_ne!(node.lease(), old);
    assert_eq!(reg.instances("lost").await.unwrap().0.len(), 1);
    assert!(reg.nodes().await.unwrap().iter().any(|n| n.node == "lost"));
}

async fn live_catalog_answers_dns(store: Arc<dyn Store>) {
    let reg = Registry::new(store);
    let live = LiveCatalog::follow(reg.clone(), Duration::from_millis(50));
    let node = reg.join("dns", Duration::from_secs(10)).await.unwrap();
    let rev = node.register(&inst("named", "n1", "dns")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), live.wait_for(rev))
        .await
        .unwrap();
    assert_eq!(
        answer(&live.snapshot(), "named.skiff", QueryType::A),
        Answer::A(vec!["198.18.0.10".parse().unwrap()])
    );
    let rev = node.deregister("named", "n1").await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), live.wait_for(rev))
        .await
        .unwrap();
    assert_eq!(
        answer(&live.snapshot(), "named.skiff", QueryType::A),
        Answer::NxDomain
    );
}

async fn batches_register_many_in_few_commits(store: Arc<dyn Store>) {
    let reg = Registry::new(store);
    let node = reg.join("bulk", Duration::from_secs(10)).await.unwrap();
    let many: Vec<_> = (0..300)
        .map(|i| inst("bulk", &format!("i{i:03}"), "bulk"))
        .collect();
    let mut w = reg.watch("bulk", None).await.unwrap();
    next(&mut w).await;
    node.register_batch(&many).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 300 {
        match next(&mut w).await {
            ServiceUpdate::Add { instance, .. } => seen.push(instance.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    let want: Vec<String> = many.iter().map(|i| i.id.clone()).collect();
    assert_eq!(seen, want, "every Add exactly once, in order");
}

async fn all(store: Arc<dyn Store>) {
    watch_is_reset_then_adds_and_removes_in_order(store.clone()).await;
    instances_expire_with_the_node_lease(store.clone()).await;
    a_restarted_node_adopts_its_live_lease(store.clone()).await;
    a_lost_lease_is_replaced_and_announced(store.clone()).await;
    live_catalog_answers_dns(store.clone()).await;
    batches_register_many_in_few_commits(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_on_memory() {
    all(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    all(Arc::new(
        RedbStore::open(dir.path().join("s.redb")).await.unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_on_etcd() {
    let cluster = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let store = cluster.connect().await.unwrap_or_else(|e| panic!("{e}"));
    all(Arc::new(store)).await;
}
