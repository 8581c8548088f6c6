//! The axum router: API.md's table, one handler per row, each a thin
//! translation from HTTP to an `Engine` call and back.

use crate::engine::Engine;
use crate::signal::parse_signal;
use crate::stream::{serve_upgrade, FrameBody, UPGRADE_PROTOCOL};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use skiff_types::{
    ApiError, ContainerSpec, CreatedResponse, ErrorKind, ExecSpec, LogOptions, PingResponse,
};
use std::collections::HashMap;
use std::sync::Arc;

/// The largest JSON body the API accepts (a spec with a seccomp profile fits).
const MAX_BODY: usize = 4 * 1024 * 1024;

pub(crate) type Q = Query<HashMap<String, String>>;

/// An `ApiError` as an HTTP answer: status from its kind, the error as JSON.
#[derive(Debug)]
pub struct ErrorResponse(pub ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(e: ApiError) -> Self {
        ErrorResponse(e)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ErrorResponse>;

fn invalid(msg: impl Into<String>) -> ErrorResponse {
    ErrorResponse(ApiError::new(ErrorKind::Invalid, msg))
}

/// A boolean query parameter: absent -> `default`; `1`/`true`/`yes` or `0`/`false`/`no`/``.
pub(crate) fn flag(q: &HashMap<String, String>, key: &str, default: bool) -> ApiResult<bool> {
    match q.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" => Ok(true),
            "0" | "false" | "no" | "" => Ok(false),
            _ => Err(invalid(format!(
                "invalid value {v:?} for query parameter {key:?}"
            ))),
        },
    }
}

fn number<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<T>> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| invalid(format!("invalid value {v:?} for query parameter {key:?}"))),
    }
}

pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8], what: &str) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Parses the logs query (both streams when neither is named).
pub fn log_options(q: &HashMap<String, String>) -> Result<LogOptions, ApiError> {
    let parse = || -> ApiResult<LogOptions> {
        let named = q.contains_key("stdout") || q.contains_key("stderr");
        let tail = match q.get("tail").map(String::as_str) {
            None | Some("all") | Some("-1") => None,
            Some(_) => number::<usize>(q, "tail")?,
        };
        Ok(LogOptions {
            follow: flag(q, "follow", false)?,
            tail,
            timestamps: flag(q, "timestamps", false)?,
            stdout: flag(q, "stdout", !named)?,
            stderr: flag(q, "stderr", !named)?,
        })
    };
    parse().map_err(|e| e.0)
}

/// The API of API.md over `engine`.
pub fn router<E: Engine>(engine: Arc<E>) -> Router {
    let r = Router::new()
        .route("/v1/ping", get(ping))
        .route("/v1/containers", get(list::<E>).post(create::<E>))
        .route("/v1/run", post(run::<E>))
        .route(
            "/v1/containers/{ref}",
            get(inspect::<E>).delete(remove::<E>),
        )
        .route("/v1/containers/{ref}/start", post(start::<E>))
        .route("/v1/containers/{ref}/stop", post(stop::<E>))
        .route("/v1/containers/{ref}/kill", post(kill::<E>))
        .route("/v1/containers/{ref}/pause", post(pause::<E>))
        .route("/v1/containers/{ref}/unpause", post(unpause::<E>))
        .route("/v1/containers/{ref}/wait", post(wait::<E>))
        .route("/v1/containers/{ref}/logs", get(logs::<E>))
        .route("/v1/containers/{ref}/stats", get(stats::<E>))
        .route("/v1/containers/{ref}/attach", post(attach::<E>))
        .route("/v1/containers/{ref}/exec", post(exec::<E>))
        .route("/v1/containers/{ref}/resize", post(resize::<E>))
        .merge(crate::volumes::routes::<E>())
        .merge(crate::networks::routes::<E>());
    crate::images::routes(r)
        .fallback(|| async {
            ErrorResponse(ApiError::new(ErrorKind::NotFound, "no such API endpoint"))
        })
        .merge(crate::registry::routes::<E>())
        .with_state(engine)
}

