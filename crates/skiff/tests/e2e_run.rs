//! End-to-end: `skiff run` exit codes, confinement defaults and limits, as root.

mod common;
use common::{need_root, Daemon};

#[test]
fn exit_codes_follow_docker() {
    if !need_root("exit_codes_follow_docker") {
        return;
    }
    let d = Daemon::start();
    assert_eq!(d.run(&[], &["/bin/true"]).0, 0);
    assert_eq!(d.run(&[], &["sh", "-c", "exit 3"]).0, 3);
    let (code, _, err) = d.run(&[], &["nonexistent-command"]);
    assert_eq!(code, 127, "stderr: {err}");
    assert!(err.contains("nonexistent-command"), "message names the command: {err}");
    let (code, _, err) = d.run(&[], &["/etc/passwd"]);
    assert_eq!(code, 126, "stderr: {err}");
    assert_eq!(d.run(&[], &["sh", "-c", "kill -9 $$"]).0, 137);
    let (code, out, _) = d.run(&["-e", "GREETING=hi", "-w", "/tmp", "-h", "boat"], &["sh", "-c", "echo $GREETING $(pwd) $(hostname)"]);
    assert_eq!((code, out.trim()), (0, "hi /tmp boat"));
}

#[test]
fn default_container_is_confined() {
    if !need_root("default_container_is_confined") {
        return;
    }
    let d = Daemon::start();
    let (code, status, _) = d.run(&[], &["cat", "/proc/self/status"]);
    assert_eq!(code, 0);
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_string()
    };
    // Docker's 14 default capabilities minus NET_RAW.
    assert_eq!(field("CapEff:"), "00000000a80405fb");
    assert_eq!(field("CapBnd:"), "00000000a80405fb");
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2");
    let denied = |cmd: &str| {
        let (code, out, err) = d.run(&[], &["sh", "-c", cmd]);
        assert_ne!(code, 0, "{cmd} should fail: {out}{err}");
    };
    denied("mount -t tmpfs none /mnt");
    denied("unshare -U true");
    denied("echo 1 > /proc/sys/kernel/domainname");
    denied("ping -c 1 -W 1 127.0.0.1");
    let (_, kcore, _) = d.run(&[], &["sh", "-c", "wc -c < /proc/kcore"]);
    assert_eq!(kcore.trim(), "0", "/proc/kcore is masked");
    let (_, pids, _) = d.run(&[], &["sh", "-c", "ls /proc | grep -c '^[0-9]'"]);
    assert!(pids.trim().parse::<u32>().unwrap_or(99) <= 3, "host pids visible: {pids}");
    let (_, me, _) = d.run(&[], &["sh", "-c", "echo $$"]);
    assert_eq!(me.trim(), "1");
    let (code, _, _) = d.run(&["--read-only"], &["touch", "/x"]);
    assert_ne!(code, 0, "--read-only root is read-only");
    // The rootfs directory is never modified.
    assert_eq!(d.run(&[], &["touch", "/created-by-test"]).0, 0);
    assert!(!common::rootfs().join("created-by-test").exists());
}

#[test]
fn memory_limit_oom_kills_with_137() {
    if !need_root("memory_limit_oom_kills_with_137") {
        return;
    }
    let d = Daemon::start();
    let out = d.skiff(&[
        "run", "--name", "hog", "-m", "16m", "--rootfs", common::rootfs().to_str().unwrap(),
        "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", String::from_utf8_lossy(&out.stderr));
    let info = d.inspect("hog");
    assert_eq!(info["state"]["OOMKilled"], true, "{info}");
    assert_eq!(info["state"]["exit_code"], 137);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !need_root("pids_limit_stops_a_fork_bomb") {
        return;
    }
    let d = Daemon::start();
    let (code, out, err) = d.run(
        &["--pids-limit", "20"],
        &["sh", "-c", "n=0; for i in $(seq 60); do sleep 3 & n=$((n+1)); done 2>/dev/null; cat /sys/fs/cgroup/pids/pids.current 2>/dev/null; jobs -p | wc -l"],
    );
    // The shell itself survives; fewer than 60 sleeps could be forked.
    let started: u32 = out.lines().last().unwrap_or("99").trim().parse().unwrap_or(99);
    assert!(started < 20, "code {code}, started {started}: {out} {err}");
}

#[test]
fn cpu_quota_is_applied() {
    if !need_root("cpu_quota_is_applied") {
        return;
    }
    let d = Daemon::start();
    let id = d.ok(&["run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "--rootfs", common::rootfs().to_str().unwrap(), "sleep", "30"]);
    let id = id.trim();
    let dirs = common::cgroup_dirs(id);
    let quota = dirs.iter().find_map(|p| std::fs::read_to_string(p.join("cpu.cfs_quota_us")).ok())
        .or_else(|| dirs.iter().find_map(|p| std::fs::read_to_string(p.join("cpu.max")).ok()))
        .expect("a cpu quota file");
    assert!(quota.trim().starts_with("50000"), "quota {quota}");
    d.ok(&["rm", "-f", id]);
    assert!(common::cgroup_dirs(id).is_empty(), "cgroups removed with the container");
}
