//! The daemon's side of the keeper socket: typed calls with replies, and the
//! stream of exits. A reader thread owns the receiving half; callers await
//! their reply on a oneshot channel keyed by sequence number.

use super::proto::{
    Envelope, ExecLaunch, ExitRecord, FdLayout, LaunchSpec, Reply, Request, MAX_MESSAGE,
};
use super::socket_path;
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use skiff_sys::fdpass::{recv_with_fds, send_with_fds};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A process's stdio as the daemon holds it.
#[derive(Debug)]
pub enum ProcStdio {
    Tty {
        master: OwnedFd,
    },
    Pipes {
        stdout: OwnedFd,
        stderr: OwnedFd,
        stdin: Option<OwnedFd>,
    },
}

impl ProcStdio {
    fn from_fds(layout: FdLayout, mut fds: Vec<OwnedFd>) -> io::Result<Self> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "keeper sent too few fds");

        if layout.tty {
            return Ok(ProcStdio::Tty {
                master: fds.pop().ok_or_else(bad)?,
            });
        }
        let mut it = fds.into_iter();
        let stdout = it.next().ok_or_else(bad)?;
        let stderr = it.next().ok_or_else(bad)?;
        let stdin = if layout.stdin {
            Some(it.next().ok_or_else(bad)?)
        } else {
            None
        };
        Ok(ProcStdio::Pipes {
            stdout,
            stderr,
            stdin,
        })
    }
}

/// A process the keeper just started.
#[derive(Debug)]
pub struct Launched {
    pub pid: i32,
    pub stdio: ProcStdio,
    /// The container's namespaces, held until its exit has been reported.
    pub namespaces: Vec<OwnedFd>,
}

/// A process the keeper already held when we connected.
#[derive(Debug)]
pub struct KeptProc {
    pub id: String,
    pub exec_id: Option<String>,
    pub pid: i32,
    pub stdio: ProcStdio,
}

/// A launch the keeper refused or that failed in the child.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LaunchError {
    pub message: String,
    pub exit_code: i32,
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<(Reply, Vec<OwnedFd>)>>>>;

pub struct KeeperClient {
    sock: Arc<OwnedFd>,
    seq: AtomicU64,
    waiters: Waiters,
    pub keeper_pid: i32,
}

/// What connecting returns: the client, the processes the keeper held, and exits as they happen.
pub struct Connected {
    pub client: KeeperClient,
    pub kept: Vec<KeptProc>,
    pub exits: mpsc::UnboundedReceiver<ExitRecord>,
}

impl KeeperClient {
    /// Connects to the keeper under `root` and says hello.
    pub fn connect(root: &Path) -> io::Result<Connected> {
        let fd = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        connect(fd.as_raw_fd(), &UnixAddr::new(&socket_path(root))?)?;
        let hello = serde_json::to_vec(&Envelope {
            seq: 0,
            request: Request::Hello,
        })?;
        send_with_fds(fd.as_fd(), &hello, &[])?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let (keeper_pid, count) = match recv_reply(&fd, &mut buf)?.0 {
            Reply::Welcome { keeper_pid, kept } => (keeper_pid, kept),
            other => return Err(proto_err(format!("expected Welcome, got {other:?}"))),
        };
        let mut kept = Vec::with_capacity(count);
        for _ in 0..count {
            match recv_reply(&fd, &mut buf)? {
                (
                    Reply::Kept {
                        id,
                        exec_id,
                        pid,
                        fds,
                    },
                    got,
                ) => {
                    let stdio = ProcStdio::from_fds(fds, got)?;
                    kept.push(KeptProc {
                        id,
                        exec_id,
                        pid,
                        stdio,
                    });
                }
                (other, _) => return Err(proto_err(format!("expected Kept, got {other:?}"))),
            }
        }
        let sock = Arc::new(fd);
        let waiters: Waiters = Arc::default();
        let (tx, exits) = mpsc::unbounded_channel();
        let (reader_sock, reader_waiters) = (sock.clone(), waiters.clone());
        std::thread::Builder::new()
            .name("keeper-reader".into())
            .spawn(move || read_loop(&reader_sock, &reader_waiters, &tx))?;
        let client = KeeperClient {
            sock,
            seq: AtomicU64::new(1),
            waiters,
            keeper_pid,
        };
        Ok(Connected {
            client,
            kept,
            exits,
        })
    }

    async fn call(&self, request: Request) -> io::Result<(Reply, Vec<OwnedFd>)> {
        self.call_with(request, None).await
    }

