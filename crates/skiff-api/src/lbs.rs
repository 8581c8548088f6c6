//! The load balancer endpoints: `POST /v1/lbs` (create; answers once it
//! listens), `GET /v1/lbs`, `GET /v1/lbs/{name}`, `DELETE /v1/lbs/{name}`
//! (the port is free when it answers). The daemon implements
//! [`LoadBalancers`] over the store's `/skiff/lbs/` records; the router only
//! translates.

use crate::router::{json_body, no_content, ErrorResponse};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use skiff_types::{ApiError, LbDef, LbStatus};
use std::future::Future;
use std::sync::Arc;

/// Load balancers as the API sees them.
pub trait LoadBalancers: Send + Sync + 'static {
    /// Creates and starts one; Conflict if the name exists or the address
    /// cannot be bound (nothing is written then).
    fn lb_create(&self, def: LbDef) -> impl Future<Output = Result<LbStatus, ApiError>> + Send;
    fn lb_list(&self) -> impl Future<Output = Result<Vec<LbStatus>, ApiError>> + Send;
    fn lb_inspect(&self, name: &str) -> impl Future<Output = Result<LbStatus, ApiError>> + Send;
    /// Deletes the record and stops the listener; NotFound if there is none.
    fn lb_remove(&self, name: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The routes of this module over `lbs` (merged into the main router).
pub fn lbs_router<L: LoadBalancers>(lbs: Arc<L>) -> Router {
    Router::new()
        .route("/v1/lbs", get(list::<L>).post(create::<L>))
        .route("/v1/lbs/{name}", get(inspect::<L>).delete(remove::<L>))
        .with_state(lbs)
}

type ApiResult<T> = Result<T, ErrorResponse>;

async fn create<L: LoadBalancers>(State(l): State<Arc<L>>, body: Bytes) -> ApiResult<Response> {
    let def: LbDef = json_body(&body, "load balancer")?;
    let status = l.lb_create(def).await?;
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

async fn list<L: LoadBalancers>(State(l): State<Arc<L>>) -> ApiResult<Response> {
    Ok(Json(l.lb_list().await?).into_response())
}

async fn inspect<L: LoadBalancers>(
    State(l): State<Arc<L>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(l.lb_inspect(&name).await?).into_response())
}

async fn remove<L: LoadBalancers>(
    State(l): State<Arc<L>>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    l.lb_remove(&name).await?;
    Ok(no_content())
}
