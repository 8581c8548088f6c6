//! The network routes (API.md, "Networks"): `/v1/networks[/{ref}[/connect|/disconnect]]`.

use crate::router::{json_body, ApiResult};
use crate::Engine;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use skiff_types::{NetworkConnect, NetworkCreate};
use std::sync::Arc;

pub fn routes<E: Engine>() -> Router<Arc<E>> {
    Router::new()
        .route("/v1/networks", get(list::<E>).post(create::<E>))
        .route("/v1/networks/{ref}", get(inspect::<E>).delete(remove::<E>))
        .route("/v1/networks/{ref}/connect", post(connect::<E>))
        .route("/v1/networks/{ref}/disconnect", post(disconnect::<E>))
}

async fn create<E: Engine>(State(e): State<Arc<E>>, body: Bytes) -> ApiResult<Response> {
    let req: NetworkCreate = json_body(&body, "network create request")?;
    Ok((StatusCode::CREATED, Json(e.network_create(req).await?)).into_response())
}

async fn list<E: Engine>(State(e): State<Arc<E>>) -> ApiResult<Response> {
    Ok(Json(e.network_list().await?).into_response())
}

async fn inspect<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    Ok(Json(e.network_inspect(&r).await?).into_response())
}

async fn remove<E: Engine>(State(e): State<Arc<E>>, Path(r): Path<String>) -> ApiResult<Response> {
    e.network_remove(&r).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn connect<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: NetworkConnect = json_body(&body, "network connect request")?;
    e.network_connect(&r, req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn disconnect<E: Engine>(
    State(e): State<Arc<E>>,
    Path(r): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: NetworkConnect = json_body(&body, "network disconnect request")?;
    e.network_disconnect(&r, &req.container).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
