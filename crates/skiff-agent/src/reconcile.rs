//! The agent's loop: one pass reads this node's allocations, the jobs and the
//! reports, observes the containers, runs the pure `diff`, holds back starts
//! whose dependencies are not ready, executes the rest, and writes a report
//! for every allocation whose observed state changed. Passes repeat on every
//! change of this node's allocations or of any report (a dependency may have
//! become healthy), after a pass that acted, and on a short tick (a container
//! may have exited).

use crate::container::{container_spec, network_name, service_networks, volume_name};
use crate::{gate, ExecError, Executor, Observed};
use skiff_sched::{diff, Action, ObservedContainer, ObservedState};
use skiff_store::{Store, StoreError, MAX_TXN_OPS};
use skiff_types::job::{node_allocs_prefix, status_key, ALLOCS, JOBS, STATUS};
use skiff_types::{
    AllocId, AllocReport, AllocStatus, Allocation, ContainerSpec, DesiredState, JobRecord,
    MountKind, Topology,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node: String,
    /// Longest sleep between passes.
    pub tick: Duration,
}

/// What one pass read from the store.
struct View {
    mine: Vec<Allocation>,
    all: Vec<Allocation>,
    reports: HashMap<String, AllocReport>,
    jobs: BTreeMap<String, Topology>,
}

async fn read(store: &dyn Store, node: &str) -> Result<View, StoreError> {
    let decode_all = |kvs: Vec<skiff_store::KeyValue>| -> Vec<(String, Vec<u8>)> {
        kvs.into_iter().map(|kv| (kv.key, kv.value)).collect()
    };
    let all: Vec<Allocation> = decode_all(store.range(ALLOCS).await?.0)
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect();
    let prefix = node_allocs_prefix(node);
    let mine = decode_all(store.range(&prefix).await?.0)
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect();
    let reports = decode_all(store.range(STATUS).await?.0)
        .into_iter()
        .filter_map(|(k, v)| {
            Some((
                k[STATUS.len()..].to_string(),
                serde_json::from_slice(&v).ok()?,
            ))
        })
        .collect();
    let jobs = decode_all(store.range(JOBS).await?.0)
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<JobRecord>(&v).ok())
        .map(|r| (r.topology.name.clone(), r.topology))
        .collect();
    Ok(View {
        mine,
        all,
        reports,
        jobs,
    })
}

/// The report an allocation's container (or its absence) amounts to.
pub fn report_of(
    a: &Allocation,
    seen: Option<&Observed>,
    last: Option<&AllocReport>,
) -> AllocReport {
    let Some(c) = seen.filter(|c| c.spec_hash == a.spec_hash) else {
        let mut r = last.cloned().unwrap_or_default();
        if a.desired == DesiredState::Stop && seen.is_none() {
            r.status = AllocStatus::Stopped;
        } else if matches!(r.status, AllocStatus::Running | AllocStatus::Suspended) {
            // Its container vanished (removed behind our back): a failure.
            r.status = AllocStatus::Failed;
            r.error = Some("container removed".into());
        }
        return r;
    };
    let (status, exit_code) = match c.state {
        ObservedState::Created => (AllocStatus::Pending, None),
        ObservedState::Running => (AllocStatus::Running, None),
        ObservedState::Paused => (AllocStatus::Suspended, None),
        ObservedState::Exited { code: 0 } => (AllocStatus::Complete, Some(0)),
        ObservedState::Exited { code } => (AllocStatus::Failed, Some(code)),
    };
    AllocReport {
        status,
        container: Some(c.container.clone()),
        name: Some(c.name.clone()),
        health: c.health,
        addresses: c.addresses.clone(),
        exit_code,
        error: None,
    }
}

