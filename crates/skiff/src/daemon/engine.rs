//! `skiff_api::Engine` over `skiff_runtime::Runtime`: a straight delegation,
//! plus bridging the runtime's unbounded session channels to the API's.

use skiff_api::{Engine, Session};
use skiff_runtime::Runtime;
use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerSpec, ContainerSummary, ExecSpec, Frame,
    LogOptions, StatsSample, WaitResponse,
};
use tokio::sync::mpsc;

/// The runtime, plus the health verdicts `ps` and `inspect` show.
pub struct Adapter(pub Runtime, pub super::services::HealthBoard);

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
        self.0.create(spec).await
    }
    async fn start(&self, r: &str) -> Result<(), ApiError> {
        self.0.start(r).await
    }
    async fn list(&self, all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        let mut rows = self.0.list(all).await?;
        for row in rows.iter_mut() {
            if let Some(h) = self.1.get(row.id.as_str()) {
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
        info.state.health = self.1.get(info.id.as_str());
        Ok(info)
    }
    async fn stop(&self, r: &str, timeout: Option<u32>) -> Result<(), ApiError> {
        self.0.stop(r, timeout).await
    }
    async fn kill(&self, r: &str, signal: i32) -> Result<(), ApiError> {
        self.0.kill(r, signal).await
    }
    async fn remove(&self, r: &str, force: bool) -> Result<(), ApiError> {
        self.0.remove(r, force).await
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
}
