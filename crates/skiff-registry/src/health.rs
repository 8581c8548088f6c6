//! The health state machine, with Docker's semantics, as a pure function of
//! probe results and the time they arrive (`now` in milliseconds on the
//! caller's monotonic clock). The daemon runs the probes; this decides.
//!
//! ```text
//!              success                      success
//!   Starting ------------> Healthy <-------------------+
//!      |                     |                         |
//!      | `retries` failures  | `retries` consecutive   |
//!      | after start period  | failures                |
//!      v                     v                         |
//!   Unhealthy <--------------+------------------------ +
//! ```
//! - During the start period failures do not count (the streak stays 0);
//!   one success there ends the wait at once (status Healthy).
//! - After it, each failure adds to the failing streak; at `retries` the
//!   status becomes Unhealthy. Any success resets the streak -> Healthy.
//! - A probe that exceeds its timeout is a failure (exit code -1).
//! - Probes run every `interval`, the first one `interval` after the start;
//!   while the start period lasts and the status is still Starting they run
//!   every `start_interval` instead (Docker Engine 25's rule, so a slow
//!   steady-state interval does not delay the first verdict).
//! - Like Docker, the start period is judged by when a probe finishes.

use skiff_types::{HealthCheck, HealthLogEntry, HealthState, HealthStatus};

/// Docker keeps this many probe results in `State.Health.Log`.
pub const LOG_ENTRIES: usize = 5;
/// Probe output kept per entry.
pub const OUTPUT_LIMIT: usize = 4096;

/// What one probe run ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Exit code 0 (command), a 2xx/3xx answer (HTTP), a connect (TCP).
    Passed { output: String },
    /// Anything else; `exit_code` as the command returned it (1 for HTTP/TCP).
    Failed { exit_code: i32, output: String },
    /// The probe did not finish within the check's timeout.
    TimedOut,
}

/// One probe run, with wall-clock stamps for `inspect` (nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRun {
    pub started_ns: u64,
    pub ended_ns: u64,
    pub outcome: ProbeOutcome,
}

/// The health of one running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMonitor {
    check: HealthCheck,
    started_ms: u64,
    next_due_ms: u64,
    state: HealthState,
}

impl HealthMonitor {
    /// A monitor for a container that started at `started_ms`.
    pub fn new(check: HealthCheck, started_ms: u64) -> Self {
        let mut m = Self {
            check,
            started_ms,
            next_due_ms: 0,
            state: HealthState::default(),
        };
        m.next_due_ms = started_ms.saturating_add(m.interval_at(started_ms));
        m
    }

    /// The wait before the next probe when it is scheduled at `now_ms`.
    fn interval_at(&self, now_ms: u64) -> u64 {
        let wait = if self.in_start_period(now_ms) && self.state.status == HealthStatus::Starting {
            self.check.start_interval_ms
        } else {
            self.check.interval_ms
        };
        wait.max(1)
    }

    /// Carries over a verdict from before a daemon restart (an instance
    /// that was registered as healthy stays so until a probe says otherwise).
    pub fn assume(&mut self, status: HealthStatus) {
        self.state.status = status;
    }

    pub fn check(&self) -> &HealthCheck {
        &self.check
    }

    pub fn status(&self) -> HealthStatus {
        self.state.status
    }

    pub fn state(&self) -> &HealthState {
        &self.state
    }

    /// When the next probe should start.
    pub fn next_due_ms(&self) -> u64 {
        self.next_due_ms
    }

    pub fn is_due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_due_ms
    }

    /// Whether `now_ms` is inside the start period.
    pub fn in_start_period(&self, now_ms: u64) -> bool {
        now_ms < self.started_ms.saturating_add(self.check.start_period_ms)
    }

    /// Folds in a probe that finished at `now_ms`; returns the new status if
    /// it changed. The next probe is due one interval (or start interval)
    /// later.
    pub fn record(&mut self, run: ProbeRun, now_ms: u64) -> Option<HealthStatus> {
        let before = self.state.status;
        let (exit_code, output) = match run.outcome {
            ProbeOutcome::Passed { output } => (0, output),
            ProbeOutcome::Failed { exit_code, output } => {
                (if exit_code == 0 { 1 } else { exit_code }, output)
            }
            ProbeOutcome::TimedOut => (
                -1,
                format!(
                    "Health check exceeded timeout ({})",
                    human_ms(self.check.timeout_ms)
                ),
            ),
        };
        if exit_code == 0 {
            self.state.failing_streak = 0;
            self.state.status = HealthStatus::Healthy;
        } else if !self.in_start_period(now_ms) {
            self.state.failing_streak = self.state.failing_streak.saturating_add(1);
            if self.state.failing_streak >= self.check.retries.max(1) {
                self.state.status = HealthStatus::Unhealthy;
            }
        }
        self.push_log(HealthLogEntry {
            start: run.started_ns,
            end: run.ended_ns,
            exit_code,
            output: truncate(output),
        });
        self.next_due_ms = now_ms.saturating_add(self.interval_at(now_ms));
        (self.state.status != before).then_some(self.state.status)
    }

    fn push_log(&mut self, entry: HealthLogEntry) {
        self.state.log.push(entry);
        let extra = self.state.log.len().saturating_sub(LOG_ENTRIES);
        self.state.log.drain(..extra);
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > OUTPUT_LIMIT {
        let mut cut = OUTPUT_LIMIT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `1.5s`, `30s`, `250ms` as Docker prints durations in health messages.
fn human_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms > 1000 {
        format!("{}s", ms as f64 / 1000.0)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