    async fn call_with(
        &self,
        request: Request,
        fd: Option<OwnedFd>,
    ) -> io::Result<(Reply, Vec<OwnedFd>)> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .map_err(|_| proto_err("poisoned".into()))?
            .insert(seq, tx);
        let bytes = serde_json::to_vec(&Envelope { seq, request })?;
        let fds: Vec<std::os::fd::BorrowedFd<'_>> = fd.iter().map(|f| f.as_fd()).collect();
        send_with_fds(self.sock.as_fd(), &bytes, &fds)?;
        drop(fds);
        drop(fd);
        rx.await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the keeper went away"))
    }

    async fn launch(&self, request: Request, fd: Option<OwnedFd>) -> Result<Launched, LaunchError> {
        let internal = |e: io::Error| LaunchError {
            message: format!("keeper: {e}"),
            exit_code: 125,
        };
        match self.call_with(request, fd).await.map_err(internal)? {
            (Reply::Spawned { pid, fds, .. }, mut got) => {
                let ns = usize::from(fds.ns);
                if got.len() < ns {
                    return Err(internal(proto_err("keeper sent too few fds".into())));
                }
                let namespaces = got.split_off(got.len() - ns);
                let stdio = ProcStdio::from_fds(fds, got).map_err(internal)?;
                Ok(Launched {
                    pid,
                    stdio,
                    namespaces,
                })
            }
            (
                Reply::Failed {
                    message, exit_code, ..
                },
                _,
            ) => Err(LaunchError { message, exit_code }),
            (other, _) => Err(internal(proto_err(format!("unexpected {other:?}")))),
        }
    }

    /// Starts a container; `net` is a ready-made network namespace to join, if any.
    pub async fn spawn(
        &self,
        id: &str,
        spec: LaunchSpec,
        net: Option<OwnedFd>,
    ) -> Result<Launched, LaunchError> {
        let request = Request::Spawn {
            id: id.to_string(),
            spec: Box::new(spec),
        };
        self.launch(request, net).await
    }

    pub async fn exec(
        &self,
        id: &str,
        exec_id: &str,
        spec: ExecLaunch,
    ) -> Result<(i32, ProcStdio), LaunchError> {
        let request = Request::Exec {
            id: id.into(),
            exec_id: exec_id.into(),
            spec: Box::new(spec),
        };
        self.launch(request, None).await.map(|l| (l.pid, l.stdio))
    }

    async fn simple(&self, request: Request) -> Result<(), LaunchError> {
        match self.call(request).await {
            Ok((Reply::Done { .. }, _)) => Ok(()),
            Ok((
                Reply::Failed {
                    message, exit_code, ..
                },
                _,
            )) => Err(LaunchError { message, exit_code }),
            Ok((other, _)) => Err(LaunchError {
                message: format!("keeper: unexpected {other:?}"),
                exit_code: 125,
            }),
            Err(e) => Err(LaunchError {
                message: format!("keeper: {e}"),
                exit_code: 125,
            }),
        }
    }

    pub async fn signal(
        &self,
        id: &str,
        exec_id: Option<&str>,
        signal: i32,
    ) -> Result<(), LaunchError> {
        let request = Request::Signal {
            id: id.into(),
            exec_id: exec_id.map(Into::into),
            signal,
        };
        self.simple(request).await
    }

    pub async fn forget(&self, id: &str, exec_id: Option<&str>) -> Result<(), LaunchError> {
        self.simple(Request::Forget {
            id: id.into(),
            exec_id: exec_id.map(Into::into),
        })
        .await
    }

    pub async fn resize(
        &self,
        id: &str,
        exec_id: Option<&str>,
        rows: u16,
        cols: u16,
    ) -> Result<(), LaunchError> {
        let request = Request::Resize {
            id: id.into(),
            exec_id: exec_id.map(Into::into),
            rows,
            cols,
        };
        self.simple(request).await
    }
}

fn proto_err(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn recv_reply(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(Reply, Vec<OwnedFd>)> {
    let (n, fds) = recv_with_fds(fd.as_fd(), buf)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the keeper closed the connection",
        ));
    }
    Ok((serde_json::from_slice(&buf[..n])?, fds))
}

fn read_loop(sock: &OwnedFd, waiters: &Waiters, exits: &mpsc::UnboundedSender<ExitRecord>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    while let Ok((reply, fds)) = recv_reply(sock, &mut buf) {
        let seq = match &reply {
            Reply::Exited(rec) => {
                let _ = exits.send(rec.clone());
                continue;
            }
            Reply::Spawned { seq, .. } | Reply::Failed { seq, .. } | Reply::Done { seq } => *seq,
            Reply::Welcome { .. } | Reply::Kept { .. } => continue,
        };
        let waiter = waiters.lock().ok().and_then(|mut w| w.remove(&seq));
        if let Some(tx) = waiter {
            let _ = tx.send((reply, fds));
        }
    }
    // The keeper is gone: wake every caller with an error.
    if let Ok(mut w) = waiters.lock() {
        w.clear();
    }
}
