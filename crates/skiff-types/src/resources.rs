//! Resource limits as users write them (`-m 512m`, `--cpus 1.5`) and as
//! the runtime applies them.

use serde::{Deserialize, Serialize};

/// Docker refuses memory limits below 6 MiB; so do we.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The default `--pids-limit`: finite, so a fork bomb stops.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;
/// The CFS period Docker uses for `--cpus`.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Limits for one container. `None` means "no limit set".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// memory + swap; -1 unlimited swap; `None` = same as memory (no swap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// CPUs in billionths (`--cpus 1.5` = 1_500_000_000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// `None` = the default limit; `Some(-1)` or `Some(0)` = unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// The pids limit to apply: the default when unset, none when <= 0.
    pub fn effective_pids_limit(&self) -> Option<i64> {
        match self.pids_limit {
            None => Some(DEFAULT_PIDS_LIMIT),
            Some(n) if n <= 0 => None,
            Some(n) => Some(n),
        }
    }

    /// `--cpus` as a CFS (quota, period) pair.
    pub fn cpu_quota(&self) -> Option<(i64, u64)> {
        self.nano_cpus.map(|n| {
            let quota = (n as u128 * CPU_PERIOD_US as u128 / 1_000_000_000) as i64;
            (quota.max(1000), CPU_PERIOD_US)
        })
    }
}

/// Why a size or cpu count was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("invalid size {0:?}: want a number with an optional unit b, k, m, g, t (e.g. 512m)")]
    Syntax(String),
    #[error("invalid size {0:?}: too large")]
    Overflow(String),
    #[error("minimum memory limit allowed is 6MB, got {0:?}")]
    TooSmall(String),
    #[error("invalid cpu count {0:?}: want a positive decimal number (e.g. 1.5)")]
    Cpus(String),
}

/// Parses Docker's RAMInBytes syntax: `512m`, `1g`, `1.5GB`, `1024`.
pub fn parse_size(s: &str) -> Result<u64, SizeError> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(SizeError::Syntax(s.to_string())),
    };
    let value: f64 = num.parse().map_err(|_| SizeError::Syntax(s.to_string()))?;
    if !value.is_finite() || value < 0.0 {
        return Err(SizeError::Syntax(s.to_string()));
    }
    let bytes = value * mult as f64;
    if bytes > u64::MAX as f64 / 2.0 {
        return Err(SizeError::Overflow(s.to_string()));
    }
    Ok(bytes as u64)
}

/// Parses a memory limit, refusing values under Docker's 6 MiB floor.
pub fn parse_memory_size(s: &str) -> Result<u64, SizeError> {
    let bytes = parse_size(s)?;
    if bytes < MIN_MEMORY {
        return Err(SizeError::TooSmall(s.to_string()));
    }
    Ok(bytes)
}

/// Parses `--cpus` into nano-CPUs.
pub fn parse_cpus(s: &str) -> Result<u64, SizeError> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| SizeError::Cpus(s.to_string()))?;
    if !v.is_finite() || v <= 0.0 || v > 1_000_000.0 {
        return Err(SizeError::Cpus(s.to_string()));
    }
    Ok((v * 1e9).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("512MB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("2k").unwrap(), 2048);
        for bad in ["", "m", "12x", "-5m", "1..2m", "nanm"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_memory_size("4m"),
            Err(SizeError::TooSmall("4m".into()))
        );
        assert!(parse_memory_size("6m").is_ok());
    }

    #[test]
    fn cpus_become_quota() {
        let r = Resources {
            nano_cpus: Some(parse_cpus("1.5").unwrap()),
            ..Default::default()
        };
        assert_eq!(r.cpu_quota(), Some((150_000, 100_000)));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("abc").is_err());
    }

    #[test]
    fn pids_limit_defaults_to_finite() {
        assert_eq!(
            Resources::default().effective_pids_limit(),
            Some(DEFAULT_PIDS_LIMIT)
        );
        let unlimited = Resources {
            pids_limit: Some(-1),
            ..Default::default()
        };
        assert_eq!(unlimited.effective_pids_limit(), None);
    }
}
