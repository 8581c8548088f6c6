//! The controller and a node agent in lock-step over an in-memory store,
//! with a recording fake in place of the container runtime (this tests the
//! reconcile logic, not the runtime: the e2e_up tests run the real one).
//! control_loop_etcd.rs runs the same loop over a real etcd.
//! Passes alternate until nothing changes, so no test depends on timing.

mod control_support;

use control_support::{service, topo, FakeRuntime};
use skiff_control::{controller, jobs, ControllerConfig};
use skiff_store::{MemoryStore, Store};
use skiff_types::{DependsCondition, HealthStatus};
use std::sync::Arc;

struct Cluster {
    store: Arc<dyn Store>,
    rt: Arc<FakeRuntime>,
}

impl Cluster {
    async fn new() -> Cluster {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // The node's presence, as the registry writes it.
        store
            .put("/skiff/nodes/n1", b"{}".to_vec(), None)
            .await
            .unwrap();
        Cluster {
            store,
            rt: Arc::new(FakeRuntime::default()),
        }
    }

    /// Controller and agent passes until neither acts.
    async fn settle(&self) {
        let cfg = ControllerConfig::default();
        for _ in 0..200 {
            let c = controller::pass(self.store.as_ref(), &cfg).await.unwrap();
            let a = skiff_agent::pass(self.store.as_ref(), &self.rt, "n1")
                .await
                .unwrap();
            if !c && !a {
                // One more agent pass settles its reports.
                skiff_agent::pass(self.store.as_ref(), &self.rt, "n1")
                    .await
                    .unwrap();
                if !controller::pass(self.store.as_ref(), &cfg).await.unwrap() {
                    return;
                }
            }
        }
        panic!("did not settle");
    }
}

#[tokio::test]
async fn replicas_replacement_scale_and_down() {
    let c = Cluster::new().await;
    jobs::put(c.store.as_ref(), topo(vec![service("web", 3)]))
        .await
        .unwrap();
    c.settle().await;
    let web = c.rt.running("j-web-");
    assert_eq!(web.len(), 3);
    assert!(jobs::view(c.store.as_ref(), "j").await.unwrap().converged());
    assert_eq!(
        *c.rt.networks.lock().unwrap(),
        vec!["j_default".to_string()]
    );

    // A container dies: a new generation takes its slot.
    c.rt.exit(&web[1].container, 137);
    c.settle().await;
    let now = c.rt.running("j-web-");
    assert_eq!(now.len(), 3);
    assert!(!now.iter().any(|o| o.container == web[1].container));
    assert!(now.iter().any(|o| o.alloc.as_str() == "j.web.1.2"));
    // The dead container was removed, not left behind.
    assert_eq!(c.rt.containers.lock().unwrap().len(), 3);

    let mut req = skiff_types::ScaleRequest::default();
    req.replicas.insert("web".into(), 1);
    jobs::scale(c.store.as_ref(), "j", &req).await.unwrap();
    c.settle().await;
    assert_eq!(c.rt.containers.lock().unwrap().len(), 1);

    jobs::remove(c.store.as_ref(), "j").await.unwrap();
    c.settle().await;
    assert!(c.rt.containers.lock().unwrap().is_empty());
    assert_eq!(jobs::remaining(c.store.as_ref(), "j").await.unwrap(), 0);
    assert!(c.store.range("/skiff/status/").await.unwrap().0.is_empty());
    assert!(c.store.range("/skiff/allocs/").await.unwrap().0.is_empty());
}

