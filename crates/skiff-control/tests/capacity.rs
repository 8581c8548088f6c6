//! Published node capacity limits placement, and what does not fit is
//! reported as pending with the scheduler's reason, end to end over a store:
//! job records in, controller passes, views out.

use skiff_control::controller::pass;
use skiff_control::{jobs, ControllerConfig};
use skiff_store::{MemoryStore, Store};
use skiff_types::{Capacity, DesiredState, NodeRecord, ScaleRequest, ServiceSpec, Topology};

async fn settle(store: &dyn Store) {
    let cfg = ControllerConfig::default();
    for _ in 0..100 {
        if !pass(store, &cfg).await.unwrap() {
            return;
        }
    }
    panic!("the controller never settled");
}

fn job(name: &str, replicas: u32, cpu_milli: u64) -> Topology {
    let mut web = ServiceSpec {
        name: "web".into(),
        image: Some("busybox".into()),
        replicas,
        ..Default::default()
    };
    web.resources.reserve_cpu_milli = Some(cpu_milli);
    Topology {
        name: name.into(),
        services: [("web".to_string(), web)].into(),
        ..Default::default()
    }
}

fn placed(view: &skiff_types::JobView) -> usize {
    view.instances
        .iter()
        .filter(|i| i.alloc.desired != DesiredState::Stop)
        .count()
}

#[tokio::test]
async fn capacity_limits_placement_and_pending_says_why() {
    let store = MemoryStore::new();
    let rec = NodeRecord {
        node: "n1".into(),
        ttl_ms: 10_000,
        capacity: Some(Capacity::new(1000, 256 << 20)),
        labels: Default::default(),
    };
    store
        .put("/skiff/nodes/n1", serde_json::to_vec(&rec).unwrap(), None)
        .await
        .unwrap();
    jobs::put(&store, job("app", 3, 400)).await.unwrap();
    // Before the controller acted nothing is pending yet (only unplaced).
    assert!(jobs::view(&store, "app").await.unwrap().pending.is_empty());
    settle(&store).await;
    let view = jobs::view(&store, "app").await.unwrap();
    assert_eq!(placed(&view), 2);
    assert_eq!(view.pending.len(), 1);
    assert_eq!(view.pending[0].service, "web");
    assert_eq!(
        view.pending[0].reason,
        "no node has 400m cpu free (at most 200m)"
    );
    assert!(!view.pending[0].no_nodes);

    // Scaled to what fits: nothing waits.
    let req = ScaleRequest {
        replicas: [("web".to_string(), 2)].into(),
    };
    jobs::scale(&store, "app", &req).await.unwrap();
    settle(&store).await;
    let view = jobs::view(&store, "app").await.unwrap();
    assert_eq!((placed(&view), view.pending.len()), (2, 0));

    // A second job waits for room and is placed once the first goes.
    jobs::put(&store, job("other", 1, 300)).await.unwrap();
    settle(&store).await;
    let other = jobs::view(&store, "other").await.unwrap();
    assert_eq!((placed(&other), other.pending.len()), (0, 1));
    jobs::remove(&store, "app").await.unwrap();
    settle(&store).await;
    let other = jobs::view(&store, "other").await.unwrap();
    assert_eq!((placed(&other), other.pending.len()), (1, 0));
}

#[tokio::test]
async fn no_live_node_is_flagged() {
    let store = MemoryStore::new();
    jobs::put(&store, job("lonely", 1, 0)).await.unwrap();
    settle(&store).await;
    let view = jobs::view(&store, "lonely").await.unwrap();
    assert_eq!(view.pending.len(), 1);
    assert!(view.pending[0].no_nodes);
    assert_eq!(view.pending[0].reason, "no node is alive");
}
