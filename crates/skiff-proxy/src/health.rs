//! Passive health of one backend: consecutive failures (connect errors and
//! per-try timeouts) eject it; after a backoff one or more probe requests may
//! go through again; a success readmits it, a failed probe ejects it again
//! with a doubled backoff. Times are nanoseconds since the balancer's epoch,
//! passed in, so the state machine is tested without a clock.
//!
//! ```text
//!   healthy --N consecutive failures--> ejected(until = now + backoff)
//!   ejected --now >= until--> probing (eligible again)
//!   probing --success--> healthy (backoff reset)
//!   probing --failure--> ejected(backoff * 2, capped)
//! ```

use crate::config::HealthConfig;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Health {
    fails: AtomicU32,
    /// 0 = not ejected; otherwise the epoch-nanos the ejection ends.
    until: AtomicU64,
    ejections: AtomicU32,
}

impl Health {
    /// Whether the backend may be picked at `now`.
    pub fn eligible(&self, now: u64) -> bool {
        let until = self.until.load(Relaxed);
        until == 0 || now >= until
    }

    /// Currently ejected (for metrics).
    pub fn ejected(&self, now: u64) -> bool {
        !self.eligible(now)
    }

    pub fn on_success(&self) {
        if self.fails.load(Relaxed) != 0 {
            self.fails.store(0, Relaxed);
        }
        if self.until.load(Relaxed) != 0 {
            self.until.store(0, Relaxed);
            self.ejections.store(0, Relaxed);
        }
    }

    /// Records a failure at `now`; returns true if this ejected the backend.
    pub fn on_failure(&self, now: u64, cfg: &HealthConfig) -> bool {
        let until = self.until.load(Relaxed);
        if until != 0 && now < until {
            return false; // a try that started before the ejection
        }
        let fails = self.fails.fetch_add(1, Relaxed) + 1;
        let probe_failed = until != 0;
        if !probe_failed && fails < cfg.eject_after.max(1) {
            return false;
        }
        let k = self.ejections.fetch_add(1, Relaxed).min(20);
        let backoff = cfg
            .base_backoff
            .saturating_mul(1u32 << k)
            .min(cfg.max_backoff)
            .as_nanos() as u64;
        self.until
            .store(now.saturating_add(backoff).max(1), Relaxed);
        self.fails.store(0, Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn cfg() -> HealthConfig {
        HealthConfig {
            eject_after: 2,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3),
        }
    }

    #[test]
    fn ejects_after_n_consecutive_failures_only() {
        let h = Health::default();
        assert!(!h.on_failure(S, &cfg()));
        h.on_success();
        assert!(!h.on_failure(S, &cfg()));
        assert!(h.on_failure(S, &cfg()));
        assert!(!h.eligible(S + S / 2));
        assert!(h.eligible(2 * S));
    }

    #[test]
    fn failed_probe_doubles_backoff_up_to_max_and_success_readmits() {
        let h = Health::default();
        h.on_failure(0, &cfg());
        h.on_failure(0, &cfg()); // ejected until 1 s
        assert!(h.on_failure(S, &cfg())); // probe failed: until 3 s (2 s backoff)
        assert!(!h.eligible(2 * S));
        assert!(h.on_failure(3 * S, &cfg())); // 4 s capped to 3 s: until 6 s
        assert!(!h.eligible(5 * S));
        assert!(h.eligible(6 * S));
        h.on_success();
        assert!(h.eligible(6 * S));
        assert!(!h.on_failure(6 * S, &cfg()));
    }

    #[test]
    fn failures_during_ejection_do_not_extend_it() {
        let h = Health::default();
        h.on_failure(0, &cfg());
        h.on_failure(0, &cfg());
        assert!(!h.on_failure(S / 2, &cfg()));
        assert!(h.eligible(S));
    }
}
