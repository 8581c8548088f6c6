//! The node agent's [`Executor`] over the daemon's engine adapter: the same
//! create, start, stop (drain-aware), remove, pause and network/volume calls
//! the HTTP API makes, so a topology's containers behave exactly like
//! `skiff run` ones (images resolved, networks plugged, services registered
//! by the services agent once healthy).

use super::engine::Adapter;
use skiff_agent::{ExecError, Executor, Observed};
use skiff_api::Engine;
use skiff_sched::ObservedState;
use skiff_types::job::labels;
use skiff_types::{
    AllocId, ApiError, ContainerSpec, ContainerStatus, ErrorKind, HealthStatus, NetworkConnect,
    NetworkCreate, NetworkSpec, VolumeCreateRequest, VolumeSpec,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

pub struct DaemonExecutor {
    pub engine: Arc<Adapter>,
    pub node: String,
    /// Containers known to carry no allocation label (labels never change).
    foreign: Mutex<HashSet<String>>,
}

impl DaemonExecutor {
    pub fn new(engine: Arc<Adapter>, node: String) -> Self {
        DaemonExecutor {
            engine,
            node,
            foreign: Mutex::new(HashSet::new()),
        }
    }

    fn is_foreign(&self, id: &str) -> bool {
        self.foreign
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }
}

fn err(e: ApiError) -> ExecError {
    ExecError(e.message)
}

fn job_labels(job: &str, extra: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut l = extra.clone();
    l.insert(labels::JOB.to_string(), job.to_string());
    l
}

impl Executor for DaemonExecutor {
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        let (tx, rx) = tokio::sync::watch::channel(0u64);
        let mut lifecycle = self.engine.0.changes();
        let mut verdicts = self.engine.2.verdicts();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    r = lifecycle.changed() => if r.is_err() { return },
                    r = verdicts.changed() => if r.is_err() { return },
                    () = tx.closed() => return,
                }
                tx.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
        Some(rx)
    }

    async fn observe(&self) -> Result<Vec<Observed>, ExecError> {
        let mut out = Vec::new();
        let mut seen_foreign = HashSet::new();
        for row in self.engine.list(true).await.map_err(err)? {
            let id = row.id.to_string();
            if self.is_foreign(&id) {
                seen_foreign.insert(id);
                continue;
            }
            let info = match self.engine.inspect(&id).await {
                Ok(i) => i,
                Err(e) if e.kind == ErrorKind::NotFound => continue,
                Err(e) => return Err(err(e)),
            };
            let l = &info.config.labels;
            let (Some(alloc), Some(node)) = (l.get(labels::ALLOC), l.get(labels::NODE)) else {
                seen_foreign.insert(id);
                continue;
            };
            if node != &self.node {
                seen_foreign.insert(id);
                continue;
            }
            let state = match info.state.status {
                ContainerStatus::Created => ObservedState::Created,
                ContainerStatus::Running | ContainerStatus::Restarting => ObservedState::Running,
                // The batch freezer's pauses are its own to undo: to the
                // reconcile loop such a container is simply running.
                ContainerStatus::Paused
                    if info.state.paused_by == Some(skiff_types::PauseReason::CpuPressure) =>
                {
                    ObservedState::Running
                }
                ContainerStatus::Paused => ObservedState::Paused,
                ContainerStatus::Exited | ContainerStatus::Dead => ObservedState::Exited {
                    code: info.state.exit_code,
                },
            };
            out.push(Observed {
                alloc: AllocId(alloc.clone()),
                container: id,
                name: info.name.trim_start_matches('/').to_string(),
                spec_hash: l
                    .get(labels::SPEC)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                state,
                // A checked container without a verdict yet is starting.
                health: info.state.health.as_ref().map(|h| h.status).or(info
                    .config
                    .health
                    .as_ref()
                    .map(|_| HealthStatus::Starting)),
                addresses: info.addresses.clone(),
            });
        }
        // Forget containers that are gone, so the set stays small.
        *self.foreign.lock().unwrap_or_else(|p| p.into_inner()) = seen_foreign;
        Ok(out)
    }

    async fn ensure_network(
        &self,
        name: &str,
        spec: &NetworkSpec,
        job: &str,
    ) -> Result<(), ExecError> {
        if self.engine.network_inspect(name).await.is_ok() {
            return Ok(());
        }
        let req = NetworkCreate {
            name: name.to_string(),
            subnet: None,
            egress: !spec.internal,
            labels: job_labels(job, &spec.labels),
        };
        match self.engine.network_create(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn ensure_volume(
        &self,
        name: &str,
        spec: &VolumeSpec,
        job: &str,
    ) -> Result<(), ExecError> {
        if self.engine.volume_inspect(name).await.is_ok() {
            return Ok(());
        }
        let req = VolumeCreateRequest {
            name: name.to_string(),
            labels: job_labels(job, &spec.labels),
        };
        match self.engine.volume_create(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn start(
        &self,
        spec: ContainerSpec,
        networks: Vec<(String, Vec<String>)>,
    ) -> Result<String, ExecError> {
        let id = self.engine.create(spec).await.map_err(err)?.to_string();
        let started = async {
            for (net, aliases) in networks {
                let req = NetworkConnect {
                    container: id.clone(),
                    aliases,
                };
                self.engine.network_connect(&net, req).await?;
            }
            self.engine.start(&id).await
        };
        if let Err(e) = started.await {
            let _ = self.engine.remove_with_volumes(&id, true, true).await;
            return Err(err(e));
        }
        Ok(id)
    }

    async fn stop(&self, container: &str) -> Result<(), ExecError> {
        self.engine.stop(container, None).await.map_err(err)
    }

    async fn remove(&self, container: &str) -> Result<(), ExecError> {
        match self.engine.remove_with_volumes(container, true, true).await {
            Err(e) if e.kind != ErrorKind::NotFound => Err(err(e)),
            _ => Ok(()),
        }
    }

    async fn freeze(&self, container: &str) -> Result<(), ExecError> {
        self.engine.pause(container).await.map_err(err)
    }

    async fn thaw(&self, container: &str) -> Result<(), ExecError> {
        self.engine.unpause(container).await.map_err(err)
    }
}
