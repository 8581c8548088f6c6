//! Finding the daemon: `--host`/`SKIFF_HOST`, or the default socket with an
//! automatic start of `skiff daemon` when nothing listens there.

use anyhow::{bail, Context};
use skiff_api::Client;
use std::fs::OpenOptions;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const DEFAULT_SOCKET: &str = "/run/skiff/skiff.sock";
const START_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// `unix:///path` (or a bare absolute path) to the socket path.
pub fn parse_host(host: &str) -> anyhow::Result<PathBuf> {
    let path = host.strip_prefix("unix://").unwrap_or(host);
    if path.starts_with('/') {
        return Ok(PathBuf::from(path));
    }
    bail!("invalid --host {host:?}: want unix:///path/to/socket")
}

/// Whether connecting to `socket` fails because no daemon is there at all.
fn absent(socket: &Path) -> bool {
    match UnixStream::connect(socket) {
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
        ),
    }
}

/// A client for `host`, or for the default socket, starting a daemon there
/// (with state in `root`) if none runs. An explicit host is never auto-started.
pub fn connect(host: Option<&str>, root: &Path) -> anyhow::Result<Client> {
    Ok(connect_owned(host, root)?.0)
}

/// As [`connect`], and the pid of the daemon this call started (if it did).
pub fn connect_owned(host: Option<&str>, root: &Path) -> anyhow::Result<(Client, Option<u32>)> {
    if let Some(h) = host {
        return Ok((Client::new(parse_host(h)?), None));
    }
    let socket = PathBuf::from(DEFAULT_SOCKET);
    let started = match absent(&socket) {
        true => autostart(&socket, root)?,
        false => None,
    };
    Ok((Client::new(socket), started))
}

/// Starts a daemon unless another starter got there first; its pid if ours.
fn autostart(socket: &Path, root: &Path) -> anyhow::Result<Option<u32>> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .with_context(|| format!("cannot create {}", root.display()))?;
    // One starter at a time: 50 concurrent `skiff run -d` start one daemon.
    let lock_path = root.join("autostart.lock");
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    if !absent(socket) {
        return Ok(None);
    }
    let log_path = root.join("daemon.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the skiff binary")?;
    let mut child = Command::new(exe)
        .arg("--root")
        .arg(root)
        .args(["daemon", "--detach"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start skiff daemon")?;
    eprintln!(
        "skiff: no daemon was running; started one (pid {}, log {})",
        child.id(),
        log_path.display()
    );
    let client = Client::new(socket);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if client.ping().is_ok() {
            return Ok(Some(child.id()));
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the skiff daemon exited at start ({status}); see {}{}",
                log_path.display(),
                log_tail(&log_path)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "the skiff daemon (pid {}) did not answer on {} within {:?}; see {}",
                child.id(),
                socket.display(),
                START_TIMEOUT,
                log_path.display()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// The last lines of the daemon log, to show why it died.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from(":");
    for l in lines.iter().rev() {
        out.push_str("\n  ");
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("unix:///tmp/s.sock").unwrap(),
            PathBuf::from("/tmp/s.sock")
        );
        assert_eq!(
            parse_host("/tmp/s.sock").unwrap(),
            PathBuf::from("/tmp/s.sock")
        );
        assert!(parse_host("tcp://127.0.0.1:2375").is_err());
        assert!(parse_host("unix://rel.sock").is_err());
    }

    #[test]
    fn an_explicit_unreachable_host_is_not_started() {
        let c = connect(
            Some("unix:///nonexistent/skiff.sock"),
            Path::new("/nonexistent"),
        )
        .unwrap();
        let e = c.ping().unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot connect to the skiff daemon at /nonexistent/skiff.sock: No such file or directory"
        );
    }
}
