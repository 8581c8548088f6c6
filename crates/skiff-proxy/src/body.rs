//! The bodies the HTTP proxy moves. `ReqBody` is what goes to a backend:
//! either buffered (replayable on a retry) or the client's stream (sent at
//! most once). `RespBody` is what the client gets: a local answer (503,
//! 502, metrics) or a backend's body streamed frame by frame. A backend body
//! that fails mid-way yields an error, and hyper then closes the client
//! connection without completing the message: a short Content-Length body
//! or a chunked body with no terminating chunk, never a truncated response
//! that looks complete.

use crate::backend::InflightGuard;
use crate::balancer::Balancer;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// A request body on its way to a backend.
#[derive(Debug)]
pub enum ReqBody {
    Buffered(Option<Bytes>),
    Stream(Incoming),
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ReqBody::Buffered(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            ReqBody::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Buffered(b) => b.is_none(),
            ReqBody::Stream(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Buffered(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqBody::Stream(s) => s.size_hint(),
        }
    }
}

/// A response body on its way to the client.
#[derive(Debug)]
pub enum RespBody {
    Local(Option<Bytes>),
    Backend(BackendBody),
}

impl RespBody {
    pub fn local(text: impl Into<Bytes>) -> Self {
        RespBody::Local(Some(text.into()))
    }
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RespBody::Local(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            RespBody::Backend(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RespBody::Local(b) => b.is_none(),
            RespBody::Backend(b) => b.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RespBody::Local(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            RespBody::Backend(b) => b.inner.size_hint(),
        }
    }
}

/// A backend's response body. Holds the request's in-flight claim and the
/// connection; when the body ends the connection goes back to the pool and
/// the claim is released, so drains see the request as finished only after
/// its last byte.
#[derive(Debug)]
pub struct BackendBody {
    inner: Incoming,
    sender: Option<SendRequest<ReqBody>>,
    guard: Option<InflightGuard>,
    balancer: Arc<Balancer>,
    started: Instant,
}

impl BackendBody {
    pub(crate) fn new(
        inner: Incoming,
        sender: SendRequest<ReqBody>,
        guard: InflightGuard,
        balancer: Arc<Balancer>,
        started: Instant,
    ) -> Self {
        BackendBody {
            inner,
            sender: Some(sender),
            guard: Some(guard),
            balancer,
            started,
        }
    }

    fn finish(&mut self) {
        if let (Some(sender), Some(guard)) = (self.sender.take(), self.guard.as_ref()) {
            let b = guard.backend();
            b.latency.observe(self.started.elapsed());
            if !b.is_removed() {
                b.pool.checkin(sender);
            }
        }
        self.guard = None;
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Err(_))) => {
                this.balancer.metrics.aborted.inc();
                this.sender = None; // never reuse a connection that failed
                this.guard = None;
            }
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for BackendBody {
    fn drop(&mut self) {
        if self.inner.is_end_stream() {
            self.finish(); // an empty body hyper never polled
        }
    }
}
