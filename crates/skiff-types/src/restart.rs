//! Restart policies with Docker's meaning and backoff.
//!
//! Docker waits 100 ms before the first restart and doubles the delay on each
//! consecutive one, capped at one minute; a container that ran for at least
//! 10 s resets the backoff. `decide` is pure: the supervisor passes in what it
//! observed and gets back whether, and after how long, to restart.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff (Docker's rule).
pub const RESET_AFTER: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    OnFailure {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_retries: Option<u32>,
    },
    Always,
    UnlessStopped,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid restart policy {0:?}: want no, on-failure[:N], always or unless-stopped")]
pub struct RestartPolicyError(pub String);

impl FromStr for RestartPolicy {
    type Err = RestartPolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || RestartPolicyError(s.to_string());
        match s.split_once(':') {
            None => match s {
                "no" | "" => Ok(RestartPolicy::No),
                "on-failure" => Ok(RestartPolicy::OnFailure { max_retries: None }),
                "always" => Ok(RestartPolicy::Always),
                "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
                _ => Err(err()),
            },
            Some(("on-failure", n)) => {
                let n: u32 = n.parse().map_err(|_| err())?;
                Ok(RestartPolicy::OnFailure {
                    max_retries: Some(n),
                })
            }
            Some(_) => Err(err()),
        }
    }
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::OnFailure { max_retries: None } => f.write_str("on-failure"),
            RestartPolicy::OnFailure {
                max_retries: Some(n),
            } => write!(f, "on-failure:{n}"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

/// What the supervisor knows when a container exits.
#[derive(Debug, Clone, Copy)]
pub struct ExitFacts {
    pub exit_code: i32,
    /// The user stopped or killed it through skiff (`stop`, `kill`, `rm -f`).
    pub stopped_by_user: bool,
    /// Restarts already done in the current backoff streak.
    pub restart_count: u32,
    /// How long the run that just ended lasted.
    pub ran_for: Duration,
}

/// The decision: restart after `delay`, with the new streak count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub delay: Duration,
    pub restart_count: u32,
}

impl RestartPolicy {
    /// Whether to restart after an exit, and after how long.
    pub fn decide(&self, facts: ExitFacts) -> Option<Restart> {
        if facts.stopped_by_user {
            return None;
        }
        let streak = if facts.ran_for >= RESET_AFTER {
            0
        } else {
            facts.restart_count
        };
        let wanted = match *self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure { max_retries } => {
                facts.exit_code != 0 && max_retries.is_none_or(|max| facts.restart_count < max)
            }
        };
        wanted.then(|| Restart {
            delay: backoff(streak),
            restart_count: facts.restart_count + 1,
        })
    }

    /// Whether a daemon that starts up should start this container again.
    pub fn restarts_on_daemon_start(&self, stopped_by_user: bool) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            _ => false,
        }
    }
}

/// The delay before restart number `streak + 1`: 100 ms doubling, capped at 1 min.
pub fn backoff(streak: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(1u32.checked_shl(streak).unwrap_or(u32::MAX))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(code: i32, count: u32) -> ExitFacts {
        ExitFacts {
            exit_code: code,
            stopped_by_user: false,
            restart_count: count,
            ran_for: Duration::from_millis(5),
        }
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "no",
            "on-failure",
            "on-failure:3",
            "always",
            "unless-stopped",
        ] {
            assert_eq!(s.parse::<RestartPolicy>().unwrap().to_string(), s);
        }
        for bad in ["sometimes", "on-failure:x", "always:3"] {
            assert!(bad.parse::<RestartPolicy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(800));
        assert_eq!(backoff(20), Duration::from_secs(60));
        assert_eq!(backoff(99), Duration::from_secs(60));
    }

    #[test]
    fn on_failure_respects_code_and_max() {
        let p: RestartPolicy = "on-failure:2".parse().unwrap();
        assert_eq!(p.decide(facts(0, 0)), None);
        assert_eq!(p.decide(facts(1, 0)).unwrap().restart_count, 1);
        assert_eq!(
            p.decide(facts(1, 1)).unwrap().delay,
            Duration::from_millis(200)
        );
        assert_eq!(p.decide(facts(1, 2)), None);
    }

    #[test]
    fn user_stop_and_long_runs() {
        let p = RestartPolicy::Always;
        let mut f = facts(0, 5);
        assert_eq!(p.decide(f).unwrap().delay, Duration::from_millis(3200));
        f.ran_for = RESET_AFTER;
        assert_eq!(p.decide(f).unwrap().delay, Duration::from_millis(100));
        f.stopped_by_user = true;
        assert_eq!(p.decide(f), None);
        assert!(!RestartPolicy::UnlessStopped.restarts_on_daemon_start(true));
        assert!(RestartPolicy::Always.restarts_on_daemon_start(true));
        assert_eq!(RestartPolicy::No.decide(facts(1, 0)), None);
    }
}
