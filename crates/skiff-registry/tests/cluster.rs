//! The registry on a real 3-member etcd cluster under faults: one member
//! killed -> registration and watches continue; quorum lost -> operations
//! fail fast with "store unavailable"; members back -> the same session and
//! watch recover with no manual step. FAILS (never skips) without etcd.

mod support;

use std::sync::Arc;
use std::time::Duration;

use skiff_registry::Registry;
use skiff_store::etcd_server::EtcdCluster;
use skiff_types::ServiceUpdate;
use support::{eventually, inst, next};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_survives_a_member_and_recovers_from_quorum_loss() {
    let mut cluster = EtcdCluster::start(3).unwrap_or_else(|e| panic!("{e}"));
    let store = cluster.connect().await.unwrap_or_else(|e| panic!("{e}"));
    let reg = Registry::new(Arc::new(store));
    let node = reg.join("n1", Duration::from_secs(10)).await.unwrap();
    node.register(&inst("web", "a", "n1")).await.unwrap();
    let mut w = reg.watch("web", None).await.unwrap();
    assert!(matches!(next(&mut w).await, ServiceUpdate::Reset { .. }));

    cluster.kill(0);
    let b = inst("web", "b", "n1");
    eventually(|| node.register(&b)).await;
    assert!(
        matches!(next(&mut w).await, ServiceUpdate::Add { instance, .. } if instance.id == "b")
    );

    cluster.kill(1);
    let err = node
        .register(&inst("web", "c", "n1"))
        .await
        .expect_err("no quorum: the write must fail");
    assert!(err.is_unavailable(), "{err}");
    assert!(err.to_string().contains("store unavailable"), "{err}");
    let err = reg.catalog().await.expect_err("no quorum: reads fail too");
    assert!(err.is_unavailable(), "{err}");

    cluster.restart(0).unwrap();
    cluster.restart(1).unwrap();
    // The same session and the same watch carry on by themselves.
    let d = inst("web", "d", "n1");
    eventually(|| node.register(&d)).await;
    let mut ids = Vec::new();
    while !ids.contains(&"d".to_string()) {
        match tokio::time::timeout(Duration::from_secs(30), w.next()).await {
            Ok(Some(Ok(ServiceUpdate::Add { instance, .. }))) => ids.push(instance.id),
            Ok(Some(Ok(ServiceUpdate::Reset { instances, .. }))) => {
                ids.extend(instances.into_iter().map(|i| i.id))
            }
            Ok(Some(Ok(ServiceUpdate::Remove { id, .. }))) => ids.retain(|i| *i != id),
            // The watch reports the outage; asking again resubscribes.
            Ok(Some(Err(e))) => {
                assert!(e.is_unavailable() || e.to_string().contains("store"), "{e}")
            }
            Ok(None) => panic!("watch ended"),
            Err(_) => panic!("the watch did not recover"),
        }
    }
    let (list, _) = eventually(|| reg.instances("web")).await;
    assert!(list.iter().any(|i| i.id == "a") && list.iter().any(|i| i.id == "d"));
    assert!(
        // Right after quorum returns one call may still meet a connection being re-made.
        eventually(|| reg.nodes())
            .await
            .iter()
            .any(|n| n.node == "n1"),
        "the node's lease outlived the outage"
    );
}
