//! The HTTP/1.1 reverse proxy: accepts client connections (keep-alive,
//! Upgrade), rewrites headers, and runs the retry loop over `forward`.
//!
//! Retry rules: a request that never left the proxy (connect refused or
//! reset, a pooled connection found closed) is retried for any method;
//! after it was sent only methods in `RetryConfig::idempotent` are, and only
//! if the body was small enough to keep; never once the response head went
//! to the client (the loop has returned by then). Each retry goes to a
//! backend not tried yet and must fit the retry budget.

use crate::backend::Backend;
use crate::balancer::Balancer;
use crate::body::{BackendBody, ReqBody, RespBody};
use crate::error::{ProxyError, TryError};
use crate::forward::{connection, exchange, Exchange};
use crate::headers;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

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
        let _ = stream.set_nodelay(true);
        let bal = balancer.clone();
        tokio::spawn(async move {
            let client = headers::client_value(peer.ip());
            let svc = hyper::service::service_fn(move |req| {
                let (bal, client) = (bal.clone(), client.clone());
                async move { Ok::<_, Infallible>(handle(bal, &client, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

/// Answers one client request.
pub async fn handle(
    bal: Arc<Balancer>,
    client: &HeaderValue,
    req: Request<Incoming>,
) -> Response<RespBody> {
    bal.metrics.requests.inc();
    bal.budget.deposit(bal.now());
    let resp = proxy(&bal, client, req).await;
    bal.metrics.response(resp.status().as_u16());
    resp
}

pub(crate) fn local(status: StatusCode, text: String) -> Response<RespBody> {
    let mut r = Response::new(RespBody::local(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn error_response(e: &TryError) -> Response<RespBody> {
    local(e.status(), format!("skiff proxy: {e}\n"))
}

/// The request line and headers, kept to rebuild the request per try.
struct Head {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

/// The request body across tries.
enum Outgoing {
    /// Buffered: every try gets a copy.
    Replay(Bytes),
    /// Streamed: at most one try sends it (it comes back only if unsent).
    Once(Option<Incoming>),
}

impl Outgoing {
    fn take(&mut self) -> Option<ReqBody> {
        match self {
            Outgoing::Replay(b) if b.is_empty() => Some(ReqBody::Buffered(None)),
            Outgoing::Replay(b) => Some(ReqBody::Buffered(Some(b.clone()))),
            Outgoing::Once(s) => s.take().map(ReqBody::Stream),
        }
    }

    fn give_back(&mut self, body: ReqBody) {
        if let (Outgoing::Once(slot), ReqBody::Stream(s)) = (self, body) {
            *slot = Some(s);
        }
    }

    fn available(&self) -> bool {
        !matches!(self, Outgoing::Once(None))
    }
}

async fn outgoing(body: Incoming, limit: usize) -> Result<Outgoing, Response<RespBody>> {
    if body.is_end_stream() {
        return Ok(Outgoing::Replay(Bytes::new()));
    }
    match body.size_hint().upper() {
        Some(n) if n <= limit as u64 => match body.collect().await {
            Ok(c) => Ok(Outgoing::Replay(c.to_bytes())),
            Err(e) => Err(local(
                StatusCode::BAD_REQUEST,
                format!("skiff proxy: reading request body: {e}\n"),
            )),
        },
        _ => Ok(Outgoing::Once(Some(body))),
    }
}

async fn proxy(
    bal: &Arc<Balancer>,
    client: &HeaderValue,
    mut req: Request<Incoming>,
) -> Response<RespBody> {
    if bal.is_empty() {
        bal.metrics.no_backend.inc();
        return local(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("skiff proxy: no backend for {}\n", bal.name()),
        );
    }
    let upgrade = headers::upgrade_of(req.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    if !headers.contains_key(hyper::header::HOST) {
        // HTTP/1.0 or absolute-form requests: HTTP/1.1 to the backend needs a Host
        if let Some(v) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert(hyper::header::HOST, v);
        }
    }
    headers::to_backend(&mut headers, client, upgrade);
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    let idempotent = bal.cfg.retry.idempotent.contains(&parts.method);
    let mut head = Some(Head {
        method: parts.method,
        uri,
        headers,
    });
    let mut body = match outgoing(body, bal.cfg.retry.replay_limit).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut tried: Vec<Arc<Backend>> = Vec::new();
    let mut last: Option<TryError> = None;
    for attempt in 0..bal.cfg.retry.max_tries.max(1) {
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
        let backend = guard.backend().clone();
        let started = Instant::now();
        let failed = match connection(&backend, bal.cfg.connect_timeout).await {
            Err(e) => e,
            Ok(mut sender) => {
                let (Some(h), Some(b)) = (head.take(), body.take()) else {
                    break;
                };
                let keep = idempotent && matches!(body, Outgoing::Replay(_));
                let (sent, kept) = if keep {
                    (h.headers.clone(), Some(h.headers))
                } else {
                    (h.headers, None)
                };
                let mut r = Request::new(b);
                *r.method_mut() = h.method.clone();
                *r.uri_mut() = h.uri.clone();
                *r.version_mut() = Version::HTTP_11;
                *r.headers_mut() = sent;
                let keep_head = kept.map(|headers| Head {
                    method: h.method,
                    uri: h.uri,
                    headers,
                });
                match exchange(&mut sender, r, backend.addr, bal.cfg.per_try_timeout).await {
                    Exchange::Response(resp) => {
                        backend.health.on_success();
                        return respond(bal, resp, sender, guard, client_upgrade, started);
                    }
                    Exchange::Failed(e, unsent) => {
                        if let Some(r) = unsent {
                            let (p, b) = r.into_parts();
                            body.give_back(b);
                            head = Some(Head {
                                method: p.method,
                                uri: p.uri,
                                headers: p.headers,
                            });
                        } else {
                            head = keep_head;
                        }
                        e
                    }
                }
            }
        };
        bal.on_failure(&backend, failed.is_health_failure());
        bal.metrics.error(failed.kind());
        if !matches!(failed, TryError::Unsent { .. }) {
            // an unsent request on a stale pooled connection may retry
            // the same backend on a fresh connection
            tried.push(backend);
        }
        let retry = failed.retry_safe(idempotent) && head.is_some() && body.available();
        last = Some(failed);
        if !retry {
            break;
        }
    }
    match last {
        Some(e) => error_response(&e),
        None => {
            bal.metrics.no_backend.inc();
            local(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("skiff proxy: no backend for {}\n", bal.name()),
            )
        }
    }
}

fn respond(
    bal: &Arc<Balancer>,
    mut resp: Response<Incoming>,
    sender: hyper::client::conn::http1::SendRequest<ReqBody>,
    guard: crate::backend::InflightGuard,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    started: Instant,
) -> Response<RespBody> {
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    headers::to_client(resp.headers_mut(), switching);
    if let (true, Some(client_up)) = (switching, client_upgrade) {
        let backend_up = hyper::upgrade::on(&mut resp);
        guard.backend().latency.observe(started.elapsed());
        tokio::spawn(async move {
            let _guard = guard; // an upgraded tunnel counts as in flight
            if let (Ok(c), Ok(b)) = tokio::join!(client_up, backend_up) {
                let (mut c, mut b) = (TokioIo::new(c), TokioIo::new(b));
                let _ = tokio::io::copy_bidirectional(&mut c, &mut b).await;
            }
        });
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, RespBody::Local(None));
    }
    let (parts, body) = resp.into_parts();
    Response::from_parts(
        parts,
        RespBody::Backend(BackendBody::new(body, sender, guard, bal.clone(), started)),
    )
}
