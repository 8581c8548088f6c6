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
    assert!(
        err.contains("nonexistent-command"),
        "message names the command: {err}"
    );
    let (code, _, err) = d.run(&[], &["/etc/passwd"]);
    assert_eq!(code, 126, "stderr: {err}");
    // A shell whose child was killed by SIGKILL returns 128+9, as with Docker.
    assert_eq!(
        d.run(&[], &["sh", "-c", "sh -c 'kill -9 $$'; exit $?"]).0,
        137
    );
    // A container killed by signal N exits 128+N.
    let id = d.ok(&[
        "run",
        "-d",
        "--rootfs",
        common::rootfs().to_str().unwrap(),
        "sleep",
        "30",
    ]);
    d.ok(&["kill", id.trim()]);
    assert_eq!(d.ok(&["wait", id.trim()]).trim(), "137");
    d.ok(&["rm", id.trim()]);
    let (code, out, _) = d.run(
        &["-e", "GREETING=hi", "-w", "/tmp", "-h", "boat"],
        &["sh", "-c", "echo $GREETING $(pwd) $(hostname)"],
    );
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
    // Masked /proc files read as empty (this kernel may lack /proc/kcore: check what exists).
    for f in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ] {
        if std::path::Path::new(f).exists() {
            let (code, out, err) = d.run(&[], &["sh", "-c", &format!("cat {f} | wc -c")]);
            assert_eq!((code, out.trim()), (0, "0"), "{f} is masked: {err}");
        }
    }
    let (_, pids, _) = d.run(&[], &["sh", "-c", "ls /proc | grep -c '^[0-9]'"]);
    assert!(
        pids.trim().parse::<u32>().unwrap_or(99) <= 3,
        "host pids visible: {pids}"
    );
    // Only stdio reaches the program (ls's own directory fd is 3).
    let (_, fds, _) = d.run(&[], &["ls", "/proc/self/fd"]);
    assert_eq!(
        fds.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"],
        "{fds}"
    );
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
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "--rootfs",
        common::rootfs().to_str().unwrap(),
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived",
    ]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let r = common::rootfs().to_str().unwrap();
    let id = d.ok(&["run", "-d", "--pids-limit", "20", "--rootfs", r, "sh", "-c",
        "i=0; while [ $i -lt 200 ]; do (sleep 30 &) 2>/dev/null; i=$((i+1)); done; echo done; sleep 30"]);
    let id = id.trim();
    let dir = d
        .cgroup_dirs(id)
        .into_iter()
        .find(|p| p.join("pids.max").exists() || p.join("pids.current").exists())
        .expect("pids cgroup");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline && !d.ok(&["logs", id]).contains("done") {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let current: u64 = std::fs::read_to_string(dir.join("pids.current"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(current <= 20, "pids.current {current} within the limit");
    let events = std::fs::read_to_string(dir.join("pids.events")).unwrap_or_default();
    assert!(!events.contains("max 0"), "forks were refused: {events}");
    // The host stays responsive: skiff itself still answers.
    d.ok(&["ps"]);
    d.ok(&["rm", "-f", id]);
}

#[test]
fn cpu_quota_is_applied() {
    if !need_root("cpu_quota_is_applied") {
        return;
    }
    let d = Daemon::start();
    let id = d.ok(&[
        "run",
        "-d",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--rootfs",
        common::rootfs().to_str().unwrap(),
        "sleep",
        "30",
    ]);
    let id = id.trim();
    let dirs = d.cgroup_dirs(id);
    let quota = dirs
        .iter()
        .find_map(|p| std::fs::read_to_string(p.join("cpu.cfs_quota_us")).ok())
        .or_else(|| {
            dirs.iter()
                .find_map(|p| std::fs::read_to_string(p.join("cpu.max")).ok())
        })
        .expect("a cpu quota file");
    assert!(quota.trim().starts_with("50000"), "quota {quota}");
    d.ok(&["rm", "-f", id]);
    assert!(
        d.cgroup_dirs(id).is_empty(),
        "cgroups removed with the container"
    );
}

#[test]
fn tty_userns_and_stats() {
    if !need_root("tty_userns_and_stats") {
        return;
    }
    let d = Daemon::start();
    // -t: the container's stdio is a real pty.
    let (code, out, err) = d.run(&["-t"], &["tty"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("/dev/pts/"), "{out:?}");
    // --userns auto: root inside, an unprivileged range outside.
    let (code, out, err) = d.run(
        &["--userns", "auto", "--network", "none"],
        &["sh", "-c", "id -u; cat /proc/self/uid_map"],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map[0], "0");
    assert_ne!(map[1], "0", "uid 0 inside is not host root: {out}");
    // --network none still has a working loopback, as with Docker.
    let (code, out, err) = d.run(&[], &["sh", "-c", "mkdir /www && echo served > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && wget -qO- http://127.0.0.1:8080/"]);
    assert_eq!((code, out.trim()), (0, "served"), "{err}");
    // -u: a named user from the rootfs's /etc/passwd.
    let (_, out, _) = d.run(&["-u", "www"], &["id"]);
    assert!(
        out.starts_with("uid=33(") && out.contains("gid=33("),
        "{out}"
    );
    // stats of a running container come from its cgroup.
    let id = d.ok(&[
        "run",
        "-d",
        "-m",
        "64m",
        "--rootfs",
        common::rootfs().to_str().unwrap(),
        "sleep",
        "30",
    ]);
    let stats = d.ok(&["stats", "--no-stream", "--format", "json", id.trim()]);
    let v: serde_json::Value =
        serde_json::from_str(stats.lines().next().unwrap_or("{}")).unwrap_or_default();
    let v = v.get(0).cloned().unwrap_or(v);
    assert!(
        v["MemUsage"].as_str().unwrap_or("").ends_with("/ 64MiB"),
        "memory limit in stats: {stats}"
    );
    assert_eq!(v["PIDs"], "1", "{stats}");
    d.ok(&["rm", "-f", id.trim()]);
}