#[tokio::test]
async fn changed_service_rolls_one_at_a_time_and_stalls_on_unhealthy() {
    let c = Cluster::new().await;
    jobs::put(
        c.store.as_ref(),
        topo(vec![service("web", 3), service("db", 1)]),
    )
    .await
    .unwrap();
    c.settle().await;
    let db_before = c.rt.running("j-db-");
    let cfg = ControllerConfig::default();

    // Change web: each controller pass may replace one instance only, and
    // only once the previous replacement is ready.
    let mut web = service("web", 3);
    web.env.insert("V".into(), "2".into());
    jobs::put(c.store.as_ref(), topo(vec![web.clone(), service("db", 1)]))
        .await
        .unwrap();
    c.rt.sick.lock().unwrap().push("web".into());
    for _ in 0..5 {
        controller::pass(c.store.as_ref(), &cfg).await.unwrap();
        skiff_agent::pass(c.store.as_ref(), &c.rt, "n1")
            .await
            .unwrap();
        skiff_agent::pass(c.store.as_ref(), &c.rt, "n1")
            .await
            .unwrap();
    }
    let started_web = |c: &Cluster| {
        c.rt.started
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == "web")
            .count()
    };
    // 3 first starts + exactly one replacement, stuck unhealthy.
    assert_eq!(started_web(&c), 4);
    assert_eq!(c.rt.running("j-web-").len(), 3);

    c.rt.sick.lock().unwrap().clear();
    c.rt.set_health("j-web-", HealthStatus::Healthy);
    c.settle().await;
    assert_eq!(started_web(&c), 6);
    let hash = web.fingerprint().to_string();
    assert!(c
        .rt
        .running("j-web-")
        .iter()
        .all(|o| o.spec_hash.to_string() == hash));
    // db did not change and did not roll.
    assert_eq!(c.rt.running("j-db-"), db_before);
}

#[tokio::test]
async fn depends_on_waits_for_healthy_and_completed() {
    let c = Cluster::new().await;
    let mut api = service("api", 1);
    api.depends_on
        .insert("db".into(), DependsCondition::Healthy);
    api.depends_on
        .insert("migrate".into(), DependsCondition::Completed);
    let mut migrate = service("migrate", 1);
    migrate.healthcheck = None;
    migrate.class = skiff_types::JobClass::Batch;
    c.rt.sick.lock().unwrap().push("db".into());
    jobs::put(c.store.as_ref(), topo(vec![service("db", 1), migrate, api]))
        .await
        .unwrap();
    c.settle().await;
    assert!(c.rt.running("j-api-").is_empty(), "db is unhealthy");
    c.rt.set_health("j-db-", HealthStatus::Healthy);
    c.settle().await;
    assert!(
        c.rt.running("j-api-").is_empty(),
        "migrate has not completed"
    );
    let m = c.rt.running("j-migrate-")[0].container.clone();
    c.rt.exit(&m, 0);
    c.settle().await;
    assert_eq!(c.rt.running("j-api-").len(), 1);
    // Completed batch work is not started again.
    let migrations =
        c.rt.started
            .lock()
            .unwrap()
            .iter()
            .filter(|s| *s == "migrate")
            .count();
    assert_eq!(migrations, 1);
}

#[tokio::test]
async fn lost_node_is_replanned_onto_the_live_one() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for n in ["n1", "n2"] {
        store
            .put(&format!("/skiff/nodes/{n}"), b"{}".to_vec(), None)
            .await
            .unwrap();
    }
    let (rt1, rt2) = (
        Arc::new(FakeRuntime::default()),
        Arc::new(FakeRuntime::default()),
    );
    let cfg = ControllerConfig::default();
    let mut web = service("web", 4);
    web.placement.spread = Some(2);
    jobs::put(store.as_ref(), topo(vec![web])).await.unwrap();
    let settle = |with_n2: bool| {
        let (store, rt1, rt2, cfg) = (store.clone(), rt1.clone(), rt2.clone(), cfg.clone());
        async move {
            for _ in 0..50 {
                controller::pass(store.as_ref(), &cfg).await.unwrap();
                skiff_agent::pass(store.as_ref(), &rt1, "n1").await.unwrap();
                if with_n2 {
                    skiff_agent::pass(store.as_ref(), &rt2, "n2").await.unwrap();
                }
            }
        }
    };
    settle(true).await;
    // spread = 2: two on each node.
    assert_eq!(rt1.running("j-web-").len(), 2);
    assert_eq!(rt2.running("j-web-").len(), 2);

    // n2's lease is gone (its agent too): its slots move to n1 once spread
    // allows it.
    store.delete("/skiff/nodes/n2").await.unwrap();
    let mut web = service("web", 4);
    web.placement.spread = Some(4);
    jobs::put(store.as_ref(), topo(vec![web])).await.unwrap();
    settle(false).await;
    assert_eq!(rt1.running("j-web-").len(), 4);
    // The lost node's allocations were collected from the store.
    assert!(store.range("/skiff/allocs/n2/").await.unwrap().0.is_empty());
    assert!(jobs::view(store.as_ref(), "j").await.unwrap().converged());
}
