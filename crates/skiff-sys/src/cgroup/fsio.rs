//! Small file helpers for cgroupfs: every read and write carries its path (and the value written)
//! into `CgroupError`, and the bounded polling used by freeze/destroy lives here.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

/// Writes `value` to an existing cgroup file (no O_CREAT: a missing file means a missing
/// controller, which must surface as an error rather than a silently created plain file).
pub(crate) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// Reads a whole cgroup file as text.
pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file holding one unsigned integer (e.g. `pids.current`, `cpuacct.usage`).
pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let text = read(path)?;
    text.trim().parse::<u64>().map_err(|e| CgroupError::Parse {
        path: path.to_path_buf(),
        detail: format!("{:?}: {e}", text.trim()),
    })
}

/// Reads a file holding an integer or the word `max` (v2 `memory.max`, `pids.max`).
pub(crate) fn read_u64_or_max(path: &Path) -> Result<Option<u64>, CgroupError> {
    let text = read(path)?;
    match text.trim() {
        "max" => Ok(None),
        t => t.parse::<u64>().map(Some).map_err(|e| CgroupError::Parse {
            path: path.to_path_buf(),
            detail: format!("{t:?}: {e}"),
        }),
    }
}

/// True when `path` exists (used to probe optional files such as `memory.memsw.limit_in_bytes`).
pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}

/// Parses a `cgroup.procs` listing: one pid per line.
pub(crate) fn parse_pids(path: &Path, text: &str) -> Result<Vec<i32>, CgroupError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<i32>().map_err(|e| CgroupError::Parse {
                path: path.to_path_buf(),
                detail: format!("pid {l:?}: {e}"),
            })
        })
        .collect()
}

/// Every directory below `dir` (not `dir` itself), deepest first, so they can be removed in
/// order. A missing `dir` yields an empty list.
pub(crate) fn subdirs_deepest_first(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut out = Vec::new();
    collect_subdirs(dir, &mut out)?;
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    Ok(out)
}

fn collect_subdirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = entry.path();
            collect_subdirs(&p, out)?;
            out.push(p);
        }
    }
    Ok(())
}

/// Polls `check` with exponential backoff (50 us doubling to 10 ms) until it returns
/// `Ok(true)` or `limit` has passed. Returns whether the condition was met.
pub(crate) fn poll_until(
    limit: Duration,
    mut check: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<bool, CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        if check()? {
            return Ok(true);
        }
        if start.elapsed() >= limit {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}
