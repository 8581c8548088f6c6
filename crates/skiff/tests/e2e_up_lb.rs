//! End-to-end: a topology's `lb` section and `uses` through the real daemon.
//! `skiff up -d` starts the job's load balancer (curl through it reaches
//! every instance), `uses` gives a client an ambassador on 127.0.0.1, a
//! second job whose lb address is taken is refused whole (nothing applied),
//! and `down` frees the lb's port. Needs root.

mod common;
mod up_support;

use common::{need_root, Daemon};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use up_support::{build_bb, wait_until, write, JobGuard};

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.0 GET; the body, or None on any failure.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then_some(())?;
    head.contains(" 200 ").then(|| body.trim().to_string())
}

fn topology(job: &str, port: u16) -> String {
    format!(
        r#"
name = "{job}"

[services.web]
image = "bb"
replicas = 2
command = ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
expose = [8080]
healthcheck = {{ http = "/", port = 8080, interval = "1s", retries = 3 }}
lb = {{ listen = "127.0.0.1:{port}", mode = "http", port = 8080 }}

[services.client]
image = "bb"
uses = ["web"]
depends_on = {{ web = "healthy" }}
command = ["sh", "-c", "while true; do wget -q -O - http://127.0.0.1:8080/ | sed 's/^/via ambassador: /'; sleep 1; done"]
"#
    )
}

#[test]
fn lb_section_routes_uses_forwards_clash_refused_down_frees() {
    if !need_root("lb_section_routes_uses_forwards_clash_refused_down_frees") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let lb: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let file = write(dir.path(), "skiff.toml", &topology("front", port));
    let _guard = JobGuard {
        d: &d,
        job: "front",
    };
    let out = d.ok(&["up", "-d", "-f", file.to_str().unwrap()]);
    assert!(out.contains(&port.to_string()), "up prints the lb: {out}");
    let lbs = d.ok(&["lb", "ls"]);
    assert!(
        lbs.contains("front-web") && lbs.contains(&lb.to_string()),
        "{lbs}"
    );

    // Through the lb: both instances answer (each serves its hostname).
    let mut seen = BTreeSet::new();
    wait_until("both web instances answering through the lb", &d, || {
        if let Some(body) = get(lb, "/") {
            seen.insert(body);
        }
        seen.len() == 2
    });

    // The client reaches web through its ambassador on its own 127.0.0.1.
    wait_until("the client's ambassador reaching web", &d, || {
        let logs = d.ok(&["logs", "client"]);
        seen.iter()
            .any(|h| logs.contains(&format!("via ambassador: {h}")))
    });

    // A second job whose lb address is taken: refused, nothing applied.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let other = write(dir.path(), "other.toml", &topology("other", taken_port));
    let out = d.skiff(&["up", "-d", "-f", other.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "up with a taken lb address must fail"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&taken_port.to_string()), "{err}");
    assert!(
        !d.ok(&["status"]).contains("other"),
        "nothing of job other applied"
    );
    assert!(!d.ok(&["lb", "ls"]).contains("other-web"));
    assert!(
        !d.ok(&["ps", "-a", "--format", "json"]).contains("other-"),
        "no container of job other"
    );
    drop(taken);

    // down: the lb record is gone and its port is free again.
    d.ok(&["down", "-f", file.to_str().unwrap()]);
    assert!(!d.ok(&["lb", "ls"]).contains("front-web"));
    TcpListener::bind(lb).expect("the lb's port is free after down");
}
