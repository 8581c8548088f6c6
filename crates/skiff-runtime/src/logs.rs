//! Container logs: Docker's json-file format, one JSON object per chunk of
//! output, with size-based rotation (`container.log`, `.1`, `.2`, ...).
//!
//! Output is written the moment the daemon reads it: a chunk that does not
//! end in a newline is written as a `partial` record and joined on read, so a
//! daemon killed mid-line loses nothing it had already read.

use serde::{Deserialize, Serialize};
use skiff_types::time::rfc3339_nanos;
use skiff_types::LogStream;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// Rotate when the live file passes this size (Docker's `max-size`).
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024;
/// Keep this many files in all, the live one included (Docker's `max-file`).
pub const DEFAULT_MAX_FILES: u32 = 3;

/// One record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub log: String,
    pub stream: LogStream,
    /// Nanoseconds since the epoch (Docker stores RFC 3339; we keep both).
    #[serde(rename = "t")]
    pub time_nanos: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

impl LogRecord {
    pub fn time_rfc3339(&self) -> String {
        rfc3339_nanos(self.time_nanos)
    }
}

/// Appends records to a container's log, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_files: u32,
}

impl LogWriter {
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_files: max_files.max(1),
        })
    }

    /// Writes `data` as one record per line (the last one partial if unterminated).
    pub fn write(&mut self, stream: LogStream, time_nanos: u64, data: &[u8]) -> io::Result<()> {
        let mut out = Vec::with_capacity(data.len() + 64);
        for line in data.split_inclusive(|&b| b == b'\n') {
            let record = LogRecord {
                log: String::from_utf8_lossy(line).into_owned(),
                stream,
                time_nanos,
                partial: !line.ends_with(b"\n"),
            };
            serde_json::to_writer(&mut out, &record)?;
            out.push(b'\n');
        }
        self.file.write_all(&out)?;
        self.size += out.len() as u64;
        if self.size >= self.max_size {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.max_files).rev() {
            let from = numbered(&self.path, n - 1);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n))?;
            }
        }
        if self.max_files == 1 {
            self.file.set_len(0)?;
        } else {
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .truncate(false)
                .open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// `container.log` for n = 0, else `container.log.N`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        path.to_path_buf()
    } else {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }
}

/// Reads every record, oldest file first, joining partial records into lines.
pub fn read_all(path: &Path, max_files: u32) -> io::Result<Vec<LogRecord>> {
    let mut out: Vec<LogRecord> = Vec::new();
    let mut pending: [Option<LogRecord>; 2] = [None, None];
    for n in (0..max_files.max(1)).rev() {
        let file = match File::open(numbered(path, n)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in BufReader::new(file).lines() {
            let line = line?;
            // A torn last line (crash mid-write) is skipped, not fatal.
            let Ok(rec) = serde_json::from_str::<LogRecord>(&line) else {
                continue;
            };
            let slot = &mut pending[rec.stream as usize];
            let joined = match slot.take() {
                Some(mut prev) => {
                    prev.log.push_str(&rec.log);
                    prev.partial = rec.partial;
                    prev
                }
                None => rec,
            };
            if joined.partial {
                *slot = Some(joined);
            } else {
                out.push(joined);
            }
        }
    }
    out.extend(pending.into_iter().flatten());
    out.sort_by_key(|r| r.time_nanos);
    Ok(out)
}

/// Keeps the last `tail` records of the wanted streams.
pub fn select(
    records: Vec<LogRecord>,
    stdout: bool,
    stderr: bool,
    tail: Option<usize>,
) -> Vec<LogRecord> {
    let wanted: Vec<LogRecord> = records
        .into_iter()
        .filter(|r| match r.stream {
            LogStream::Stdout => stdout,
            LogStream::Stderr => stderr,
        })
        .collect();
    match tail {
        Some(n) if n < wanted.len() => wanted[wanted.len() - n..].to_vec(),
        _ => wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_in_order_with_partials_joined() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let mut w = LogWriter::open(&path, DEFAULT_MAX_SIZE, 3).unwrap();
        w.write(LogStream::Stdout, 1, b"one\ntw").unwrap();
        w.write(LogStream::Stderr, 2, b"err\n").unwrap();
        w.write(LogStream::Stdout, 3, b"o\nthree\n").unwrap();
        let logs: Vec<String> = read_all(&path, 3)
            .unwrap()
            .into_iter()
            .map(|r| r.log)
            .collect();
        assert_eq!(logs, ["one\n", "two\n", "err\n", "three\n"]);
    }

    #[test]
    fn rotation_keeps_max_files_and_the_newest_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container.log");
        let mut w = LogWriter::open(&path, 200, 2).unwrap();
        for i in 0..100u64 {
            w.write(LogStream::Stdout, i, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert!(path.exists() && numbered(&path, 1).exists() && !numbered(&path, 2).exists());
        let all = read_all(&path, 2).unwrap();
        assert_eq!(all.last().unwrap().log, "line 99\n");
        assert!(all.len() < 100);
        let logs: Vec<u64> = all.iter().map(|r| r.time_nanos).collect();
        assert!(logs.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn select_filters_streams_and_tails() {
        let rec = |s, t| LogRecord {
            log: format!("{t}\n"),
            stream: s,
            time_nanos: t,
            partial: false,
        };
        let all = vec![
            rec(LogStream::Stdout, 1),
            rec(LogStream::Stderr, 2),
            rec(LogStream::Stdout, 3),
        ];
        assert_eq!(select(all.clone(), true, false, None).len(), 2);
        assert_eq!(select(all, true, true, Some(1))[0].time_nanos, 3);
    }
}
