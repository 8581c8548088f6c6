//! The registry routes of API.md: `POST /v1/images/pull` and `POST /v1/images/{ref}/push`.
//! Both answer `200` with a body of JSON lines (`application/x-ndjson`) streamed while the
//! transfer runs: `{"progress":{..}}` lines, then exactly one `{"pulled":{..}}`,
//! `{"pushed":{..}}` or `{"error":{"kind":..,"message":..}}` line. A request that is invalid
//! before anything is transferred (bad reference, unreadable CA) is a plain error answer.

use crate::engine::Engine;
use crate::router::ErrorResponse;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use skiff_image::registry::{Progress, Pulled, Pushed};
use skiff_types::{ApiError, ErrorKind};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// How to reach the registry (shared by pull and push).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryAccess {
    /// `user:password`; absent: the daemon's auth file (`ROOT/auth.json`).
    pub creds: Option<String>,
    /// A PEM CA file on the daemon's host; absent: `ROOT/certs.d/<host:port>/ca.crt`.
    pub ca: Option<String>,
    /// Speak plain HTTP to this registry (as `--insecure-registry`).
    pub insecure: bool,
}

/// `POST /v1/images/pull`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub reference: String,
    #[serde(default, flatten)]
    pub access: RegistryAccess,
}

/// `POST /v1/images/{ref}/push`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushRequest {
    /// Where to push; absent: `{ref}` itself.
    pub destination: Option<String>,
    /// Upload blobs in chunks of this many bytes (absent: one request per blob).
    pub chunk_size: Option<u64>,
    #[serde(flatten)]
    pub access: RegistryAccess,
}

/// One line of a pull or push answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryLine {
    Progress(Progress),
    Pulled(Pulled),
    Pushed(Pushed),
    Error(ApiError),
}

/// The routes, merged into the main router.
pub(crate) fn routes<E: Engine>() -> Router<Arc<E>> {
    Router::new()
        .route("/v1/images/pull", post(pull::<E>))
        .route("/v1/images/{ref}/push", post(push::<E>))
}

fn body_of<T: for<'de> Deserialize<'de> + Default>(
    body: &[u8],
    what: &str,
) -> Result<T, ErrorResponse> {
    if body.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ErrorResponse(ApiError::new(
            ErrorKind::Invalid,
            format!("invalid {what}: {e}"),
        ))
    })
}

async fn pull<E: Engine>(State(e): State<Arc<E>>, body: Bytes) -> Result<Response, ErrorResponse> {
    let req: PullRequest = serde_json::from_slice(&body).map_err(|err| {
        ErrorResponse(ApiError::new(
            ErrorKind::Invalid,
            format!("invalid pull request: {err}"),
        ))
    })?;
    Ok(lines(e.image_pull(req).await?))
}

async fn push<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    body: Bytes,
) -> Result<Response, ErrorResponse> {
    let req: PushRequest = body_of(&body, "push request")?;
    Ok(lines(e.image_push(&r, req).await?))
}

/// A `200` whose body is one JSON line per received item.
fn lines(rx: mpsc::Receiver<RegistryLine>) -> Response {
    let mut resp = Response::new(Body::new(LineBody(rx)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    resp.into_response()
}

struct LineBody(mpsc::Receiver<RegistryLine>);

impl http_body::Body for LineBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.0.poll_recv(cx) {
            Poll::Ready(Some(line)) => {
                let mut v = serde_json::to_vec(&line).unwrap_or_else(|e| {
                    format!(r#"{{"error":{{"kind":"internal","message":"{e}"}}}}"#).into_bytes()
                });
                v.push(b'\n');
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(v)))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
