//! Maps etcd-client failures onto [`StoreError`]'s closed set. etcd reports
//! most conditions only as gRPC status text, so the well-known messages of
//! etcd 3.4 are matched here, in one place.

use std::time::Duration;

use tonic::Code;

use crate::{LeaseId, Revision, StoreError};

/// What an operation was about, for error messages and typed variants.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ErrCtx<'a> {
    pub what: &'a str,
    pub lease: Option<LeaseId>,
    pub revision: Option<Revision>,
}

impl<'a> ErrCtx<'a> {
    pub(crate) fn op(what: &'a str) -> Self {
        Self { what, ..Self::default() }
    }

    pub(crate) fn lease(what: &'a str, lease: Option<LeaseId>) -> Self {
        Self { what, lease, ..Self::default() }
    }

    pub(crate) fn revision(what: &'a str, revision: Revision) -> Self {
        Self { what, revision: Some(revision), ..Self::default() }
    }
}

pub(crate) fn map_err(e: etcd_client::Error, ctx: ErrCtx<'_>) -> StoreError {
    use etcd_client::Error as E;
    match e {
        E::GRpcStatus(status) => map_status(status.code(), status.message(), ctx),
        E::TransportError(e) => unavailable(ctx, &e.to_string()),
        E::IoError(e) => unavailable(ctx, &e.to_string()),
        E::LeaseKeepAliveError(msg) if msg.contains("not found") => lease_gone(ctx, &msg),
        E::LeaseKeepAliveError(msg) | E::WatchError(msg) => unavailable(ctx, &msg),
        E::InvalidArgs(msg) => StoreError::invalid(format!("etcd {}: {msg}", ctx.what)),
        other => StoreError::internal(format!("etcd {}: {other}", ctx.what)),
    }
}

fn map_status(code: Code, message: &str, ctx: ErrCtx<'_>) -> StoreError {
    if message.contains("required revision has been compacted") {
        return StoreError::Compacted { revision: ctx.revision.unwrap_or_default() };
    }
    if message.contains("requested lease not found") {
        return lease_gone(ctx, message);
    }
    match code {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Aborted
        | Code::ResourceExhausted | Code::Unknown => unavailable(ctx, message),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StoreError::invalid(format!("etcd {}: {message}", ctx.what))
        }
        Code::NotFound => StoreError::NotFound { key: message.to_owned() },
        _ => StoreError::internal(format!("etcd {}: {code:?}: {message}", ctx.what)),
    }
}

fn lease_gone(ctx: ErrCtx<'_>, message: &str) -> StoreError {
    match ctx.lease {
        Some(id) => StoreError::LeaseExpired { id },
        None => StoreError::internal(format!("etcd {}: {message}", ctx.what)),
    }
}

fn unavailable(ctx: ErrCtx<'_>, detail: &str) -> StoreError {
    StoreError::unavailable(format!("etcd {} failed: {detail}", ctx.what))
}

/// Bounds `fut` by `timeout`, so a cluster without quorum fails fast instead
/// of hanging (etcd itself waits much longer for a lost quorum).
pub(crate) async fn bounded<T>(
    timeout: Duration,
    ctx: ErrCtx<'_>,
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result.map_err(|e| map_err(e, ctx)),
        Err(_) => Err(unavailable(ctx, &format!("no answer within {timeout:?} (no quorum?)"))),
    }
}
