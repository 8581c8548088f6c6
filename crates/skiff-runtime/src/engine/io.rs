//! Container and exec I/O: pumps from the keeper's pipes into the log and
//! attached clients, client input into stdin, and the log reader.

use super::{err, internal, Container, Runtime};
use crate::keeper::client::ProcStdio;
use crate::keeper::proto::{ExecLaunch, StdioMode};
use crate::launch;
use crate::logs::{read_all, select};
use skiff_types::time::rfc3339_nanos;
use skiff_types::{
    ApiError, Control, ErrorKind, ExecSpec, Frame, FrameKind, LogOptions, LogStream,
};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

/// A client's connection to a process: frames out, frames in.
pub struct Session {
    pub id: String,
    pub output: mpsc::UnboundedReceiver<Frame>,
    pub input: mpsc::UnboundedSender<Frame>,
}

/// An exec the daemon is running.
pub(super) struct ExecState {
    container: String,
    /// Host pid of the exec'd process (for `kill_exec`).
    pub(super) pid: i32,
    output: mpsc::UnboundedSender<Frame>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
}

/// Reads `fd` until EOF (or EIO from a pty whose other side closed), handing each chunk to `sink`.
async fn pump(fd: OwnedFd, mut sink: impl FnMut(&[u8]) + Send) {
    // "unchecked": the fd may be a pty master rather than a FIFO; both poll the same way.
    let Ok(mut rx) = pipe::Receiver::from_owned_fd_unchecked(fd) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rx.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => sink(&buf[..n]),
        }
    }
}

/// A non-blocking writer for a stdin pipe or a pty master.
fn writer(fd: &OwnedFd) -> Option<pipe::Sender> {
    pipe::Sender::from_owned_fd_unchecked(fd.try_clone().ok()?).ok()
}

fn frame_kind(stream: LogStream) -> FrameKind {
    match stream {
        LogStream::Stdout => FrameKind::Stdout,
        LogStream::Stderr => FrameKind::Stderr,
    }
}

impl Runtime {
    /// Starts the pumps of a container's init: output to the log and to subscribers.
    pub(super) fn attach_stdio(&self, c: &Arc<Container>, stdio: ProcStdio) {
        let mut hub = c.hub();
        let streams: Vec<(OwnedFd, LogStream)> = match stdio {
            ProcStdio::Tty { master } => {
                hub.tty = true;
                hub.stdin = master.try_clone().ok().map(Arc::new);
                vec![(master, LogStream::Stdout)]
            }
            ProcStdio::Pipes {
                stdout,
                stderr,
                stdin,
            } => {
                hub.tty = false;
                hub.stdin = stdin.map(Arc::new);
                vec![(stdout, LogStream::Stdout), (stderr, LogStream::Stderr)]
            }
        };
        for (fd, stream) in streams {
            let c2 = c.clone();
            hub.pumps.push(tokio::spawn(pump(fd, move |data| {
                let mut hub = c2.hub();
                if let Some(log) = hub.log.as_mut() {
                    let _ = log.write(stream, crate::fsutil::now_nanos(), data);
                }
                let frame = Frame::new(frame_kind(stream), data.to_vec());
                hub.subscribers.retain(|s| s.send(frame.clone()).is_ok());
            })));
        }
    }

    /// Attaches to a container's stdio: output from now on, input to its stdin.
    pub async fn attach(&self, r: &str) -> Result<Session, ApiError> {
        let c = self.resolve(r)?;
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        c.hub().subscribers.push(out_tx);
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let rt = self.clone();
        let c2 = c.clone();
        tokio::spawn(async move { rt.feed_container(c2, in_rx).await });
        Ok(Session {
            id: c.id.to_string(),
            output: out_rx,
            input: in_tx,
        })
    }

