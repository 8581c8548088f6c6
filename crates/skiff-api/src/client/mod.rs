//! The synchronous typed client the CLI uses: std unix sockets and a tiny
//! HTTP/1.1 client, no async runtime (CLI start-up time matters).

mod http;
mod images;
mod jobs;
mod lbs;
mod networks;
mod registry;
mod services;
mod stream;
mod volumes;

pub use registry::RegistryLines;
pub use services::ServiceUpdates;
pub use stream::{LogFrames, Stream};

use crate::stream::SESSION_HEADER;
use http::{enc, request_bytes, Conn, Head};
use serde::de::DeserializeOwned;
use serde::Serialize;
use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerSpec, ContainerSummary, CreatedResponse,
    ErrorKind, ExecSpec, LogOptions, PingResponse, StatsSample, WaitResponse,
};
use std::io;
use std::path::{Path, PathBuf};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers on the socket.
    #[error("cannot connect to the skiff daemon at {}: {}", .socket.display(), io_text(.source))]
    Unreachable { socket: PathBuf, source: io::Error },
    /// The connection broke mid-request.
    #[error("connection to the skiff daemon at {} failed: {}", .socket.display(), io_text(.source))]
    Io { socket: PathBuf, source: io::Error },
    /// The daemon answered with an error.
    #[error("{0}")]
    Api(ApiError),
    /// The daemon's answer made no sense.
    #[error("protocol error talking to the skiff daemon: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The daemon is not running at all (no socket file, or nobody listening):
    /// the case where the CLI may start one.
    pub fn daemon_absent(&self) -> bool {
        matches!(self, ClientError::Unreachable { source, .. }
            if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused))
    }
}

/// An io::Error's text without the " (os error N)" suffix.
fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

type Result<T> = std::result::Result<T, ClientError>;

