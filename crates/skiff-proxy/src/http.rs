//! The HTTP/1.1 reverse proxy: one task per client connection reads each
//! request head (pipelined requests wait their turn in its buffer), runs
//! the retry loop over `forward`, and streams the response back. Our own
//! codec (`codec`, `chunked`, `relay`) on the hot path: no per-request task,
//! channel, header map or body object, and head plus body leave in one
//! write when they fit.
//!
//! Retry rules: a request that never left the proxy (connect refused or
//! reset, a pooled connection found closed) is retried for any method;
//! after it was sent only methods in `RetryConfig::idempotent` are, and only
//! if the body was small enough to keep (`RetryConfig::replay_limit`);
//! never once the response head went to the client. Each retry goes to a
//! backend not tried yet and must fit the retry budget.
//!
//! A backend that dies mid-body aborts the client connection: the client
//! sees a short Content-Length body or a chunked body without its last
//! chunk, never a truncated response that looks complete. The in-flight
//! claim on a backend is held until the response's last byte was written,
//! so drains count the request as finished only then.

use crate::backend::{Backend, InflightGuard};
use crate::balancer::Balancer;
use crate::buf::Buf;
use crate::codec::{self, Framing, HeadError, RequestHead};
use crate::deadline::Deadline;
use crate::error::{ProxyError, TryError};
use crate::forward::{connection, response_head, send};
use crate::pool::Upstream;
use crate::relay::{self, write_all, RelayError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// How long a client connection may wait for its next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long the rest of a request head may take once its first bytes came.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds of the read-and-drop after an answer that closes the connection.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Serves HTTP on `listener` until an unrecoverable accept error.
pub async fn serve(listener: TcpListener, balancer: Arc<Balancer>) -> Result<(), ProxyError> {
    let local = listener.local_addr().map_err(|source| ProxyError::Accept {
        addr: ([0, 0, 0, 0], 0).into(),
        source,
    })?;
    loop {
        let (stream, peer) = match crate::accept(&listener, local).await? {
            Some(c) => c,
            None => continue,
        };
        tokio::spawn(serve_connection(balancer.clone(), stream, peer.ip()));
    }
}

/// Serves one client connection until it closes or must be closed.
pub async fn serve_connection(balancer: Arc<Balancer>, stream: TcpStream, peer: std::net::IpAddr) {
    let _ = stream.set_nodelay(true);
    let mut c = Conn {
        bal: balancer,
        io: stream,
        buf: Buf::default(),
        ip: peer.to_string(),
        req: Vec::with_capacity(1024),
        out: Vec::with_capacity(1024),
    };
    let mut deadline = Deadline::default();
    loop {
        let head = match c.read_head(&mut deadline).await {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                let (status, reason) = match e {
                    HeadError::TooLarge => (431, "Request Header Fields Too Large"),
                    HeadError::Bad(_) => (400, "Bad Request"),
                };
                c.bal.metrics.requests.inc();
                c.local(status, reason, &format!("skiff proxy: {e}\n"), true)
                    .await;
                return;
            }
        };
        if let Next::Close = c.exchange(head, &mut deadline).await {
            return;
        }
    }
}

enum Next {
    KeepAlive,
    Close,
}

/// One client connection and its reused buffers.
struct Conn {
    bal: Arc<Balancer>,
    io: TcpStream,
    buf: Buf,
    ip: String,
    /// The request for the backend: head, and body when kept for retries.
    req: Vec<u8>,
    /// Bytes on their way to the client.
    out: Vec<u8>,
}

/// The request body across tries.
#[derive(PartialEq)]
enum Body {
    /// None, or in `Conn::req` behind the head: every try sends it.
    Kept,
    /// Still in the client's socket: at most one try streams it.
    Unsent,
    /// Streamed to a backend (or lost): no further try can send it.
    Gone,
}

