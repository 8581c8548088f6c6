//! The router served on a real unix socket, driven by the real sync client.
//! The engine is a small in-memory fake: what is under test is the HTTP
//! mapping, the upgrade and the framing, not a runtime.

use skiff_api::{serve, Client, ClientError, Engine, Session};
use skiff_types::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

#[derive(Default)]
struct Fake {
    containers: Mutex<BTreeMap<String, (ContainerSpec, ContainerStatus)>>,
    kills: Mutex<Vec<(String, i32)>>,
    resizes: Mutex<Vec<(Option<String>, u16, u16)>>,
}

fn not_found(r: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, format!("no such container: {r}"))
}

impl Fake {
    fn resolve(&self, r: &str) -> Result<String, ApiError> {
        let map = self.containers.lock().unwrap();
        map.iter()
            .find(|(id, (spec, _))| id.starts_with(r) || spec.name.as_deref() == Some(r))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| not_found(r))
    }

    fn set(&self, r: &str, s: ContainerStatus) -> Result<(), ApiError> {
        let id = self.resolve(r)?;
        self.containers.lock().unwrap().get_mut(&id).unwrap().1 = s;
        Ok(())
    }

    fn summary(id: &str, spec: &ContainerSpec, status: ContainerStatus) -> ContainerSummary {
        ContainerSummary {
            id: ContainerId::parse(id).unwrap(),
            name: spec.name.clone().unwrap_or_default(),
            command: spec.argv().join(" "),
            created: 1,
            status,
            status_text: status.to_string(),
            exit_code: 0,
            pid: 0,
        }
    }
}

impl Engine for Fake {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId, ApiError> {
        if spec.rootfs.is_empty() {
            return Err(ApiError::new(ErrorKind::Invalid, "no rootfs"));
        }
        let mut map = self.containers.lock().unwrap();
        let id = ContainerId::from_bytes([map.len() as u8 + 1; 32]);
        map.insert(id.to_string(), (spec, ContainerStatus::Created));
        Ok(id)
    }
    async fn start(&self, r: &str) -> Result<(), ApiError> {
        self.set(r, ContainerStatus::Running)
    }
    async fn list(&self, all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        let map = self.containers.lock().unwrap();
        Ok(map
            .iter()
            .filter(|(_, (_, s))| all || s.is_alive())
            .map(|(id, (spec, s))| Fake::summary(id, spec, *s))
            .collect())
    }
    async fn inspect(&self, r: &str) -> Result<ContainerInfo, ApiError> {
        let id = self.resolve(r)?;
        let map = self.containers.lock().unwrap();
        let (spec, status) = map.get(&id).unwrap().clone();
        let mut state = ContainerState::created();
        state.status = status;
        Ok(ContainerInfo {
            id: ContainerId::parse(&id).unwrap(),
            name: spec.name.clone().unwrap_or_default(),
            created: 1,
            config: spec,
            state,
            restart_count: 0,
            log_path: String::new(),
            cgroup: String::new(),
            addresses: Vec::new(),
        })
    }
    async fn stop(&self, r: &str, _t: Option<u32>) -> Result<(), ApiError> {
        self.set(r, ContainerStatus::Exited)
    }
    async fn kill(&self, r: &str, signal: i32) -> Result<(), ApiError> {
        let id = self.resolve(r)?;
        self.kills.lock().unwrap().push((id, signal));
        Ok(())
    }
    async fn remove(&self, r: &str, force: bool) -> Result<(), ApiError> {
        let id = self.resolve(r)?;
        let mut map = self.containers.lock().unwrap();
        let status = map.get(&id).unwrap().1;
        status
            .can_remove(force)
            .map_err(|e| ApiError::new(ErrorKind::Conflict, e.to_string()))?;
        map.remove(&id);
        Ok(())
    }
    async fn pause(&self, r: &str) -> Result<(), ApiError> {
        self.set(r, ContainerStatus::Paused)
    }
    async fn unpause(&self, r: &str) -> Result<(), ApiError> {
        self.set(r, ContainerStatus::Running)
    }
    async fn wait(&self, r: &str) -> Result<WaitResponse, ApiError> {
        self.resolve(r)?;
        Ok(WaitResponse {
            exit_code: 3,
            oom_killed: false,
        })
    }
    async fn logs(&self, r: &str, opts: LogOptions) -> Result<mpsc::Receiver<Frame>, ApiError> {
        self.resolve(r)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            // More frames than the channel holds, so the body really streams.
            for i in 0..50 {
                let kind = if i % 2 == 0 {
                    FrameKind::Stdout
                } else {
                    FrameKind::Stderr
                };
                if (kind == FrameKind::Stdout && !opts.stdout)
                    || (kind == FrameKind::Stderr && !opts.stderr)
                {
                    continue;
                }
                let _ = tx.send(Frame::new(kind, format!("line {i}\n"))).await;
            }
        });
        Ok(rx)
    }
    async fn stats(&self, r: &str) -> Result<StatsSample, ApiError> {
        let id = self.resolve(r)?;
        Ok(StatsSample {
            id: ContainerId::parse(&id).unwrap(),
            name: String::new(),
            read_at: 1,
            cpu_usage_ns: 2,
            memory_usage: 3,
            memory_limit: None,
            pids: 1,
        })
    }
    async fn attach(&self, r: &str) -> Result<Session, ApiError> {
        let id = self.resolve(r)?;
        Ok(echo_session(id, 0))
    }
    async fn exec(&self, r: &str, spec: ExecSpec) -> Result<Session, ApiError> {
        self.resolve(r)?;
        if spec.cmd.first().map(String::as_str) == Some("nope") {
            return Err(ApiError::new(ErrorKind::Invalid, "nope: not found").with_exit_code(127));
        }
        Ok(echo_session("exec-1".into(), spec.cmd.len() as i32))
    }
    async fn resize(
        &self,
        r: &str,
        exec_id: Option<String>,
        rows: u16,
        cols: u16,
    ) -> Result<(), ApiError> {
        self.resolve(r)?;
        self.resizes.lock().unwrap().push((exec_id, rows, cols));
        Ok(())
    }
}

