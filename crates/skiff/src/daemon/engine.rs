//! `skiff_api::Engine` over `skiff_runtime::Runtime`: a straight delegation,
//! plus bridging the runtime's unbounded session channels to the API's.

use super::images;
use skiff_api::{BodyReader, BuildRequest, ByteStream, Engine, SaveRequest, Session};
use skiff_image::{ImageInfo, ImageSummary, LoadedImage, PruneReport, Removed};
use skiff_runtime::Runtime;
use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerSpec, ContainerSummary, ExecSpec, Frame,
    LogOptions, NetworkConnect, NetworkCreate, NetworkInfo, StatsSample, Volume,
    VolumeCreateRequest, VolumePruneResponse, WaitResponse,
};
use tokio::sync::mpsc;

/// The runtime, the image store, and the health verdicts `ps` and `inspect` show.
pub struct Adapter(
    pub Runtime,
    pub super::images::Images,
    pub super::services::HealthBoard,
    pub skiff_net::NetManager,
    /// The drain-aware stop (deregister, wait for watchers' acks, then signal).
    pub super::lb::drain::Drainer,
);

/// Runs a blocking skiff-net call off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, skiff_net::NetError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(skiff_types::ErrorKind::Internal, e.to_string()))?
        .map_err(super::net::api_error)
}

/// Forwards an unbounded receiver into a bounded one (backpressure to the client).
fn bounded(mut rx: mpsc::UnboundedReceiver<Frame>) -> mpsc::Receiver<Frame> {
    let (tx, out) = mpsc::channel(256);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if tx.send(f).await.is_err() {
                return;
            }
        }
    });
    out
}

fn session(s: skiff_runtime::Session) -> Session {
    let (in_tx, mut in_rx) = mpsc::channel::<Frame>(256);
    let input = s.input;
    tokio::spawn(async move {
        while let Some(f) = in_rx.recv().await {
            if input.send(f).is_err() {
                return;
            }
        }
        // Client gone: as close-stdin.
        let _ = input.send(Frame::new(skiff_types::FrameKind::CloseStdin, Vec::new()));
    });
    Session {
        id: s.id,
        output: bounded(s.output),
        input: in_tx,
    }
}

impl Engine for Adapter {
    async fn create(&self, spec: ContainerSpec) -> Result<ContainerId, ApiError> {
        self.0
            .create(images::resolve_spec(&self.1, spec).await?)
            .await
    }
    async fn start(&self, r: &str) -> Result<(), ApiError> {
        self.0.start(r).await
    }
    async fn list(&self, all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        let mut rows = self.0.list(all).await?;
        for row in rows.iter_mut() {
            if let Some(h) = self.2.get(row.id.as_str()) {
                // Docker's "Up 3 seconds (healthy)".
                if row.status == skiff_types::ContainerStatus::Running {
                    row.status_text = format!("{} ({})", row.status_text, h.status);
                }
            }
        }
        Ok(rows)
    }
    async fn inspect(&self, r: &str) -> Result<ContainerInfo, ApiError> {
        let mut info = self.0.inspect(r).await?;
        info.state.health = self.2.get(info.id.as_str());
        Ok(info)
    }
    async fn stop(&self, r: &str, timeout: Option<u32>) -> Result<(), ApiError> {
        self.4.stop(r, timeout).await
    }
    async fn kill(&self, r: &str, signal: i32) -> Result<(), ApiError> {
        self.0.kill(r, signal).await
    }
    async fn remove(&self, r: &str, force: bool) -> Result<(), ApiError> {
        self.4.remove(r, force, false).await
    }
    async fn remove_with_volumes(
        &self,
        r: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        self.4.remove(r, force, volumes).await
    }
    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume, ApiError> {
        self.0.volume_create(req).await
    }
    async fn volume_list(&self) -> Result<Vec<Volume>, ApiError> {
        self.0.volume_list().await
    }
    async fn volume_inspect(&self, name: &str) -> Result<Volume, ApiError> {
        self.0.volume_inspect(name).await
    }
    async fn volume_remove(&self, name: &str, force: bool) -> Result<(), ApiError> {
        self.0.volume_remove(name, force).await
    }
    async fn volume_prune(&self, all: bool) -> Result<VolumePruneResponse, ApiError> {
        self.0.volume_prune(all).await
    }
    async fn pause(&self, r: &str) -> Result<(), ApiError> {
        self.0.pause(r).await
    }
    async fn unpause(&self, r: &str) -> Result<(), ApiError> {
        self.0.unpause(r).await
    }
    async fn wait(&self, r: &str) -> Result<WaitResponse, ApiError> {
        self.0.wait(r).await
    }
    async fn logs(&self, r: &str, opts: LogOptions) -> Result<mpsc::Receiver<Frame>, ApiError> {
        Ok(bounded(self.0.logs(r, opts).await?))
    }
    async fn stats(&self, r: &str) -> Result<StatsSample, ApiError> {
        self.0.stats(r).await
    }
    async fn attach(&self, r: &str) -> Result<Session, ApiError> {
        Ok(session(self.0.attach(r).await?))
    }
    async fn exec(&self, r: &str, spec: ExecSpec) -> Result<Session, ApiError> {
        Ok(session(self.0.exec(r, spec).await?))
    }
    async fn resize(
        &self,
        r: &str,
        exec_id: Option<String>,
        rows: u16,
        cols: u16,
    ) -> Result<(), ApiError> {
        self.0.resize(r, exec_id, rows, cols).await
    }

