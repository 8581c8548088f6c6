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
        Self {
            what,
            ..Self::default()
        }
    }

    pub(crate) fn lease(what: &'a str, lease: Option<LeaseId>) -> Self {
        Self {
            what,
            lease,
            ..Self::default()
        }
    }

    pub(crate) fn revision(what: &'a str, revision: Revision) -> Self {
        Self {
            what,
            revision: Some(revision),
            ..Self::default()
        }
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
        return StoreError::Compacted {
            revision: ctx.revision.unwrap_or_default(),
        };
    }
    if message.contains("requested lease not found") {
        return lease_gone(ctx, message);
    }
    match code {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Cancelled
        | Code::Aborted
        | Code::ResourceExhausted
        | Code::Unknown => unavailable(ctx, message),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StoreError::invalid(format!("etcd {}: {message}", ctx.what))
        }
        Code::NotFound => StoreError::NotFound {
            key: message.to_owned(),
        },
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

/// True if the request provably never reached etcd (the connection to the
/// chosen member could not be made), so sending it again cannot apply it twice.
fn never_sent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(status) => {
            status.code() == Code::Unavailable && status.message().contains("connect error")
        }
        _ => false,
    }
}

/// Runs the request made by `call`, bounded by `timeout` in total, so a
/// cluster without quorum fails fast instead of hanging (etcd itself waits
/// much longer). The client balances over all endpoints and may pick a dead
/// member; such requests were never sent and are retried on another pick
/// until the deadline, which is what keeps a cluster with one member down
/// serving.
pub(crate) async fn bounded<T, F, Fut>(
    timeout: Duration,
    ctx: ErrCtx<'_>,
    mut call: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let err = match tokio::time::timeout_at(deadline, call()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e,
            Err(_) => {
                return Err(unavailable(
                    ctx,
                    &format!("no answer within {timeout:?} (no quorum?)"),
                ))
            }
        };
        let retry_at = tokio::time::Instant::now() + RETRY_PAUSE;
        if !never_sent(&err) || retry_at >= deadline {
            return Err(map_err(err, ctx));
        }
        tokio::time::sleep_until(retry_at).await;
    }
}

const RETRY_PAUSE: Duration = Duration::from_millis(20);
