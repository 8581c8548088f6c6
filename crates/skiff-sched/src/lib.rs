//! skiff-sched: the pure scheduler and the agent's pure diff.
//!
//! Owns placement decisions: `schedule(&Snapshot, &Topology, &Options) ->
//! Plan` (resources, `spread`, `with` co-location, priorities and batch
//! suspension, stable placement, re-placement off dead nodes) and
//! `diff(&desired, &observed) -> Vec<Action>` for one node's agent.
//!
//! It must not do I/O, read a clock or draw hidden randomness: every input is
//! a value (the seed orders equally good nodes), so the same inputs always give
//! the same plan, and the controller can re-run it on a newer snapshot when a
//! compare-and-swap fails (Nomad's plan/apply split). It depends on
//! skiff-types only.
//!
//! Glossary: a *slot* is (service, index) with index in 0..replicas; an
//! *allocation* fills a slot on a node; its *generation* grows each time the
//! slot is re-placed, so allocation ids are never reused.

#![forbid(unsafe_code)]

mod cluster;
pub mod diff;
mod fxhash;
pub mod plan;
pub mod schedule;

pub use diff::{diff, Action, ObservedContainer, ObservedState};
pub use plan::{apply, Plan, Snapshot, StopReason, Unplaceable};
pub use schedule::{need_of, schedule, service_order, Options};
