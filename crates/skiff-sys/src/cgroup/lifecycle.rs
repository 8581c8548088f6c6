//! Creating, freezing, killing and removing a group across all hierarchies in use.
//!
//! ```text
//!  create ──> (apply, add_pid)* ──> freeze <──> thaw ──> kill_all ──> destroy
//!                                                   (destroy is idempotent)
//! ```

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::layout::Controller;
use super::{fsio, v1, v2, Cgroup, CgroupError};

/// How long `destroy` retries `rmdir` on EBUSY (killed tasks still exiting).
const DESTROY_WAIT: Duration = Duration::from_secs(1);
/// Kill passes without a freezer (each rereads `cgroup.procs` to catch forks).
const KILL_PASSES: usize = 20;

impl Cgroup {
    /// mkdir -p in every hierarchy, delegates controllers on v2, restricts devices on v1.
    /// On error removes the directories it made (deepest first) and returns the first error.
    pub(super) fn create_dirs(&self) -> Result<(), CgroupError> {
        let mut made = Vec::new();
        let res = self.create_in_all(&mut made);
        if res.is_err() {
            for d in made.iter().rev() {
                let _ = fs::remove_dir(d);
            }
        }
        res
    }

    fn create_in_all(&self, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
        for h in &self.layout.hierarchies {
            mkdir_p(&h.mount, &self.rel, made)?;
            if h.v2 {
                v2::delegate(&h.mount, &self.rel, &self.v2_controllers_wanted())?;
            }
        }
        if let Ok((dir, h)) = self.dir_of(Controller::Devices, "devices") {
            if !h.v2 {
                v1::restrict_devices(&dir)?;
            }
        }
        Ok(())
    }

    /// Our controllers the layout resolved to cgroup2 and the v2 root offers.
    fn v2_controllers_wanted(&self) -> Vec<&'static str> {
        [Controller::Memory, Controller::Cpu, Controller::Pids]
            .into_iter()
            .filter(|c| self.layout.hierarchy(*c).is_some_and(|h| h.v2))
            .filter_map(|c| c.v2_name())
            .filter(|n| self.layout.v2_controllers.iter().any(|l| l == n))
            .collect()
    }

    /// Freezes the group and returns once the kernel reports it frozen (bounded wait).
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.ensure_not_root()?;
        let (dir, h) = self.dir_of(Controller::Freezer, "freeze")?;
        match h.v2 {
            false => v1::freeze(&dir),
            true => v2::set_frozen(&dir, true),
        }
    }

    /// Thaws the group and returns once the kernel reports it thawed (bounded wait).
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.ensure_not_root()?;
        let (dir, h) = self.dir_of(Controller::Freezer, "thaw")?;
        match h.v2 {
            false => v1::thaw(&dir),
            true => v2::set_frozen(&dir, false),
        }
    }

    /// True when the kernel reports the group fully frozen.
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        let (dir, h) = self.dir_of(Controller::Freezer, "freezer state")?;
        match h.v2 {
            false => v1::is_frozen(&dir),
            true => v2::is_frozen(&dir),
        }
    }

    /// SIGKILLs every process in the group and its children: v2 `cgroup.kill` when present;
    /// otherwise freeze (so nothing forks meanwhile), signal every pid, thaw. Without a freezer
    /// it repeats kill passes until the group reads empty. Does not wait for the exits.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        self.ensure_not_root()?;
        if let Some(h) = self.layout.v2_hierarchy() {
            let file = h.mount.join(&self.rel).join("cgroup.kill");
            if fsio::exists(&file) {
                return fsio::write(&file, "1");
            }
        }
        // The common case at container exit: the pid namespace took everything down already.
        if self.pids()?.is_empty() {
            return Ok(());
        }
        if self.layout.hierarchy(Controller::Freezer).is_none() {
            return self.kill_passes(KILL_PASSES);
        }
        // A failed freeze (a task stuck in D state) must not stop the kill: fall back to passes.
        let passes = match self.freeze() {
            Ok(()) => 1,
            Err(_) => KILL_PASSES,
        };
        let killed = self.kill_passes(passes);
        let thawed = self.thaw();
        killed.and(thawed)
    }

    fn kill_passes(&self, passes: usize) -> Result<(), CgroupError> {
        for _ in 0..passes {
            let pids = self.pids()?;
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                match kill(Pid::from_raw(pid), Signal::SIGKILL) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(source) => return Err(CgroupError::Signal { pid, source }),
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    /// Removes the group and its child groups in every hierarchy, deepest first. EBUSY (tasks
    /// still exiting) is retried for up to a second; a missing directory counts as removed.
    /// Every hierarchy is attempted; the first error is returned.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        self.ensure_not_root()?;
        let mut first_err = None;
        for dir in self.dirs() {
            if let Err(e) = remove_tree(&dir) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Creates `mount/rel` one level at a time, recording each directory it made.
fn mkdir_p(mount: &Path, rel: &Path, made: &mut Vec<PathBuf>) -> Result<(), CgroupError> {
    let mut dir = mount.to_path_buf();
    for c in rel.components() {
        dir.push(c);
        match fs::create_dir(&dir) {
            Ok(()) => made.push(dir.clone()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => return Err(CgroupError::Create { path: dir, source }),
        }
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let mut all = fsio::subdirs_deepest_first(dir)?;
    all.push(dir.to_path_buf());
    all.iter().try_for_each(|d| remove_dir_retrying(d))
}

fn remove_dir_retrying(dir: &Path) -> Result<(), CgroupError> {
    let mut last_busy = None;
    let done = fsio::poll_until(DESTROY_WAIT, || match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            last_busy = Some(e);
            Ok(false)
        }
        Err(source) => Err(CgroupError::Remove {
            path: dir.to_path_buf(),
            source,
        }),
    })?;
    match (done, last_busy) {
        (true, _) => Ok(()),
        (false, source) => Err(CgroupError::Remove {
            path: dir.to_path_buf(),
            source: source.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::EBUSY)),
        }),
    }
}