impl Conn {
    async fn read_head(&mut self, idle: &mut Deadline) -> Result<Option<RequestHead>, HeadError> {
        let mut deadline = None;
        loop {
            if !self.buf.is_empty() {
                if let Some(h) = codec::request(self.buf.data(), &self.ip, &mut self.req)? {
                    self.buf.consume(h.len);
                    return Ok(Some(h));
                }
            }
            let read = if self.buf.is_empty() {
                match idle.run(IDLE_TIMEOUT, self.buf.fill(&mut self.io)).await {
                    Some(r) => r,
                    None => return Ok(None), // idle too long between requests
                }
            } else {
                // a partial head: bound the wait for the rest (slow clients)
                let d = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + HEAD_TIMEOUT);
                match tokio::time::timeout_at(d, self.buf.fill(&mut self.io)).await {
                    Ok(r) => r,
                    Err(_) => return Ok(None),
                }
            };
            if !matches!(read, Ok(n) if n > 0) {
                return Ok(None);
            }
        }
    }

    /// Writes a local answer; the connection stays open unless `close`.
    async fn local(&mut self, status: u16, reason: &str, text: &str, close: bool) -> Next {
        self.bal.metrics.response(status);
        codec::local(&mut self.out, status, reason, text, close);
        if write_all(&mut self.io, &self.out).await.is_err() {
            return Next::Close;
        }
        if close {
            self.linger().await;
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// Closes after an answer the client may not have finished sending
    /// for: send FIN, then read and drop what still comes (bounded), so the
    /// kernel does not answer unread bytes with a reset that could destroy
    /// the answer before the client reads it.
    async fn linger(&mut self) {
        use tokio::io::AsyncWriteExt;
        if self.io.shutdown().await.is_err() {
            return;
        }
        let mut left = LINGER_BYTES;
        let drain = async {
            while left > 0 {
                self.buf.consume(usize::MAX);
                match self.buf.fill(&mut self.io).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    }

    /// Proxies one request and its response; `deadline` bounds each try.
    async fn exchange(&mut self, head: RequestHead, deadline: &mut Deadline) -> Next {
        let bal = self.bal.clone();
        bal.metrics.requests.inc();
        bal.budget.deposit(bal.now());
        let cfg = &bal.cfg;
        let mut body = match head.body {
            Framing::None => Body::Kept,
            Framing::Length(n) if n <= cfg.retry.replay_limit as u64 => {
                let read = self.keep_body(n as usize, head.expect_continue);
                if !matches!(deadline.run(IDLE_TIMEOUT, read).await, Some(Ok(()))) {
                    return Next::Close; // the client left or stalled mid-body
                }
                Body::Kept
            }
            _ => Body::Unsent,
        };
        let close = !head.keep_alive || body != Body::Kept;
        if bal.is_empty() {
            bal.metrics.no_backend.inc();
            let text = format!("skiff proxy: no backend for {}\n", bal.name());
            return self.local(503, "Service Unavailable", &text, close).await;
        }
        let idempotent = cfg.retry.idempotent.contains(&head.method);
        let mut continued = false;
        let mut tried: Vec<Arc<Backend>> = Vec::new();
        let mut last: Option<TryError> = None;
        for attempt in 0..cfg.retry.max_tries.max(1) {
            if attempt > 0 {
                if !bal.budget.withdraw(bal.now()) {
                    bal.metrics.retry_budget_exhausted.inc();
                    break;
                }
                bal.metrics.retries.inc();
            }
            let Some(guard) = bal.claim(&tried) else {
                break;
            };
            let started = Instant::now();
            let backend = guard.backend();
            let addr = backend.addr;
            let e = match connection(backend, cfg.connect_timeout).await {
                Err(e) => e,
                Ok(mut up) => {
                    self.out.clear();
                    let try_once = self.try_once(&head, &mut up, &mut body, &mut continued, addr);
                    match deadline.run(cfg.per_try_timeout, try_once).await {
                        Some(Ok(resp)) => {
                            backend.health.on_success();
                            return self.respond(resp, up, guard, started).await;
                        }
                        Some(Err(None)) => return Next::Close, // the client left or sent a bad body
                        Some(Err(Some(e))) => e,
                        None => TryError::Timeout { addr },
                    }
                }
            };
            let e = self.failed(&bal, backend.clone(), e, &mut tried);
            let retry = e.retry_safe(idempotent) && body != Body::Gone;
            last = Some(e);
            if !retry {
                break;
            }
        }
        let close = close || body != Body::Kept;
        match last {
            Some(e) => {
                let reason = if e.status() == 504 {
                    "Gateway Timeout"
                } else {
                    "Bad Gateway"
                };
                self.local(e.status(), reason, &format!("skiff proxy: {e}\n"), close)
                    .await
            }
            None => {
                bal.metrics.no_backend.inc();
                let text = format!("skiff proxy: no backend for {}\n", bal.name());
                self.local(503, "Service Unavailable", &text, close).await
            }
        }
    }

    /// Reads a body of `n` bytes into `req` behind the head.
    async fn keep_body(&mut self, n: usize, expect_continue: bool) -> std::io::Result<()> {
        if expect_continue && self.buf.data().len() < n {
            write_all(&mut self.io, CONTINUE)
                .await
                .map_err(|(e, _)| e)?;
        }
        while self.buf.data().len() < n {
            if self.buf.fill(&mut self.io).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        self.req.extend_from_slice(&self.buf.data()[..n]);
        self.buf.consume(n);
        Ok(())
    }

    /// Records a failed try; the error decides whether another may follow.
    fn failed(
        &self,
        bal: &Balancer,
        backend: Arc<Backend>,
        e: TryError,
        tried: &mut Vec<Arc<Backend>>,
    ) -> TryError {
        bal.on_failure(&backend, e.is_health_failure());
        bal.metrics.error(e.kind());
        if !matches!(e, TryError::Unsent { .. }) {
            // an unsent request on a stale pooled connection may retry
            // the same backend on a fresh connection
            tried.push(backend);
        }
        e
    }

    /// Sends the request on `up` and reads the response head into `out`.
    /// `Err(None)`: the client side failed, nothing more to do.
    async fn try_once(
        &mut self,
        head: &RequestHead,
        up: &mut Upstream,
        body: &mut Body,
        continued: &mut bool,
        addr: std::net::SocketAddr,
    ) -> Result<codec::ResponseHead, Option<TryError>> {
        send(up, &self.req, addr).await?;
        if *body == Body::Unsent {
            *body = Body::Gone;
            if head.expect_continue && !*continued {
                *continued = true;
                write_all(&mut self.io, CONTINUE).await.map_err(|_| None)?;
            }
            let mut pending = Vec::new();
            let r = relay::body(
                head.body,
                false,
                &mut self.io,
                &mut self.buf,
                &mut up.io,
                &mut pending,
            );
            match r.await {
                Ok(()) => {}
                Err(RelayError::Dst(source)) => {
                    return Err(Some(TryError::Exchange { addr, source }))
                }
                Err(RelayError::Src) => return Err(None),
                Err(RelayError::Malformed(e)) => {
                    let text = format!("skiff proxy: {e}\n");
                    self.local(400, "Bad Request", &text, true).await;
                    return Err(None);
                }
            }
        }
        Ok(response_head(up, head, &mut self.out, addr).await?)
    }

    /// Streams the response whose head is in `out` to the client.
    async fn respond(
        &mut self,
        resp: codec::ResponseHead,
        mut up: Upstream,
        guard: InflightGuard,
        started: Instant,
    ) -> Next {
        let bal = &self.bal;
        bal.metrics.response(resp.status);
        let backend = guard.backend();
        if resp.status == 101 {
            backend.latency.observe(started.elapsed());
            if write_all(&mut self.io, &self.out).await.is_ok() {
                // an upgraded tunnel counts as in flight until it closes
                relay::tunnel(&mut self.io, &mut self.buf, &mut up.io, &mut up.buf).await;
            }
            return Next::Close;
        }
        let r = relay::body(
            resp.body,
            resp.dechunk,
            &mut up.io,
            &mut up.buf,
            &mut self.io,
            &mut self.out,
        )
        .await;
        match r {
            Ok(()) => {
                backend.latency.observe(started.elapsed());
                if resp.reusable && !backend.is_removed() {
                    backend.pool.checkin(up);
                }
                drop(guard);
                if resp.client_keep_alive {
                    Next::KeepAlive
                } else {
                    Next::Close
                }
            }
            Err(RelayError::Src | RelayError::Malformed(_)) => {
                bal.metrics.aborted.inc();
                Next::Close
            }
            Err(RelayError::Dst(_)) => Next::Close,
        }
    }
}
