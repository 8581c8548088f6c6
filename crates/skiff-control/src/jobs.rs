//! Changing desired state and reading it back, for the API: `put` (skiff up),
//! `scale`, `remove` (skiff down), `view` (skiff status) and `list`. A view
//! lists the instance slots that stay pending, with the scheduler's reason.
//! Writes go to `/skiff/jobs/<job>` only; the controller does the rest.

use crate::state::State;
use crate::{evaluate, ControlError, ControllerConfig};
use skiff_sched::{schedule, Options, Unplaceable};
use skiff_store::Store;
use skiff_types::job::job_key;
use skiff_types::{InstanceView, JobRecord, JobView, PendingInstance, ScaleRequest, Topology};

/// Attempts at a read-modify-write before giving up (each one loses only to
/// a concurrent change of the same job).
const CAS_ATTEMPTS: usize = 16;

fn encode(rec: &JobRecord) -> Result<Vec<u8>, ControlError> {
    serde_json::to_vec(rec).map_err(|e| ControlError::Invalid(e.to_string()))
}

/// Makes `topo` the job's desired state (creating or replacing it).
pub async fn put(store: &dyn Store, topo: Topology) -> Result<(), ControlError> {
    if topo.name.is_empty() || topo.name.contains('/') {
        return Err(ControlError::Invalid(format!(
            "invalid job name {:?}",
            topo.name
        )));
    }
    let key = job_key(&topo.name);
    store
        .put(&key, encode(&JobRecord { topology: topo })?, None)
        .await?;
    Ok(())
}

/// Sets replica counts; `with` followers follow their partner by themselves.
pub async fn scale(store: &dyn Store, job: &str, req: &ScaleRequest) -> Result<(), ControlError> {
    let key = job_key(job);
    for _ in 0..CAS_ATTEMPTS {
        let (kv, _) = store.get(&key).await?;
        let kv = kv.ok_or_else(|| ControlError::NoJob(job.to_string()))?;
        let mut rec: JobRecord =
            serde_json::from_slice(&kv.value).map_err(|e| ControlError::Record {
                key: key.clone(),
                msg: e.to_string(),
            })?;
        for (svc, n) in &req.replicas {
            let spec =
                rec.topology.services.get_mut(svc).ok_or_else(|| {
                    ControlError::Invalid(format!("job {job} has no service {svc}"))
                })?;
            if spec.placement.with.is_some() {
                return Err(ControlError::Invalid(format!(
                    "service {svc} runs beside each instance of {}; scale that service instead",
                    spec.placement.with.as_deref().unwrap_or_default()
                )));
            }
            spec.replicas = *n;
        }
        let put = store
            .compare_and_put(&key, Some(kv.mod_revision), encode(&rec)?, None)
            .await;
        match put {
            Ok(_) => return Ok(()),
            Err(skiff_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ControlError::Contended(job.to_string()))
}

/// Deletes the job's desired state; its allocations are retired by the
/// controller. Returns the topology it had.
pub async fn remove(store: &dyn Store, job: &str) -> Result<Topology, ControlError> {
    let key = job_key(job);
    let (kv, _) = store.get(&key).await?;
    let kv = kv.ok_or_else(|| ControlError::NoJob(job.to_string()))?;
    let rec: JobRecord = serde_json::from_slice(&kv.value).map_err(|e| ControlError::Record {
        key: key.clone(),
        msg: e.to_string(),
    })?;
    store.delete(&key).await?;
    Ok(rec.topology)
}

/// Every job with a record.
pub async fn list(store: &dyn Store) -> Result<Vec<JobView>, ControlError> {
    let state = State::read(store).await?;
    let settled = settled(&state);
    Ok(state
        .jobs
        .keys()
        .filter_map(|j| view_of(&state, j, settled))
        .collect())
}

/// One job: its topology, every allocation with its report, and the slots
/// no node can take.
pub async fn view(store: &dyn Store, job: &str) -> Result<JobView, ControlError> {
    let state = State::read(store).await?;
    view_of(&state, job, settled(&state)).ok_or_else(|| ControlError::NoJob(job.to_string()))
}

/// Whether the controller has nothing left to write for any job. Only then
/// is an unplaced slot really pending: before, capacity may still be on its
/// way back (a job just taken down, a service just scaled down).
pub fn settled(state: &State) -> bool {
    let seed = ControllerConfig::default().seed;
    state
        .job_names()
        .iter()
        .all(|j| evaluate(state, j, seed).is_empty())
}

/// The slots of `job` the scheduler finds no node for, with its reasons
/// (the controller's own decision: same snapshot, same pure scheduler).
pub fn pending(state: &State, job: &str) -> Vec<PendingInstance> {
    let Some((rec, _)) = state.jobs.get(job) else {
        return Vec::new();
    };
    let opts = Options {
        seed: ControllerConfig::default().seed,
    };
    let plan = schedule(&state.snapshot(), &rec.topology, &opts);
    plan.unplaceable
        .iter()
        .map(|u| {
            let (service, index) = u.slot();
            PendingInstance {
                service: service.to_string(),
                index,
                reason: u.reason(),
                no_nodes: matches!(u, Unplaceable::NoNodes { .. }),
            }
        })
        .collect()
}

/// Allocations of `job` left in the store (after `remove`, until collected).
pub async fn remaining(store: &dyn Store, job: &str) -> Result<usize, ControlError> {
    let state = State::read(store).await?;
    Ok(state.allocs.iter().filter(|a| a.alloc.job == job).count())
}

fn view_of(state: &State, job: &str, settled: bool) -> Option<JobView> {
    let (rec, _) = state.jobs.get(job)?;
    let mut instances: Vec<InstanceView> = state
        .allocs
        .iter()
        .filter(|a| a.alloc.job == job)
        .map(|a| InstanceView {
            alloc: a.alloc.clone(),
            report: state.reports.get(&a.alloc.id).cloned().unwrap_or_default(),
        })
        .collect();
    instances.sort_by(|a, b| {
        (&a.alloc.service, a.alloc.index, a.alloc.generation).cmp(&(
            &b.alloc.service,
            b.alloc.index,
            b.alloc.generation,
        ))
    });
    Some(JobView {
        topology: rec.topology.clone(),
        instances,
        pending: if settled {
            pending(state, job)
        } else {
            Vec::new()
        },
    })
}
