//! Discovery of the cgroup layout: which hierarchy (v1 or cgroup2) hosts each controller skiff
//! uses, parsed from `/proc/self/mountinfo` (and `/proc/cgroups` for disabled controllers).
//!
//! Layouts handled by one code path, because each controller is resolved on its own:
//! - pure v2: one cgroup2 mount with `cgroup.controllers`; every controller lives there.
//! - v1 hybrid (these machines): one v1 hierarchy per controller (or co-mounted ones such as
//!   `cpu,cpuacct`) plus a cgroup2 mount at `.../unified` that hosts none of our controllers.
//! - mixed: a controller missing from v1 but enabled on cgroup2 is used there.
//!
//! Choice for the hybrid `unified` hierarchy: the group is created there only when it hosts at
//! least one controller we use that no v1 hierarchy provides. On these machines it owns only
//! `hugetlb`, so we skip it: that saves one mkdir, one rmdir and one `cgroup.procs` write per
//! container, and nothing of ours (limits, freezer, stats) would read it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CgroupError;

/// Controllers (and v2 core features standing in for v1 controllers) that skiff uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Controller {
    Memory,
    Cpu,
    Cpuacct,
    Pids,
    Freezer,
    Devices,
}

impl Controller {
    pub(crate) const ALL: [Controller; 6] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Pids,
        Controller::Freezer,
        Controller::Devices,
    ];

    /// The name in v1 mount options and `/proc/cgroups`.
    pub(crate) fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Devices => "devices",
        }
    }

    /// The name in cgroup2 `cgroup.controllers`; `None` for what v2 provides in its core
    /// (`cpu.stat` usage, `cgroup.freeze`) or not through files at all (devices are eBPF).
    pub(crate) fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Cpu => Some("cpu"),
            Controller::Pids => Some("pids"),
            Controller::Cpuacct | Controller::Freezer | Controller::Devices => None,
        }
    }
}

/// A cgroup filesystem mount as seen in mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    pub v2: bool,
    /// Mount point exactly as in mountinfo (unescaped), not prefixed by any fs root.
    pub mount_point: PathBuf,
    /// Root of the mount within its hierarchy (`/` unless bind-mounted or in a cgroup namespace).
    pub root: String,
    /// v1: controllers from the super options (named hierarchies like `name=systemd` excluded).
    pub controllers: Vec<String>,
}

/// One hierarchy skiff creates groups in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    pub v2: bool,
    /// Mount point prefixed by the layout's fs root: where files are read and written.
    pub mount: PathBuf,
}

/// Where each controller lives on this host. Cheap to clone; holds only paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupLayout {
    pub(crate) hierarchies: Vec<Hierarchy>,
    pub(crate) by_controller: BTreeMap<Controller, usize>,
    /// Controllers listed in the cgroup2 root's `cgroup.controllers` (to enable in ancestors).
    pub(crate) v2_controllers: Vec<String>,
}

impl CgroupLayout {
    /// Discovers the layout of the running host from `/proc/self/mountinfo` and `/proc/cgroups`.
    pub fn discover() -> Result<Self, CgroupError> {
        let mi_path = Path::new("/proc/self/mountinfo");
        let mountinfo = super::fsio::read(mi_path)?;
        // /proc/cgroups only narrows the result (disabled controllers); tolerate its absence.
        let proc_cgroups = std::fs::read_to_string("/proc/cgroups").ok();
        Self::from_parts(&mountinfo, proc_cgroups.as_deref(), Path::new("/"))
    }

    /// Builds a layout from mountinfo text. `fs_root` prefixes every mount point (tests pass a
    /// temp dir); the cgroup2 root's `cgroup.controllers` is read below it.
    pub fn from_mountinfo(mountinfo: &str, fs_root: &Path) -> Result<Self, CgroupError> {
        Self::from_parts(mountinfo, None, fs_root)
    }

