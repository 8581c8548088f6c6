//! Batch yields to service: the daemon's freezer task.
//!
//! Every second it samples CPU pressure (`signal`: PSI, else the service
//! containers' CPU usage), lists the batch containers (label
//! `skiff.class=batch`, priority from `skiff.priority`), asks the pure
//! `policy` what to do, and does it through the runtime's freezer
//! (`pause_as(CpuPressure)` / `unpause_if(CpuPressure)`, cgroup v1 and v2).
//!
//! Who froze a container is saved in its record (`state.paused_by`), so:
//! - a daemon restart picks up the containers its predecessor froze (they are
//!   thawed when pressure has stayed low), and never thaws a user's pause;
//! - a user who pauses a frozen container takes it over (the freezer lets go),
//!   and a user's unpause wins (the container is simply running again);
//! - `--batch-pressure off` thaws, at start, every container a previous daemon
//!   froze, so turning the feature off never leaves work frozen.
//!
//! Nothing is lost: a frozen container keeps its memory, files and network;
//! its processes just do not run until thawed.

pub mod policy;
pub mod signal;

use policy::{Action, BatchState, Candidate, Policy, Sample, Thresholds};
use signal::{Sampler, SourceChoice};
use skiff_runtime::Runtime;
use skiff_types::{labels, ContainerInfo, ContainerStatus, PauseReason};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The freezer's configuration (daemon flags `--batch-pressure*`).
#[derive(Debug, Clone)]
pub struct PressureConfig {
    pub enabled: bool,
    pub thresholds: Thresholds,
    pub source: SourceChoice,
}

const TICK: Duration = Duration::from_secs(1);

/// The freezer, its signal source chosen and checked before the daemon
/// touches anything (a `psi` demand on a kernel without PSI stops the start).
pub enum Freezer {
    On(Thresholds, Sampler),
    /// Disabled: it only thaws, once, what a previous daemon froze.
    Off,
}

impl Freezer {
    /// `psi_files`: PSI files in order of preference.
    pub fn prepare(cfg: &PressureConfig, psi_files: &[PathBuf]) -> anyhow::Result<Freezer> {
        if !cfg.enabled {
            return Ok(Freezer::Off);
        }
        Ok(Freezer::On(
            cfg.thresholds,
            Sampler::choose(cfg.source, psi_files)?,
        ))
    }

    /// Starts the task on the current tokio runtime.
    pub fn spawn(self, rt: Runtime) {
        match self {
            Freezer::Off => {
                tokio::spawn(async move { release_all(&rt).await });
            }
            Freezer::On(t, sampler) => {
                eprintln!(
                    "skiff daemon: batch freezer on: {}; freeze above {}%, thaw below {}%, window {:?}",
                    sampler.describe(),
                    t.high,
                    t.low,
                    t.window
                );
                tokio::spawn(run(rt, t, sampler));
            }
        }
    }
}

/// Thaws every container the freezer froze (the feature was turned off).
async fn release_all(rt: &Runtime) {
    for info in containers(rt).await {
        if info.state.paused_by == Some(PauseReason::CpuPressure) {
            match rt
                .unpause_if(info.id.as_str(), PauseReason::CpuPressure)
                .await
            {
                Ok(true) => eprintln!(
                    "skiff daemon: batch freezer off: thawed {}",
                    info.name.trim_start_matches('/')
                ),
                Ok(false) => {}
                Err(e) => eprintln!("skiff daemon: thaw {}: {}", info.id, e.message),
            }
        }
    }
}

async fn run(rt: Runtime, thresholds: Thresholds, mut sampler: Sampler) {
    let mut policy = Policy::new(thresholds);
    let epoch = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let infos = containers(&rt).await;
        let usage = match sampler.wants_usage() {
            true => service_usage(&rt, &infos).await,
            false => HashMap::new(),
        };
        let pressure = sampler.sample(epoch.elapsed(), usage);
        let cands: Vec<Candidate> = infos.iter().filter_map(candidate).collect();
        let sample = Sample {
            pressure,
            services_running: infos
                .iter()
                .any(|i| !is_batch(i) && i.state.status == ContainerStatus::Running),
        };
        let Some(action) = policy.step(epoch.elapsed(), sample, &cands) else {
            continue;
        };
        act(
            &rt,
            &infos,
            action,
            pressure.unwrap_or_default(),
            thresholds,
        )
        .await;
    }
}

async fn act(rt: &Runtime, infos: &[ContainerInfo], action: Action, p: f64, t: Thresholds) {
    let name_of = |id: &str| {
        infos
            .iter()
            .find(|i| i.id.as_str() == id)
            .map(|i| {
                format!(
                    "{} (priority {})",
                    i.name.trim_start_matches('/'),
                    priority(i)
                )
            })
            .unwrap_or_else(|| id.to_string())
    };
    match action {
        Action::Freeze(id) => match rt.pause_as(&id, PauseReason::CpuPressure).await {
            Ok(()) => eprintln!(
                "skiff daemon: cpu pressure {p:.0}% above {}% for {:?}: froze batch container {}",
                t.high,
                t.window,
                name_of(&id)
            ),
            // Raced with a stop or a user's pause: the next tick sees the new state.
            Err(e) => eprintln!("skiff daemon: freeze {}: {}", name_of(&id), e.message),
        },
        Action::Thaw(id) => match rt.unpause_if(&id, PauseReason::CpuPressure).await {
            Ok(true) => eprintln!(
                "skiff daemon: cpu pressure {p:.0}% below {}%: thawed batch container {}",
                t.low,
                name_of(&id)
            ),
            Ok(false) => {}
            Err(e) => eprintln!("skiff daemon: thaw {}: {}", name_of(&id), e.message),
        },
    }
}

/// Every live container's record.
async fn containers(rt: &Runtime) -> Vec<ContainerInfo> {
    let Ok(rows) = rt.list(false).await else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Ok(info) = rt.inspect(row.id.as_str()).await {
            out.push(info);
        }
    }
    out
}

fn is_batch(info: &ContainerInfo) -> bool {
    info.config.labels.get(labels::CLASS).map(String::as_str) == Some(labels::CLASS_BATCH)
}

/// `skiff.priority`, 0 when absent or not an integer.
fn priority(info: &ContainerInfo) -> i64 {
    info.config
        .labels
        .get(labels::PRIORITY)
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// A batch container the freezer may act on: running, or frozen by itself.
/// A user-paused one is no candidate at all.
fn candidate(info: &ContainerInfo) -> Option<Candidate> {
    if !is_batch(info) {
        return None;
    }
    let state = match (info.state.status, info.state.paused_by) {
        (ContainerStatus::Running, _) => BatchState::Running,
        (ContainerStatus::Paused, Some(PauseReason::CpuPressure)) => BatchState::Frozen,
        _ => return None,
    };
    Some(Candidate {
        id: info.id.to_string(),
        priority: priority(info),
        state,
    })
}

/// Cumulative CPU ns of each running service (non-batch) container.
async fn service_usage(rt: &Runtime, infos: &[ContainerInfo]) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for info in infos {
        if is_batch(info) || info.state.status != ContainerStatus::Running {
            continue;
        }
        if let Ok(s) = rt.stats(info.id.as_str()).await {
            out.insert(info.id.to_string(), s.cpu_usage_ns);
        }
    }
    out
}
