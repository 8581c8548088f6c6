//! Small filesystem and clock helpers shared by the runtime's modules.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, by the wall clock.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Writes `bytes` to `path` atomically: temp file, then rename. A crashed or
/// killed process leaves either the old content or the new, never a torn file.
///
/// No fsync: the records it writes (container state, exit codes) describe
/// processes that a power loss kills anyway, and an fsync costs 1-3 ms on the
/// start path of every container. Process crashes (kill -9 of the daemon or
/// keeper) lose nothing: the page cache outlives them.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
    }
    std::fs::rename(&tmp, path)
}

/// A CLOEXEC pipe with a 1 MiB buffer, so output waits while no daemon reads.
pub fn big_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // Best effort: the host's pipe-max-size may be lower; the default 64 KiB still works.
    let _ = nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&r),
        nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20),
    );
    Ok((r, w))
}
