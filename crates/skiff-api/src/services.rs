//! The service registry's endpoints: `GET /v1/services`,
//! `GET /v1/services/{name}` and the streaming
//! `GET /v1/services/{name}/watch?from=REV` (newline-delimited JSON
//! `ServiceUpdate`s, the first always a `Reset`). The daemon implements
//! [`ServiceDirectory`] over skiff-registry; the router only translates.

use crate::router::ErrorResponse;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use skiff_types::{ApiError, ErrorKind, ServiceInfo, ServiceList, ServiceUpdate};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// The content type of a watch stream.
pub const NDJSON: &str = "application/x-ndjson";

/// The registry as the API sees it.
pub trait ServiceDirectory: Send + Sync + 'static {
    fn services(&self) -> impl Future<Output = Result<ServiceList, ApiError>> + Send;
    /// One service; NotFound when it has no healthy instance.
    fn service(&self, name: &str) -> impl Future<Output = Result<ServiceInfo, ApiError>> + Send;
    /// Updates of one service from `from` (default: now); the first is a
    /// `Reset`. The receiver ends when the daemon shuts down.
    fn watch(
        &self,
        name: &str,
        from: Option<u64>,
    ) -> impl Future<Output = Result<mpsc::Receiver<ServiceUpdate>, ApiError>> + Send;
}

/// The routes of this module over `dir` (merged into the main router).
pub fn services_router<D: ServiceDirectory>(dir: Arc<D>) -> Router {
    Router::new()
        .route("/v1/services", get(list::<D>))
        .route("/v1/services/{name}", get(one::<D>))
        .route("/v1/services/{name}/watch", get(watch::<D>))
        .with_state(dir)
}

type ApiResult<T> = Result<T, ErrorResponse>;

async fn list<D: ServiceDirectory>(State(d): State<Arc<D>>) -> ApiResult<Response> {
    Ok(Json(d.services().await?).into_response())
}

async fn one<D: ServiceDirectory>(
    State(d): State<Arc<D>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(d.service(&name).await?).into_response())
}

async fn watch<D: ServiceDirectory>(
    State(d): State<Arc<D>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let from = match q.get("from") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ErrorResponse(ApiError::new(
                ErrorKind::Invalid,
                format!("invalid value {v:?} for query parameter \"from\""),
            ))
        })?),
    };
    let rx = d.watch(&name, from).await?;
    let mut resp = Response::new(Body::new(LinesBody { rx }));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(resp)
}

/// A body that writes each update as one JSON line as soon as it arrives.
struct LinesBody {
    rx: mpsc::Receiver<ServiceUpdate>,
}

impl http_body::Body for LinesBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(first)) => {
                let mut out = Vec::new();
                let mut push = |u: &ServiceUpdate| {
                    // Serialising plain data cannot fail.
                    let _ = serde_json::to_writer(&mut out, u);
                    out.push(b'\n');
                };
                push(&first);
                while let Ok(u) = self.rx.try_recv() {
                    push(&u);
                }
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(out)))))
            }
        }
    }
}
