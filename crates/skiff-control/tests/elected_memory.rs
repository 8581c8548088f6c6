//! The elected controller loop over the in-memory store: two candidates run
//! `run_elected`; only the leader writes (its writes are fenced), and when
//! its lease is revoked the other takes over and keeps reconciling. A
//! deposed leader's pass writes nothing.

use skiff_control::controller::{pass_fenced, run_elected};
use skiff_control::{jobs, ControllerConfig, Elector, LEADER_KEY};
use skiff_store::{Compare, LeaseId, MemoryStore, Store};
use skiff_types::{ScaleRequest, ServiceSpec, Topology};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn topo(replicas: u32) -> Topology {
    let web = ServiceSpec {
        name: "web".into(),
        replicas,
        ..Default::default()
    };
    Topology {
        name: "j".into(),
        services: [("web".to_string(), web)].into(),
        ..Default::default()
    }
}

async fn allocs(store: &dyn Store) -> usize {
    store.range("/skiff/allocs/").await.unwrap().0.len()
}

async fn until<F, Fut>(mut ok: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    // A bound for a bug, not a timing assertion.
    for _ in 0..6000 {
        if ok().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never held");
}

async fn leader(store: &dyn Store) -> Option<String> {
    let (kv, _) = store.get(LEADER_KEY).await.unwrap();
    kv.map(|kv| String::from_utf8(kv.value).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_the_other_takes_over() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store
        .put("/skiff/nodes/n1", b"{}".to_vec(), None)
        .await
        .unwrap();
    let cfg = ControllerConfig {
        tick: Duration::from_millis(50),
        ..Default::default()
    };
    let mut leases: Vec<LeaseId> = Vec::new();
    let mut tasks = Vec::new();
    // The daemon's lease keeper in miniature: one lease each, never replaced.
    let mut senders = Vec::new();
    for name in ["a", "b"] {
        let lease = store.grant(Duration::from_secs(600)).await.unwrap().id;
        leases.push(lease);
        let (tx, rx) = watch::channel(Some(lease));
        senders.push(tx);
        let elector = Elector::new(store.clone(), name);
        tasks.push(tokio::spawn(run_elected(
            store.clone(),
            cfg.clone(),
            elector,
            rx,
        )));
        if name == "a" {
            until(|| async { leader(store.as_ref()).await.is_some() }).await;
        }
    }
    assert_eq!(leader(store.as_ref()).await.as_deref(), Some("a"));
    jobs::put(store.as_ref(), topo(3)).await.unwrap();
    until(|| async { allocs(store.as_ref()).await == 3 }).await;
    let (kv, _) = store.get(LEADER_KEY).await.unwrap();
    let old_fence = Compare::ModRevision {
        key: LEADER_KEY.into(),
        revision: kv.unwrap().mod_revision,
    };

    store.revoke(leases[0]).await.unwrap();
    until(|| async { leader(store.as_ref()).await.as_deref() == Some("b") }).await;
    let mut req = ScaleRequest::default();
    req.replicas.insert("web".into(), 5);
    jobs::scale(store.as_ref(), "j", &req).await.unwrap();
    until(|| async { allocs(store.as_ref()).await == 5 }).await;

    // a, deposed, computes a plan (scale to 7) but the store refuses it.
    req.replicas.insert("web".into(), 7);
    for t in &tasks {
        t.abort();
    }
    jobs::scale(store.as_ref(), "j", &req).await.unwrap();
    pass_fenced(store.as_ref(), &cfg, Some(&old_fence))
        .await
        .unwrap();
    assert_eq!(allocs(store.as_ref()).await, 5);
}
