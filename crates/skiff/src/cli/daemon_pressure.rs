//! `skiff daemon --batch-pressure*`: the flags of the batch freezer, parsed
//! into `daemon::pressure::PressureConfig` (checked here, so a bad value
//! stops the daemon before it starts).

use crate::daemon::pressure::policy::Thresholds;
use crate::daemon::pressure::signal::SourceChoice;
use crate::daemon::pressure::PressureConfig;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, clap::Args)]
pub struct BatchPressureFlags {
    /// Freeze batch containers (label skiff.class=batch) under CPU pressure; `off` also
    /// thaws the ones a previous daemon froze
    #[arg(long = "batch-pressure", value_enum, default_value = "on")]
    pub mode: OnOff,
    /// Freeze (lowest skiff.priority first) when pressure stays above this percent
    #[arg(
        long = "batch-pressure-high",
        default_value_t = 60.0,
        value_name = "PERCENT"
    )]
    pub high: f64,
    /// Thaw (highest priority first, one at a time) when pressure stays below this percent
    #[arg(
        long = "batch-pressure-low",
        default_value_t = 20.0,
        value_name = "PERCENT"
    )]
    pub low: f64,
    /// How long pressure must stay over/under a threshold before each step
    #[arg(
        long = "batch-pressure-window",
        default_value = "5s",
        value_name = "DURATION"
    )]
    pub window: String,
    /// The pressure signal: PSI (percent of time a task waited for a CPU) or, without
    /// PSI, the service containers' share of the host's CPU
    #[arg(long = "batch-pressure-source", value_enum, default_value = "auto")]
    pub source: SourceChoice,
}

impl BatchPressureFlags {
    pub fn config(&self) -> anyhow::Result<PressureConfig> {
        for (flag, v) in [("high", self.high), ("low", self.low)] {
            if !(0.0..=100.0).contains(&v) {
                anyhow::bail!("--batch-pressure-{flag} {v}: must be a percent, 0 to 100");
            }
        }
        if self.low >= self.high {
            anyhow::bail!(
                "--batch-pressure-low {} must be below --batch-pressure-high {} \
                 (the gap between them is what keeps containers from flapping)",
                self.low,
                self.high
            );
        }
        let ms = super::service_flags::parse_duration_ms(&self.window)
            .map_err(|e| anyhow::anyhow!("--batch-pressure-window: {e}"))?;
        if ms < 1000 {
            anyhow::bail!(
                "--batch-pressure-window {}: must be at least 1s (pressure is sampled every second)",
                self.window
            );
        }
        Ok(PressureConfig {
            enabled: self.mode == OnOff::On,
            thresholds: Thresholds {
                high: self.high,
                low: self.low,
                window: Duration::from_millis(ms),
            },
            source: self.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(high: f64, low: f64, window: &str) -> BatchPressureFlags {
        BatchPressureFlags {
            mode: OnOff::On,
            high,
            low,
            window: window.into(),
            source: SourceChoice::Auto,
        }
    }

    #[test]
    fn accepts_sane_values() {
        let c = flags(60.0, 20.0, "5s").config().unwrap();
        assert!(c.enabled);
        assert_eq!(c.thresholds.window, Duration::from_secs(5));
        let c = flags(90.0, 0.0, "1m30s").config().unwrap();
        assert_eq!(c.thresholds.window, Duration::from_secs(90));
    }

    #[test]
    fn refuses_bad_values_naming_the_flag() {
        let e = |f: BatchPressureFlags| f.config().unwrap_err().to_string();
        assert!(e(flags(20.0, 60.0, "5s")).contains("--batch-pressure-low"));
        assert!(e(flags(20.0, 20.0, "5s")).contains("below"));
        assert!(e(flags(150.0, 20.0, "5s")).contains("--batch-pressure-high"));
        assert!(e(flags(60.0, -1.0, "5s")).contains("--batch-pressure-low"));
        assert!(e(flags(60.0, 20.0, "500ms")).contains("at least 1s"));
        assert!(e(flags(60.0, 20.0, "soon")).contains("--batch-pressure-window"));
    }
}
