//! skiff-control: the controller of the one-way flow.
//!
//! ```text
//! /skiff/jobs/<job> + /skiff/allocs/** + /skiff/status/** + /skiff/nodes/**
//!   -> State (one read of the store)           state.rs
//!   -> evaluate (pure): skiff_sched::schedule, rolling-update limit,
//!      failed-alloc retirement, garbage collection -> Writes   evaluate.rs, rollout.rs
//!   -> compare-and-swap transactions per job, each within the store's
//!      limit (etcd: 128 ops)                      apply.rs, controller.rs
//! ```
//!
//! Owns evaluations, plan application and re-planning when a node's lease is
//! gone or an allocation failed. It never talks to a runtime: it only writes
//! allocations, which the node agents (skiff-agent) act on, and reads the
//! reports the agents write back. `jobs` holds the store operations the API
//! uses to change desired state (up, scale, down) and to read a job's view.
//!
//! Every write depends on what was read: allocation keys are compared on
//! their mod revision (new ones on absence) and the job key on its revision,
//! so a plan computed on a stale snapshot is refused and simply recomputed
//! (Nomad's plan applier). Several controllers over one etcd are therefore
//! safe; to keep them from fighting, the daemon runs the controller only
//! while it holds the lease-based leader key (`leader.rs`), and every write
//! of the leader is fenced by that key.

#![forbid(unsafe_code)]

pub mod apply;
pub mod controller;
pub mod evaluate;
pub mod jobs;
pub mod leader;
pub mod rollout;
pub mod state;

pub use controller::{run, run_elected, ControllerConfig};
pub use evaluate::{evaluate, Writes};
pub use leader::{Elector, Leadership, LEADER_KEY};
pub use state::State;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("store: {0}")]
    Store(#[from] skiff_store::StoreError),
    #[error("bad record at {key}: {msg}")]
    Record { key: String, msg: String },
    #[error("no job named {0}")]
    NoJob(String),
    #[error("{0}")]
    Invalid(String),
    #[error("job {0} changed concurrently too often; try again")]
    Contended(String),
}
