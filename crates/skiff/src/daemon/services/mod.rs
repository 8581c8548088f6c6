//! The daemon's service agent: runs every container's health check, keeps
//! the node's presence in the registry, and registers exactly the instances
//! that should be (running, reachable, healthy) under the node's lease.
//!
//! One task owns all of it. It wakes on a container lifecycle change
//! (`Runtime::changes`), on a finished probe, when a probe falls due, when
//! the node's lease was replaced, and every second to retry failed writes;
//! then it re-reads the containers, starts due probes, and applies
//! `plan::diff(desired, registered)`. Decisions are pure (`plan`, the
//! registry's `HealthMonitor`); this module only does the I/O around them.
//!
//! The registry is best effort: when the store is unreachable containers
//! keep running, API calls answer "store unavailable", and the agent
//! catches up by itself once the store is back.

mod directory;
pub mod draining;
pub mod plan;
mod probe;

pub use directory::Directory;
pub use draining::Draining;

use plan::{desired_instances, diff, instance_addr, key, InstanceKey};
use skiff_registry::health::{HealthMonitor, ProbeRun};
use skiff_registry::{NodeSession, Registry};
use skiff_runtime::Runtime;
use skiff_types::{ContainerInfo, ContainerStatus, HealthState, HealthStatus, Instance};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Health of every checked container, for `ps` and `inspect`, and a
/// channel bumped whenever a container's verdict (status) changes.
#[derive(Clone)]
pub struct HealthBoard(
    Arc<Mutex<HashMap<String, HealthState>>>,
    Arc<tokio::sync::watch::Sender<u64>>,
);

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard(
            Default::default(),
            Arc::new(tokio::sync::watch::Sender::new(0)),
        )
    }
}