    async fn feed_container(&self, c: Arc<Container>, mut input: mpsc::UnboundedReceiver<Frame>) {
        let mut exits = c.exits.subscribe();
        let mut writer: Option<pipe::Sender> = None;
        while let Some(frame) = input.recv().await {
            match frame.kind {
                FrameKind::Stdin => {
                    if writer.is_none() {
                        // Input may arrive before start: wait for a stdin to exist.
                        let fd = loop {
                            if let Some(fd) = c.hub().stdin.clone() {
                                break Some(fd);
                            }
                            if c.rec().state.status == skiff_types::ContainerStatus::Exited {
                                break None;
                            }
                            tokio::select! {
                                _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
                                _ = exits.changed() => {}
                            }
                        };
                        let Some(fd) = fd else { return };
                        writer = super::io::writer(&fd);
                    }
                    if let Some(w) = writer.as_mut() {
                        if w.write_all(&frame.data).await.is_err() {
                            return;
                        }
                    }
                }
                FrameKind::CloseStdin => {
                    writer = None;
                    let tty = c.hub().tty;
                    if !tty {
                        c.hub().stdin = None;
                    }
                }
                FrameKind::Resize => {
                    if let Ok(sz) = serde_json::from_slice::<skiff_types::Resize>(&frame.data) {
                        let _ = self
                            .inner
                            .keeper
                            .resize(c.id.as_str(), None, sz.rows, sz.cols)
                            .await;
                    }
                }
                _ => {}
            }
        }
    }

