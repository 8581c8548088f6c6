//! The `/v1/volumes` routes of API.md: thin translations to the `Engine`'s volume calls.

use crate::engine::Engine;
use crate::router::{flag, json_body, no_content, ApiResult, Q};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use skiff_types::VolumeCreateRequest;
use std::sync::Arc;

pub(crate) fn routes<E: Engine>() -> Router<Arc<E>> {
    Router::new()
        .route("/v1/volumes", get(list::<E>).post(create::<E>))
        .route("/v1/volumes/prune", post(prune::<E>))
        .route("/v1/volumes/{name}", get(inspect::<E>).delete(remove::<E>))
}

async fn create<E: Engine>(State(e): State<Arc<E>>, body: Bytes) -> ApiResult<Response> {
    let req: VolumeCreateRequest = if body.is_empty() {
        VolumeCreateRequest::default()
    } else {
        json_body(&body, "volume create request")?
    };
    Ok((StatusCode::CREATED, Json(e.volume_create(req).await?)).into_response())
}

async fn list<E: Engine>(State(e): State<Arc<E>>) -> ApiResult<Response> {
    Ok(Json(e.volume_list().await?).into_response())
}

async fn inspect<E: Engine>(
    State(e): State<Arc<E>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(e.volume_inspect(&name).await?).into_response())
}

async fn remove<E: Engine>(
    State(e): State<Arc<E>>,
    Path(name): Path<String>,
    Query(q): Q,
) -> ApiResult<Response> {
    e.volume_remove(&name, flag(&q, "force", false)?).await?;
    Ok(no_content())
}

async fn prune<E: Engine>(State(e): State<Arc<E>>, Query(q): Q) -> ApiResult<Response> {
    Ok(Json(e.volume_prune(flag(&q, "all", false)?).await?).into_response())
}
