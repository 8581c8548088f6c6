//! The controller loop: read the state, evaluate each job, write each job's
//! changes in one compare-and-swap transaction; then sleep until something
//! under `/skiff/` changes (or a tick passes, to pick up lease expiries even
//! if a watch broke).
//!
//! A refused transaction means another writer got there first: the loop
//! reads again and recomputes, it never retries a stale plan.

use crate::evaluate::{evaluate, Writes};
use crate::state::State;
use crate::ControlError;
use skiff_store::{Compare, Store, Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Seed for the scheduler's tie-breaking between equal nodes.
    pub seed: u64,
    /// Longest sleep between evaluations.
    pub tick: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            seed: 0x5eed,
            tick: Duration::from_secs(2),
        }
    }
}

/// The transaction of one job's writes.
pub fn txn(w: &Writes) -> Result<Txn, ControlError> {
    let mut t = Txn::default();
    let (job_key, job_rev) = &w.job;
    t.compares.push(match job_rev {
        Some(revision) => Compare::ModRevision {
            key: job_key.clone(),
            revision: *revision,
        },
        None => Compare::Absent {
            key: job_key.clone(),
        },
    });
    for (key, alloc, expected) in &w.puts {
        t.compares.push(match expected {
            Some(revision) => Compare::ModRevision {
                key: key.clone(),
                revision: *revision,
            },
            None => Compare::Absent { key: key.clone() },
        });
        let value = serde_json::to_vec(alloc).map_err(|e| ControlError::Record {
            key: key.clone(),
            msg: e.to_string(),
        })?;
        t.success.push(TxnOp::Put {
            key: key.clone(),
            value,
            lease: None,
        });
    }
    for (key, revision, status) in &w.deletes {
        t.compares.push(Compare::ModRevision {
            key: key.clone(),
            revision: *revision,
        });
        t.success.push(TxnOp::Delete { key: key.clone() });
        t.success.push(TxnOp::Delete {
            key: status.clone(),
        });
    }
    Ok(t)
}

/// One pass over every job. Returns whether anything was written (then the
/// caller evaluates again at once: one write can enable the next step).
pub async fn pass(store: &dyn Store, cfg: &ControllerConfig) -> Result<bool, ControlError> {
    let state = State::read(store).await?;
    for job in state.job_names() {
        let w = evaluate(&state, &job, cfg.seed);
        if w.is_empty() {
            continue;
        }
        let res = store.txn(txn(&w)?).await?;
        if !res.succeeded {
            // Someone changed what the plan was based on: re-read.
            return Ok(true);
        }
        // Later jobs were evaluated against capacity this write changed.
        return Ok(true);
    }
    for key in &state.orphan_reports {
        store.delete(key).await?;
    }
    Ok(false)
}

/// Runs the controller until the task is dropped.
pub async fn run(store: Arc<dyn Store>, cfg: ControllerConfig) {
    let mut watch = None;
    loop {
        let again = match pass(store.as_ref(), &cfg).await {
            Ok(again) => again,
            Err(e) => {
                eprintln!("skiff controller: {e}");
                false
            }
        };
        if again {
            continue;
        }
        if watch.is_none() {
            watch = store.watch("/skiff/", None).await.ok();
            // The first item is the snapshot we have already acted on.
            if let Some(w) = watch.as_mut() {
                let _ = w.next().await;
            }
        }
        let Some(w) = watch.as_mut() else {
            tokio::time::sleep(cfg.tick).await;
            continue;
        };
        match tokio::time::timeout(cfg.tick, w.next()).await {
            Ok(Some(Ok(_))) | Err(_) => {}
            Ok(Some(Err(_)) | None) => watch = None,
        }
        // Take whatever else queued up, so a burst costs one pass.
        if let Some(w) = watch.as_mut() {
            while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::ZERO, w.next()).await {}
        }
    }
}