    /// As `from_mountinfo`, additionally dropping v1 controllers `/proc/cgroups` marks disabled.
    pub fn from_parts(
        mountinfo: &str,
        proc_cgroups: Option<&str>,
        fs_root: &Path,
    ) -> Result<Self, CgroupError> {
        let mounts = parse_mountinfo(mountinfo).map_err(|detail| CgroupError::Parse {
            path: PathBuf::from("/proc/self/mountinfo"),
            detail,
        })?;
        let disabled: Vec<String> = proc_cgroups
            .map(parse_proc_cgroups)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !c.enabled)
            .map(|c| c.name)
            .collect();
        let mut layout = CgroupLayout {
            hierarchies: Vec::new(),
            by_controller: BTreeMap::new(),
            v2_controllers: Vec::new(),
        };
        layout.add_v1(&mounts, &disabled, fs_root);
        layout.add_v2(&mounts, fs_root);
        if layout.hierarchies.is_empty() {
            return Err(CgroupError::NoHierarchy);
        }
        Ok(layout)
    }

    /// True when the controllers we need live on a cgroup2 hierarchy (no v1 hierarchy in use).
    pub fn is_v2(&self) -> bool {
        !self.hierarchies.is_empty() && self.hierarchies.iter().all(|h| h.v2)
    }

    fn add_v1(&mut self, mounts: &[CgroupMount], disabled: &[String], fs_root: &Path) {
        for c in Controller::ALL {
            let name = c.v1_name();
            if disabled.iter().any(|d| d == name) {
                continue;
            }
            // Prefer a mount of the hierarchy's root; a bind mount of a subtree comes second.
            let found = mounts
                .iter()
                .filter(|m| !m.v2 && m.controllers.iter().any(|x| x == name))
                .min_by_key(|m| m.root != "/");
            if let Some(m) = found {
                let idx = self.hierarchy_index(false, prefixed(fs_root, &m.mount_point));
                self.by_controller.insert(c, idx);
            }
        }
    }

    fn add_v2(&mut self, mounts: &[CgroupMount], fs_root: &Path) {
        let Some(m) = mounts.iter().filter(|m| m.v2).min_by_key(|m| m.root != "/") else {
            return;
        };
        let mount = prefixed(fs_root, &m.mount_point);
        let listed = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
        let listed: Vec<String> = listed.split_whitespace().map(str::to_string).collect();
        let no_v1 = self.hierarchies.is_empty();
        let ours: Vec<Controller> = Controller::ALL
            .into_iter()
            .filter(|c| !self.by_controller.contains_key(c))
            .filter(|c| c.v2_name().is_some_and(|n| listed.iter().any(|l| l == n)))
            .collect();
        if !no_v1 && ours.is_empty() {
            return; // hybrid `unified` without our controllers: see module docs.
        }
        let idx = self.hierarchy_index(true, mount);
        for c in ours {
            self.by_controller.insert(c, idx);
        }
        // Core v2 features (cgroup.freeze, cpu.stat) stand in for v1 freezer/cpuacct only when
        // no v1 hierarchy provides them.
        for c in [Controller::Cpuacct, Controller::Freezer] {
            self.by_controller.entry(c).or_insert(idx);
        }
        self.v2_controllers = listed;
    }

    fn hierarchy_index(&mut self, v2: bool, mount: PathBuf) -> usize {
        if let Some(i) = self.hierarchies.iter().position(|h| h.mount == mount) {
            return i;
        }
        self.hierarchies.push(Hierarchy { v2, mount });
        self.hierarchies.len() - 1
    }

    /// The hierarchy hosting `c`, if any.
    pub(crate) fn hierarchy(&self, c: Controller) -> Option<&Hierarchy> {
        self.by_controller
            .get(&c)
            .and_then(|&i| self.hierarchies.get(i))
    }

    /// The cgroup2 hierarchy in use, if any.
    pub(crate) fn v2_hierarchy(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.v2)
    }
}

fn prefixed(fs_root: &Path, mount_point: &Path) -> PathBuf {
    fs_root.join(mount_point.strip_prefix("/").unwrap_or(mount_point))
}

/// Parses mountinfo text into its cgroup and cgroup2 mounts (proc(5) format:
/// `id parent maj:min root mount_point opts [optional...] - fstype source super_opts`).
pub(crate) fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (pre, post) = line
            .split_once(" - ")
            .ok_or_else(|| format!("line {}: no ' - ' separator: {line:?}", n + 1))?;
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 6 || post.len() < 3 {
            return Err(format!("line {}: too few fields: {line:?}", n + 1));
        }
        let v2 = match post[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            post[2]
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                .filter(|o| is_v1_controller(o))
                .map(str::to_string)
                .collect()
        };
        out.push(CgroupMount {
            v2,
            mount_point: PathBuf::from(unescape(pre[4])),
            root: unescape(pre[3]),
            controllers,
        });
    }
    Ok(out)
}

/// Mount options of a v1 cgroup that are not controller names.
fn is_v1_controller(opt: &str) -> bool {
    !matches!(
        opt,
        "relatime"
            | "noatime"
            | "nosuid"
            | "nodev"
            | "noexec"
            | "none"
            | "noprefix"
            | "clone_children"
            | "cpuset_v2_mode"
            | "xattr"
            | "favordynmods"
    )
}

/// Undoes mountinfo's octal escapes (`\040` for space, `\011` tab, `\012` newline, `\134` `\`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One row of `/proc/cgroups`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcCgroup {
    pub name: String,
    /// 0 when the controller is on cgroup2 or not mounted at all.
    pub hierarchy: u32,
    pub enabled: bool,
}

/// Parses `/proc/cgroups` (`#subsys_name hierarchy num_cgroups enabled`); malformed rows are
/// skipped because the file is advisory here.
pub(crate) fn parse_proc_cgroups(text: &str) -> Vec<ProcCgroup> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(ProcCgroup {
                name: f.first()?.to_string(),
                hierarchy: f.get(1)?.parse().ok()?,
                enabled: *f.get(3)? == "1",
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "layout_tests.rs"]
pub(crate) mod tests;
