//! The last line of a test daemon's teardown: whatever its containers left
//! once the daemon and keeper are gone (normally nothing; after a daemon that
//! could not be brought back, everything) is removed here, touching only
//! names this test daemon owns: its cgroup parent, its state dir's mounts,
//! its bridge and that bridge's elements in the shared nft table.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills, unmounts and removes what the daemon rooted at `root` made.
pub fn sweep(root: &Path, cgroup_parent: &str, bridge: &str) {
    let tops = cgroup_tops(cgroup_parent);
    kill_cgroup_members(&tops);
    for top in &tops {
        remove_cgroup_tree(top);
    }
    unmount_under(root);
    if Path::new("/sys/class/net").join(bridge).exists() {
        quiet(Command::new("ip").args(["link", "del", bridge]));
        for set in ["bridges", "egress"] {
            let elem = format!("{{ \"{bridge}\" }}");
            quiet(Command::new("nft").args(["delete", "element", "inet", "skiff", set, &elem]));
        }
        let same = format!("{{ \"{bridge}\" . \"{bridge}\" }}");
        quiet(Command::new("nft").args(["delete", "element", "inet", "skiff", "same", &same]));
    }
}

fn quiet(cmd: &mut Command) {
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// `<hierarchy>/<parent>` in every mounted cgroup hierarchy (v1 and v2).
fn cgroup_tops(parent: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = Path::new("/sys/fs/cgroup");
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            let p = e.path().join(parent);
            if p.is_dir() {
                out.push(p);
            }
        }
    }
    let v2 = base.join(parent);
    if v2.join("cgroup.procs").exists() {
        out.push(v2);
    }
    out
}

/// Every directory under `top`, deepest first.
fn subtree(top: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![top.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        if let Ok(entries) = std::fs::read_dir(&dirs[i]) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path());
                }
            }
        }
        i += 1;
    }
    dirs.reverse();
    dirs
}

/// SIGKILLs every process in the trees (thawing frozen ones so the kill lands),
/// until they are empty (bounded: a process stuck in the kernel is reported).
fn kill_cgroup_members(tops: &[PathBuf]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut any = false;
        for dir in tops.iter().flat_map(|t| subtree(t)) {
            let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
            let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                any = true;
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if !any {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("test cleanup: processes left in {tops:?}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn remove_cgroup_tree(top: &Path) {
    for dir in subtree(top) {
        // An exiting task can keep a cgroup busy for a moment.
        for _ in 0..100 {
            if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Lazily unmounts every mount at or under `root`, deepest first.
fn unmount_under(root: &Path) {
    let Some(root) = root.to_str() else { return };
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| p == root || p.starts_with(&format!("{root}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        quiet(Command::new("umount").args(["-l", &p]));
    }
}
