//! The admin listener: `GET /metrics` answers the Prometheus text of one
//! balancer; anything else is 404. Separate from the proxied listener so a
//! proxied service can never shadow or reach it.

use crate::balancer::Balancer;
use crate::error::ProxyError;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

fn local(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn answer<B>(bal: &Balancer, req: &Request<B>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return local(StatusCode::NOT_FOUND, "not found\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return local(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n".into());
    }
    let mut r = local(StatusCode::OK, crate::metrics::render(bal));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// Serves the admin endpoints on `listener`.
pub async fn serve(listener: TcpListener, balancer: Arc<Balancer>) -> Result<(), ProxyError> {
    let local_addr = listener.local_addr().map_err(|source| ProxyError::Accept {
        addr: ([0, 0, 0, 0], 0).into(),
        source,
    })?;
    loop {
        let Some((stream, _)) = crate::accept(&listener, local_addr).await? else {
            continue;
        };
        let bal = balancer.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let r = answer(&bal, &req);
                async move { Ok::<_, Infallible>(r) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
