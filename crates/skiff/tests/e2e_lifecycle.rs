//! End-to-end: stop/kill/pause/exec/logs/rm, and what `rm` leaves behind.

mod common;
use common::{need_root, rootfs, Daemon};
use std::time::{Duration, Instant};

fn run_d(d: &Daemon, name: &str, cmd: &[&str]) -> String {
    let mut args = vec![
        "run",
        "-d",
        "--name",
        name,
        "--rootfs",
        rootfs().to_str().unwrap(),
    ];
    args.extend_from_slice(cmd);
    d.ok(&args).trim().to_string()
}

#[test]
fn stop_sends_term_then_kill_after_timeout() {
    if !need_root("stop_sends_term_then_kill_after_timeout") {
        return;
    }
    let d = Daemon::start();
    run_d(
        &d,
        "polite",
        &[
            "sh",
            "-c",
            "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    d.ok(&["stop", "-t", "5", "polite"]);
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "TERM handled promptly"
    );
    assert_eq!(d.inspect("polite")["state"]["exit_code"], 0);
    assert!(d.ok(&["logs", "polite"]).contains("got TERM"));
    // busybox sleep as pid 1 ignores TERM: killed after the timeout.
    run_d(&d, "stubborn", &["sleep", "60"]);
    let t = Instant::now();
    d.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(d.inspect("stubborn")["state"]["exit_code"], 137);
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    if !need_root("pause_freezes_and_unpause_thaws") {
        return;
    }
    let d = Daemon::start();
    let id = run_d(
        &d,
        "ticker",
        &["sh", "-c", "while true; do echo tick; sleep 0.05; done"],
    );
    d.ok(&["pause", "ticker"]);
    assert_eq!(d.inspect("ticker")["state"]["status"], "paused");
    let frozen = d.cgroup_dirs(&id).iter().any(|p| {
        std::fs::read_to_string(p.join("freezer.state"))
            .map(|s| s.trim() == "FROZEN")
            .unwrap_or(false)
            || std::fs::read_to_string(p.join("cgroup.freeze"))
                .map(|s| s.trim() == "1")
                .unwrap_or(false)
    });
    assert!(frozen, "cgroup frozen");
    let before = d.ok(&["logs", "ticker"]).lines().count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.ok(&["logs", "ticker"]).lines().count(),
        before,
        "no output while paused"
    );
    d.ok(&["unpause", "ticker"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.ok(&["logs", "ticker"]).lines().count() > before);
    d.ok(&["rm", "-f", "ticker"]);
}

#[test]
fn exec_joins_the_container() {
    if !need_root("exec_joins_the_container") {
        return;
    }
    let d = Daemon::start();
    run_d(&d, "box", &["sleep", "60"]);
    let pid = d.inspect("box")["state"]["pid"].as_i64().expect("pid");
    let init_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let init_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let out = d.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; hostname",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], init_ns.to_str().unwrap());
    assert_eq!(lines[1], init_mnt.to_str().unwrap());
    assert_eq!(
        d.skiff(&["exec", "box", "sh", "-c", "exit 5"])
            .status
            .code(),
        Some(5)
    );
    let status = d.ok(&["exec", "box", "cat", "/proc/self/status"]);
    assert!(status
        .lines()
        .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1')));
    d.ok(&["rm", "-f", "box"]);
}

#[test]
fn logs_keep_order_and_tail() {
    if !need_root("logs_keep_order_and_tail") {
        return;
    }
    let d = Daemon::start();
    run_d(
        &d,
        "talker",
        &[
            "sh",
            "-c",
            "for i in $(seq 1 200); do echo line$i; done; echo oops >&2",
        ],
    );
    let code = d.ok(&["wait", "talker"]);
    assert_eq!(code.trim(), "0");
    let logs = d.skiff(&["logs", "talker"]);
    let out = String::from_utf8_lossy(&logs.stdout);
    let want: Vec<String> = (1..=200).map(|i| format!("line{i}")).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    assert_eq!(String::from_utf8_lossy(&logs.stderr).trim(), "oops");
    // --tail counts lines of both streams, as docker's does. Which of stdout's last
    // line and stderr's "oops" was read first is up to the scheduler, as with docker.
    let tail = d.skiff(&["logs", "--tail", "3", "talker"]);
    let tail_out = String::from_utf8_lossy(&tail.stdout);
    let lines: Vec<&str> = tail_out.lines().collect();
    assert!(
        lines.ends_with(&["line199", "line200"]) && lines.len() <= 3,
        "{lines:?}"
    );
    let ts = d.ok(&["logs", "-t", "--tail", "3", "talker"]);
    assert!(ts.starts_with("20") && ts.contains("Z line200"), "{ts}");
}

#[test]
fn rm_leaves_nothing_behind() {
    if !need_root("rm_leaves_nothing_behind") {
        return;
    }
    let d = Daemon::start();
    let id = run_d(&d, "tidy", &["sleep", "60"]);
    let pid = d.inspect("tidy")["state"]["pid"].as_i64().unwrap() as i32;
    assert!(!d.cgroup_dirs(&id).is_empty());
    let err = d.skiff(&["rm", "tidy"]);
    assert!(!err.status.success(), "rm of a running container needs -f");
    d.ok(&["rm", "-f", "tidy"]);
    assert!(d.cgroup_dirs(&id).is_empty(), "cgroups gone");
    assert_eq!(common::mounts_mentioning(&id), 0, "mounts gone");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process gone"
    );
    assert!(
        !d.root.path().join("containers").join(&id).exists(),
        "state gone"
    );
}

#[test]
fn restart_policy_restarts_with_backoff() {
    if !need_root("restart_policy_restarts_with_backoff") {
        return;
    }
    let d = Daemon::start();
    run_d(
        &d,
        "flaky",
        &["--restart", "on-failure:3", "sh", "-c", "echo run; exit 1"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && d.inspect("flaky")["restart_count"] != 3 {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(d.wait_status("flaky", "exited", Duration::from_secs(5)));
    assert_eq!(d.inspect("flaky")["restart_count"], 3);
    assert_eq!(
        d.ok(&["logs", "flaky"]).lines().count(),
        4,
        "first run + 3 restarts"
    );
}
