//! The batch freezer's decisions, as a pure state machine: fed one pressure
//! sample per tick (with the tick's time, from the caller) and the batch
//! containers it may act on, it answers with at most one action. No clock, no
//! I/O: the daemon task in `super` samples and acts.
//!
//! The rule (hysteresis plus one-at-a-time steps plus a bounce backoff):
//! - **Freeze**: pressure has stayed above `high` for `window` -> freeze the
//!   running batch container with the LOWEST priority (ties: the larger id).
//!   The streak then starts again, so each further freeze needs another full
//!   window of high pressure measured after the previous one took effect.
//! - **Thaw**: pressure has stayed below `low` for the hold time -> thaw the
//!   frozen container with the HIGHEST priority (ties: the smaller id), then
//!   observe again: one thaw per hold time.
//! - Between `low` and `high`, or without a sample, both streaks are broken:
//!   nothing moves.
//! - **Nothing to yield to**: while no service container runs, pressure counts
//!   as low whatever it reads: batch jobs are never frozen for their own (or
//!   a non-skiff process's) demand, and frozen ones are thawed one per hold.
//! - **Oscillation**: host PSI also measures the batch jobs' own demand, which
//!   disappears when they are frozen, so pressure falls because of the freeze
//!   itself; thawing then brings it back. A freeze within `3 * window` after a
//!   thaw counts as a bounce and doubles the hold time before the next thaw
//!   (`window * 2^bounces`, at most 16 windows); a thaw that holds for
//!   `3 * window` without a re-freeze halves it back. A job that keeps pushing
//!   the host over the threshold is thus retried ever more rarely instead of
//!   flapping every few seconds.
//!
//! Only containers the freezer itself froze are offered as `Frozen`; the
//! daemon never passes a container the user paused, so it is never thawed.

use std::time::Duration;

/// The thresholds (percent of time with a stalled task, 0-100) and the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub high: f64,
    pub low: f64,
    pub window: Duration,
}

/// Where a batch container stands, as far as the freezer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    Running,
    /// Frozen by this freezer (never a user's pause).
    Frozen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub priority: i64,
    pub state: BatchState,
}

/// One tick's observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Percent (0-100); None when no sample could be taken.
    pub pressure: Option<f64>,
    /// Whether any service (non-batch) container is running.
    pub services_running: bool,
}

enum Level {
    High,
    Low,
    Between,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Freeze(String),
    Thaw(String),
}

/// Most bounces counted: the thaw hold is at most `window * 2^MAX_BOUNCES`.
const MAX_BOUNCES: u32 = 4;
/// A freeze this many windows after a thaw is a bounce.
const BOUNCE_WINDOWS: u32 = 3;

#[derive(Debug, Clone)]
pub struct Policy {
    cfg: Thresholds,
    above_since: Option<Duration>,
    below_since: Option<Duration>,
    last_thaw: Option<Duration>,
    bounces: u32,
}

impl Policy {
    pub fn new(cfg: Thresholds) -> Policy {
        Policy {
            cfg,
            above_since: None,
            below_since: None,
            last_thaw: None,
            bounces: 0,
        }
    }

    /// How long pressure must stay below `low` before the next thaw.
    pub fn thaw_hold(&self) -> Duration {
        self.cfg.window * (1u32 << self.bounces)
    }

    /// One tick: `now` is a monotonic time from the caller, `sample` the
    /// tick's pressure and whether any service container runs.
    pub fn step(
        &mut self,
        now: Duration,
        sample: Sample,
        candidates: &[Candidate],
    ) -> Option<Action> {
        self.forgive(now);
        let level = match (sample.services_running, sample.pressure) {
            // Nothing to yield to: batch work must not wait on its own pressure.
            (false, _) => Level::Low,
            (true, None) => Level::Unknown,
            (true, Some(p)) if p > self.cfg.high => Level::High,
            (true, Some(p)) if p < self.cfg.low => Level::Low,
            (true, Some(_)) => Level::Between,
        };
        match level {
            Level::High => {
                self.below_since = None;
                let since = *self.above_since.get_or_insert(now);
                if now.saturating_sub(since) < self.cfg.window {
                    return None;
                }
                let victim = lowest_running(candidates)?;
                self.above_since = Some(now);
                if self.last_thaw.take().is_some() {
                    // Re-frozen while the thaw was still under observation.
                    self.bounces = (self.bounces + 1).min(MAX_BOUNCES);
                }
                Some(Action::Freeze(victim.id.clone()))
            }
            Level::Low => {
                self.above_since = None;
                let since = *self.below_since.get_or_insert(now);
                if now.saturating_sub(since) < self.thaw_hold() {
                    return None;
                }
                let lucky = highest_frozen(candidates)?;
                self.below_since = Some(now);
                self.last_thaw = Some(now);
                Some(Action::Thaw(lucky.id.clone()))
            }
            Level::Between | Level::Unknown => {
                self.above_since = None;
                self.below_since = None;
                None
            }
        }
    }

    /// A thaw that held for the bounce period ends its observation and
    /// halves the hold time again.
    fn forgive(&mut self, now: Duration) {
        if let Some(t) = self.last_thaw {
            if now.saturating_sub(t) >= self.cfg.window * BOUNCE_WINDOWS {
                self.last_thaw = None;
                self.bounces = self.bounces.saturating_sub(1);
            }
        }
    }
}

fn lowest_running(c: &[Candidate]) -> Option<&Candidate> {
    c.iter()
        .filter(|c| c.state == BatchState::Running)
        .min_by(|a, b| a.priority.cmp(&b.priority).then(b.id.cmp(&a.id)))
}

fn highest_frozen(c: &[Candidate]) -> Option<&Candidate> {
    c.iter()
        .filter(|c| c.state == BatchState::Frozen)
        .max_by(|a, b| a.priority.cmp(&b.priority).then(b.id.cmp(&a.id)))
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
