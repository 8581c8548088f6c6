//! End-to-end: a daemon killed with -9 loses no container, log line or exit code.

mod common;
use common::{need_root, rootfs, Daemon};
use std::time::Duration;

#[test]
fn kill9_daemon_then_restart_adopts_everything() {
    if !need_root("kill9_daemon_then_restart_adopts_everything") {
        return;
    }
    let mut d = Daemon::start();
    let r = rootfs().to_str().unwrap();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "--rootfs",
        r,
        "sh",
        "-c",
        "i=0; while [ $i -lt 100000 ]; do echo $i; i=$((i+1)); sleep 0.01; done",
    ]);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "quitter",
        "--rootfs",
        r,
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    let pid = d.inspect("counter")["state"]["pid"].as_i64().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    d.kill9();
    // While no daemon runs: the counter keeps counting, the quitter exits with 7.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container survived the daemon"
    );
    d.restart();
    let ps = d.ok(&["ps"]);
    assert!(ps.contains("counter"), "{ps}");
    assert_eq!(d.inspect("counter")["state"]["pid"].as_i64().unwrap(), pid);
    assert_eq!(
        d.ok(&["wait", "quitter"]).trim(),
        "7",
        "exit during downtime keeps its real code"
    );
    std::thread::sleep(Duration::from_millis(200));
    d.ok(&["stop", "-t", "1", "counter"]);
    // Every number, in order, none missing or doubled, across the restart.
    let logs = d.ok(&["logs", "counter"]);
    let nums: Vec<u64> = logs.lines().map(|l| l.trim().parse().expect(l)).collect();
    assert!(nums.len() > 50, "{} lines", nums.len());
    for (i, n) in nums.iter().enumerate() {
        assert_eq!(*n, i as u64, "gap or duplicate at line {i}");
    }
}

#[test]
fn keeper_runs_from_a_sealed_copy_of_the_binary() {
    if !need_root("keeper_runs_from_a_sealed_copy_of_the_binary") {
        return;
    }
    let d = Daemon::start();
    let keeper = d.keeper_pid().expect("keeper.pid");
    let exe = std::fs::read_link(format!("/proc/{keeper}/exe")).unwrap();
    assert!(
        exe.to_string_lossy().contains("memfd:"),
        "keeper exe {exe:?}"
    );
    // CVE-2019-5736: the binary every container's parent runs cannot be rewritten.
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{keeper}/exe"));
    assert!(opened.is_err(), "the keeper's executable is writable");
}
