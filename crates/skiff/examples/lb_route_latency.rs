//! Registry change to routed traffic, through the real daemon path (issue 6):
//! a `skiff daemon` on the embedded store runs `skiff lb` in front of service
//! `bench`; keep-alive clients load the lb without pause; each round starts a
//! new instance (a busybox httpd container, registered by the daemon's agent
//! once its TCP health check passes) and times from the registry's `Add`
//! (as a watcher of `GET /v1/services/bench/watch` sees it) to the first
//! response that instance sends through the lb. Then the instance is removed
//! with `rm -f` (a drained stop) and the next round starts. Prints p50/p99/max.
//!
//! The start instant is when an API watcher receives the `Add`: the daemon
//! fans one store watch out to the lb and the API alike, so the figure leaves
//! out the (sub-millisecond) delivery to the API watcher and slightly flatters
//! skiff; everything after the store commit is in it.
//!
//! `bench/lb.sh` runs it:
//! `lb_route_latency --skiff BIN --socket SOCK --root ROOT --rootfs DIR [--rounds 40] [--clients 8]`

use skiff_api::Client;
use skiff_types::{LbDef, LbMode, ServiceUpdate};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Opts {
    skiff: String,
    socket: String,
    root: String,
    rootfs: String,
    rounds: usize,
    clients: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        skiff: "skiff".into(),
        socket: String::new(),
        root: String::new(),
        rootfs: String::new(),
        rounds: 40,
        clients: 8,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--skiff" => o.skiff = v,
            "--socket" => o.socket = v,
            "--root" => o.root = v,
            "--rootfs" => o.rootfs = v,
            "--rounds" => o.rounds = v.parse().expect("--rounds N"),
            "--clients" => o.clients = v.parse().expect("--clients N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !o.socket.is_empty() && !o.rootfs.is_empty(),
        "--socket and --rootfs are required"
    );
    o
}

fn skiff(o: &Opts, args: &[&str]) -> String {
    let out = Command::new(&o.skiff)
        .args(["--root", &o.root, "--host", &format!("unix://{}", o.socket)])
        .args(args)
        .output()
        .expect("run skiff");
    assert!(
        out.status.success(),
        "skiff {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A host-network httpd answering its own name, registered once it accepts.
fn instance(o: &Opts, name: &str, port: u16) {
    let script = format!(
        "mkdir -p /tmp/w && echo {name} > /tmp/w/index.html && exec httpd -f -p {port} -h /tmp/w"
    );
    let svc = format!("bench:{port}");
    skiff(
        o,
        &[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "--service",
            &svc,
            "--health-tcp",
            "--health-interval",
            "50ms",
            "--health-retries",
            "1",
            "--rootfs",
            &o.rootfs,
            "sh",
            "-c",
            &script,
        ],
    );
}

/// One keep-alive client: GET / in a loop, noting when each body is first seen.
fn load(addr: SocketAddr, stop: Arc<AtomicBool>, seen: Arc<Mutex<HashMap<String, Instant>>>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(s) = TcpStream::connect(addr) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let _ = s.set_nodelay(true);
        let mut w = s.try_clone().expect("clone");
        let mut r = BufReader::new(s);
        while !stop.load(Ordering::Relaxed) {
            if w.write_all(b"GET / HTTP/1.1\r\nHost: lb\r\n\r\n").is_err() {
                break;
            }
            let (mut len, mut line) = (0usize, String::new());
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            if len == 0 || r.read_exact(&mut body).is_err() {
                break;
            }
            let name = String::from_utf8_lossy(&body).trim().to_owned();
            seen.lock()
                .unwrap()
                .entry(name)
                .or_insert_with(Instant::now);
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let o = opts();
    let client = Client::new(&o.socket);
    let port = free_port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    client
        .lb_create(&LbDef {
            name: "bench".into(),
            service: "bench".into(),
            listen,
            mode: LbMode::Http,
            port: None,
            owner: None,
        })
        .expect("create the lb");
    let added: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let watch = client.watch_service("bench", None).expect("watch bench");
    {
        let added = added.clone();
        std::thread::spawn(move || {
            for u in watch {
                if let Ok(ServiceUpdate::Add { instance, .. }) = u {
                    let name = instance.meta.get("name").cloned().unwrap_or_default();
                    added
                        .lock()
                        .unwrap()
                        .entry(name)
                        .or_insert_with(Instant::now);
                }
            }
        });
    }
    instance(&o, "base", free_port());
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..o.clients)
        .map(|_| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || load(listen, stop, seen))
        })
        .collect();
    let wait_for = |map: &Arc<Mutex<HashMap<String, Instant>>>, name: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(t) = map.lock().unwrap().get(name) {
                return *t;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("{name} never showed up");
    };
    wait_for(&seen, "base");
    let mut ms = Vec::new();
    for i in 0..o.rounds {
        let name = format!("r{i}");
        instance(&o, &name, free_port());
        let t0 = wait_for(&added, &name);
        let t1 = wait_for(&seen, &name);
        ms.push(t1.saturating_duration_since(t0).as_secs_f64() * 1e3);
        skiff(&o, &["rm", "-f", &name]);
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    skiff(&o, &["rm", "-f", "base"]);
    let _ = client.lb_remove("bench");
    ms.sort_by(f64::total_cmp);
    let (p50, p99, max) = (pct(&ms, 0.5), pct(&ms, 0.99), ms[ms.len() - 1]);
    println!(
        "registry change -> first routed request, {} rounds, {} keep-alive clients, embedded store",
        ms.len(),
        o.clients
    );
    println!("  skiff   p50 {p50:.2} ms  p99 {p99:.2} ms  max {max:.2} ms  (target p99 <= 50 ms)");
    println!("  peers (documented floors): Traefik 2000 ms provider throttle, kube-proxy >= 1000 ms sync");
    println!(
        "  ratio skiff p99 / Traefik floor = {:.4}; / kube-proxy floor = {:.4}",
        p99 / 2000.0,
        p99 / 1000.0
    );
}
