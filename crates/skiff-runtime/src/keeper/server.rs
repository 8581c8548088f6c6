//! The keeper's event loop: accept the daemon, run its requests, reap
//! children, record exits. Single-threaded on purpose (see `keeper`).

use super::launch::Launched;
use super::proto::{Envelope, ExitRecord, FdLayout, Reply, Request, SeccompChoice, MAX_MESSAGE};
use super::{exit_record_path, socket_path};
use crate::fsutil::{now_nanos, write_atomic};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    accept4, bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use skiff_sys::fdpass::{recv_with_fds, send_with_fds};
use skiff_sys::seccomp::SeccompFilter;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

type Key = (String, Option<String>);

/// One process the keeper is parent of, with the fds it keeps alive.
struct Kept {
    pid: i32,
    layout: FdLayout,
    fds: Vec<OwnedFd>,
    exited: bool,
}

pub(super) struct Keeper {
    root: PathBuf,
    procs: HashMap<Key, Kept>,
    by_pid: HashMap<i32, Key>,
    /// Exits no daemon has heard of yet.
    unsent: Vec<ExitRecord>,
    client: Option<OwnedFd>,
    pub(super) seccomp_cache: HashMap<(SeccompChoice, u64), SeccompFilter>,
    buf: Vec<u8>,
    /// Fds that came with the message being handled.
    received: Vec<OwnedFd>,
}

/// Runs the keeper until no daemon is connected and no process is left.
pub fn run(root: &Path) -> io::Result<()> {
    for sig in [
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGPIPE,
        Signal::SIGTERM,
    ] {
        // Ignoring is safe: the keeper must outlive terminals and daemon restarts.
        ignore(sig)?;
    }
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block().map_err(io::Error::from)?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(io::Error::from)?;
    // Exec'd from a memfd, our name would be the fd number: say what we are in ps/top.
    let _ = nix::sys::prctl::set_name(c"skiff-keeper");
    let listener = listen_on(&socket_path(root))?;
    std::fs::write(root.join("keeper.pid"), std::process::id().to_string())?;
    let mut keeper = Keeper {
        root: root.to_path_buf(),
        procs: HashMap::new(),
        by_pid: HashMap::new(),
        unsent: Vec::new(),
        client: None,
        seccomp_cache: HashMap::new(),
        buf: vec![0u8; MAX_MESSAGE],
        received: Vec::new(),
    };
    // A daemon that started us connects right away; give it a while before
    // concluding nobody will.
    let mut idle_since = std::time::Instant::now();
    loop {
        let (listen_ready, client_ready, sig_ready) =
            wait_ready(&listener, &keeper.client, &sigfd)?;
        if sig_ready {
            while sigfd.read_signal().map_err(io::Error::from)?.is_some() {}
            keeper.reap();
        }
        if listen_ready {
            match accept4(
                std::os::fd::AsRawFd::as_raw_fd(&listener),
                SockFlag::SOCK_CLOEXEC,
            ) {
                Ok(fd) => {
                    // SAFETY-free conversion: accept4 returned a fresh fd we own.
                    keeper.client = Some(skiff_sys::fdpass::own_fd(fd));
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if client_ready {
            keeper.serve_client();
        }
        if keeper.client.is_none() && keeper.procs.values().all(|k| k.exited) {
            if idle_since.elapsed() > std::time::Duration::from_secs(5) {
                let _ = std::fs::remove_file(socket_path(root));
                let _ = std::fs::remove_file(root.join("keeper.pid"));
                return Ok(());
            }
        } else {
            idle_since = std::time::Instant::now();
        }
    }
}

fn ignore(sig: Signal) -> io::Result<()> {
    skiff_sys::signals::ignore(sig as i32)
}

fn listen_on(path: &Path) -> io::Result<OwnedFd> {
    let _ = std::fs::remove_file(path);
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&fd), &addr)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    listen(&fd, Backlog::new(8).map_err(io::Error::from)?)?;
    Ok(fd)
}

fn wait_ready(
    listener: &OwnedFd,
    client: &Option<OwnedFd>,
    sigfd: &SignalFd,
) -> io::Result<(bool, bool, bool)> {
    let mut fds = vec![
        PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
    ];
    if let Some(c) = client {
        fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::from(1000u16)) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(e) => return Err(e.into()),
    }
    let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
    let client_ready = fds.get(2).is_some_and(ready);
    Ok((ready(&fds[0]), client_ready, ready(&fds[1])))
}

