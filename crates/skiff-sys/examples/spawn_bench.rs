//! Times `spawn()+start()+waitpid` of /bin/true (busybox rootfs, `--network none`
//! namespaces: pid, mount, uts, ipc, net, cgroup; no cgroups) and splits where the time goes.
//!
//! Run as root: `cargo run --release -p skiff-sys --example spawn_bench [RUNS]`.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use skiff_sys::caps::CapSet;
use skiff_sys::spawn::{self, InitSpec, Namespaces, Stdio};

struct Dirs {
    _tmp: tempfile::TempDir,
    lower: std::path::PathBuf,
    base: std::path::PathBuf,
}

fn rootfs() -> Dirs {
    let tmp = tempfile::Builder::new()
        .prefix("skiff-bench-")
        .tempdir()
        .expect("tempdir");
    let lower = tmp.path().join("lower");
    for d in ["bin", "proc", "dev", "sys", "tmp", "etc"] {
        std::fs::create_dir_all(lower.join(d)).expect("mkdir");
    }
    std::fs::copy("/bin/busybox", lower.join("bin/busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("busybox", lower.join("bin/true")).expect("symlink");
    Dirs {
        base: tmp.path().to_path_buf(),
        _tmp: tmp,
        lower,
    }
}

fn devnull() -> OwnedFd {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .expect("/dev/null")
        .into()
}

fn spec(d: &Dirs, i: usize, ns: Namespaces, masked: bool) -> InitSpec {
    let run = d.base.join(format!("run{i}"));
    let (upper, work, merged) = (run.join("upper"), run.join("work"), run.join("merged"));
    for p in [&upper, &work, &merged] {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    InitSpec {
        namespaces: ns,
        lower_dirs: vec![d.lower.clone()],
        upper_dir: upper,
        work_dir: work,
        merged_dir: merged,
        read_only: false,
        mounts: Vec::new(),
        hostname: Some("bench".into()),
        args: vec!["/bin/true".into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        capabilities: CapSet::docker_default(),
        no_new_privileges: true,
        seccomp: None,
        rlimits: Vec::new(),
        masked_paths: if masked {
            spawn::default_masked_paths()
        } else {
            Vec::new()
        },
        readonly_paths: if masked {
            spawn::default_readonly_paths()
        } else {
            Vec::new()
        },
        stdio: Stdio::Fds {
            stdin: devnull(),
            stdout: devnull(),
            stderr: devnull(),
        },
        cgroup_procs: Vec::new(),
        cgroup_fd: None,
        join_net: None,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `runs` containers; returns medians of (spawn, start, wait, total).
fn bench(d: &Dirs, runs: usize, ns: impl Fn() -> Namespaces, masked: bool) -> [Duration; 4] {
    let mut t = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for i in 0..runs {
        let s = spec(d, i, ns(), masked);
        let t0 = Instant::now();
        let p = spawn::spawn(s).unwrap_or_else(|e| panic!("spawn: {e}"));
        let t1 = Instant::now();
        let pid = p.start().unwrap_or_else(|e| panic!("start: {e}"));
        let t2 = Instant::now();
        let st = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).expect("waitpid");
        let t3 = Instant::now();
        assert!(
            matches!(st, nix::sys::wait::WaitStatus::Exited(_, 0)),
            "{st:?}"
        );
        for (v, dt) in t.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t3 - t0]) {
            v.push(dt);
        }
        let _ = std::fs::remove_dir_all(d.base.join(format!("run{i}")));
    }
    t.map(median)
}

fn netns_only(runs: usize) -> Duration {
    let mut v = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        // SAFETY: the child only calls _exit.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => {
                let r = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET);
                // SAFETY: _exit is always safe.
                unsafe { libc::_exit(i32::from(r.is_err())) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                nix::sys::wait::waitpid(child, None).expect("waitpid");
            }
            _ => panic!("fork"),
        }
        v.push(t0.elapsed());
    }
    median(v)
}

fn main() {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipped: needs root");
        return;
    }
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let d = rootfs();
    let all = || Namespaces {
        pid: true,
        mount: true,
        uts: true,
        ipc: true,
        net: true,
        cgroup: true,
        user: None,
    };
    let no_net = || Namespaces {
        net: false,
        ..all()
    };
    let full = bench(&d, runs, all, true);
    println!(
        "run /bin/true, --network none, {runs} runs, median: total {:.2} ms (spawn {:.2}, start->exec {:.2}, exit+reap {:.2})",
        ms(full[3]), ms(full[0]), ms(full[1]), ms(full[2])
    );
    let nonet = bench(&d, runs, no_net, true);
    println!(
        "  same without a net namespace: total {:.2} ms",
        ms(nonet[3])
    );
    let nomask = bench(&d, runs, all, false);
    println!(
        "  same without masked/read-only paths: total {:.2} ms",
        ms(nomask[3])
    );
    println!(
        "  fork + unshare(CLONE_NEWNET) + exit alone: {:.2} ms",
        ms(netns_only(runs))
    );
}