    pub async fn resize(
        &self,
        r: &str,
        exec_id: Option<String>,
        rows: u16,
        cols: u16,
    ) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        self.inner
            .keeper
            .resize(c.id.as_str(), exec_id.as_deref(), rows, cols)
            .await
            .map_err(|e| err(ErrorKind::Conflict, e.message))
    }

    /// `exec`: a new process in the container's namespaces and cgroup.
    pub async fn exec(&self, r: &str, spec: ExecSpec) -> Result<Session, ApiError> {
        let c = self.resolve(r)?;
        let (cspec, pid) = {
            let rec = c.rec();
            rec.state.status.can_exec().map_err(|_| {
                err(
                    ErrorKind::Conflict,
                    format!("container {} is not running", rec.id),
                )
            })?;
            (rec.spec.clone(), rec.state.pid)
        };
        if spec.cmd.is_empty() {
            return Err(err(ErrorKind::Invalid, "No exec command specified"));
        }
        let user = launch::resolve_user_in(
            &launch::rootfs_dirs(&cspec),
            spec.user.as_deref().or(cspec.user.as_deref()),
        )?;
        let hostname = cspec
            .hostname
            .clone()
            .unwrap_or_else(|| c.id.short().to_string());
        let mut env_in = cspec.env.clone();
        env_in.extend(spec.env.iter().cloned());
        let caps = launch::capabilities(&cspec)?;
        let exec_id = hex(&super::random_bytes().map_err(internal)?[..16]);
        let launch = ExecLaunch {
            target_pid: pid,
            args: spec.cmd.clone(),
            env: launch::environment(&env_in, &hostname, &user.home, spec.tty),
            cwd: spec
                .working_dir
                .or(cspec.working_dir)
                .unwrap_or_else(|| "/".into()),
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.groups,
            capabilities: caps.bits(),
            no_new_privileges: true,
            seccomp: launch::seccomp_choice(&cspec.seccomp)?,
            stdio: StdioMode {
                tty: spec.tty,
                open_stdin: spec.open_stdin,
            },
            cgroup_procs: self.cgroup_of(&c).procs_files(),
        };
        let (pid, stdio) = self
            .inner
            .keeper
            .exec(c.id.as_str(), &exec_id, launch)
            .await
            .map_err(|e| {
                ApiError::new(ErrorKind::Invalid, e.message).with_exit_code(e.exit_code)
            })?;
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let (streams, stdin): (Vec<(OwnedFd, FrameKind)>, Option<OwnedFd>) = match stdio {
            ProcStdio::Tty { master } => {
                let input = master.try_clone().ok();
                (vec![(master, FrameKind::Stdout)], input)
            }
            ProcStdio::Pipes {
                stdout,
                stderr,
                stdin,
            } => (
                vec![(stdout, FrameKind::Stdout), (stderr, FrameKind::Stderr)],
                stdin,
            ),
        };
        let pumps = streams
            .into_iter()
            .map(|(fd, kind)| {
                let tx = out_tx.clone();
                tokio::spawn(pump(fd, move |d| {
                    let _ = tx.send(Frame::new(kind, d.to_vec()));
                }))
            })
            .collect();
        let state = ExecState {
            container: c.id.to_string(),
            pid,
            output: out_tx,
            pumps,
        };
        let early = {
            let mut execs = self.inner.execs.lock().unwrap_or_else(|p| p.into_inner());
            execs.insert(exec_id.clone(), state);
            self.inner
                .early_exec_exits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&exec_id)
        };
        if let Some(code) = early {
            let rt = self.clone();
            let eid = exec_id.clone();
            tokio::spawn(async move { rt.on_exec_exit(&eid, code).await });
        }
        let rt = self.clone();
        let (cid, eid) = (c.id.to_string(), exec_id.clone());
        tokio::spawn(async move { rt.feed_exec(cid, eid, stdin, in_rx).await });
        Ok(Session {
            id: exec_id,
            output: out_rx,
            input: in_tx,
        })
    }

    async fn feed_exec(
        &self,
        cid: String,
        eid: String,
        stdin: Option<OwnedFd>,
        mut input: mpsc::UnboundedReceiver<Frame>,
    ) {
        // Own the only copy: dropping the writer must be what closes the process's stdin.
        let mut writer = stdin.as_ref().and_then(writer);
        drop(stdin);
        while let Some(frame) = input.recv().await {
            match frame.kind {
                FrameKind::Stdin => {
                    if let Some(w) = writer.as_mut() {
                        if w.write_all(&frame.data).await.is_err() {
                            writer = None;
                        }
                    }
                }
                FrameKind::CloseStdin => writer = None,
                FrameKind::Resize => {
                    if let Ok(sz) = serde_json::from_slice::<skiff_types::Resize>(&frame.data) {
                        let _ = self
                            .inner
                            .keeper
                            .resize(&cid, Some(&eid), sz.rows, sz.cols)
                            .await;
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) async fn on_exec_exit(&self, exec_id: &str, exit_code: i32) {
        let state = {
            let mut execs = self.inner.execs.lock().unwrap_or_else(|p| p.into_inner());
            let state = execs.remove(exec_id);
            if state.is_none() {
                // Not registered yet: `exec` finishes the job when it is.
                self.inner
                    .early_exec_exits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(exec_id.to_owned(), exit_code);
            }
            state
        };
        let Some(state) = state else { return };
        for p in state.pumps {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), p).await;
        }
        let _ = state.output.send(Frame::control(&Control::Exit {
            exit_code,
            oom_killed: false,
        }));
        let _ = self
            .inner
            .keeper
            .forget(&state.container, Some(exec_id))
            .await;
    }

    /// `logs`: past records, then (with follow) new output until the container exits.
    pub async fn logs(
        &self,
        r: &str,
        opts: LogOptions,
    ) -> Result<mpsc::UnboundedReceiver<Frame>, ApiError> {
        let c = self.resolve(r)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (live_tx, mut live_rx) = mpsc::unbounded_channel();
        let past = {
            // Read and subscribe under the hub lock: no line is missed or doubled.
            let mut hub = c.hub();
            let past = read_all(&c.dir.log(), self.cfg().log_max_files).map_err(internal)?;
            let alive = c.rec().state.status.is_alive();
            if opts.follow && alive {
                hub.subscribers.push(live_tx);
            }
            past
        };
        let (want_out, want_err) = if !opts.stdout && !opts.stderr {
            (true, true)
        } else {
            (opts.stdout, opts.stderr)
        };
        for rec in select(past, want_out, want_err, opts.tail) {
            let mut data = Vec::new();
            if opts.timestamps {
                data.extend_from_slice(rec.time_rfc3339().as_bytes());
                data.push(b' ');
            }
            data.extend_from_slice(rec.log.as_bytes());
            let _ = tx.send(Frame::new(frame_kind(rec.stream), data));
        }
        tokio::spawn(async move {
            while let Some(f) = live_rx.recv().await {
                let wanted = match f.kind {
                    FrameKind::Stdout => want_out,
                    FrameKind::Stderr => want_err,
                    _ => return,
                };
                if !wanted {
                    continue;
                }
                let data = if opts.timestamps {
                    let mut d = rfc3339_nanos(crate::fsutil::now_nanos()).into_bytes();
                    d.push(b' ');
                    d.extend_from_slice(&f.data);
                    d
                } else {
                    f.data
                };
                if tx.send(Frame::new(f.kind, data)).is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