impl Keeper {
    fn send(&mut self, reply: &Reply, fds: &[BorrowedFd<'_>]) {
        let Some(client) = &self.client else { return };
        let Ok(bytes) = serde_json::to_vec(reply) else {
            return;
        };
        if send_with_fds(client.as_fd(), &bytes, fds).is_err() {
            // The daemon went away; the next one gets what it missed in Hello.
            self.client = None;
        }
    }

    fn serve_client(&mut self) {
        let Some(client) = &self.client else { return };
        // One receive buffer for the keeper's life: zeroing 1 MiB per message
        // was a tenth of the keeper's CPU per container.
        let received = recv_with_fds(client.as_fd(), &mut self.buf);
        let n = match received {
            Ok((0, _)) | Err(_) => {
                self.client = None;
                return;
            }
            Ok((n, fds)) => {
                self.received = fds;
                n
            }
        };
        let parsed = serde_json::from_slice::<Envelope>(&self.buf[..n]);
        let env: Envelope = match parsed {
            Ok(e) => e,
            Err(e) => {
                let failed = Reply::Failed {
                    seq: 0,
                    message: format!("bad request: {e}"),
                    exit_code: 125,
                };
                self.send(&failed, &[]);
                return;
            }
        };
        self.handle(env);
    }

    fn handle(&mut self, env: Envelope) {
        let seq = env.seq;
        match env.request {
            Request::Hello => self.hello(),
            Request::Spawn { id, spec } => {
                // A ready-made network namespace may ride along (the daemon's pool).
                let join_net = std::mem::take(&mut self.received).into_iter().next();
                let result = self.spawn_init(&spec, join_net);
                self.finish_launch(seq, (id, None), result);
            }
            Request::Exec { id, exec_id, spec } => {
                let result = self.spawn_exec(&spec);
                self.finish_launch(seq, (id, Some(exec_id)), result);
            }
            Request::Signal {
                id,
                exec_id,
                signal,
            } => {
                let reply = match self.procs.get(&(id, exec_id)) {
                    Some(k) if !k.exited => outcome(seq, send_signal(k.pid, signal)),
                    _ => refuse(seq, "process is not running"),
                };
                self.send(&reply, &[]);
            }
            Request::Forget { id, exec_id } => {
                if let Some(k) = self.procs.remove(&(id, exec_id)) {
                    self.by_pid.remove(&k.pid);
                }
                self.send(&Reply::Done { seq }, &[]);
            }
            Request::Resize {
                id,
                exec_id,
                rows,
                cols,
            } => {
                let reply = match self.procs.get(&(id, exec_id)) {
                    Some(k) if k.layout.tty => outcome(
                        seq,
                        skiff_sys::pty::set_winsize(k.fds[0].as_fd(), rows, cols),
                    ),
                    _ => refuse(seq, "no tty to resize"),
                };
                self.send(&reply, &[]);
            }
        }
    }

    fn hello(&mut self) {
        let kept = self.procs.len();
        self.send(
            &Reply::Welcome {
                keeper_pid: std::process::id() as i32,
                kept,
            },
            &[],
        );
        let entries: Vec<(Key, i32, FdLayout, Vec<OwnedFd>)> = self
            .procs
            .iter()
            .map(|(key, k)| {
                let dups = k.fds.iter().filter_map(|f| f.try_clone().ok()).collect();
                (key.clone(), k.pid, k.layout, dups)
            })
            .collect();
        for ((id, exec_id), pid, layout, fds) in entries {
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
            self.send(
                &Reply::Kept {
                    id,
                    exec_id,
                    pid,
                    fds: layout,
                },
                &borrowed,
            );
        }
        for rec in std::mem::take(&mut self.unsent) {
            self.send(&Reply::Exited(rec), &[]);
        }
    }

    fn finish_launch(&mut self, seq: u64, key: Key, result: Result<Launched, (String, i32)>) {
        match result {
            Ok(l) => {
                let borrowed: Vec<BorrowedFd<'_>> =
                    l.daemon_fds.iter().map(|f| f.as_fd()).collect();
                let reply = Reply::Spawned {
                    seq,
                    pid: l.pid,
                    fds: l.layout,
                };
                let Some(client) = &self.client else { return };
                let bytes = serde_json::to_vec(&reply).unwrap_or_default();
                if send_with_fds(client.as_fd(), &bytes, &borrowed).is_err() {
                    self.client = None;
                }
                self.by_pid.insert(l.pid, key.clone());
                let layout = FdLayout {
                    stdin: false,
                    ns: 0,
                    ..l.layout
                };
                self.procs.insert(
                    key,
                    Kept {
                        pid: l.pid,
                        layout,
                        fds: l.kept_fds,
                        exited: false,
                    },
                );
            }
            Err((message, exit_code)) => self.send(
                &Reply::Failed {
                    seq,
                    message,
                    exit_code,
                },
                &[],
            ),
        }
    }

    /// Reaps every exited child and records how it ended.
    fn reap(&mut self) {
        loop {
            let status = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(s) => s,
            };
            let (pid, exit_code, signal) = match status {
                WaitStatus::Exited(pid, code) => (pid.as_raw(), code, None),
                WaitStatus::Signaled(pid, sig, _) => {
                    (pid.as_raw(), 128 + sig as i32, Some(sig as i32))
                }
                _ => continue,
            };
            let Some(key) = self.by_pid.remove(&pid) else {
                continue;
            };
            let record = ExitRecord {
                id: key.0.clone(),
                exec_id: key.1.clone(),
                pid,
                exit_code,
                signal,
                at: now_nanos(),
            };
            if key.1.is_none() {
                if let Ok(bytes) = serde_json::to_vec(&record) {
                    let _ = write_atomic(&exit_record_path(&self.root, &key.0), &bytes);
                }
            }
            if let Some(k) = self.procs.get_mut(&key) {
                k.exited = true;
            }
            if self.client.is_some() {
                self.send(&Reply::Exited(record.clone()), &[]);
            }
            if self.client.is_none() {
                self.unsent.push(record);
            }
        }
    }
}

/// `Done`, or `Failed` with the error's message.
fn outcome(seq: u64, result: Result<(), impl std::fmt::Display>) -> Reply {
    match result {
        Ok(()) => Reply::Done { seq },
        Err(e) => refuse(seq, &e.to_string()),
    }
}

fn refuse(seq: u64, message: &str) -> Reply {
    Reply::Failed {
        seq,
        message: message.to_string(),
        exit_code: 125,
    }
}

fn send_signal(pid: i32, sig: i32) -> io::Result<()> {
    let sig = Signal::try_from(sig).map_err(io::Error::from)?;
    kill(Pid::from_raw(pid), sig).map_err(io::Error::from)
}
