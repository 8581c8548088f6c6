//! The `Engine` trait: everything the API asks of the container runtime.
//!
//! The daemon implements it over the real runtime; the router only translates
//! HTTP to these calls and back. `r` is always the `{ref}` path segment (a full
//! id, a unique id prefix, or a name): the engine resolves it.

use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerSpec, ContainerSummary, ErrorKind, ExecSpec,
    Frame, LogOptions, NetworkConnect, NetworkCreate, NetworkInfo, StatsSample, WaitResponse,
};
use std::future::Future;
use tokio::sync::mpsc;

/// An attached or exec'd process as the engine hands it to the API.
#[derive(Debug)]
pub struct Session {
    /// The exec id (for `resize?exec_id=`), or the container id for attach.
    pub id: String,
    /// Stdout, stderr and control frames; ends after the control exit frame.
    pub output: mpsc::Receiver<Frame>,
    /// Stdin, resize and close-stdin frames from the client. Dropped when the
    /// client goes away (treat as close-stdin).
    pub input: mpsc::Sender<Frame>,
}

/// The container runtime as the API sees it.
pub trait Engine: Send + Sync + 'static {
    /// Creates (does not start) a container.
    fn create(
        &self,
        spec: ContainerSpec,
    ) -> impl Future<Output = Result<ContainerId, ApiError>> + Send;
    fn start(&self, r: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Running (and paused) containers, or all of them.
    fn list(
        &self,
        all: bool,
    ) -> impl Future<Output = Result<Vec<ContainerSummary>, ApiError>> + Send;
    fn inspect(&self, r: &str) -> impl Future<Output = Result<ContainerInfo, ApiError>> + Send;
    /// SIGTERM, then SIGKILL after `timeout` seconds (None: the spec's stop_timeout or 10).
    fn stop(
        &self,
        r: &str,
        timeout: Option<u32>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn kill(&self, r: &str, signal: i32) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn remove(&self, r: &str, force: bool) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn pause(&self, r: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn unpause(&self, r: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Resolves once the container has exited (at once if it already has).
    fn wait(&self, r: &str) -> impl Future<Output = Result<WaitResponse, ApiError>> + Send;
    /// Log frames (stdout/stderr kinds); the receiver ends at EOF (or, with
    /// follow, once the container exited and its pipes drained).
    fn logs(
        &self,
        r: &str,
        opts: LogOptions,
    ) -> impl Future<Output = Result<mpsc::Receiver<Frame>, ApiError>> + Send;
    fn stats(&self, r: &str) -> impl Future<Output = Result<StatsSample, ApiError>> + Send;
    /// Attaches to the container's init (works before start: nothing is missed).
    fn attach(&self, r: &str) -> impl Future<Output = Result<Session, ApiError>> + Send;
    fn exec(
        &self,
        r: &str,
        spec: ExecSpec,
    ) -> impl Future<Output = Result<Session, ApiError>> + Send;
    /// Resizes the tty of the init, or of the exec `exec_id`.
    fn resize(
        &self,
        r: &str,
        exec_id: Option<String>,
        rows: u16,
        cols: u16,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// `run` in one request: create, attach (before start, so nothing is missed), start.
    /// The session's id is the container's. If the start fails, a container that asked
    /// for `--rm` is removed again; otherwise it stays, as Docker leaves it.
    fn run(&self, spec: ContainerSpec) -> impl Future<Output = Result<Session, ApiError>> + Send {
        async move {
            let auto_remove = spec.auto_remove;
            let id = self.create(spec).await?;
            let session = match self.attach(id.as_str()).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = self.remove(id.as_str(), true).await;
                    return Err(e);
                }
            };
            if let Err(e) = self.start(id.as_str()).await {
                if auto_remove {
                    let _ = self.remove(id.as_str(), true).await;
                }
                return Err(e);
            }
            Ok(session)
        }
    }

    // Networks. An engine without networking (test fakes) answers Unavailable.

    fn network_create(
        &self,
        _req: NetworkCreate,
    ) -> impl Future<Output = Result<NetworkInfo, ApiError>> + Send {
        async { Err(no_networking()) }
    }
    fn network_list(&self) -> impl Future<Output = Result<Vec<NetworkInfo>, ApiError>> + Send {
        async { Err(no_networking()) }
    }
    fn network_inspect(
        &self,
        _r: &str,
    ) -> impl Future<Output = Result<NetworkInfo, ApiError>> + Send {
        async { Err(no_networking()) }
    }
    fn network_remove(&self, _r: &str) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Err(no_networking()) }
    }
    fn network_connect(
        &self,
        _r: &str,
        _req: NetworkConnect,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Err(no_networking()) }
    }
    fn network_disconnect(
        &self,
        _r: &str,
        _container: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Err(no_networking()) }
    }
}

fn no_networking() -> ApiError {
    ApiError::new(ErrorKind::Unavailable, "this engine has no networking")
}
