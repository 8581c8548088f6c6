//! End-to-end topologies through the real daemon: `skiff up -d` with
//! replicas, a killed container replaced, scale up and down, a re-up that
//! rolls only the changed service, depends_on healthy gating, a bad file
//! refused with its position, and `down` leaving nothing behind (containers,
//! networks, store records; named volumes only with -v). Needs root.

mod common;
mod up_support;

use common::{need_root, Daemon};
use std::process::Command;
use std::time::Duration;
use up_support::{build_bb, wait_until, write, JobGuard};

/// (name, id) of the running containers of `job`'s `service`.
fn instances(d: &Daemon, job: &str, service: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for id in d.ok(&["ps", "-q"]).split_whitespace() {
        // A container removed between `ps` and `inspect` (scale-down) is gone.
        let got = d.skiff(&["inspect", id]);
        if !got.status.success() {
            continue;
        }
        let info: serde_json::Value = match serde_json::from_slice(&got.stdout) {
            Ok(serde_json::Value::Array(mut v)) if !v.is_empty() => v.remove(0),
            Ok(v) => v,
            Err(_) => continue,
        };
        let labels = &info["config"]["labels"];
        if labels["skiff.job"] == job && labels["skiff.service"] == service {
            let name = info["name"].as_str().unwrap_or("").trim_start_matches('/');
            out.push((name.to_string(), id.to_string()));
        }
    }
    out.sort();
    out
}

fn ready_count(d: &Daemon, job: &str, service: &str) -> usize {
    let status = d.ok(&["status", job]);
    status
        .lines()
        .filter(|l| l.contains(&format!("{job}-{service}-")))
        .filter(|l| l.contains("running") && !l.contains("stopping"))
        .count()
}

const WEB: &str = r#"
services:
  web:
    image: bb
    deploy:
      replicas: 3
    expose: ["8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
    volumes:
      - data:/data
volumes:
  data: {}
"#;

#[test]
fn up_kill_scale_logs_down() {
    if !need_root("up_kill_scale_logs_down") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "compose.yaml", WEB);
    let f = file.to_str().unwrap();
    let _guard = JobGuard { d: &d, job: "shop" };
    let out = d.ok(&["up", "-d", "-p", "shop", "-f", f]);
    assert!(out.contains("web") && out.contains("3 running"), "{out}");
    let web = instances(&d, "shop", "web");
    assert_eq!(web.len(), 3, "{web:?}");
    // Every container carries skiff's labels (the batch freezer selects on them).
    let info = d.inspect(&web[0].1);
    let labels = &info["config"]["labels"];
    assert_eq!(labels["skiff.class"], "service");
    assert_eq!(labels["skiff.priority"], "0");
    assert!(labels["skiff.alloc"]
        .as_str()
        .unwrap()
        .starts_with("shop.web."));
    // Healthy instances are registered under the service name.
    wait_until("3 registered web instances", &d, || {
        d.ok(&["service", "inspect", "web"]).matches("8080").count() >= 3
    });
    // Merged logs, prefixed with the instance name.
    let logs = d.ok(&["logs", "web"]);
    assert!(logs.contains("web-1 | hello from skiff"), "{logs}");

    // A killed container is replaced (by a new container, same slot).
    let (victim_name, victim_id) = web[1].clone();
    d.ok(&["kill", &victim_id]);
    wait_until("the killed instance replaced", &d, || {
        let now = instances(&d, "shop", "web");
        now.len() == 3
            && now.iter().any(|(n, _)| *n == victim_name)
            && !now.iter().any(|(_, id)| *id == victim_id)
            && ready_count(&d, "shop", "web") == 3
    });

    d.ok(&["scale", "web=5"]);
    wait_until("5 web instances", &d, || {
        instances(&d, "shop", "web").len() == 5 && ready_count(&d, "shop", "web") == 5
    });
    d.ok(&["scale", "-p", "shop", "web=1"]);
    wait_until("1 web instance", &d, || {
        instances(&d, "shop", "web").len() == 1 && ready_count(&d, "shop", "web") == 1
    });
    wait_until("scaled-down containers removed", &d, || {
        d.ok(&["ps", "-aq"]).split_whitespace().count() == 1
    });

    // down: no containers, no network, no job; the named volume stays.
    d.ok(&["down", "-f", f, "-p", "shop"]);
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    assert!(!d.ok(&["network", "ls"]).contains("shop_default"));
    assert!(d.ok(&["volume", "ls"]).contains("shop_data"));
    assert!(d.ok(&["status"]).contains("no jobs"));
    // ... and with -v the volume goes too.
    d.ok(&["up", "-d", "-p", "shop", "-f", f]);
    d.ok(&["down", "-v", "-p", "shop"]);
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    assert!(!d.ok(&["volume", "ls"]).contains("shop_data"));
    assert!(!d.ok(&["network", "ls"]).contains("shop_default"));
}