/// A client of one daemon socket. Each call is one connection.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            socket: self.socket.clone(),
            source,
        }
    }

    /// Sends a request and reads the head of the answer.
    fn call(
        &self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
        upgrade: bool,
    ) -> Result<(Conn, Head)> {
        let mut conn = Conn::connect(&self.socket).map_err(|source| ClientError::Unreachable {
            socket: self.socket.clone(),
            source,
        })?;
        conn.send(&request_bytes(method, target, body, upgrade))
            .map_err(|e| self.io(e))?;
        let head = conn.read_head().map_err(|e| self.io(e))?;
        Ok((conn, head))
    }

    /// A whole request: the body on 2xx, an `Api` error otherwise.
    fn request(&self, method: &str, target: &str, body: Option<&[u8]>) -> Result<Vec<u8>> {
        let (conn, head) = self.call(method, target, body, false)?;
        let bytes = conn
            .body(&head)
            .and_then(|b| b.read_all())
            .map_err(|e| self.io(e))?;
        if (200..300).contains(&head.status) {
            Ok(bytes)
        } else {
            Err(api_error(head.status, &bytes))
        }
    }

    fn json<T: DeserializeOwned>(
        &self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
    ) -> Result<T> {
        let bytes = self.request(method, target, body)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("bad answer to {method} {target}: {e}")))
    }

    fn upgrade(&self, target: &str, body: Option<&[u8]>) -> Result<Stream> {
        let (conn, head) = self.call("POST", target, body, true)?;
        if head.status != 101 {
            let bytes = conn
                .body(&head)
                .and_then(|b| b.read_all())
                .map_err(|e| self.io(e))?;
            if (200..300).contains(&head.status) {
                return Err(ClientError::Protocol(format!(
                    "{target} answered {} instead of 101",
                    head.status
                )));
            }
            return Err(api_error(head.status, &bytes));
        }
        let id = head.header(SESSION_HEADER).unwrap_or_default().to_string();
        let leftover = conn.reader.buffer().to_vec();
        Stream::new(conn.reader.into_inner(), &leftover, id)
    }

    pub fn ping(&self) -> Result<PingResponse> {
        self.json("GET", "/v1/ping", None)
    }

    /// Creates a container (not started); returns its id.
    pub fn create(&self, spec: &ContainerSpec) -> Result<ContainerId> {
        let body = to_json(spec)?;
        let created: CreatedResponse = self.json("POST", "/v1/containers", Some(&body))?;
        Ok(created.id)
    }

    pub fn start(&self, r: &str) -> Result<()> {
        self.request("POST", &format!("/v1/containers/{}/start", enc(r)), None)
            .map(drop)
    }

    pub fn list(&self, all: bool) -> Result<Vec<ContainerSummary>> {
        self.json(
            "GET",
            &format!("/v1/containers?all={}", u8::from(all)),
            None,
        )
    }

    pub fn inspect(&self, r: &str) -> Result<ContainerInfo> {
        self.json("GET", &format!("/v1/containers/{}", enc(r)), None)
    }

    pub fn stop(&self, r: &str, timeout: Option<u32>) -> Result<()> {
        let q = timeout.map(|t| format!("?t={t}")).unwrap_or_default();
        self.request("POST", &format!("/v1/containers/{}/stop{q}", enc(r)), None)
            .map(drop)
    }

    /// Sends `signal` (a name like `TERM`/`SIGTERM` or a number; None = KILL).
    pub fn kill(&self, r: &str, signal: Option<&str>) -> Result<()> {
        let q = signal
            .map(|s| format!("?signal={}", enc(s)))
            .unwrap_or_default();
        self.request("POST", &format!("/v1/containers/{}/kill{q}", enc(r)), None)
            .map(drop)
    }

    pub fn remove(&self, r: &str, force: bool) -> Result<()> {
        let q = if force { "?force=1" } else { "" };
        self.request("DELETE", &format!("/v1/containers/{}{q}", enc(r)), None)
            .map(drop)
    }

    pub fn pause(&self, r: &str) -> Result<()> {
        self.request("POST", &format!("/v1/containers/{}/pause", enc(r)), None)
            .map(drop)
    }

    pub fn unpause(&self, r: &str) -> Result<()> {
        self.request("POST", &format!("/v1/containers/{}/unpause", enc(r)), None)
            .map(drop)
    }

    /// Blocks until the container has exited.
    pub fn wait(&self, r: &str) -> Result<WaitResponse> {
        self.json("POST", &format!("/v1/containers/{}/wait", enc(r)), None)
    }

    /// The container's logs as frames (stdout/stderr kinds).
    pub fn logs(&self, r: &str, opts: &LogOptions) -> Result<LogFrames> {
        let mut q = format!(
            "follow={}&timestamps={}&stdout={}&stderr={}",
            u8::from(opts.follow),
            u8::from(opts.timestamps),
            u8::from(opts.stdout),
            u8::from(opts.stderr)
        );
        if let Some(n) = opts.tail {
            q.push_str(&format!("&tail={n}"));
        }
        let target = format!("/v1/containers/{}/logs?{q}", enc(r));
        let (conn, head) = self.call("GET", &target, None, false)?;
        let body = conn.body(&head).map_err(|e| self.io(e))?;
        if !(200..300).contains(&head.status) {
            let bytes = body.read_all().map_err(|e| self.io(e))?;
            return Err(api_error(head.status, &bytes));
        }
        Ok(LogFrames::new(body))
    }

    pub fn stats(&self, r: &str) -> Result<StatsSample> {
        self.json("GET", &format!("/v1/containers/{}/stats", enc(r)), None)
    }

    /// Attaches to the container's init (before start: nothing is missed).
    pub fn attach(&self, r: &str) -> Result<Stream> {
        self.upgrade(&format!("/v1/containers/{}/attach", enc(r)), None)
    }

    /// Creates, attaches to and starts a container in one request; the stream's
    /// session id is the container's id and its last frame is the exit.
    pub fn run(&self, spec: &ContainerSpec) -> Result<Stream> {
        let body = to_json(spec)?;
        self.upgrade("/v1/run", Some(&body))
    }

    /// Runs a process in the container; the stream's last frame is its exit.
    pub fn exec(&self, r: &str, spec: &ExecSpec) -> Result<Stream> {
        let body = to_json(spec)?;
        self.upgrade(&format!("/v1/containers/{}/exec", enc(r)), Some(&body))
    }

    /// Resizes the tty of the init, or of exec `exec_id`.
    pub fn resize(&self, r: &str, exec_id: Option<&str>, rows: u16, cols: u16) -> Result<()> {
        let mut target = format!("/v1/containers/{}/resize?h={rows}&w={cols}", enc(r));
        if let Some(id) = exec_id {
            target.push_str(&format!("&exec_id={}", enc(id)));
        }
        self.request("POST", &target, None).map(drop)
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| ClientError::Protocol(format!("cannot encode request: {e}")))
}

/// The error of a non-2xx answer: its `ApiError` body, or one made from the status.
fn api_error(status: u16, body: &[u8]) -> ClientError {
    if let Ok(e) = serde_json::from_slice::<ApiError>(body) {
        return ClientError::Api(e);
    }
    let kind = match status {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        400..=499 => ErrorKind::Invalid,
        503 => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    let text = String::from_utf8_lossy(body);
    let msg = if text.trim().is_empty() {
        format!("HTTP status {status}")
    } else {
        text.trim().to_string()
    };
    ClientError::Api(ApiError::new(kind, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_reads_like_docker() {
        let e = Client::new("/nonexistent/skiff.sock").ping().unwrap_err();
        assert!(e.daemon_absent());
        assert_eq!(
            e.to_string(),
            "cannot connect to the skiff daemon at /nonexistent/skiff.sock: No such file or directory"
        );
    }

    #[test]
    fn non_json_errors_keep_their_status_kind() {
        match api_error(409, b"busy") {
            ClientError::Api(e) => {
                assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Conflict, "busy"))
            }
            other => panic!("{other:?}"),
        }
    }
}
