//! Ending an exec for good: the exec'd process *and everything it started*.
//! Killing only the exec'd pid (what `docker exec` timeouts amount to) leaves
//! its children running in the container, reparented to its init: a health
//! probe `sh -c 'sleep 1000'` that timed out would keep its `sleep` forever,
//! one more per interval.
//!
//! The tree is found through the host's /proc (parent links), stopped first
//! (SIGSTOP, so nothing in it can fork while it is being walked), walked again
//! until no new member appears, then killed (SIGKILL). Pid reuse is bounded:
//! the exec is still registered (not yet reported exited) when this starts.

use super::Runtime;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

impl Runtime {
    /// Kills exec `exec_id` and its descendants; false if it is not running.
    pub async fn kill_exec(&self, exec_id: &str) -> bool {
        let pid = {
            let execs = self.inner.execs.lock().unwrap_or_else(|p| p.into_inner());
            execs.get(exec_id).map(|e| e.pid)
        };
        let Some(pid) = pid.filter(|p| *p > 0) else {
            return false;
        };
        tokio::task::spawn_blocking(move || kill_tree(Path::new("/proc"), pid))
            .await
            .is_ok()
    }
}

/// Stops `root` and every descendant, then kills them all.
fn kill_tree(proc_root: &Path, root: i32) {
    let mut tree = BTreeSet::from([root]);
    let _ = kill(Pid::from_raw(root), Signal::SIGSTOP);
    // A fork in flight when its parent was stopped still completes: walk until stable.
    for _ in 0..16 {
        let children = children_map(proc_root);
        let found: Vec<i32> = tree
            .iter()
            .flat_map(|p| children.get(p).into_iter().flatten().copied())
            .filter(|c| !tree.contains(c))
            .collect();
        if found.is_empty() {
            break;
        }
        for c in found {
            let _ = kill(Pid::from_raw(c), Signal::SIGSTOP);
            tree.insert(c);
        }
    }
    for p in tree {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Parent pid -> child pids, over every process in `proc_root`.
fn children_map(proc_root: &Path) -> HashMap<i32, Vec<i32>> {
    let mut map: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return map;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if let Some(ppid) = parent_of(&stat) {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map
}

/// The ppid field of a /proc/PID/stat line (after the `(comm)`, which may hold anything).
fn parent_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppid_after_a_comm_with_parens_and_spaces() {
        assert_eq!(parent_of("42 (a) b (c) S 7 42 42 0"), Some(7));
        assert_eq!(parent_of("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn children_from_a_fake_proc() {
        let dir = tempfile::tempdir().unwrap();
        for (pid, ppid) in [(10, 1), (11, 10), (12, 11), (13, 1)] {
            let p = dir.path().join(pid.to_string());
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("stat"), format!("{pid} (x y) S {ppid} 0 0")).unwrap();
        }
        std::fs::create_dir(dir.path().join("self")).unwrap();
        let m = children_map(dir.path());
        let mut ones = m[&1].clone();
        ones.sort();
        assert_eq!(ones, [10, 13]);
        assert_eq!(
            (m[&10].as_slice(), m[&11].as_slice()),
            (&[11][..], &[12][..])
        );
    }

    #[test]
    fn kills_a_real_process_tree() {
        // sh -> sleep: both must be gone, the sleep included.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 1000 & sleep 1000; true"])
            .spawn()
            .unwrap();
        let root = child.id() as i32;
        let mut kids = Vec::new();
        for _ in 0..500 {
            kids = children_map(Path::new("/proc"))
                .get(&root)
                .cloned()
                .unwrap_or_default();
            if kids.len() == 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(kids.len(), 2, "sh started its two sleeps");
        kill_tree(Path::new("/proc"), root);
        let _ = child.wait();
        for k in kids {
            // Reparented to init (or a subreaper) and reaped there, or a zombie: never running.
            let alive = || {
                let stat = std::fs::read_to_string(format!("/proc/{k}/stat")).unwrap_or_default();
                let state = stat
                    .rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_owned));
                state.is_some_and(|s| s != "Z")
            };
            // SIGKILL is delivered asynchronously: allow the kernel a moment (bounded, generous).
            let mut tries = 0;
            while alive() && tries < 3000 {
                std::thread::sleep(std::time::Duration::from_millis(10));
                tries += 1;
            }
            assert!(!alive(), "child {k} survived kill_tree");
        }
    }
}
