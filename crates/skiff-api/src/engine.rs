//! The `Engine` trait: everything the API asks of the container runtime.
//!
//! The daemon implements it over the real runtime; the router only translates
//! HTTP to these calls and back. `r` is always the `{ref}` path segment (a full
//! id, a unique id prefix, or a name): the engine resolves it.

use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerSpec, ContainerSummary, ErrorKind, ExecSpec,
    Frame, LogOptions, NetworkConnect, NetworkCreate, NetworkInfo, StatsSample, Volume,
    VolumeCreateRequest, VolumePruneResponse, WaitResponse,
};
use std::future::Future;
use tokio::sync::mpsc;

pub use crate::images::{BodyReader, BuildRequest, ByteStream, SaveRequest};
use skiff_image::{ImageInfo, ImageSummary, LoadedImage, PruneReport, Removed};

fn no_images() -> ApiError {
    ApiError::new(
        skiff_types::ErrorKind::Unavailable,
        "this engine has no image store",
    )
}

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

    /// `rm -v`: also removes the container's anonymous volumes.
    fn remove_with_volumes(
        &self,
        r: &str,
        force: bool,
        volumes: bool,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async move {
            if volumes {
                return Err(no_volumes());
            }
            self.remove(r, force).await
        }
    }

    // Volumes (API.md `/v1/volumes`). The defaults answer "unavailable" for an engine that
    // manages no volumes (the API's test fakes); the daemon's engine implements them all.

    /// Creates a volume (an existing one of that name is returned as it is).
    fn volume_create(
        &self,
        req: VolumeCreateRequest,
    ) -> impl Future<Output = Result<Volume, ApiError>> + Send {
        let _ = req;
        async { Err(no_volumes()) }
    }
    fn volume_list(&self) -> impl Future<Output = Result<Vec<Volume>, ApiError>> + Send {
        async { Err(no_volumes()) }
    }
    fn volume_inspect(&self, name: &str) -> impl Future<Output = Result<Volume, ApiError>> + Send {
        let _ = name;
        async { Err(no_volumes()) }
    }
    /// Refuses a volume any container uses; `force` only ignores a missing volume.
    fn volume_remove(
        &self,
        name: &str,
        force: bool,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = (name, force);
        async { Err(no_volumes()) }
    }
    /// Removes unused anonymous volumes, or every unused volume with `all`.
    fn volume_prune(
        &self,
        all: bool,
    ) -> impl Future<Output = Result<VolumePruneResponse, ApiError>> + Send {
        let _ = all;
        async { Err(no_volumes()) }
    }

    /// `pull` (registry): progress lines, then one `pulled` or `error` line; the receiver
    /// ends after it. Invalid requests fail before anything is sent.
    fn image_pull(
        &self,
        req: crate::registry::PullRequest,
    ) -> impl Future<Output = Result<mpsc::Receiver<crate::registry::RegistryLine>, ApiError>> + Send
    {
        let _ = req;
        async { Err(no_registry()) }
    }
    /// `push` (registry) of the local image `r`: as `image_pull`, ending in `pushed`.
    fn image_push(
        &self,
        r: &str,
        req: crate::registry::PushRequest,
    ) -> impl Future<Output = Result<mpsc::Receiver<crate::registry::RegistryLine>, ApiError>> + Send
    {
        let _ = (r, req);
        async { Err(no_registry()) }
    }

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

    /// `images`: one row per tag.
    fn images(&self) -> impl Future<Output = Result<Vec<ImageSummary>, ApiError>> + Send {
        async { Err(no_images()) }
    }
    fn image_inspect(&self, r: &str) -> impl Future<Output = Result<ImageInfo, ApiError>> + Send {
        let _ = r;
        async { Err(no_images()) }
    }
    fn image_tag(
        &self,
        r: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        let _ = (r, target);
        async { Err(no_images()) }
    }
    /// `rmi`; an image a container uses is refused unless `force` (which only untags it).
    fn image_remove(
        &self,
        r: &str,
        force: bool,
    ) -> impl Future<Output = Result<Vec<Removed>, ApiError>> + Send {
        let _ = (r, force);
        async { Err(no_images()) }
    }
    fn image_prune(&self) -> impl Future<Output = Result<PruneReport, ApiError>> + Send {
        async { Err(no_images()) }
    }
    /// `load`: an archive read (blocking) from the request body.
    fn image_load(
        &self,
        body: BodyReader,
    ) -> impl Future<Output = Result<Vec<LoadedImage>, ApiError>> + Send {
        let _ = body;
        async { Err(no_images()) }
    }
    /// `save`: the references are checked before the stream starts (a missing image is
    /// an error answer, not a cut-off archive).
    fn image_save(
        &self,
        req: SaveRequest,
    ) -> impl Future<Output = Result<ByteStream, ApiError>> + Send {
        let _ = req;
        async { Err(no_images()) }
    }
    /// `build`: the context is a tar read (blocking) from the request body; the answer
    /// streams progress lines, then a final JSON line (see API.md).
    fn build(
        &self,
        req: BuildRequest,
        context: BodyReader,
    ) -> impl Future<Output = Result<ByteStream, ApiError>> + Send {
        let _ = (req, context);
        async { Err(no_images()) }
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

fn no_volumes() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "this engine does not manage volumes",
    )
}

/// What an engine without a registry client answers to pull and push.
fn no_registry() -> ApiError {
    ApiError::new(
        skiff_types::ErrorKind::Unavailable,
        "this engine cannot pull or push images",
    )
}

fn no_networking() -> ApiError {
    ApiError::new(ErrorKind::Unavailable, "this engine has no networking")
}
