//! Batch yields to service (issue 7), end to end as root: a daemon with a low
//! threshold and a short window, counting batch containers, service containers
//! that burn both cores. The batch containers are frozen (lowest priority
//! first), their counters stop, and once the load is gone they are thawed
//! (highest priority first) and count on from where they stopped. A container
//! the user paused is never thawed by the freezer, across daemon restarts.
//!
//! No timing assertions: every wait is a generous deadline on a condition.

mod common;

use common::{need_root, rootfs, Daemon};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Generous: the machine has 2 cores shared with builds and other tests.
const DEADLINE: Duration = Duration::from_secs(180);

/// Appends 1, 2, 3, ... to /out/count every 100 ms (one write per line).
const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i >> /out/count; sleep 0.1; done";
/// Two busy loops: enough to keep both cores busy with two such containers.
const BURN: &str = "while :; do :; done & while :; do :; done";

fn run_batch(d: &Daemon, name: &str, priority: &str, out: &Path) {
    let vol = format!("{}:/out", out.display());
    let prio = format!("skiff.priority={priority}");
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--rootfs",
        rootfs().to_str().unwrap(),
        "--label",
        "skiff.class=batch",
        "--label",
        &prio,
        "-v",
        &vol,
        "sh",
        "-c",
        COUNTER,
    ]);
}

fn run_burner(d: &Daemon, name: &str) {
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--rootfs",
        rootfs().to_str().unwrap(),
        "sh",
        "-c",
        BURN,
    ]);
}

/// The counter's values so far (complete lines only).
fn counts(out: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(out.join("count")).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .map(|l| l.trim().parse().expect("a number"))
        .collect()
}

fn last_count(out: &Path) -> u64 {
    counts(out).last().copied().unwrap_or(0)
}

/// Waits until `cond` holds, polling; panics with the daemon log at the deadline.
fn wait_for(d: &Daemon, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}; daemon log:\n{}", d.log());
}

fn state(d: &Daemon, name: &str) -> Value {
    d.inspect(name)["state"].clone()
}

fn frozen_by_pressure(d: &Daemon, name: &str) -> bool {
    let s = state(d, name);
    s["status"] == "paused" && s["paused_by"] == "cpu-pressure"
}

fn running(d: &Daemon, name: &str) -> bool {
    let s = state(d, name);
    s["status"] == "running" && s["paused_by"].is_null()
}

/// Line index in the daemon log of the first line containing `needle`.
fn log_line(d: &Daemon, needle: &str) -> usize {
    d.log()
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in the daemon log:\n{}", d.log()))
}

fn assert_user_paused(d: &Daemon, name: &str) {
    let s = state(d, name);
    assert_eq!(s["status"], "paused", "{name}: {s}");
    assert_eq!(s["paused_by"], "user", "{name}: {s}");
}

/// The whole counted sequence is 1, 2, 3, ...: never restarted, nothing skipped.
fn assert_unbroken(out: &Path) {
    let c = counts(out);
    for (i, v) in c.iter().enumerate() {
        assert_eq!(*v, i as u64 + 1, "count sequence broken at line {i}: {c:?}");
    }
}