/// One reconcile pass. Returns whether it acted (then another pass follows at once).
pub async fn pass<E: Executor>(
    store: &dyn Store,
    exec: &Arc<E>,
    node: &str,
) -> Result<bool, StoreError> {
    let view = read(store, node).await?;
    let observed = match exec.observe().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skiff agent: observe containers: {e}");
            return Ok(false);
        }
    };
    let by_alloc: HashMap<&AllocId, &Observed> = observed.iter().map(|o| (&o.alloc, o)).collect();
    // Reports first: the diff then sees each allocation's current status.
    let mut desired = view.mine.clone();
    let mut reports = view.reports.clone();
    let mut changed = Vec::new();
    for a in desired.iter_mut() {
        let last = view.reports.get(a.id.as_str());
        let r = report_of(a, by_alloc.get(&a.id).copied(), last);
        if last != Some(&r) {
            let value = serde_json::to_vec(&r).unwrap_or_default();
            changed.push((status_key(a.id.as_str()), value, None));
            reports.insert(a.id.to_string(), r.clone());
        }
        a.status = r.status;
    }
    // One durable commit per chunk rather than one per report: 20 instances
    // turning healthy together cost one fsync, not twenty.
    while !changed.is_empty() {
        let batch = changed.drain(..changed.len().min(MAX_TXN_OPS)).collect();
        store.put_batch(batch).await?;
    }
    let seen: Vec<ObservedContainer> = observed
        .iter()
        .map(|o| ObservedContainer {
            alloc: o.alloc.clone(),
            spec_hash: o.spec_hash,
            state: o.state,
        })
        .collect();
    let report_refs: HashMap<&str, &AllocReport> =
        reports.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut acted = false;
    let mut ensured = BTreeSet::new();
    let (stops, rest): (Vec<Action>, Vec<Action>) = diff(&desired, &seen)
        .into_iter()
        .partition(|a| matches!(a, Action::Stop(_)));
    // Stops run side by side: each may wait out a drain and a grace period.
    let mut stopping = tokio::task::JoinSet::new();
    for action in stops {
        let Action::Stop(id) = action else { continue };
        if let Some(c) = by_alloc.get(&id) {
            let (exec, container) = (exec.clone(), c.container.clone());
            stopping.spawn(async move {
                if let Err(e) = exec.stop(&container).await {
                    eprintln!("skiff agent: stop {id}: {e}");
                }
            });
            acted = true;
        }
    }
    while stopping.join_next().await.is_some() {}
    // Starts run side by side too (each mostly waits on the kernel and the
    // keeper); networks and volumes are made first, one at a time.
    let mut starting = tokio::task::JoinSet::new();
    for action in rest {
        let done = match action {
            Action::Stop(_) => Ok(()),
            Action::Remove(id) => on(&by_alloc, &id, |c| exec.remove(c)).await,
            Action::Freeze(id) => on(&by_alloc, &id, |c| exec.freeze(c)).await,
            Action::Thaw(id) => on(&by_alloc, &id, |c| exec.thaw(c)).await,
            Action::Report(..) => continue,
            // A start that failed, or batch work that is done, waits for the controller.
            Action::Start(a) if !matches!(a.status, AllocStatus::Pending) => continue,
            Action::Start(a) => {
                let Some(topo) = view.jobs.get(&a.job) else {
                    continue;
                };
                if !gate::may_start(topo, &a.service, &view.all, &report_refs) {
                    continue;
                }
                match prepare(exec.as_ref(), topo, &a, node, &mut ensured).await {
                    Ok((spec, extra)) => {
                        let exec = exec.clone();
                        starting.spawn(async move { (a.id, exec.start(spec, extra).await) });
                    }
                    Err(e) => start_failed(store, &a.id, e).await?,
                }
                Ok(())
            }
        };
        if let Err(e) = done {
            eprintln!("skiff agent: {e}");
        }
        acted = true;
    }
    while let Some(done) = starting.join_next().await {
        if let Ok((id, Err(e))) = done {
            start_failed(store, &id, e).await?;
        }
    }
    Ok(acted)
}

/// A start that failed: reported, and the controller decides what next.
async fn start_failed(store: &dyn Store, id: &AllocId, e: ExecError) -> Result<(), StoreError> {
    eprintln!("skiff agent: start {id}: {e}");
    let r = AllocReport {
        status: AllocStatus::Failed,
        error: Some(e.to_string()),
        ..Default::default()
    };
    write_report(store, id.as_str(), &r).await
}

