//! Job (topology) endpoints: `GET /v1/jobs`, `PUT|GET|DELETE /v1/jobs/{name}`
//! (`?volumes=1` on DELETE also removes the job's named volumes) and
//! `POST /v1/jobs/{name}/scale`. The daemon implements [`JobControl`] over
//! skiff-control; the router only translates.

use crate::router::ErrorResponse;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use skiff_types::{ApiError, ErrorKind, JobView, ScaleRequest, Topology};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Desired jobs as the API sees them.
pub trait JobControl: Send + Sync + 'static {
    /// Creates or replaces the job `topo.name`.
    fn put(&self, topo: Topology) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn get(&self, name: &str) -> impl Future<Output = Result<JobView, ApiError>> + Send;
    fn list(&self) -> impl Future<Output = Result<Vec<JobView>, ApiError>> + Send;
    /// Removes the job and returns once its containers and networks are gone
    /// (and its named volumes, with `volumes`).
    fn delete(
        &self,
        name: &str,
        volumes: bool,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn scale(
        &self,
        name: &str,
        req: ScaleRequest,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The routes of this module over `jobs` (merged into the main router).
pub fn jobs_router<J: JobControl>(jobs: Arc<J>) -> Router {
    Router::new()
        .route("/v1/jobs", get(list::<J>))
        .route(
            "/v1/jobs/{name}",
            get(one::<J>).put(put::<J>).delete(delete::<J>),
        )
        .route("/v1/jobs/{name}/scale", post(scale::<J>))
        .with_state(jobs)
}

type ApiResult<T> = Result<T, ErrorResponse>;

async fn list<J: JobControl>(State(j): State<Arc<J>>) -> ApiResult<Response> {
    Ok(Json(j.list().await?).into_response())
}

async fn one<J: JobControl>(
    State(j): State<Arc<J>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(j.get(&name).await?).into_response())
}

async fn put<J: JobControl>(
    State(j): State<Arc<J>>,
    Path(name): Path<String>,
    Json(topo): Json<Topology>,
) -> ApiResult<Response> {
    if topo.name != name {
        return Err(ErrorResponse(ApiError::new(
            ErrorKind::Invalid,
            format!("topology is named {:?}, not {name:?}", topo.name),
        )));
    }
    j.put(topo).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete<J: JobControl>(
    State(j): State<Arc<J>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let volumes = q.get("volumes").is_some_and(|v| v == "1" || v == "true");
    j.delete(&name, volumes).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn scale<J: JobControl>(
    State(j): State<Arc<J>>,
    Path(name): Path<String>,
    Json(req): Json<ScaleRequest>,
) -> ApiResult<Response> {
    j.scale(&name, req).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
