//! One try of an HTTP request against one backend: a keep-alive connection
//! from the backend's pool (or a new one), then the exchange up to the
//! response head under the per-try timeout. Errors say whether the request
//! left the proxy (`TryError::stage`); hyper's `try_send_request` hands an
//! unsent request back, so even a streamed body survives that case.

use crate::backend::Backend;
use crate::body::ReqBody;
use crate::error::TryError;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// A ready connection to `b`: a pooled one if any is still open.
pub async fn connection(
    b: &Backend,
    connect_timeout: Duration,
) -> Result<SendRequest<ReqBody>, TryError> {
    while let Some(mut s) = b.pool.checkout() {
        if s.ready().await.is_ok() {
            return Ok(s);
        }
    }
    let addr = b.addr;
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| TryError::ConnectTimeout { addr })?
        .map_err(|source| TryError::Connect { addr, source })?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| TryError::Handshake { addr, source })?;
    tokio::spawn(async move {
        // ends when the backend closes or the last sender is dropped
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

/// What one exchange produced.
pub enum Exchange {
    Response(Response<Incoming>),
    /// Failed; the request is returned when it was never sent.
    Failed(TryError, Option<Request<ReqBody>>),
}

/// Sends `req` on `sender` and waits for the response head.
pub async fn exchange(
    sender: &mut SendRequest<ReqBody>,
    req: Request<ReqBody>,
    addr: std::net::SocketAddr,
    timeout: Duration,
) -> Exchange {
    match tokio::time::timeout(timeout, sender.try_send_request(req)).await {
        Ok(Ok(resp)) => Exchange::Response(resp),
        Ok(Err(mut e)) => match e.take_message() {
            Some(req) => Exchange::Failed(
                TryError::Unsent {
                    addr,
                    source: e.into_error(),
                },
                Some(req),
            ),
            None => Exchange::Failed(
                TryError::Exchange {
                    addr,
                    source: e.into_error(),
                },
                None,
            ),
        },
        // dropping the send future closes the connection (hyper's contract)
        Err(_) => Exchange::Failed(TryError::Timeout { addr }, None),
    }
}
