//! Update-to-routed-traffic latency, the proxy's share of "register a new
//! instance under load and time its first request": under constant load from
//! `--clients` keep-alive clients, add a fresh backend with an `Add` update
//! and time until that backend sees its first request; then remove it,
//! wait for its drain, and repeat `--rounds` times. Prints p50/p99/max.
//!
//! `cargo run --release -p skiff-proxy --example route_latency -- --rounds 50 --clients 16`
//!
//! Everything runs in this process on 127.0.0.1 (a current-thread runtime
//! for the proxy's side is not separable here: proxy, backends and clients
//! share one 2-worker runtime). The registry's own watch delay is not in it.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use skiff_proxy::{Proxy, ProxyConfig};
use skiff_types::service::{Instance, ServiceUpdate};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

fn instance(id: String, addr: SocketAddr) -> Instance {
    Instance {
        id,
        service: "bench".into(),
        node: "local".into(),
        addr: addr.ip(),
        port: addr.port(),
        proto: Default::default(),
        tags: vec![],
        meta: Default::default(),
    }
}

/// A backend that reports the instant of its first request.
async fn backend(
    first: Option<oneshot::Sender<Instant>>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    let first = Arc::new(std::sync::Mutex::new(first));
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((s, _)) = l.accept().await {
            let first = first.clone();
            conns.spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    if let Some(tx) = first.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        let _ = tx.send(Instant::now());
                    }
                    async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

async fn client(addr: SocketAddr, stop: Arc<AtomicBool>) {
    let Ok(s) = TcpStream::connect(addr).await else {
        return;
    };
    let Ok((mut tx, conn)) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(s)).await
    else {
        return;
    };
    tokio::spawn(conn);
    while !stop.load(Ordering::Relaxed) {
        let req = Request::get("/")
            .header("host", "bench")
            .body(Empty::new())
            .expect("request");
        match tx.send_request(req).await {
            Ok(r) => {
                let _ = r.into_body().collect().await;
            }
            Err(_) => return,
        }
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run() -> std::io::Result<()> {
    let (rounds, clients) = (arg("--rounds", 50), arg("--clients", 16));
    let proxy = Proxy::bind(
        "127.0.0.1:0".parse().expect("addr"),
        "bench",
        ProxyConfig::default(),
    )
    .await
    .map_err(std::io::Error::other)?;
    let (addr, bal) = (proxy.local_addr(), proxy.balancer());
    tokio::spawn(proxy.run());
    let (base, _base_task) = backend(None).await?;
    let mut rev = 1;
    bal.apply(ServiceUpdate::Reset {
        revision: rev,
        instances: vec![instance("base".into(), base)],
    });
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(client(addr, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await; // warm the pools
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let (tx, rx) = oneshot::channel();
        let (new, task) = backend(Some(tx)).await?;
        let id = format!("new{i}");
        rev += 1;
        let t0 = Instant::now();
        bal.apply(ServiceUpdate::Add {
            revision: rev,
            instance: instance(id.clone(), new),
        });
        let first = rx.await.map_err(std::io::Error::other)?;
        lat.push(first.duration_since(t0));
        rev += 1;
        bal.apply(ServiceUpdate::Remove {
            revision: rev,
            id: id.clone(),
        });
        bal.wait_drained(&id).await;
        task.abort();
    }
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = l.await;
    }
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "update -> first routed request, {rounds} rounds under {clients} clients: p50 {:?} p99 {:?} max {:?} ({} requests total)",
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1],
        bal.metrics.requests.get()
    );
    Ok(())
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let r = rt.and_then(|rt| rt.block_on(run()));
    if let Err(e) = r {
        eprintln!("route_latency: {e}");
        std::process::exit(2);
    }
}