impl HealthBoard {
    /// Bumped on every change of some container's health status.
    pub fn verdicts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.1.subscribe()
    }

    pub fn get(&self, id: &str) -> Option<HealthState> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn set(&self, id: &str, state: Option<HealthState>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let status = state.as_ref().map(|s| s.status);
        let before = match state {
            Some(s) => map.insert(id.to_owned(), s),
            None => map.remove(id),
        };
        drop(map);
        if before.map(|s| s.status) != status {
            self.1.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// How the agent is set up.
pub struct AgentConfig {
    pub node: String,
    pub ttl: Duration,
    /// Published in the node's record (capacity and labels).
    pub offer: skiff_types::NodeOffer,
    /// Containers being stopped with a drain: not wanted in the registry.
    pub draining: Draining,
}

struct Tracked {
    info: ContainerInfo,
    monitor: Option<HealthMonitor>,
    /// The running probe: when it started (agent ms) and how to cancel it.
    probing: Option<(u64, tokio::task::AbortHandle)>,
}

/// Grace beyond a probe's own timeout before the agent gives up on it.
const PROBE_GRACE_MS: u64 = 2000;

struct ProbeDone {
    id: String,
    started_at: u64,
    run: ProbeRun,
}

struct Agent {
    rt: Runtime,
    registry: Registry,
    cfg: AgentConfig,
    board: HealthBoard,
    session: Option<NodeSession>,
    tracked: HashMap<String, Tracked>,
    registered: BTreeMap<InstanceKey, Instance>,
    /// Registrations a previous daemon left (health verdicts carried over once).
    adopted: Option<Vec<Instance>>,
    done_tx: mpsc::Sender<ProbeDone>,
    epoch: Instant,
    failing: bool,
}

/// Starts the agent; it runs until the runtime goes away.
pub fn spawn(rt: Runtime, registry: Registry, cfg: AgentConfig) -> HealthBoard {
    let board = HealthBoard::default();
    let (done_tx, done_rx) = mpsc::channel(64);
    let agent = Agent {
        rt,
        registry,
        cfg,
        board: board.clone(),
        session: None,
        tracked: HashMap::new(),
        registered: BTreeMap::new(),
        adopted: None,
        done_tx,
        epoch: Instant::now(),
        failing: false,
    };
    tokio::spawn(agent.run(done_rx));
    board
}

impl Agent {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn run(mut self, mut done_rx: mpsc::Receiver<ProbeDone>) {
        let mut changes = self.rt.changes();
        let mut lease = None;
        loop {
            self.refresh().await;
            self.start_due_probes();
            if self.sync().await && lease.is_none() {
                lease = self.session.as_ref().map(NodeSession::lease_changes);
            }
            let wake = self.next_wake();
            let lease_changed = async {
                match lease.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                Some(done) = done_rx.recv() => self.record(done),
                true = lease_changed => {
                    // The old lease took our registrations with it.
                    self.registered.clear();
                }
                _ = tokio::time::sleep(wake) => {}
                _ = self.cfg.draining.woken() => {}
            }
        }
    }

    /// Until the next due probe, at most a second (the retry cadence).
    fn next_wake(&self) -> Duration {
        let now = self.now_ms();
        let next = self
            .tracked
            .values()
            .filter_map(|t| {
                let m = t.monitor.as_ref()?;
                Some(match &t.probing {
                    Some((since, _)) => since + m.check().timeout_ms + PROBE_GRACE_MS,
                    None => m.next_due_ms(),
                })
            })
            .min()
            .unwrap_or(u64::MAX);
        Duration::from_millis(next.saturating_sub(now).min(1000))
    }

    /// Re-reads running containers; a restarted one gets a fresh monitor.
    async fn refresh(&mut self) {
        let Ok(list) = self.rt.list(false).await else {
            return;
        };
        let mut seen = HashMap::new();
        for summary in list.iter().filter(|s| s.status == ContainerStatus::Running) {
            let id = summary.id.to_string();
            let Ok(info) = self.rt.inspect(&id).await else {
                continue;
            };
            seen.insert(id, info);
        }
        self.tracked.retain(|id, t| {
            seen.get(id)
                .is_some_and(|i| i.state.started_at == t.info.state.started_at)
        });
        for (id, info) in seen {
            if self.tracked.contains_key(&id) {
                continue;
            }
            let monitor = info.config.health.clone().map(|check| {
                let mut m = HealthMonitor::new(check, self.started_ms(&info));
                let was_registered = self
                    .adopted
                    .as_ref()
                    .is_some_and(|a| a.iter().any(|i| i.meta.get("container") == Some(&id)));
                if was_registered {
                    m.assume(HealthStatus::Healthy);
                }
                m
            });
            self.tracked.insert(
                id,
                Tracked {
                    info,
                    monitor,
                    probing: None,
                },
            );
        }
        let board = self.board.clone();
        let ids: Vec<String> = board
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for id in ids.iter().filter(|id| !self.tracked.contains_key(*id)) {
            board.set(id, None);
        }
        for (id, t) in &self.tracked {
            board.set(id, t.monitor.as_ref().map(|m| m.state().clone()));
        }
    }

    /// The container's start on this agent's monotonic clock.
    fn started_ms(&self, info: &ContainerInfo) -> u64 {
        let wall_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let ago_ms = wall_now.saturating_sub(info.state.started_at) / 1_000_000;
        self.now_ms().saturating_sub(ago_ms)
    }

    fn start_due_probes(&mut self) {
        let now = self.now_ms();
        for (id, t) in self.tracked.iter_mut() {
            let Some(m) = t.monitor.as_mut() else {
                continue;
            };
            if let Some((since, handle)) = &t.probing {
                // A probe stuck past its own timeout (it should never be) is
                // cancelled and counted as timed out, so health keeps moving.
                if now < since + m.check().timeout_ms + PROBE_GRACE_MS {
                    continue;
                }
                handle.abort();
                eprintln!(
                    "skiff daemon: health probe of {id} did not return; counted as timed out"
                );
                let at = probe::now_ns();
                let run = ProbeRun {
                    started_ns: at,
                    ended_ns: at,
                    outcome: skiff_registry::health::ProbeOutcome::TimedOut,
                };
                m.record(run, now);
                self.board.set(id, Some(m.state().clone()));
                t.probing = None;
            }
            if !m.is_due(now) {
                continue;
            }
            let (rt, tx, check) = (self.rt.clone(), self.done_tx.clone(), m.check().clone());
            let (id, started_at, addr) =
                (id.clone(), t.info.state.started_at, instance_addr(&t.info));
            let task = tokio::spawn(async move {
                let run = probe::run(&rt, &id, &check, addr).await;
                let _ = tx
                    .send(ProbeDone {
                        id,
                        started_at,
                        run,
                    })
                    .await;
            });
            t.probing = Some((now, task.abort_handle()));
        }
    }

    fn record(&mut self, done: ProbeDone) {
        let now = self.now_ms();
        let Some(t) = self.tracked.get_mut(&done.id) else {
            return;
        };
        if t.info.state.started_at != done.started_at {
            return; // a probe of a previous run of a restarted container
        }
        t.probing = None;
        if let Some(m) = t.monitor.as_mut() {
            m.record(done.run, now);
            self.board.set(&done.id, Some(m.state().clone()));
        }
    }

    /// Joins if needed and applies the registration diff; false if the
    /// store could not be reached (retried on the next wake-up).
    async fn sync(&mut self) -> bool {
        if self.session.is_none() {
            match self
                .registry
                .join_with(&self.cfg.node, self.cfg.ttl, self.cfg.offer.clone())
                .await
            {
                Ok(session) => {
                    let mine = session.registered().await.unwrap_or_default();
                    self.registered = mine.iter().map(|i| (key(i), i.clone())).collect();
                    self.adopted = Some(mine);
                    self.session = Some(session);
                    // Monitors made before the join learn the carried-over verdicts.
                    self.tracked.clear();
                    self.refresh().await;
                }
                Err(e) => return self.report(Err(e.to_string())),
            }
        }
        let draining = self.cfg.draining.clone();
        let desired: BTreeMap<InstanceKey, Instance> = self
            .tracked
            .values()
            .filter(|t| !draining.contains(t.info.id.as_str()))
            .flat_map(|t| {
                let health = t.monitor.as_ref().map(HealthMonitor::status);
                desired_instances(&t.info, health, &self.cfg.node)
            })
            .map(|i| (key(&i), i))
            .collect();
        let (puts, deletes) = diff(&desired, &self.registered);
        let Some(session) = self.session.as_ref() else {
            return false;
        };
        let mut result = Ok(());
        let mut revisions: BTreeMap<String, u64> = BTreeMap::new();
        for (service, id) in deletes {
            match session.deregister(&service, &id).await {
                Ok(rev) => {
                    if let Some(c) = self
                        .registered
                        .remove(&(service, id))
                        .as_ref()
                        .and_then(container_of)
                    {
                        let r = revisions.entry(c).or_default();
                        *r = (*r).max(rev);
                    }
                }
                Err(e) => result = Err(e.to_string()),
            }
        }
        self.report_drained(&revisions);
        if !puts.is_empty() {
            match session.register_batch(&puts).await {
                Ok(_) => self
                    .registered
                    .extend(puts.into_iter().map(|i| (key(&i), i))),
                Err(e) => result = Err(e.to_string()),
            }
        }
        self.report(result)
    }

    /// Tells the drains whose container has nothing registered any more at
    /// which revision its instances went (`revisions`: this round's deletes).
    fn report_drained(&self, revisions: &BTreeMap<String, u64>) {
        for id in self.cfg.draining.pending() {
            let left = self
                .registered
                .values()
                .any(|i| container_of(i).as_deref() == Some(&id));
            if left {
                continue;
            }
            let services = self
                .tracked
                .get(&id)
                .map(|t| {
                    t.info
                        .config
                        .services
                        .iter()
                        .map(|s| s.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let revision = revisions.get(&id).copied().unwrap_or(0);
            self.cfg
                .draining
                .finish(&id, draining::Deregistered { revision, services });
        }
    }

    /// Logs the first failure of a run and the recovery; true when fine.
    fn report(&mut self, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                if std::mem::take(&mut self.failing) {
                    eprintln!("skiff daemon: service registry reachable again");
                }
                true
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    eprintln!("skiff daemon: service registry: {e} (retrying)");
                }
                false
            }
        }
    }
}

/// The container an instance belongs to (the agent writes it in `meta`).
fn container_of(i: &Instance) -> Option<String> {
    i.meta.get("container").cloned()
}
