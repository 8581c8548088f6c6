//! Pressure stall information (PSI): `/proc/pressure/cpu` and the cgroup v2
//! `cpu.pressure` files share one format:
//!
//! ```text
//! some avg10=4.20 avg60=11.15 avg300=17.52 total=10713717066
//! full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//! ```
//! `total` is the cumulative time (microseconds) in which at least one task
//! ("some") or every task ("full") was runnable but waiting for a CPU. The
//! reader takes the file's path, so tests use a temp file.

use std::path::{Path, PathBuf};

/// The host-wide CPU pressure file.
pub const HOST_CPU: &str = "/proc/pressure/cpu";

/// One reading of a PSI file's `some` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsiSome {
    /// Percent of the last 10 s with a stalled task (the kernel's running average).
    pub avg10: f64,
    /// Cumulative stall time in microseconds since boot (or the group's creation).
    pub total_us: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PsiError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no parsable `some avg10=.. total=..` line")]
    Format { path: PathBuf },
}

/// Parses the `some` line of a PSI file's text.
pub fn parse_some(text: &str) -> Option<PsiSome> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let mut avg10 = None;
    let mut total = None;
    for field in line.split_whitespace().skip(1) {
        match field.split_once('=') {
            Some(("avg10", v)) => avg10 = v.parse::<f64>().ok(),
            Some(("total", v)) => total = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(PsiSome {
        avg10: avg10?,
        total_us: total?,
    })
}

/// Reads and parses the `some` line of the PSI file at `path`.
pub fn read_some(path: &Path) -> Result<PsiSome, PsiError> {
    let text = std::fs::read_to_string(path).map_err(|source| PsiError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_some(&text).ok_or_else(|| PsiError::Format {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_some_line() {
        let text = "some avg10=4.20 avg60=11.15 avg300=17.52 total=10713717066\n\
                    full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let s = parse_some(text).unwrap();
        assert_eq!(s.total_us, 10_713_717_066);
        assert!((s.avg10 - 4.2).abs() < 1e-9);
    }

    #[test]
    fn rejects_text_without_a_some_line() {
        assert!(parse_some("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").is_none());
        assert!(parse_some("some avg10=x total=1\n").is_none());
        assert!(parse_some("").is_none());
    }

    #[test]
    fn reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cpu.pressure");
        std::fs::write(&f, "some avg10=0.50 avg60=0.00 avg300=0.00 total=42\n").unwrap();
        assert_eq!(read_some(&f).unwrap().total_us, 42);
        std::fs::write(&f, "garbage\n").unwrap();
        assert!(read_some(&f)
            .unwrap_err()
            .to_string()
            .contains("cpu.pressure"));
        let missing = dir.path().join("nope");
        assert!(read_some(&missing)
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }
}
