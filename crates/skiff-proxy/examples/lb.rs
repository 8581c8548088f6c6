//! A load balancer over static backends, for benchmarks:
//!
//! ```text
//! cargo run --release -p skiff-proxy --example lb -- \
//!     --listen 127.0.0.1:8080 --mode http --backend 127.0.0.1:9001 \
//!     [--backend ADDR ...] [--admin 127.0.0.1:9090] [--balance rr|p2c] [--threads N]
//! ```
//!
//! The backends are fed as one `Reset`, as the registry's watch would.
//! `--threads 1` (default) runs a current-thread runtime; N > 1 a
//! multi-thread one with N workers.

use skiff_proxy::{Balance, Mode, Proxy, ProxyConfig};
use skiff_types::service::{Instance, ServiceUpdate};
use std::net::SocketAddr;

struct Args {
    listen: SocketAddr,
    admin: Option<SocketAddr>,
    backends: Vec<SocketAddr>,
    cfg: ProxyConfig,
    threads: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        listen: "127.0.0.1:8080".parse().map_err(|e| format!("{e}"))?,
        admin: None,
        backends: Vec::new(),
        cfg: ProxyConfig::default(),
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => a.listen = val()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--admin" => a.admin = Some(val()?.parse().map_err(|e| format!("--admin: {e}"))?),
            "--backend" => a
                .backends
                .push(val()?.parse().map_err(|e| format!("--backend: {e}"))?),
            "--mode" => a.cfg.mode = val()?.parse::<Mode>()?,
            "--balance" => a.cfg.balance = val()?.parse::<Balance>()?,
            "--threads" => a.threads = val()?.parse().map_err(|e| format!("--threads: {e}"))?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.backends.is_empty() {
        return Err("at least one --backend ADDR is needed".into());
    }
    Ok(a)
}

fn instance(i: usize, addr: SocketAddr) -> Instance {
    Instance {
        id: format!("b{i}"),
        service: "bench".into(),
        node: "local".into(),
        addr: addr.ip(),
        port: addr.port(),
        proto: Default::default(),
        tags: vec![],
        meta: Default::default(),
    }
}

async fn run(a: Args) -> Result<(), String> {
    let proxy = Proxy::bind(a.listen, "bench", a.cfg)
        .await
        .map_err(|e| e.to_string())?;
    let bal = proxy.balancer();
    let instances = a
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| instance(i, *b))
        .collect();
    bal.apply(ServiceUpdate::Reset {
        revision: 1,
        instances,
    });
    if let Some(addr) = a.admin {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("bind {addr}: {e}"))?;
        tokio::spawn(skiff_proxy::admin::serve(l, bal.clone()));
    }
    eprintln!("lb: listening on {}", proxy.local_addr());
    tokio::select! {
        r = proxy.run() => r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn main() {
    let result = parse().and_then(|a| {
        let rt = if a.threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(a.threads)
                .enable_all()
                .build()
        };
        rt.map_err(|e| format!("runtime: {e}"))?.block_on(run(a))
    });
    if let Err(e) = result {
        eprintln!("lb: {e}");
        std::process::exit(2);
    }
}