async fn ping() -> Json<PingResponse> {
    Json(PingResponse {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
    })
}

async fn create<E: Engine>(State(e): State<Arc<E>>, body: Bytes) -> ApiResult<Response> {
    let spec: ContainerSpec = json_body(&body, "container spec")?;
    let id = e.create(spec).await?;
    Ok((StatusCode::CREATED, Json(CreatedResponse { id })).into_response())
}

async fn list<E: Engine>(State(e): State<Arc<E>>, Query(q): Q) -> ApiResult<Response> {
    Ok(Json(e.list(flag(&q, "all", false)?).await?).into_response())
}

async fn inspect<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.inspect(&r).await?).into_response())
}

async fn start<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    e.start(&r).await?;
    Ok(no_content())
}

async fn stop<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    e.stop(&r, number::<u32>(&q, "t")?).await?;
    Ok(no_content())
}

async fn kill<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let name = q.get("signal").map(String::as_str).unwrap_or("KILL");
    let signal = parse_signal(name).map_err(|b| invalid(b.to_string()))?;
    e.kill(&r, signal).await?;
    Ok(no_content())
}

async fn remove<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let force = flag(&q, "force", false)?;
    e.remove_with_volumes(&r, force, flag(&q, "v", false)?)
        .await?;
    Ok(no_content())
}

async fn pause<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    e.pause(&r).await?;
    Ok(no_content())
}

async fn unpause<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    e.unpause(&r).await?;
    Ok(no_content())
}

async fn wait<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.wait(&r).await?).into_response())
}

async fn logs<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let opts = log_options(&q)?;
    let rx = e.logs(&r, opts).await?;
    let mut resp = Response::new(Body::new(FrameBody::new(rx)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.skiff.frames"),
    );
    Ok(resp)
}

async fn stats<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.stats(&r).await?).into_response())
}

fn wants_upgrade(req: &Request) -> ApiResult<()> {
    let up = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if up.eq_ignore_ascii_case(UPGRADE_PROTOCOL) {
        Ok(())
    } else {
        Err(invalid(format!(
            "this endpoint needs `Upgrade: {UPGRADE_PROTOCOL}`"
        )))
    }
}

async fn attach<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    wants_upgrade(&req)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let session = e.attach(&r).await?;
    Ok(serve_upgrade(on_upgrade, session))
}

async fn exec<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    mut req: Request,
) -> ApiResult<Response> {
    wants_upgrade(&req)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| invalid(format!("cannot read exec spec: {e}")))?;
    let spec: ExecSpec = json_body(&body, "exec spec")?;
    let session = e.exec(&r, spec).await?;
    Ok(serve_upgrade(on_upgrade, session))
}

async fn run<E: Engine>(State(e): State<Arc<E>>, mut req: Request) -> ApiResult<Response> {
    wants_upgrade(&req)?;
    let on_upgrade = hyper::upgrade::on(&mut req);
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| invalid(format!("cannot read container spec: {e}")))?;
    let spec: ContainerSpec = json_body(&body, "container spec")?;
    let session = e.run(spec).await?;
    Ok(serve_upgrade(on_upgrade, session))
}

async fn resize<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    let rows = number::<u16>(&q, "h")?.ok_or_else(|| invalid("resize needs h= (rows)"))?;
    let cols = number::<u16>(&q, "w")?.ok_or_else(|| invalid("resize needs w= (columns)"))?;
    e.resize(&r, q.get("exec_id").cloned(), rows, cols).await?;
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn log_query_defaults_and_selection() {
        let o = log_options(&q(&[])).unwrap();
        assert_eq!(o, LogOptions::default());
        let o = log_options(&q(&[("stderr", "1"), ("tail", "5"), ("follow", "true")])).unwrap();
        assert!(o.stderr && !o.stdout && o.follow);
        assert_eq!(o.tail, Some(5));
        assert_eq!(log_options(&q(&[("tail", "all")])).unwrap().tail, None);
        assert!(log_options(&q(&[("tail", "x")])).is_err());
        assert!(log_options(&q(&[("follow", "maybe")])).is_err());
    }
}
