//! The API's job endpoints over skiff-control (desired state in the store)
//! and, for `down`, the engine: once the controller and agent have retired
//! every allocation of the job, its networks and (with `-v`) its named
//! volumes are removed here, the way `docker compose down` does.

use super::engine::Adapter;
use super::job_lbs;
use super::lb::LbManager;
use skiff_agent::container::{network_name, service_networks, volume_name};
use skiff_api::{Engine, JobControl};
use skiff_control::{jobs, ControlError};
use skiff_store::Store;
use skiff_types::{ApiError, ErrorKind, JobView, ScaleRequest, Topology};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How long `down` waits for the job's containers to be stopped and removed.
const DOWN_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Jobs {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Adapter>,
    /// Runs the load balancers of the topologies' `lb` sections.
    pub lbs: LbManager,
}

fn api(e: ControlError) -> ApiError {
    let kind = match &e {
        ControlError::NoJob(_) => ErrorKind::NotFound,
        ControlError::Invalid(_) => ErrorKind::Invalid,
        ControlError::Contended(_) => ErrorKind::Conflict,
        ControlError::Store(_) => ErrorKind::Unavailable,
        ControlError::Record { .. } => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

/// Every network a topology's containers join, prefixed.
fn networks_of(topo: &Topology) -> BTreeSet<String> {
    let mut nets: BTreeSet<String> = topo.services.values().flat_map(service_networks).collect();
    nets.extend(topo.networks.keys().cloned());
    nets.iter().map(|n| network_name(&topo.name, n)).collect()
}

impl JobControl for Jobs {
    async fn put(&self, topo: Topology) -> Result<(), ApiError> {
        // Load balancers first: a listen address in use refuses the whole
        // job, and a job that cannot be stored takes back what was started.
        let started = job_lbs::apply(&self.lbs, &topo).await?;
        if let Err(e) = jobs::put(self.store.as_ref(), topo).await {
            job_lbs::undo(&self.lbs, started).await;
            return Err(api(e));
        }
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<JobView, ApiError> {
        jobs::view(self.store.as_ref(), name).await.map_err(api)
    }

    async fn list(&self) -> Result<Vec<JobView>, ApiError> {
        jobs::list(self.store.as_ref()).await.map_err(api)
    }

    async fn delete(&self, name: &str, volumes: bool) -> Result<(), ApiError> {
        let topo = jobs::remove(self.store.as_ref(), name).await.map_err(api)?;
        job_lbs::remove_owned(&self.lbs, name).await?;
        let deadline = tokio::time::Instant::now() + DOWN_TIMEOUT;
        while jobs::remaining(self.store.as_ref(), name)
            .await
            .map_err(api)?
            > 0
        {
            if tokio::time::Instant::now() > deadline {
                return Err(ApiError::new(
                    ErrorKind::Unavailable,
                    format!("job {name} removed, but its containers are still being stopped"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for net in networks_of(&topo) {
            match self.engine.network_remove(&net).await {
                Err(e) if e.kind != ErrorKind::NotFound => {
                    eprintln!(
                        "skiff daemon: down {name}: remove network {net}: {}",
                        e.message
                    )
                }
                _ => {}
            }
        }
        if volumes {
            let named: BTreeSet<&String> = topo
                .volumes
                .keys()
                .chain(topo.services.values().flat_map(|s| {
                    s.volumes
                        .iter()
                        .filter(|m| m.kind == skiff_types::MountKind::Volume)
                        .map(|m| &m.source)
                        .filter(|s| !s.is_empty())
                }))
                .collect();
            for v in named {
                let vol = volume_name(name, v);
                match self.engine.volume_remove(&vol, false).await {
                    Err(e) if e.kind != ErrorKind::NotFound => {
                        return Err(ApiError::new(
                            e.kind,
                            format!("remove volume {vol}: {}", e.message),
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    async fn scale(&self, name: &str, req: ScaleRequest) -> Result<(), ApiError> {
        jobs::scale(self.store.as_ref(), name, &req)
            .await
            .map_err(api)
    }
}
