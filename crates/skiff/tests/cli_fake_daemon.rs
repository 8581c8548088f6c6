//! The real `skiff` binary against the real API server with an in-memory
//! engine: checks the CLI's plumbing (attach before start, output routing,
//! exit codes, `--rm`, errors) without needing root or a runtime.

use skiff_api::{serve, Engine, Session};
use skiff_types::*;
use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    specs: Mutex<HashMap<String, ContainerSpec>>,
    outputs: Mutex<HashMap<String, mpsc::Sender<Frame>>>,
}

fn unsupported() -> ApiError {
    ApiError::new(ErrorKind::Invalid, "not in this fake")
}

impl Fake {
    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_string());
    }
    fn id(&self, r: &str) -> Result<String, ApiError> {
        let specs = self.specs.lock().unwrap();
        specs
            .keys()
            .find(|id| id.starts_with(r))
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("no such container: {r}")))
    }
}

impl Engine for Fake {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId, ApiError> {
        self.log(&format!("create rm={}", spec.auto_remove));
        let id = ContainerId::from_bytes([7; 32]);
        self.specs.lock().unwrap().insert(id.to_string(), spec);
        Ok(id)
    }
    async fn start(&self, r: &str) -> Result<(), ApiError> {
        let id = self.id(r)?;
        self.log("start");
        let argv = self.specs.lock().unwrap()[&id].argv();
        if argv[0] == "nonexistent-command" {
            let msg = "exec: \"nonexistent-command\": executable file not found";
            return Err(ApiError::new(ErrorKind::Invalid, msg).with_exit_code(127));
        }
        let code: i32 = argv.last().and_then(|c| c.parse().ok()).unwrap_or(0);
        let tx = self.outputs.lock().unwrap().remove(&id);
        if let Some(tx) = tx {
            tokio::spawn(async move {
                let _ = tx.send(Frame::new(FrameKind::Stdout, "to stdout\n")).await;
                let _ = tx.send(Frame::new(FrameKind::Stderr, "to stderr\n")).await;
                let exit = Control::Exit {
                    exit_code: code,
                    oom_killed: false,
                };
                let _ = tx.send(Frame::control(&exit)).await;
            });
        }
        Ok(())
    }
    async fn attach(&self, r: &str) -> Result<Session, ApiError> {
        let id = self.id(r)?;
        self.log("attach");
        let (out_tx, out_rx) = mpsc::channel(8);
        let (in_tx, _in_rx) = mpsc::channel(8);
        self.outputs.lock().unwrap().insert(id.clone(), out_tx);
        Ok(Session {
            id,
            output: out_rx,
            input: in_tx,
        })
    }
    async fn remove(&self, r: &str, force: bool) -> Result<(), ApiError> {
        let id = self.id(r)?;
        self.log(&format!("remove force={force}"));
        self.specs.lock().unwrap().remove(&id);
        Ok(())
    }
    async fn list(&self, _all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        Err(unsupported())
    }
    async fn inspect(&self, _r: &str) -> Result<ContainerInfo, ApiError> {
        Err(unsupported())
    }
    async fn stop(&self, _r: &str, _t: Option<u32>) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn kill(&self, _r: &str, _s: i32) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn pause(&self, _r: &str) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn unpause(&self, _r: &str) -> Result<(), ApiError> {
        Err(unsupported())
    }
    async fn wait(&self, _r: &str) -> Result<WaitResponse, ApiError> {
        Err(unsupported())
    }
    async fn logs(&self, _r: &str, _o: LogOptions) -> Result<mpsc::Receiver<Frame>, ApiError> {
        Err(unsupported())
    }
    async fn stats(&self, _r: &str) -> Result<StatsSample, ApiError> {
        Err(unsupported())
    }
    async fn exec(&self, _r: &str, _s: ExecSpec) -> Result<Session, ApiError> {
        Err(unsupported())
    }
    async fn resize(&self, _r: &str, _e: Option<String>, _h: u16, _w: u16) -> Result<(), ApiError> {
        Err(unsupported())
    }
}

struct Harness {
    dir: tempfile::TempDir,
    engine: Arc<Fake>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Harness {
    fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let socket = dir.path().join("skiff.sock");
        let engine = Arc::new(Fake::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let listener_ready = std::sync::mpsc::channel();
        let (e, s, ready) = (engine.clone(), socket.clone(), listener_ready.0);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = serve(e, &s, async move {
                    let _ = stopped.await;
                });
                let _ = ready.send(());
                let _ = server.await;
            });
        });
        listener_ready.1.recv().unwrap();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Harness {
            dir,
            engine,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn skiff(&self, args: &[&str]) -> Output {
        let host = format!("unix://{}", self.dir.path().join("skiff.sock").display());
        Command::new(env!("CARGO_BIN_EXE_skiff"))
            .current_dir(self.dir.path())
            .args(["--host", &host])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn calls(&self) -> Vec<String> {
        self.engine.calls.lock().unwrap().clone()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn run_attaches_before_start_and_exits_with_the_code() {
    let h = Harness::start();
    // A relative --rootfs is resolved against the CLI's cwd.
    let out = h.skiff(&["run", "--rm", "--rootfs", "rootfs", "sh", "-c", "exit", "3"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to stdout\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to stderr\n");
    assert_eq!(
        h.calls(),
        ["create rm=true", "attach", "start", "remove force=true"]
    );
    let spec_rootfs = h.dir.path().join("rootfs");
    assert!(spec_rootfs.is_dir());
}

#[test]
fn run_reports_command_not_found_with_127() {
    let h = Harness::start();
    let out = h.skiff(&["run", "--rootfs", "rootfs", "nonexistent-command"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("skiff: Error response from daemon: exec: \"nonexistent-command\""),
        "{err}"
    );
}

#[test]
fn bad_input_fails_before_anything_is_created() {
    let h = Harness::start();
    let out = h.skiff(&["run", "--rootfs", "missing", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid --rootfs") && err.contains("missing"),
        "{err}"
    );
    let out = h.skiff(&["run", "--bogus-flag", "--rootfs", "rootfs", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    let out = h.skiff(&["run", "-m", "1k", "--rootfs", "rootfs", "/bin/true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["-H", "unix:///nonexistent/skiff.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "skiff: cannot connect to the skiff daemon at /nonexistent/skiff.sock: No such file or directory"
    );
}

#[test]
fn detached_run_prints_the_id() {
    let h = Harness::start();
    let out = h.skiff(&["run", "-d", "--rootfs", "rootfs", "sleep", "1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "07".repeat(32));
    assert_eq!(h.calls(), ["create rm=false", "start"]);
}
