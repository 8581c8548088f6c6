//! A tiny HTTP backend for benchmarks: answers every request with a fixed
//! small body on keep-alive connections, one current-thread runtime.
//!
//! `cargo run --release -p skiff-proxy --example backend -- 127.0.0.1:9001`

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("backend: runtime: {e}");
            std::process::exit(2);
        }
    };
    let r: std::io::Result<()> = rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("backend: listening on {}", l.local_addr()?);
        loop {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"hello from skiff\n",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    if let Err(e) = r {
        eprintln!("backend: {e}");
        std::process::exit(2);
    }
}
