//! The image routes of API.md (`/v1/images/...`, `/v1/build`) and the plumbing between
//! HTTP bodies and the image store's blocking readers and writers: a request body read as a
//! `std::io::Read` on a blocking thread ([`BodyReader`]), and an answer streamed from a
//! blocking `std::io::Write` ([`ChannelWriter`] -> [`ByteStream`] -> [`ByteBody`]).

use crate::engine::Engine;
use crate::router::ErrorResponse;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use skiff_types::{ApiError, ErrorKind};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// A request body as a blocking reader: read it on a blocking thread only.
pub type BodyReader = Box<dyn io::Read + Send>;

/// The chunks of a streamed answer; an `Err` cuts the stream (the client sees it broken).
pub type ByteStream = mpsc::Receiver<Result<Bytes, String>>;

/// `GET /v1/images/save`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveRequest {
    pub references: Vec<String>,
    /// `docker-archive` (default) or `oci-archive`.
    pub format: String,
}

/// `POST /v1/build` (query parameters, as Docker's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildRequest {
    /// `-t`: names for the result.
    pub tags: Vec<String>,
    /// `-f`: the Containerfile's path inside the context (default: Containerfile, then
    /// Dockerfile).
    pub file: Option<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
}

/// The routes, merged into the main router.
pub(crate) fn routes<E: Engine>(r: Router<Arc<E>>) -> Router<Arc<E>> {
    r.route("/v1/images", get(list::<E>))
        .route("/v1/images/load", post(load::<E>))
        .route("/v1/images/save", get(save::<E>))
        .route("/v1/images/prune", post(prune::<E>))
        .route("/v1/images/{ref}", get(inspect::<E>).delete(remove::<E>))
        .route("/v1/images/{ref}/tag", post(tag::<E>))
        .route("/v1/build", post(build::<E>))
}

type ApiResult<T> = Result<T, ErrorResponse>;
type Q = Query<HashMap<String, String>>;

fn invalid(msg: impl Into<String>) -> ErrorResponse {
    ErrorResponse(ApiError::new(ErrorKind::Invalid, msg))
}

fn truthy(q: &HashMap<String, String>, key: &str) -> bool {
    matches!(
        q.get(key).map(|v| v.to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes")
    )
}

async fn list<E: Engine>(State(e): State<Arc<E>>) -> ApiResult<Response> {
    Ok(Json(e.images().await?).into_response())
}

async fn inspect<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.image_inspect(&r).await?).into_response())
}

async fn tag<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let target = q
        .get("target")
        .ok_or_else(|| invalid("tag needs target= (the new name)"))?;
    e.image_tag(&r, target).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    Ok(Json(e.image_remove(&r, truthy(&q, "force")).await?).into_response())
}

async fn prune<E: Engine>(State(e): State<Arc<E>>) -> ApiResult<Response> {
    Ok(Json(e.image_prune().await?).into_response())
}

async fn load<E: Engine>(State(e): State<Arc<E>>, req: Request) -> ApiResult<Response> {
    let reader = body_reader(req.into_body());
    Ok(Json(e.image_load(reader).await?).into_response())
}

async fn save<E: Engine>(State(e): State<Arc<E>>, Query(q): Q) -> ApiResult<Response> {
    let references: Vec<String> = q
        .get("ref")
        .map(|r| {
            r.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if references.is_empty() {
        return Err(invalid(
            "save needs ref= (one or more images, comma-separated)",
        ));
    }
    let format = q
        .get("format")
        .cloned()
        .unwrap_or_else(|| "docker-archive".into());
    let rx = e.image_save(SaveRequest { references, format }).await?;
    Ok(stream_response(rx, "application/x-tar"))
}

async fn build<E: Engine>(
    State(e): State<Arc<E>>,
    Query(q): Q,
    req: Request,
) -> ApiResult<Response> {
    let build_args = match q.get("buildargs") {
        Some(j) => serde_json::from_str(j)
            .map_err(|err| invalid(format!("buildargs must be a JSON object: {err}")))?,
        None => BTreeMap::new(),
    };
    let request = BuildRequest {
        tags: q
            .get("t")
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        file: q.get("dockerfile").cloned(),
        build_args,
        target: q.get("target").cloned().filter(|t| !t.is_empty()),
        no_cache: truthy(&q, "nocache"),
    };
    let reader = body_reader(req.into_body());
    let rx = e.build(request, reader).await?;
    Ok(stream_response(rx, "text/plain; charset=utf-8"))
}

fn stream_response(rx: ByteStream, content_type: &'static str) -> Response {
    let mut resp = Response::new(Body::new(ByteBody { rx }));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An answer body fed from a [`ByteStream`].
struct ByteBody {
    rx: ByteStream,
}

impl http_body::Body for ByteBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(io::Error::other(e)))),
        }
    }
}

/// A request body as a blocking reader: a task pumps the body into a small channel.
fn body_reader(body: Body) -> BodyReader {
    let (tx, rx) = mpsc::channel::<Result<Bytes, String>>(16);
    tokio::spawn(async move {
        let mut body = std::pin::pin!(body);
        loop {
            let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(body.as_mut(), cx));
            match frame.await {
                None => return,
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if tx.send(Ok(data)).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(format!("request body: {e}"))).await;
                    return;
                }
            }
        }
    });
    Box::new(ChannelReader {
        rx,
        cur: Bytes::new(),
    })
}

struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

impl io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// A blocking writer whose bytes become a [`ByteStream`] (write it on a blocking thread).
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, String>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl ChannelWriter {
    /// A writer and the stream its bytes come out of.
    pub fn new() -> (ChannelWriter, ByteStream) {
        let (tx, rx) = mpsc::channel(8);
        (
            ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
            },
            rx,
        )
    }

    /// Ends the stream with an error (the client sees a broken answer).
    pub fn fail(mut self, msg: String) {
        self.buf.clear();
        let _ = self.tx.blocking_send(Err(msg));
    }

    fn push(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.push()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.push()
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.push();
    }
}
