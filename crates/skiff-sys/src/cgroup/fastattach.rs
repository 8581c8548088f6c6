//! Fast cgroup attach on cgroup v1 hosts.
//!
//! Every write to a v1 `cgroup.procs` takes the global `cgroup_threadgroup_rwsem`
//! for writing, which waits for an RCU grace period when no migration happened
//! recently: measured here at 7-24 ms, paid by most container starts. Mounting
//! any cgroup hierarchy with `favordynmods` (Linux >= 6.0) keeps that rwsem's
//! readers on their slow path, so writers never wait: attaches drop to
//! 10-80 us. The price, per the kernel docs, is slightly slower fork and exit.
//! The mount is an empty named v1 hierarchy with no controllers; the effect
//! lasts while it is mounted, so the daemon holds it for its lifetime.
//! (cgroup v2 hosts don't need it: clone3 CLONE_INTO_CGROUP skips migration.)

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::io;
use std::path::{Path, PathBuf};

/// The named hierarchy skiff mounts; shared by every daemon on the host.
const NAME: &str = "skiff-fastattach";

/// A held favordynmods mount; unmounted on drop.
#[derive(Debug)]
pub struct FastAttach {
    target: PathBuf,
}

impl FastAttach {
    /// Mounts the named hierarchy at `target` (created if missing).
    pub fn mount(target: &Path) -> io::Result<FastAttach> {
        std::fs::create_dir_all(target)?;
        // A daemon killed with -9 left its mount behind: take it (and any stack) down first.
        for _ in 0..16 {
            if umount2(target, MntFlags::MNT_DETACH).is_err() {
                break;
            }
        }
        let opts = format!("none,name={NAME},favordynmods");
        mount(
            Some("cgroup"),
            target,
            Some("cgroup"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(opts.as_str()),
        )
        .map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("mount cgroup {opts} on {}: {e}", target.display()),
            )
        })?;
        Ok(FastAttach {
            target: target.to_path_buf(),
        })
    }
}

impl Drop for FastAttach {
    fn drop(&mut self) {
        let _ = umount2(&self.target, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.target);
    }
}