async fn on<'a, F, Fut>(
    by_alloc: &HashMap<&AllocId, &'a Observed>,
    id: &AllocId,
    f: F,
) -> Result<(), ExecError>
where
    F: FnOnce(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), ExecError>>,
{
    match by_alloc.get(id) {
        Some(c) => f(c.container.as_str())
            .await
            .map_err(|e| ExecError(format!("{id}: {e}"))),
        None => Ok(()),
    }
}

/// Makes the allocation's networks and volumes (once per pass) and returns
/// the container to start with the further networks to connect.
async fn prepare<E: Executor>(
    exec: &E,
    topo: &Topology,
    a: &Allocation,
    node: &str,
    ensured: &mut BTreeSet<String>,
) -> Result<(ContainerSpec, Vec<(String, Vec<String>)>), ExecError> {
    let svc = topo
        .services
        .get(&a.service)
        .ok_or_else(|| ExecError(format!("job {} has no service {}", a.job, a.service)))?;
    for net in service_networks(svc) {
        let name = network_name(&topo.name, &net);
        if ensured.insert(name.clone()) {
            let spec = topo.networks.get(&net).cloned().unwrap_or_default();
            exec.ensure_network(&name, &spec, &topo.name).await?;
        }
    }
    for m in &svc.volumes {
        if m.kind == MountKind::Volume && !m.source.is_empty() {
            let name = volume_name(&topo.name, &m.source);
            if ensured.insert(name.clone()) {
                let spec = topo.volumes.get(&m.source).cloned().unwrap_or_default();
                exec.ensure_volume(&name, &spec, &topo.name).await?;
            }
        }
    }
    Ok(container_spec(topo, svc, a, node))
}

async fn write_report(store: &dyn Store, alloc: &str, r: &AllocReport) -> Result<(), StoreError> {
    let value = serde_json::to_vec(r).unwrap_or_default();
    store.put(&status_key(alloc), value, None).await.map(|_| ())
}

/// Runs the agent until the task is dropped.
pub async fn run<E: Executor>(store: Arc<dyn Store>, exec: Arc<E>, cfg: AgentConfig) {
    let mut allocs = None;
    let mut status = None;
    // Subscribed before the first pass, so no change between a pass's
    // observation and the wait is missed.
    let mut local = exec.changes();
    loop {
        let again = match pass(store.as_ref(), &exec, &cfg.node).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("skiff agent: {e}");
                false
            }
        };
        if again {
            continue;
        }
        if allocs.is_none() {
            allocs = subscribe(store.as_ref(), &node_allocs_prefix(&cfg.node)).await;
        }
        if status.is_none() {
            status = subscribe(store.as_ref(), STATUS).await;
        }
        let next = async {
            tokio::select! {
                r = next_of(&mut allocs) => r,
                r = next_of(&mut status) => r,
                () = local_change(&mut local) => true,
            }
        };
        match tokio::time::timeout(cfg.tick, next).await {
            Ok(true) | Err(_) => {}
            Ok(false) => {
                allocs = None;
                status = None;
            }
        }
    }
}

async fn subscribe(store: &dyn Store, prefix: &str) -> Option<skiff_store::Watch> {
    let mut w = store.watch(prefix, None).await.ok()?;
    // The snapshot: the pass that follows reads it anyway.
    w.next().await;
    Some(w)
}

/// Waits for the executor's next change (never, without a channel).
async fn local_change(rx: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    if let Some(r) = rx.as_mut() {
        if r.changed().await.is_ok() {
            return;
        }
        *rx = None;
    }
    std::future::pending().await
}

/// Waits for a change on `w`; false when the watch broke.
async fn next_of(w: &mut Option<skiff_store::Watch>) -> bool {
    match w {
        Some(w) => matches!(w.next().await, Some(Ok(_))),
        None => std::future::pending().await,
    }
}
