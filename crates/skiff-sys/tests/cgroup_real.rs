//! Real cgroups on this host (needs root; skipped otherwise). Each test makes its own
//! `skiff-test-<pid>-<n>` group and a Drop guard that kills its processes and removes the
//! group in every hierarchy even when an assertion fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use skiff_sys::cgroup::{Cgroup, CgroupLayout, Resources};

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn unique_rel() -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    PathBuf::from(format!("skiff-test-{}-{n}", std::process::id()))
}

/// Owns a real group and the children spawned into it.
struct Guard {
    cg: Cgroup,
    children: Vec<Child>,
}

impl Guard {
    fn new() -> Option<Guard> {
        if !is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        let layout = CgroupLayout::discover().expect("discover");
        let cg = Cgroup::create(&layout, &unique_rel()).expect("create");
        Some(Guard {
            cg,
            children: Vec::new(),
        })
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let files = self.cg.procs_files();
        files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect()
    }

    /// The group's directory that holds `file`.
    fn file(&self, file: &str) -> PathBuf {
        self.dirs()
            .into_iter()
            .map(|d| d.join(file))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("no {file} in {:?}", self.dirs()))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.file(file))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.cg.thaw();
        let _ = self.cg.kill_all();
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup of {}: {e}", self.cg.rel_path().display());
        }
    }
}

fn sleeper() -> Child {
    Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep")
}

#[test]
fn limits_pids_freeze_kill_destroy() {
    let Some(mut g) = Guard::new() else { return };
    let v2 = CgroupLayout::discover().unwrap().is_v2();
    g.cg.apply(&Resources {
        memory_limit: Some(64 << 20),
        memory_swap_limit: None,
        cpu_quota: Some((50_000, 100_000)),
        cpu_shares: Some(512),
        pids_limit: Some(64),
    })
    .unwrap();
    if v2 {
        assert_eq!(g.read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(g.read("cpu.max"), "50000 100000");
        assert_eq!(g.read("cpu.weight"), "20");
    } else {
        assert_eq!(g.read("memory.limit_in_bytes"), (64u64 << 20).to_string());
        if g.dirs()
            .iter()
            .any(|d| d.join("memory.memsw.limit_in_bytes").exists())
        {
            assert_eq!(
                g.read("memory.memsw.limit_in_bytes"),
                (64u64 << 20).to_string()
            );
        }
        assert_eq!(g.read("cpu.cfs_quota_us"), "50000");
        assert_eq!(g.read("cpu.cfs_period_us"), "100000");
        assert_eq!(g.read("cpu.shares"), "512");
        assert_eq!(
            g.read("devices.list").lines().count(),
            11,
            "{}",
            g.read("devices.list")
        );
    }
    assert_eq!(g.read("pids.max"), "64");
    // Raise memory again (order of memory vs memsw matters on v1).
    g.cg.apply(&Resources {
        memory_limit: Some(256 << 20),
        ..Default::default()
    })
    .unwrap();
    g.cg.apply(&Resources {
        memory_limit: Some(32 << 20),
        ..Default::default()
    })
    .unwrap();

    g.children.push(sleeper());
    let pid = g.children[0].id() as i32;
    g.cg.add_pid(pid).unwrap();
    assert_eq!(g.cg.pids().unwrap(), vec![pid]);
    let s = g.cg.stats().unwrap();
    assert_eq!(s.pids_current, 1);
    assert_eq!(s.memory_limit, Some(32 << 20));
    eprintln!("stats right after add_pid: {s:?}"); // v1 does not move charges on migration

    g.cg.freeze().unwrap();
    assert!(g.cg.is_frozen().unwrap());
    if !v2 {
        assert_eq!(g.read("freezer.state"), "FROZEN");
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    eprintln!(
        "frozen child: {}",
        status.lines().find(|l| l.starts_with("State")).unwrap()
    );
    g.cg.thaw().unwrap();
    assert!(!g.cg.is_frozen().unwrap());

    g.cg.kill_all().unwrap();
    let exit = g.children[0].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&exit),
        Some(libc::SIGKILL)
    );
    g.children.clear();
    let dirs = g.dirs();
    g.cg.destroy().unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} still there", d.display());
    }
    g.cg.destroy().unwrap();
}

