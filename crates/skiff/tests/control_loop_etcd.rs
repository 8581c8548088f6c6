//! The control loop over a real etcd (started by the test, default
//! `--max-txn-ops` 128), with the recording fake runtime of control_loop.rs:
//! - a job of 150 allocations reaches its desired state, scales to 1, back to
//!   150 and is taken down: every plan is bigger than one etcd transaction;
//! - two "daemons" (elected controller + agent each, node sessions with 2 s
//!   leases): one leads; the leader's host dies (kill -9: its keepalives stop)
//!   -> its lease expires, the survivor takes over the controller and re-places
//!   the lost allocations on itself. The time from lease loss (the node key's
//!   deletion) to re-placement is printed, not asserted.
//!
//! FAILS (never skips) without the etcd binary: install `etcd-server`.

mod control_support;

use control_support::{service, topo, FakeRuntime};
use skiff_control::{controller, jobs, ControllerConfig, Elector, State};
use skiff_registry::Registry;
use skiff_store::etcd_server::EtcdCluster;
use skiff_store::{LeaseId, Store, WatchEvent};
use skiff_types::ScaleRequest;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Bound on how long anything may take before the test gives up (not a
/// timing assertion: a loaded machine is slow, a bug never finishes).
const PATIENCE: Duration = Duration::from_secs(120);

async fn etcd() -> (EtcdCluster, Arc<dyn Store>) {
    let cluster = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let store: Arc<dyn Store> = Arc::new(cluster.connect().await.unwrap_or_else(|e| panic!("{e}")));
    (cluster, store)
}

/// Controller and agent passes until neither acts (no timing involved).
async fn settle(store: &dyn Store, rt: &Arc<FakeRuntime>) {
    let cfg = ControllerConfig::default();
    for _ in 0..100 {
        let c = controller::pass(store, &cfg).await.unwrap();
        let a = skiff_agent::pass(store, rt, "n1").await.unwrap();
        if !c && !a {
            skiff_agent::pass(store, rt, "n1").await.unwrap();
            if !controller::pass(store, &cfg).await.unwrap() {
                return;
            }
        }
    }
    panic!("did not settle");
}

/// How many writes the controller's next evaluation of job `j` makes.
async fn planned(store: &dyn Store) -> usize {
    let state = State::read(store).await.unwrap();
    let w = skiff_control::evaluate(&state, "j", ControllerConfig::default().seed);
    w.puts.len() + 2 * w.deletes.len()
}

async fn scale(store: &dyn Store, n: u32) {
    let mut req = ScaleRequest::default();
    req.replicas.insert("web".into(), n);
    jobs::scale(store, "j", &req).await.unwrap();
}

async fn allocs(store: &dyn Store, prefix: &str) -> usize {
    store.range(prefix).await.unwrap().0.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_of_150_allocations_converges_scales_and_goes_down_on_etcd() {
    let (_cluster, store) = etcd().await;
    let store = store.as_ref();
    store
        .put("/skiff/nodes/n1", b"{}".to_vec(), None)
        .await
        .unwrap();
    let rt = Arc::new(FakeRuntime::default());
    let mut web = service("web", 150);
    web.healthcheck = None;
    jobs::put(store, topo(vec![web])).await.unwrap();
    // One transaction would need 151 compares: more than etcd takes.
    assert_eq!(planned(store).await, 150);
    let up = Instant::now();
    settle(store, &rt).await;
    let up = up.elapsed();
    assert_eq!(rt.running("j-web-").len(), 150);
    assert_eq!(allocs(store, "/skiff/allocs/").await, 150);
    assert!(jobs::view(store, "j").await.unwrap().converged());

    scale(store, 1).await;
    assert_eq!(planned(store).await, 149);
    let down_to_1 = Instant::now();
    settle(store, &rt).await;
    let down_to_1 = down_to_1.elapsed();
    assert_eq!(rt.containers.lock().unwrap().len(), 1);
    assert_eq!(allocs(store, "/skiff/allocs/").await, 1);
    assert_eq!(allocs(store, "/skiff/status/").await, 1);
    assert!(jobs::view(store, "j").await.unwrap().converged());

    scale(store, 150).await;
    settle(store, &rt).await;
    assert_eq!(rt.running("j-web-").len(), 150);

    // down: 150 retirements, then 150 deletions of two keys each.
    jobs::remove(store, "j").await.unwrap();
    assert_eq!(planned(store).await, 150);
    let down = Instant::now();
    settle(store, &rt).await;
    let down = down.elapsed();
    assert!(rt.containers.lock().unwrap().is_empty());
    assert_eq!(jobs::remaining(store, "j").await.unwrap(), 0);
    assert_eq!(allocs(store, "/skiff/allocs/").await, 0);
    assert_eq!(allocs(store, "/skiff/status/").await, 0);
    println!(
        "150 allocations on etcd, controller + agent lock-step (fake runtime): \
         up {up:?}, scale 150 -> 1 {down_to_1:?}, down {down:?}"
    );
}

/// A lease kept alive in the background, as the daemon's LeaseKeeper does.
fn keep_lease(
    store: Arc<dyn Store>,
    ttl: Duration,
) -> (watch::Receiver<Option<LeaseId>>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(async move {
        let id = store.grant(ttl).await.unwrap().id;
        tx.send_replace(Some(id));
        loop {
            tokio::time::sleep(ttl / 3).await;
            let _ = store.keepalive(id).await;
        }
    });
    (rx, task)
}

/// One host: its node session, elected controller and agent.
struct Host {
    _session: skiff_registry::NodeSession,
    tasks: Vec<JoinHandle<()>>,
}

impl Host {
    async fn start(store: &Arc<dyn Store>, node: &str, rt: &Arc<FakeRuntime>) -> Host {
        let ttl = Duration::from_secs(2);
        let session = Registry::new(store.clone()).join(node, ttl).await.unwrap();
        let (lease, keeper) = keep_lease(store.clone(), ttl);
        let cfg = ControllerConfig {
            tick: Duration::from_millis(500),
            ..Default::default()
        };
        let elector = Elector::new(store.clone(), node);
        let control = tokio::spawn(controller::run_elected(store.clone(), cfg, elector, lease));
        let agent_cfg = skiff_agent::AgentConfig {
            node: node.into(),
            tick: Duration::from_millis(500),
        };
        let agent = tokio::spawn(skiff_agent::run(store.clone(), rt.clone(), agent_cfg));
        Host {
            _session: session,
            tasks: vec![keeper, control, agent],
        }
    }

    /// kill -9: nothing renews its leases any more.
    fn kill(self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn wait_for<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_leader_node_is_replaced_by_the_survivor_on_etcd() {
    let (_cluster, store) = etcd().await;
    let (rt1, rt2) = (
        Arc::new(FakeRuntime::default()),
        Arc::new(FakeRuntime::default()),
    );
    let who = Elector::new(store.clone(), "observer");
    // n2 starts first and wins the election; n1 then waits as a follower.
    let n2 = Host::start(&store, "n2", &rt2).await;
    wait_for("n2 leads", || async {
        who.leader().await.unwrap().as_deref() == Some("n2")
    })
    .await;
    let n1 = Host::start(&store, "n1", &rt1).await;
    let mut web = service("web", 4);
    web.healthcheck = None;
    jobs::put(store.as_ref(), topo(vec![web])).await.unwrap();
    wait_for("two instances on each node", || async {
        rt1.running("j-web-").len() == 2
            && rt2.running("j-web-").len() == 2
            && jobs::view(store.as_ref(), "j").await.unwrap().converged()
    })
    .await;
    assert_eq!(who.leader().await.unwrap().as_deref(), Some("n2"));

    let mut nodes = store.watch("/skiff/nodes/n2", None).await.unwrap();
    assert!(
        matches!(nodes.next().await, Some(Ok(WatchEvent::Reset { ref kvs, .. })) if kvs.len() == 1)
    );
    let killed = Instant::now();
    n2.kill();
    let lost = loop {
        match tokio::time::timeout(PATIENCE, nodes.next()).await.unwrap() {
            Some(Ok(WatchEvent::Delete { .. })) => break Instant::now(),
            Some(Ok(_)) => {}
            other => panic!("node watch ended: {other:?}"),
        }
    };
    wait_for("n2's instances re-placed on n1", || async {
        rt1.running("j-web-").len() == 4
            && allocs(store.as_ref(), "/skiff/allocs/n2/").await == 0
            && jobs::view(store.as_ref(), "j").await.unwrap().converged()
    })
    .await;
    let replaced = Instant::now();
    assert_eq!(who.leader().await.unwrap().as_deref(), Some("n1"));
    println!(
        "node loss on etcd (2 s lease): kill -> lease expired {:?}; lease expired -> \
         re-placed on the survivor (incl. controller takeover) {:?}",
        lost - killed,
        replaced - lost
    );
    n1.kill();
}
