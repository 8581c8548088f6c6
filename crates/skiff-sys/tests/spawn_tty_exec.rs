//! Real containers (root only): a pty as stdio, exec into a running container, user namespaces.

mod spawn_support;

use std::io::Read;

use skiff_sys::spawn::{self, ExecSpec, IdMap, Stdio};
use spawn_support::*;

fn check(r: &Rootfs) {
    r.assert_no_mounts();
    assert_no_children();
}

/// Reads a pty master until the slave side is gone (EIO).
fn read_master(master: std::os::fd::OwnedFd) -> String {
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn tty_stdio_is_dev_pts_0() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let (master, slave) = skiff_sys::pty::open_pty().expect("open_pty");
    skiff_sys::pty::set_winsize(&master, 24, 80).expect("winsize");
    let (_, w) = pipe();
    let (_, w2) = pipe();
    let mut s = spec(&r, &["sh", "-c", "tty; stty size"], w, w2);
    s.stdio = Stdio::Tty { slave };
    let pid = spawn::spawn(s)
        .and_then(|p| p.start())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = read_master(master);
    assert_eq!(wait(pid), 0, "{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["/dev/pts/0", "24 80"], "{out}");
    check(&r);
}

#[test]
fn exec_joins_the_containers_namespaces() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let mut s = spec(&r, &["sleep", "100"], devnull(), devnull());
    s.hostname = Some("exec-target".into());
    let init = spawn::spawn(s)
        .and_then(|p| p.start())
        .unwrap_or_else(|e| panic!("{e}"));
    let (out_rd, out_wr) = pipe();
    let exec = ExecSpec {
        target_pid: init,
        args: vec![
            "sh".into(),
            "-c".into(),
            "readlink /proc/self/ns/pid; hostname; echo $$".into(),
        ],
        env: vec!["PATH=/bin".into()],
        cwd: "/tmp".into(),
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        capabilities: skiff_sys::caps::CapSet::docker_default(),
        no_new_privileges: true,
        seccomp: None,
        stdio: Stdio::Fds {
            stdin: devnull(),
            stdout: out_wr,
            stderr: devnull(),
        },
        cgroup_procs: Vec::new(),
    };
    let pid = spawn::spawn_exec(exec).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    std::fs::File::from(out_rd)
        .read_to_string(&mut out)
        .expect("read");
    assert_eq!(wait(pid), 0, "exec'd process must be our direct child");
    let init_ns = std::fs::read_link(format!("/proc/{init}/ns/pid")).expect("readlink");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], init_ns.to_string_lossy());
    assert_eq!(lines[1], "exec-target");
    assert_ne!(lines[2], "1", "exec'd process is not the container's init");
    let missing = ExecSpec {
        target_pid: init,
        args: vec!["nonexist".into()],
        env: Vec::new(),
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        capabilities: skiff_sys::caps::CapSet::docker_default(),
        no_new_privileges: true,
        seccomp: None,
        stdio: Stdio::Fds {
            stdin: devnull(),
            stdout: devnull(),
            stderr: devnull(),
        },
        cgroup_procs: Vec::new(),
    };
    let e = spawn::spawn_exec(missing).expect_err("must fail");
    assert_eq!(e.exit_code(), 127, "{e}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    wait(init);
    check(&r);
}

#[test]
fn user_namespace_maps_root() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let map = IdMap {
        container_id: 0,
        host_id: 200_000,
        size: 65_536,
    };
    for d in [&r.upper, &r.work] {
        std::os::unix::fs::chown(d, Some(map.host_id), Some(map.host_id)).expect("chown");
    }
    let out = run_with(
        &r,
        &["sh", "-c", "id -u; cat /proc/self/uid_map; echo ok > /f"],
        |s| {
            s.namespaces.user = Some(map);
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("0"), "{}", out.stdout);
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.split_whitespace().eq(["0", "200000", "65536"])),
        "{}",
        out.stdout
    );
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(r.upper.join("f"))
        .expect("upper file")
        .uid();
    assert_eq!(owner, map.host_id);
    check(&r);
}