/// Echoes stdin to stdout (upper-cased on stderr), reports resizes on
/// stdout, and exits with `code` after close-stdin.
fn echo_session(id: String, code: i32) -> Session {
    let (in_tx, mut in_rx) = mpsc::channel::<Frame>(8);
    let (out_tx, out_rx) = mpsc::channel::<Frame>(8);
    tokio::spawn(async move {
        while let Some(f) = in_rx.recv().await {
            match f.kind {
                FrameKind::Stdin => {
                    let _ = out_tx
                        .send(Frame::new(FrameKind::Stdout, f.data.clone()))
                        .await;
                    let _ = out_tx
                        .send(Frame::new(FrameKind::Stderr, f.data.to_ascii_uppercase()))
                        .await;
                }
                FrameKind::Resize => {
                    let _ = out_tx.send(Frame::new(FrameKind::Stdout, f.data)).await;
                }
                _ => break,
            }
        }
        let _ = out_tx
            .send(Frame::control(&Control::Exit {
                exit_code: code,
                oom_killed: false,
            }))
            .await;
    });
    Session {
        id,
        output: out_rx,
        input: in_tx,
    }
}

struct Server {
    _dir: tempfile::TempDir,
    client: Client,
    engine: Arc<Fake>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/skiff.sock");
        let engine = Arc::new(Fake::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (e, s) = (engine.clone(), socket.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let fut = serve(e, &s, async move {
                    let _ = stopped.await;
                });
                let _ = ready_tx.send(());
                fut.await
            })
        });
        ready_rx.recv().unwrap();
        let client = Client::new(&socket);
        for _ in 0..500 {
            if client.ping().is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Server {
            _dir: dir,
            client,
            engine,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn spec(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: Some(name.into()),
        rootfs: "/r".into(),
        cmd: vec!["true".into()],
        ..Default::default()
    }
}

#[test]
fn lifecycle_calls_map_to_the_engine() {
    let srv = Server::start();
    let c = &srv.client;
    let ping = c.ping().unwrap();
    assert_eq!(ping.pid, std::process::id());
    let mode = std::fs::metadata(c.socket())
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
        .unwrap();
    assert_eq!(mode & 0o777, 0o600);

    let id = c.create(&spec("web")).unwrap();
    assert_eq!(c.list(false).unwrap().len(), 0);
    assert_eq!(c.list(true).unwrap().len(), 1);
    c.start("web").unwrap();
    assert_eq!(c.list(false).unwrap()[0].id, id);
    assert_eq!(c.inspect(&id.as_str()[..6]).unwrap().name, "web");
    c.pause("web").unwrap();
    assert_eq!(
        c.inspect("web").unwrap().state.status,
        ContainerStatus::Paused
    );
    c.unpause("web").unwrap();
    c.kill("web", Some("SIGTERM")).unwrap();
    c.kill("web", Some("RTMIN+3")).unwrap();
    c.kill("web", None).unwrap();
    let kills: Vec<i32> = srv
        .engine
        .kills
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.1)
        .collect();
    assert_eq!(kills, [15, 37, 9]);
    c.resize("web", Some("exec-1"), 40, 120).unwrap();
    assert_eq!(
        srv.engine.resizes.lock().unwrap()[0],
        (Some("exec-1".into()), 40, 120)
    );
    assert_eq!(c.stats("web").unwrap().memory_usage, 3);
    assert_eq!(
        c.wait("web").unwrap(),
        WaitResponse {
            exit_code: 3,
            oom_killed: false
        }
    );

    match c.remove("web", false).unwrap_err() {
        ClientError::Api(e) => {
            assert_eq!(e.kind, ErrorKind::Conflict);
            assert_eq!(e.message, "cannot remove container: it is running");
        }
        other => panic!("{other:?}"),
    }
    c.stop("web", Some(1)).unwrap();
    c.remove("web", false).unwrap();
    match c.inspect("web").unwrap_err() {
        ClientError::Api(e) => assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::NotFound, "no such container: web")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_is_an_invalid_error() {
    let srv = Server::start();
    let c = &srv.client;
    let e = c.create(&ContainerSpec::default()).unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Api(ApiError {
                kind: ErrorKind::Invalid,
                ..
            })
        ),
        "{e:?}"
    );
    c.create(&spec("a1")).unwrap();
    match c.kill("a1", Some("BOGUS")).unwrap_err() {
        ClientError::Api(e) => assert_eq!(e.message, "invalid signal \"BOGUS\""),
        other => panic!("{other:?}"),
    }
    // An exec refused before the upgrade carries its exit code.
    let exec = ExecSpec {
        cmd: vec!["nope".into()],
        ..Default::default()
    };
    match c.exec("a1", &exec).unwrap_err() {
        ClientError::Api(e) => assert_eq!(e.exit_code, Some(127)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn logs_stream_as_frames() {
    let srv = Server::start();
    let c = &srv.client;
    c.create(&spec("logger")).unwrap();
    let frames: Vec<Frame> = c
        .logs("logger", &LogOptions::default())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(frames.len(), 50);
    assert_eq!(frames[0], Frame::new(FrameKind::Stdout, "line 0\n"));
    assert_eq!(frames[49], Frame::new(FrameKind::Stderr, "line 49\n"));
    let only_err = LogOptions {
        stdout: false,
        ..Default::default()
    };
    let n = c
        .logs("logger", &only_err)
        .unwrap()
        .map(Result::unwrap)
        .filter(|f| f.kind == FrameKind::Stderr)
        .count();
    assert_eq!(n, 25);
    assert!(c.logs("missing", &LogOptions::default()).is_err());
}

#[test]
fn exec_stream_round_trips_from_two_threads() {
    let srv = Server::start();
    let c = &srv.client;
    c.create(&spec("box")).unwrap();
    let exec = ExecSpec {
        cmd: vec!["cat".into(), "-".into()],
        ..Default::default()
    };
    let mut stream = c.exec("box", &exec).unwrap();
    assert_eq!(stream.session_id(), "exec-1");
    let mut tx = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        tx.send(&Frame::new(FrameKind::Stdin, "hello\n")).unwrap();
        tx.send(&Frame::resize(24, 80)).unwrap();
        tx.send(&Frame::new(FrameKind::CloseStdin, Vec::new()))
            .unwrap();
    });
    let mut got = Vec::new();
    while let Some(f) = stream.recv().unwrap() {
        got.push(f);
    }
    sender.join().unwrap();
    assert_eq!(got[0], Frame::new(FrameKind::Stdout, "hello\n"));
    assert_eq!(got[1], Frame::new(FrameKind::Stderr, "HELLO\n"));
    assert_eq!(
        got[2],
        Frame::new(FrameKind::Stdout, r#"{"rows":24,"cols":80}"#)
    );
    let last: Control = serde_json::from_slice(&got[3].data).unwrap();
    assert_eq!(got[3].kind, FrameKind::Control);
    assert_eq!(
        last,
        Control::Exit {
            exit_code: 2,
            oom_killed: false
        }
    );
    assert_eq!(got.len(), 4);
}

#[test]
fn attach_ends_when_the_client_half_closes() {
    let srv = Server::start();
    let c = &srv.client;
    c.create(&spec("att")).unwrap();
    let mut stream = c.attach("att").unwrap();
    stream.send(&Frame::new(FrameKind::Stdin, "x")).unwrap();
    stream.close_write().unwrap();
    let kinds: Vec<FrameKind> = std::iter::from_fn(|| stream.recv().unwrap())
        .map(|f| f.kind)
        .collect();
    assert_eq!(
        kinds,
        [FrameKind::Stdout, FrameKind::Stderr, FrameKind::Control]
    );
}

#[test]
fn a_live_socket_is_not_stolen_and_unknown_paths_are_404() {
    let srv = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { skiff_api::bind(srv.client.socket()).map(drop) })
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    srv.client.ping().unwrap();
    // A stale socket file (nobody listening) is replaced.
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    rt.block_on(async { skiff_api::bind(&stale).map(drop) })
        .unwrap();
}
