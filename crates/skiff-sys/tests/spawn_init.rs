//! Real containers (root only): exit codes, errors, isolation, masked paths, the rootfs.

mod spawn_support;

use spawn_support::*;

fn check(r: &Rootfs) {
    r.assert_no_mounts();
    assert_no_children();
}

#[test]
fn true_exits_zero_and_false_one() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    assert_eq!(run(&r, &["/bin/true"]).code, 0);
    assert_eq!(run(&r, &["false"]).code, 1);
    check(&r);
}

#[test]
fn missing_command_is_127_with_message() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let e = run_with(&r, &["nonexist"], |_| {}).expect_err("must fail");
    assert_eq!(e.exit_code(), 127, "{e}");
    assert_eq!(
        e.to_string(),
        "exec: \"nonexist\": executable file not found in $PATH"
    );
    let e = run_with(&r, &["/nonexist"], |_| {}).expect_err("must fail");
    assert_eq!(e.exit_code(), 127, "{e}");
    check(&r);
}

#[test]
fn non_executable_is_126() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let e = run_with(&r, &["/etc/notexec"], |_| {}).expect_err("must fail");
    assert_eq!(e.exit_code(), 126, "{e}");
    assert!(e.to_string().contains("permission denied"), "{e}");
    check(&r);
}

#[test]
fn hostname_and_pid_one() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    assert_eq!(run(&r, &["hostname"]).stdout.trim(), "skiff-test");
    assert_eq!(run(&r, &["sh", "-c", "echo $$"]).stdout.trim(), "1");
    check(&r);
}

#[test]
fn proc_is_masked_and_read_only() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let out = run(&r, &["sh", "-c", "cat /proc/kcore | wc -c"]);
    assert_eq!(out.stdout.trim(), "0", "{}", out.stderr);
    // kernel/hostname is per UTS namespace: harmless even if the write went through.
    let out = run(
        &r,
        &[
            "sh",
            "-c",
            "echo other > /proc/sys/kernel/hostname && echo writable",
        ],
    );
    assert_ne!(out.code, 0, "/proc/sys must be read-only: {}", out.stdout);
    assert!(out.stderr.contains("Read-only"), "{}", out.stderr);
    check(&r);
}

#[test]
fn writes_go_to_upper_not_lower() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    assert_eq!(run(&r, &["sh", "-c", "echo hi > /etc/x"]).code, 0);
    assert!(!r.lower.join("etc/x").exists(), "lower dir was modified");
    assert_eq!(
        std::fs::read_to_string(r.upper.join("etc/x")).expect("upper"),
        "hi\n"
    );
    check(&r);
}

#[test]
fn cannot_mount_without_cap_sys_admin() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let out = run(&r, &["mount", "-t", "tmpfs", "none", "/mnt"]);
    assert_ne!(out.code, 0, "mount must fail");
    check(&r);
}

#[test]
fn no_new_privs_and_seccomp_filter() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let caps = skiff_sys::caps::CapSet::docker_default();
    let filter = skiff_sys::seccomp::SeccompProfile::docker_default()
        .compile(caps)
        .expect("compile");
    let out = run_with(&r, &["cat", "/proc/self/status"], |s| {
        s.seccomp = Some(filter)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{}", out.stdout);
    assert!(out.stdout.contains("Seccomp:\t2"), "{}", out.stdout);
    check(&r);
}

#[test]
fn devices_and_dev_layout() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let script = "echo x > /dev/null; readlink /dev/ptmx; readlink /dev/fd; stat -c %a /dev/shm";
    let out = run(&r, &["sh", "-c", script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(&"pts/ptmx"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(lines.contains(&"/proc/self/fd"), "{}", out.stdout);
    assert!(lines.contains(&"1777"), "{}", out.stdout);
    check(&r);
}

#[test]
fn user_mounts_read_only_root_and_cwd() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let vol = r.dir.path().join("vol");
    std::fs::create_dir(&vol).expect("mkdir");
    std::fs::write(vol.join("data"), "from host\n").expect("write");
    let script = "cat /data/vol/data; pwd; echo y > /data/vol/new && echo vol-writable; \
                  echo z > /scratch/f && echo tmpfs-writable; echo q > /etc/q || echo root-ro";
    let out = run_with(&r, &["sh", "-c", script], |s| {
        s.read_only = true;
        s.cwd = "/work/dir".into();
        s.mounts = vec![
            skiff_sys::spawn::MountSpec {
                destination: "/data/vol".into(),
                kind: skiff_sys::spawn::MountKind::Bind {
                    source: vol.clone(),
                    recursive: true,
                },
                read_only: true,
            },
            skiff_sys::spawn::MountSpec {
                destination: "/scratch".into(),
                kind: skiff_sys::spawn::MountKind::Tmpfs {
                    options: "size=1m".into(),
                },
                read_only: false,
            },
        ];
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["from host", "/work/dir", "tmpfs-writable", "root-ro"],
        "{}",
        out.stderr
    );
    assert!(!vol.join("new").exists());
    check(&r);
}

#[test]
fn symlinked_destination_stays_inside_rootfs() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let outside = r.dir.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    // /escape -> <tempdir>/outside, which exists both on the host and (under the same path)
    // inside the rootfs: the mount must land on the rootfs copy, never the host's.
    std::os::unix::fs::symlink(&outside, r.lower.join("escape")).expect("symlink");
    let inside = r.lower.join(outside.strip_prefix("/").expect("absolute"));
    std::fs::create_dir_all(&inside).expect("mkdir inside");
    let out = run_with(
        &r,
        &["sh", "-c", "touch /escape/planted && ls /escape"],
        |s| {
            s.mounts = vec![skiff_sys::spawn::MountSpec {
                destination: "/escape".into(),
                kind: skiff_sys::spawn::MountKind::Tmpfs {
                    options: String::new(),
                },
                read_only: false,
            }];
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "planted");
    assert_eq!(
        std::fs::read_dir(&outside).expect("readdir").count(),
        0,
        "wrote to the host"
    );
    assert_eq!(
        std::fs::read_dir(&inside).expect("readdir").count(),
        0,
        "tmpfs was not on top"
    );
    check(&r);
}

#[test]
fn rlimit_errors_name_the_limit() {
    if !is_root() {
        return;
    }
    let _g = serial();
    let r = Rootfs::new();
    let (_, hard) = skiff_sys::rlimit::current(libc::RLIMIT_NOFILE as i32).expect("limit");
    let out = run_with(&r, &["sh", "-c", "ulimit -n"], |s| {
        s.rlimits = vec![skiff_sys::spawn::Rlimit {
            resource: libc::RLIMIT_NOFILE as i32,
            soft: 1000,
            hard,
        }];
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stdout.trim(), "1000");
    let e = run_with(&r, &["true"], |s| {
        s.rlimits = vec![skiff_sys::spawn::Rlimit {
            resource: libc::RLIMIT_NOFILE as i32,
            soft: hard.saturating_add(1),
            hard: hard.saturating_add(1),
        }];
    });
    if let Err(e) = e {
        assert_eq!(e.exit_code(), 125);
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }
    check(&r);
}