    async fn image_pull(
        &self,
        req: skiff_api::PullRequest,
    ) -> Result<mpsc::Receiver<skiff_api::RegistryLine>, ApiError> {
        super::registry::pull(req).await
    }
    async fn image_push(
        &self,
        r: &str,
        req: skiff_api::PushRequest,
    ) -> Result<mpsc::Receiver<skiff_api::RegistryLine>, ApiError> {
        super::registry::push(r, req).await
    }
    async fn images(&self) -> Result<Vec<ImageSummary>, ApiError> {
        images::list(&self.1).await
    }
    async fn image_inspect(&self, r: &str) -> Result<ImageInfo, ApiError> {
        images::inspect(&self.1, r).await
    }
    async fn image_tag(&self, r: &str, target: &str) -> Result<(), ApiError> {
        images::tag(&self.1, r, target).await
    }
    async fn image_remove(&self, r: &str, force: bool) -> Result<Vec<Removed>, ApiError> {
        images::remove(&self.1, &self.0, r, force).await
    }
    async fn image_prune(&self) -> Result<PruneReport, ApiError> {
        images::prune(&self.1, &self.0).await
    }
    async fn image_load(&self, body: BodyReader) -> Result<Vec<LoadedImage>, ApiError> {
        images::load(&self.1, body).await
    }
    async fn image_save(&self, req: SaveRequest) -> Result<ByteStream, ApiError> {
        images::save(&self.1, req).await
    }
    async fn build(&self, req: BuildRequest, context: BodyReader) -> Result<ByteStream, ApiError> {
        let runner = super::build::RuntimeRunner {
            rt: self.0.clone(),
            root: self.1.dir().parent().unwrap_or(self.1.dir()).to_path_buf(),
            handle: tokio::runtime::Handle::current(),
        };
        super::build::start(&self.1, runner, req, context)
    }
    async fn network_create(&self, req: NetworkCreate) -> Result<NetworkInfo, ApiError> {
        let net = self.3.clone();
        blocking(move || net.create(req)).await
    }
    async fn network_list(&self) -> Result<Vec<NetworkInfo>, ApiError> {
        let net = self.3.clone();
        blocking(move || Ok(net.list())).await
    }
    async fn network_inspect(&self, r: &str) -> Result<NetworkInfo, ApiError> {
        let (net, r) = (self.3.clone(), r.to_string());
        blocking(move || net.inspect(&r)).await
    }
    async fn network_remove(&self, r: &str) -> Result<(), ApiError> {
        let (net, r) = (self.3.clone(), r.to_string());
        blocking(move || net.remove(&r)).await
    }
    async fn network_connect(&self, r: &str, req: NetworkConnect) -> Result<(), ApiError> {
        let info = self.0.inspect(&req.container).await?;
        let (net, r) = (self.3.clone(), r.to_string());
        blocking(move || {
            // A running container is plugged in now, through its own namespace.
            let ns = match info.state.status.is_alive() && info.state.pid > 0 {
                true => Some(
                    std::fs::File::open(format!("/proc/{}/ns/net", info.state.pid))
                        .map_err(skiff_net::NetError::io("open the container's namespace"))?,
                ),
                false => None,
            };
            net.connect(
                &r,
                skiff_net::connect::ConnectRequest {
                    id: info.id.as_str(),
                    name: info.name.trim_start_matches('/'),
                    aliases: req.aliases,
                    netns: ns.as_ref().map(std::os::fd::AsFd::as_fd),
                },
            )
        })
        .await
    }
    async fn network_disconnect(&self, r: &str, container: &str) -> Result<(), ApiError> {
        let info = self.0.inspect(container).await?;
        let (net, r) = (self.3.clone(), r.to_string());
        blocking(move || net.disconnect(&r, info.id.as_str())).await
    }
}
