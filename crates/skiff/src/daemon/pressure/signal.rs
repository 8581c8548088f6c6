//! The freezer's pressure signal, one number per tick: percent of the last
//! sample interval (0-100).
//!
//! - **PSI** (preferred): the growth of the `some` line's `total` (µs in which
//!   at least one task waited for a CPU) over the interval. The kernel's own
//!   `avg10` is a 10-second running average: it lags a freeze by ~10 s, and a
//!   hysteresis window over it would freeze (or thaw) several containers for
//!   one episode. The file is `/proc/pressure/cpu` (the whole host), else the
//!   cgroup v2 `cpu.pressure` of the containers' parent cgroup (a daemon in a
//!   container whose /proc hides PSI), else the usage fallback.
//! - **Usage** (fallback, when the kernel has no PSI): CPU time the service
//!   (non-batch) containers consumed over the interval, as a percent of the
//!   host's capacity (interval x CPUs the daemon may use).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// `--batch-pressure-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceChoice {
    /// PSI when the kernel provides it, else service CPU usage.
    Auto,
    /// PSI only (start fails without it).
    Psi,
    /// CPU usage of the service containers vs the host's capacity.
    Usage,
}

/// A chosen source and what it remembers from the previous tick.
#[derive(Debug)]
pub enum Sampler {
    Psi {
        path: PathBuf,
        last: Option<(Duration, u64)>,
    },
    Usage {
        cpus: f64,
        last: Option<(Duration, HashMap<String, u64>)>,
    },
}

impl Sampler {
    /// Picks the source: `psi_files` in order of preference, the first readable wins.
    pub fn choose(choice: SourceChoice, psi_files: &[PathBuf]) -> anyhow::Result<Sampler> {
        let readable = psi_files
            .iter()
            .find(|p| skiff_sys::psi::read_some(p).is_ok());
        match (choice, readable) {
            (SourceChoice::Auto | SourceChoice::Psi, Some(p)) => Ok(Sampler::Psi {
                path: p.clone(),
                last: None,
            }),
            (SourceChoice::Psi, None) => anyhow::bail!(
                "--batch-pressure-source psi: no readable PSI file (tried {}); \
                 the kernel needs CONFIG_PSI (and not psi=0), or use `usage`",
                psi_files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (SourceChoice::Auto | SourceChoice::Usage, _) => Ok(Sampler::Usage {
                cpus: std::thread::available_parallelism()
                    .map(|n| n.get() as f64)
                    .unwrap_or(1.0),
                last: None,
            }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sampler::Psi { path, .. } => format!("PSI ({})", path.display()),
            Sampler::Usage { cpus, .. } => {
                format!("service containers' CPU usage of {cpus} CPUs (no PSI)")
            }
        }
    }

    pub fn wants_usage(&self) -> bool {
        matches!(self, Sampler::Usage { .. })
    }

    /// One sample at `now` (monotonic). `usage`: cumulative CPU ns of each
    /// running service container (only read by the usage source). None on the
    /// first tick (no interval yet) and when PSI cannot be read.
    pub fn sample(&mut self, now: Duration, usage: HashMap<String, u64>) -> Option<f64> {
        match self {
            Sampler::Psi { path, last } => {
                let total = match skiff_sys::psi::read_some(path) {
                    Ok(s) => s.total_us,
                    Err(_) => {
                        *last = None;
                        return None;
                    }
                };
                let prev = last.replace((now, total))?;
                psi_percent(prev.1, total, now.saturating_sub(prev.0))
            }
            Sampler::Usage { cpus, last } => {
                let prev = last.replace((now, usage.clone()))?;
                usage_percent(&prev.1, &usage, now.saturating_sub(prev.0), *cpus)
            }
        }
    }
}

/// Percent of `elapsed` covered by the growth of a PSI `total` (µs).
pub fn psi_percent(prev_us: u64, now_us: u64, elapsed: Duration) -> Option<f64> {
    let span = elapsed.as_micros() as f64;
    if span <= 0.0 {
        return None;
    }
    let stalled = now_us.saturating_sub(prev_us) as f64;
    Some((stalled / span * 100.0).clamp(0.0, 100.0))
}

/// Percent of the host's capacity (`cpus` x `elapsed`) that the containers in
/// `now` used since `prev`. A container missing from `prev` (new) counts from
/// the next tick on; one missing from `now` (gone) counts nothing.
pub fn usage_percent(
    prev: &HashMap<String, u64>,
    now: &HashMap<String, u64>,
    elapsed: Duration,
    cpus: f64,
) -> Option<f64> {
    let capacity = elapsed.as_nanos() as f64 * cpus;
    if capacity <= 0.0 {
        return None;
    }
    let used: u64 = now
        .iter()
        .filter_map(|(id, ns)| prev.get(id).map(|p| ns.saturating_sub(*p)))
        .sum();
    Some((used as f64 / capacity * 100.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_percent_is_stall_time_over_the_interval() {
        let s = Duration::from_secs(1);
        assert_eq!(psi_percent(1_000, 501_000, s), Some(50.0));
        assert_eq!(psi_percent(1_000, 1_000, s), Some(0.0));
        // Clock skew between the file and our tick cannot exceed 100%.
        assert_eq!(psi_percent(0, 3_000_000, s), Some(100.0));
        // A counter that went backwards (new cgroup) reads as no stall.
        assert_eq!(psi_percent(9, 1, s), Some(0.0));
        assert_eq!(psi_percent(0, 1, Duration::ZERO), None);
    }

    #[test]
    fn usage_percent_is_share_of_host_capacity() {
        let prev = HashMap::from([("a".to_string(), 0u64), ("gone".to_string(), 5)]);
        let now = HashMap::from([
            ("a".to_string(), 1_000_000_000u64),
            ("new".to_string(), 900_000_000),
        ]);
        // a used 1 s of CPU in 1 s on 2 CPUs: half the host; `new` counts next time.
        assert_eq!(
            usage_percent(&prev, &now, Duration::from_secs(1), 2.0),
            Some(50.0)
        );
        assert_eq!(usage_percent(&prev, &now, Duration::ZERO, 2.0), None);
    }

    #[test]
    fn psi_sampler_reads_the_file_each_tick() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cpu");
        let write = |total: u64| {
            std::fs::write(
                &f,
                format!("some avg10=0.00 avg60=0.00 avg300=0.00 total={total}\n"),
            )
            .unwrap()
        };
        write(0);
        let mut s =
            Sampler::choose(SourceChoice::Auto, &[dir.path().join("x"), f.clone()]).unwrap();
        assert!(!s.wants_usage());
        assert_eq!(s.sample(Duration::from_secs(1), HashMap::new()), None);
        write(250_000);
        assert_eq!(s.sample(Duration::from_secs(2), HashMap::new()), Some(25.0));
        std::fs::remove_file(&f).unwrap();
        assert_eq!(s.sample(Duration::from_secs(3), HashMap::new()), None);
    }

    #[test]
    fn falls_back_to_usage_or_refuses_psi_when_there_is_none() {
        let missing = [PathBuf::from("/nonexistent/pressure/cpu")];
        let s = Sampler::choose(SourceChoice::Auto, &missing).unwrap();
        assert!(s.wants_usage());
        let e = Sampler::choose(SourceChoice::Psi, &missing).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/pressure/cpu"));
    }
}