#[test]
fn memory_limit_oom_kills_and_is_counted() {
    let Some(mut g) = Guard::new() else { return };
    g.cg.apply(&Resources {
        memory_limit: Some(32 << 20),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(g.cg.oom_kill_count().unwrap(), 0);
    // The child waits on stdin until it is in the group, then grows a 200 MB shell string.
    let script = r#"read go; x=$(head -c 200000000 /dev/zero | tr "\0" x); echo survived"#;
    let mut child = Command::new("/bin/busybox")
        .args(["sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn busybox");
    g.cg.add_pid(child.id() as i32).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    eprintln!("oom child exit: {status:?}");
    g.children.push(child);
    let start = Instant::now();
    while g.cg.oom_kill_count().unwrap() == 0 && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(g.cg.oom_kill_count().unwrap() >= 1);
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Startup latency of joining a group: cargo test -p skiff-sys --test cgroup_real -- --ignored
/// --nocapture. Prints, asserts nothing about time (benchmarks own numbers).
#[test]
#[ignore]
fn measure_add_pid() {
    let Some(mut g) = Guard::new() else { return };
    let files = g.cg.procs_files();
    let samples = 20;
    let mut total = Vec::new();
    let mut per_file: Vec<Vec<Duration>> = vec![Vec::new(); files.len()];
    for _ in 0..samples {
        let child = sleeper();
        let pid = child.id().to_string();
        g.children.push(child);
        std::thread::sleep(Duration::from_millis(20));
        let t0 = Instant::now();
        for (i, f) in files.iter().enumerate() {
            let t = Instant::now();
            std::fs::write(f, &pid).unwrap();
            per_file[i].push(t.elapsed());
        }
        total.push(t0.elapsed());
    }
    println!(
        "add_pid, {} hierarchies back-to-back, median of {samples}: {:?}",
        files.len(),
        median(&mut total)
    );
    for (f, v) in files.iter().zip(per_file.iter_mut()) {
        println!("  {:<60} median {:?}", f.display(), median(v));
    }
    // One hierarchy alone, spaced out: is the cost per write or per burst?
    let mut single = Vec::new();
    for _ in 0..samples {
        let child = sleeper();
        let pid = child.id().to_string();
        g.children.push(child);
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        std::fs::write(&files[files.len() - 1], &pid).unwrap();
        single.push(t.elapsed());
    }
    println!(
        "one hierarchy alone ({}): median {:?}",
        files[files.len() - 1].display(),
        median(&mut single)
    );
    // Spaced writes: the same pid into each hierarchy with 20 ms gaps.
    let mut spaced = Vec::new();
    let child = sleeper();
    let pid = child.id().to_string();
    g.children.push(child);
    let g2 = Guard::new().unwrap();
    for f in g2.cg.procs_files() {
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        std::fs::write(&f, &pid).unwrap();
        spaced.push(t.elapsed());
    }
    println!("same pid, 20 ms between hierarchies: {spaced:?}");
    measure_unified(&mut g, samples);
}

/// In a hybrid layout, the cost a `unified` group would add (the layout skips it when it hosts
/// none of our controllers).
fn measure_unified(g: &mut Guard, samples: usize) {
    let uni = Path::new("/sys/fs/cgroup/unified");
    if !uni.join("cgroup.procs").exists() {
        return;
    }
    let dir = uni.join(format!("skiff-test-{}-unified", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut v = Vec::new();
    for _ in 0..samples {
        let child = sleeper();
        let pid = child.id().to_string();
        g.children.push(child);
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        std::fs::write(dir.join("cgroup.procs"), &pid).unwrap();
        v.push(t.elapsed());
    }
    println!("unified cgroup2 group alone: median {:?}", median(&mut v));
    let t = Instant::now();
    std::fs::write(dir.join("cgroup.kill"), "1").unwrap();
    println!("unified cgroup.kill of {samples}: {:?}", t.elapsed());
    for c in &mut g.children {
        let _ = c.wait();
    }
    let _ = std::fs::remove_dir(&dir);
}
