//! How topology containers stop, end to end through the real daemon: the
//! configured `stop_signal` reaches the container on scale-down and on `down`
//! (a shell traps it and appends its name to a shared volume), an image's
//! STOPSIGNAL is used when the spec names none (for `skiff up` and for `skiff
//! run` + `stop`, where `--stop-signal` wins over the image), and a
//! SIGTERM-ignoring httpd with `stop_grace_period: 1s` does not hold `down`
//! for the default 10 s. Needs root.

mod common;
mod up_support;

use common::{need_root, Daemon};
use std::time::{Duration, Instant};
use up_support::{build_bb, wait_until, write, JobGuard};

/// A shell that appends the name of the signal it gets to /sig/$1 and exits;
/// it marks itself ready (a file under /sig/ready) once its traps are set.
fn trapper(file: &str) -> String {
    let mut s = String::new();
    for sig in ["INT", "TERM", "USR1", "HUP"] {
        s.push_str(&format!("trap 'echo {sig} >> /sig/{file}; exit 0' {sig}; "));
    }
    s.push_str("mktemp /sig/ready.XXXXXX >/dev/null; while :; do sleep 1 & wait $!; done");
    s
}

fn compose() -> String {
    let esc = |s: String| s.replace('$', "$$").replace('\'', "''");
    format!(
        r#"
services:
  polite:
    image: bb
    command: ["sh", "-c", '{polite}']
    stop_signal: SIGINT
    stop_grace_period: 1m
    healthcheck: {{ disable: true }}
    deploy: {{ replicas: 2 }}
    volumes: ["sig:/sig"]
  imagesig:
    image: bb-usr1
    command: ["sh", "-c", '{imagesig}']
    stop_grace_period: 1m
    healthcheck: {{ disable: true }}
    volumes: ["sig:/sig"]
  stubborn:
    image: bb
    stop_grace_period: 1s
    volumes: ["sig:/sig"]
volumes:
  sig: {{}}
"#,
        polite = esc(trapper("polite")),
        imagesig = esc(trapper("imagesig")),
    )
}

/// The files under /sig, read through a throwaway container.
fn sig_file(d: &Daemon, name: &str) -> String {
    let out = d.skiff(&[
        "run",
        "--rm",
        "-v",
        "stop_sig:/sig",
        "bb",
        "sh",
        "-c",
        &format!("cat /sig/{name} 2>/dev/null; true"),
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready(d: &Daemon) -> usize {
    let out = d.skiff(&[
        "exec",
        "stop-stubborn-1",
        "sh",
        "-c",
        "ls /sig | grep -c ready",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn stop_signal_and_grace_reach_every_stop() {
    if !need_root("stop_signal_and_grace_reach_every_stop") {
        return;
    }
    let d = Daemon::start();
    build_bb(&d);
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("usr1");
    std::fs::create_dir(&ctx).unwrap();
    write(&ctx, "Containerfile", "FROM bb\nSTOPSIGNAL SIGUSR1\n");
    d.ok(&[
        "build",
        "-t",
        "bb-usr1",
        "-f",
        ctx.join("Containerfile").to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    let file = write(dir.path(), "compose.yaml", &compose());
    let f = file.to_str().unwrap();
    let _guard = JobGuard { d: &d, job: "stop" };
    d.ok(&["up", "-d", "-p", "stop", "-f", f]);
    wait_until("3 trapping shells ready", &d, || ready(&d) == 3);

    // The service definition reached the containers.
    let cfg = |name: &str| d.inspect(name)["config"].clone();
    let polite = cfg("stop-polite-1");
    assert_eq!(polite["stop_signal"], "SIGINT");
    assert_eq!(polite["stop_timeout"], 60);
    let imagesig = cfg("stop-imagesig-1");
    assert_eq!(imagesig["stop_signal"], "SIGUSR1", "the image's STOPSIGNAL");
    assert_eq!(cfg("stop-stubborn-1")["stop_timeout"], 1);

    // Scale-down stops one polite instance with SIGINT.
    d.ok(&["scale", "-p", "stop", "polite=1"]);
    wait_until("the scaled-down instance got SIGINT", &d, || {
        sig_file(&d, "polite") == "INT\n"
    });

    // down: SIGINT / SIGUSR1 to the shells; httpd ignores SIGTERM and is
    // killed after its 1 s grace. The bound is a sanity deadline only.
    let started = Instant::now();
    d.ok(&["down", "-p", "stop"]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(120), "down took {took:?}");
    assert_eq!(sig_file(&d, "polite"), "INT\nINT\n");
    assert_eq!(sig_file(&d, "imagesig"), "USR1\n");
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");

    // skiff run + stop: the image's STOPSIGNAL, and --stop-signal over it.
    let script = trapper("run");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "r1",
        "-v",
        "stop_sig:/sig",
        "bb-usr1",
        "sh",
        "-c",
        &script,
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "r2",
        "--stop-signal",
        "HUP",
        "-v",
        "stop_sig:/sig",
        "bb-usr1",
        "sh",
        "-c",
        &script,
    ]);
    wait_until("both run containers ready", &d, || {
        d.ok(&["exec", "r1", "sh", "-c", "ls /sig | grep -c ready"])
            .trim()
            == "5"
    });
    d.ok(&["stop", "r1"]);
    assert_eq!(sig_file(&d, "run"), "USR1\n");
    d.ok(&["stop", "r2"]);
    assert_eq!(sig_file(&d, "run"), "USR1\nHUP\n");
    d.ok(&["rm", "r1", "r2"]);
    // A bad --stop-signal is refused before anything is created.
    let bad = d.skiff(&["run", "-d", "--stop-signal", "SIGNOPE", "bb", "true"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SIGNOPE"));
    assert_eq!(d.ok(&["ps", "-aq"]).trim(), "");
    d.ok(&["volume", "rm", "stop_sig"]);
}