#[test]
fn batch_yields_to_service_and_resumes_where_it_stopped() {
    if !need_root("batch_yields_to_service_and_resumes_where_it_stopped") {
        return;
    }
    // The usage signal (service containers' share of the host) is not moved
    // by whatever else this machine runs, so the thaw is certain once the
    // burners are gone.
    let mut d = Daemon::start_with(&[
        "--batch-pressure-source",
        "usage",
        "--batch-pressure-high",
        "5",
        "--batch-pressure-low",
        "2",
        "--batch-pressure-window",
        "2s",
    ]);
    let lo = tempfile::tempdir().unwrap();
    let hi = tempfile::tempdir().unwrap();
    let mine = tempfile::tempdir().unwrap();
    run_batch(&d, "count-lo", "1", lo.path());
    run_batch(&d, "count-hi", "5", hi.path());
    run_batch(&d, "mine", "-7", mine.path());
    d.ok(&["pause", "mine"]);
    assert_user_paused(&d, "mine");
    wait_for(&d, "the counters to count", || {
        last_count(lo.path()) >= 3 && last_count(hi.path()) >= 3
    });
    let pid_lo = state(&d, "count-lo")["pid"].clone();

    // Load: the lowest priority yields first, then the next; never out of order.
    run_burner(&d, "burn1");
    run_burner(&d, "burn2");
    wait_for(&d, "both batch containers frozen", || {
        let (l, h) = (
            frozen_by_pressure(&d, "count-lo"),
            frozen_by_pressure(&d, "count-hi"),
        );
        assert!(
            l || !h,
            "count-hi (priority 5) frozen before count-lo (priority 1)"
        );
        l && h
    });
    assert!(
        log_line(&d, "froze batch container count-lo")
            < log_line(&d, "froze batch container count-hi")
    );
    let ps = d.ok(&["ps"]);
    let row = ps.lines().find(|l| l.contains("count-lo")).unwrap();
    assert!(row.contains("Paused: cpu pressure"), "ps: {ps}");
    let row = ps.lines().find(|l| l.contains("mine")).unwrap();
    assert!(row.contains("(Paused)") && !row.contains("cpu"), "ps: {ps}");

    // Frozen means stopped: the counter does not move.
    let stopped_at = last_count(lo.path());
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        last_count(lo.path()),
        stopped_at,
        "a frozen counter advanced"
    );

    // A daemon restart keeps the freezer's containers frozen (and knows them).
    d.restart();
    assert!(frozen_by_pressure(&d, "count-lo") && frozen_by_pressure(&d, "count-hi"));
    assert_user_paused(&d, "mine");

    // Load gone: thawed, highest priority first, counting on from where they stopped.
    d.ok(&["rm", "-f", "burn1", "burn2"]);
    wait_for(&d, "both batch containers thawed", || {
        let (l, h) = (running(&d, "count-lo"), running(&d, "count-hi"));
        assert!(
            h || !l,
            "count-lo (priority 1) thawed before count-hi (priority 5)"
        );
        l && h
    });
    assert!(
        log_line(&d, "thawed batch container count-hi")
            < log_line(&d, "thawed batch container count-lo")
    );
    wait_for(&d, "the thawed counter to count on", || {
        last_count(lo.path()) >= stopped_at + 5
    });
    assert_unbroken(lo.path());
    assert_unbroken(hi.path());
    let s = state(&d, "count-lo");
    assert_eq!(s["pid"], pid_lo, "the batch container was restarted");
    assert_eq!(d.inspect("count-lo")["restart_count"], 0);

    // The user's pause outlives all of it, until the user lifts it.
    assert_user_paused(&d, "mine");
    let mine_at = last_count(mine.path());
    d.ok(&["unpause", "mine"]);
    wait_for(&d, "the user's container to count again", || {
        last_count(mine.path()) > mine_at
    });
    assert_unbroken(mine.path());
}

#[test]
fn psi_freezes_and_turning_the_freezer_off_releases_only_its_own() {
    if !need_root("psi_freezes_and_turning_the_freezer_off_releases_only_its_own") {
        return;
    }
    if skiff_sys_psi_missing() {
        eprintln!("skipped: this kernel has no /proc/pressure/cpu (PSI)");
        return;
    }
    // Host PSI: four busy loops on this machine keep a task waiting nearly all
    // the time, far above 50%. Low 0: nothing is thawed while this daemon runs.
    let mut d = Daemon::start_with(&[
        "--batch-pressure-source",
        "psi",
        "--batch-pressure-high",
        "50",
        "--batch-pressure-low",
        "0",
        "--batch-pressure-window",
        "2s",
    ]);
    let job = tempfile::tempdir().unwrap();
    let mine = tempfile::tempdir().unwrap();
    run_batch(&d, "job", "0", job.path());
    run_batch(&d, "mine", "0", mine.path());
    d.ok(&["pause", "mine"]);
    run_burner(&d, "burn1");
    run_burner(&d, "burn2");
    wait_for(&d, "the batch job frozen by PSI", || {
        frozen_by_pressure(&d, "job")
    });
    assert_user_paused(&d, "mine");
    let stopped_at = last_count(job.path());
    // A user's pause of a frozen container takes it over: the freezer lets go.
    let take = tempfile::tempdir().unwrap();
    run_batch(&d, "taken", "-1", take.path());
    wait_for(&d, "the second batch job frozen", || {
        frozen_by_pressure(&d, "taken")
    });
    d.ok(&["pause", "taken"]);
    assert_user_paused(&d, "taken");

    // `--batch-pressure off` thaws what the freezer froze, and only that.
    d.extra_args = vec!["--batch-pressure".into(), "off".into()];
    d.restart();
    wait_for(&d, "the frozen job released", || running(&d, "job"));
    assert_user_paused(&d, "mine");
    assert_user_paused(&d, "taken");
    wait_for(&d, "the released job to count on", || {
        last_count(job.path()) > stopped_at
    });
    assert_unbroken(job.path());
}

fn skiff_sys_psi_missing() -> bool {
    std::fs::read_to_string("/proc/pressure/cpu").is_err()
}

#[test]
fn bad_freezer_flags_stop_the_daemon_before_it_starts() {
    common::assert_daemon_refuses(&[
        (
            &["--batch-pressure-low", "70"][..],
            "--batch-pressure-low 70 must be below",
        ),
        (
            &["--batch-pressure-high", "101"][..],
            "--batch-pressure-high 101",
        ),
        (&["--batch-pressure-window", "200ms"][..], "at least 1s"),
        (&["--batch-pressure", "maybe"][..], "--batch-pressure"),
    ]);
}