#[test]
fn reup_rolls_only_the_changed_service() {
    if !need_root("reup_rolls_only_the_changed_service") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let toml = |greeting: &str| {
        format!(
            r#"
name = "roll"
[services.web]
image = "bb"
replicas = 2
expose = [8080]

[services.worker]
image = "bb"
replicas = 2
command = ["sh", "-c", "echo {greeting}; exec httpd -f -p 8080 -h /var/www"]
"#
        )
    };
    let file = write(dir.path(), "skiff.toml", &toml("v1"));
    let f = file.to_str().unwrap();
    let _guard = JobGuard { d: &d, job: "roll" };
    d.ok(&["up", "-d", "-f", f]);
    let web_before = instances(&d, "roll", "web");
    let worker_before = instances(&d, "roll", "worker");
    assert_eq!((web_before.len(), worker_before.len()), (2, 2));

    write(dir.path(), "skiff.toml", &toml("v2"));
    d.ok(&["up", "-d", "-f", f]);
    let web_after = instances(&d, "roll", "web");
    let worker_after = instances(&d, "roll", "worker");
    assert_eq!(web_after, web_before, "an unchanged service must not roll");
    assert_eq!(worker_after.len(), 2);
    for (_, id) in &worker_after {
        assert!(!worker_before.iter().any(|(_, old)| old == id));
        let logs = d.ok(&["logs", id]);
        assert!(logs.contains("v2"), "{logs}");
    }
    d.ok(&["down", "roll"]);
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn bad_file_shows_position_and_applies_nothing() {
    if !need_root("bad_file_shows_position_and_applies_nothing") {
        return;
    }
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: bb\n    replicas: 3\n",
    );
    let out = d.skiff(&["up", "-d", "-f", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("compose.yaml:4:5"), "{err}");
    assert!(err.contains("replicas"), "{err}");
    assert!(d.ok(&["status"]).contains("no jobs"));
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
}

#[test]
fn depends_on_healthy_gates_the_start() {
    if !need_root("depends_on_healthy_gates_the_start") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "compose.yaml",
        r#"
services:
  db:
    image: bb
    command: ["sleep", "100000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
  api:
    image: bb
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
    depends_on:
      db:
        condition: service_healthy
"#,
    );
    let f = file.to_str().unwrap().to_string();
    let _guard = JobGuard { d: &d, job: "gate" };
    let mut up = Command::new(common::skiff_bin())
        .args(["--root", d.root_str(), "--host", &d.host()])
        .args(["up", "-d", "-p", "gate", "-f", &f])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("db running", &d, || instances(&d, "gate", "db").len() == 1);
    // While db is unhealthy, api is held back (several health checks pass by).
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        assert!(instances(&d, "gate", "api").is_empty());
        assert!(d.ok(&["status", "gate"]).contains("gate-db-1"));
    }
    let db = instances(&d, "gate", "db")[0].1.clone();
    d.ok(&["exec", &db, "touch", "/tmp/ready"]);
    assert!(up.wait().unwrap().success());
    assert_eq!(instances(&d, "gate", "api").len(), 1);
    d.ok(&["down", "-p", "gate"]);
}

#[test]
fn foreground_up_follows_logs_and_tears_down_on_ctrl_c() {
    if !need_root("foreground_up_follows_logs_and_tears_down_on_ctrl_c") {
        return;
    }
    use std::io::BufRead;
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: bb\n    deploy:\n      replicas: 2\n",
    );
    let _guard = JobGuard { d: &d, job: "fg" };
    let mut up = Command::new(common::skiff_bin())
        .args(["--root", d.root_str(), "--host", &d.host()])
        .args(["up", "-p", "fg", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The merged, prefixed logs of both instances arrive on stdout.
    let mut lines = std::io::BufReader::new(up.stdout.take().unwrap()).lines();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        let line = lines.next().expect("up ended early").unwrap();
        if line.ends_with("| hello from skiff") {
            seen.insert(line.split(' ').next().unwrap().to_string());
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec!["web-1".to_string(), "web-2".to_string()]
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(up.wait().unwrap().success());
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    assert!(!d.ok(&["network", "ls"]).contains("fg_default"));
    assert!(d.ok(&["status"]).contains("no jobs"));
}
