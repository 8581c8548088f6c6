//! The controller loop: read the state, evaluate each job, write each job's
//! changes by compare-and-swap; then sleep until something
//! under `/skiff/` changes (or a tick passes, to pick up lease expiries even
//! if a watch broke).
//!
//! A refused transaction means another writer got there first: the loop
//! reads again and recomputes, it never retries a stale plan. A job whose
//! writes exceed the store's transaction limit is written in several
//! transactions (`apply.rs` says why that is safe). With [`run_elected`],
//! only the elected leader of the cluster runs the loop (`leader.rs`).

use crate::apply::{txns, DEFAULT_MAX_TXN_OPS};
use crate::evaluate::evaluate;
use crate::leader::Elector;
use crate::state::State;
use crate::ControlError;
use skiff_store::LeaseId;
use skiff_store::{Compare, Store, Txn, TxnOp};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Seed for the scheduler's tie-breaking between equal nodes.
    pub seed: u64,
    /// Longest sleep between evaluations.
    pub tick: Duration,
    /// The store's limit on compares and on operations per transaction
    /// (etcd's `--max-txn-ops`, default 128); bigger plans are split.
    pub max_txn_ops: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            seed: 0x5eed,
            tick: Duration::from_secs(2),
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
        }
    }
}

/// One pass over every job. Returns whether anything was written (then the
/// caller evaluates again at once: one write can enable the next step).
pub async fn pass(store: &dyn Store, cfg: &ControllerConfig) -> Result<bool, ControlError> {
    pass_fenced(store, cfg, None).await
}

/// [`pass`] with every transaction also guarded by `fence` (the leader key:
/// see [`crate::leader`]), so a controller that lost leadership writes nothing.
pub async fn pass_fenced(
    store: &dyn Store,
    cfg: &ControllerConfig,
    fence: Option<&Compare>,
) -> Result<bool, ControlError> {
    let state = State::read(store).await?;
    for job in state.job_names() {
        let w = evaluate(&state, &job, cfg.seed);
        if w.is_empty() {
            continue;
        }
        // A big job's writes take several transactions; a refused one leaves
        // the earlier ones applied, which is safe (see `apply`): re-read and
        // recompute from what is stored.
        for t in txns(&w, cfg.max_txn_ops, fence)? {
            if !store.txn(t).await?.succeeded {
                return Ok(true);
            }
        }
        // Later jobs were evaluated against capacity this write changed.
        return Ok(true);
    }
    for key in &state.orphan_reports {
        let t = Txn {
            compares: fence.into_iter().cloned().collect(),
            success: vec![TxnOp::Delete { key: key.clone() }],
            failure: Vec::new(),
        };
        store.txn(t).await?;
    }
    Ok(false)
}

/// Runs the controller until the task is dropped (no election: for a
/// single daemon, and for tests).
pub async fn run(store: Arc<dyn Store>, cfg: ControllerConfig) {
    run_fenced(store, cfg, None).await
}

/// Runs the controller only while this daemon leads: campaigns with
/// `elector` under the lease `leases` currently holds, evaluates while the
/// leadership lasts (every write fenced by it), and campaigns again when it
/// is lost or the lease is replaced. Logs each change of leadership.
pub async fn run_elected(
    store: Arc<dyn Store>,
    cfg: ControllerConfig,
    elector: Elector,
    mut leases: watch::Receiver<Option<LeaseId>>,
) {
    loop {
        let lease = match leases.wait_for(Option::is_some).await {
            Ok(current) => *current,
            // The lease keeper is gone: the daemon is shutting down.
            Err(_) => return,
        };
        let Some(lease) = lease else { continue };
        let leadership = tokio::select! {
            won = elector.campaign(lease) => won,
            _ = leases.changed() => continue,
        };
        let leadership = match leadership {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skiff controller: campaign as {}: {e}", elector.id());
                tokio::time::sleep(cfg.tick).await;
                continue;
            }
        };
        eprintln!(
            "skiff controller: {} is the leader (lease {lease:x})",
            elector.id()
        );
        tokio::select! {
            _ = leadership.lost() => {}
            _ = leases.changed() => {}
            _ = run_fenced(store.clone(), cfg.clone(), Some(leadership.fence())) => {}
        }
        eprintln!("skiff controller: {} is no longer the leader", elector.id());
    }
}

/// The controller loop, its writes guarded by `fence` if given.
async fn run_fenced(store: Arc<dyn Store>, cfg: ControllerConfig, fence: Option<Compare>) {
    let mut watch = None;
    loop {
        let again = match pass_fenced(store.as_ref(), &cfg, fence.as_ref()).await {
            Ok(again) => again,
            Err(e) => {
                eprintln!("skiff controller: {e}");
                false
            }
        };
        if again {
            // Let the caller's other branches run (leadership lost): an
            // in-process store answers without ever yielding.
            tokio::task::yield_now().await;
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
