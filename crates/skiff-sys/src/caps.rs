//! Linux capabilities for containers: the set a container gets (Docker's default, `--cap-add`,
//! `--cap-drop`, `ALL`) and applying it in the forked child just before `execve`.
//!
//! [`CapSet`] is a plain bit set (bit n = capability n) and is pure. [`apply_in_child`] is the one
//! function here that talks to the kernel, with plain `prctl`/`capset` syscalls only.
//!
//! What [`apply_in_child`] leaves behind (run it after the uid/gid switch, see its docs):
//! - bounding set = `set` (everything else dropped with `PR_CAPBSET_DROP`),
//! - ambient set cleared,
//! - inheritable = EMPTY, for root and non-root alike. This follows Docker since 20.10.14
//!   (CVE-2022-24769): a non-empty inheritable set lets a non-root process gain those caps by
//!   exec'ing a binary with inheritable file capabilities, which Docker no longer allows.
//! - uid 0: permitted = effective = `set`; the kernel recomputes root's caps at `execve` as the
//!   bounding set, so the exec'd program runs with exactly `set`.
//! - non-root: permitted = effective = empty, as Docker does (an unprivileged process gets no
//!   capabilities at `execve` anyway, unless a file capability within the bounding set grants one,
//!   which `no_new_privs` then also forbids).

use std::fmt;

/// Capability names indexed by number (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40),
/// without the `CAP_` prefix.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The highest capability number this module knows by name.
pub const LAST_KNOWN_CAP: u32 = 40;

/// Docker's default capabilities minus NET_RAW (13 capabilities).
const DOCKER_DEFAULT: [&str; 13] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Errors of capability parsing and application.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A capability name that is neither a known capability nor `ALL` (where allowed).
    #[error("unknown capability {name:?}")]
    Unknown { name: String },
    /// A kernel call failed; `what` names the call and the capability it concerned.
    #[error("{what}: {source}")]
    Syscall {
        what: String,
        #[source]
        source: nix::Error,
    },
    /// The requested set is not within the process's permitted set, so `capset` cannot grant it.
    #[error("cannot grant capabilities {missing:?}: not in the permitted set (was the uid switched without PR_SET_KEEPCAPS?)")]
    NotPermitted { missing: Vec<String> },
}

/// A set of Linux capabilities: bit n = capability number n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct CapSet(u64);

impl CapSet {
    /// No capabilities.
    pub fn empty() -> Self {
        CapSet(0)
    }

    /// Every capability the running kernel knows (`/proc/sys/kernel/cap_last_cap`), or 0..=40
    /// when that file cannot be read.
    pub fn all() -> Self {
        Self::all_up_to(last_cap())
    }

    /// Capabilities 0..=last.
    pub fn all_up_to(last: u32) -> Self {
        let last = last.min(63);
        CapSet(if last == 63 {
            u64::MAX
        } else {
            (1u64 << (last + 1)) - 1
        })
    }

    /// Docker's 14 default capabilities minus NET_RAW.
    pub fn docker_default() -> Self {
        let mut set = CapSet::empty();
        for name in DOCKER_DEFAULT {
            if let Some(n) = NAMES.iter().position(|known| *known == name) {
                set.0 |= 1 << n;
            }
        }
        set
    }

    /// A set from raw bits (as in `/proc/<pid>/status` CapEff).
    pub fn from_bits(bits: u64) -> Self {
        CapSet(bits)
    }

    /// Parses "NET_ADMIN", "CAP_NET_ADMIN" or "net_admin" into its number.
    pub fn parse_name(name: &str) -> Result<u32, CapsError> {
        let upper = name.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
        NAMES
            .iter()
            .position(|known| *known == bare)
            .map(|n| n as u32)
            .ok_or_else(|| CapsError::Unknown {
                name: name.to_string(),
            })
    }

    /// The canonical name ("CAP_NET_ADMIN") of a capability number; unknown numbers are
    /// rendered as "CAP_<n>".
    pub fn name_of(cap: u32) -> String {
        match NAMES.get(cap as usize) {
            Some(name) => format!("CAP_{name}"),
            None => format!("CAP_{cap}"),
        }
    }

    /// Docker's `--cap-add`/`--cap-drop` semantics (moby `TweakCapabilities`):
    /// - `add` contains "ALL": every capability of the kernel except those in `drop`;
    /// - else `drop` contains "ALL": exactly the capabilities in `add`;
    /// - else `self` minus `drop`, plus `add` (a cap in both ends up present).
    ///
    /// Every name must be a known capability or "ALL" (any case, with or without `CAP_`).
    pub fn apply_changes(self, add: &[String], drop: &[String]) -> Result<Self, CapsError> {
        let (add_all, add_set) = parse_list(add)?;
        let (drop_all, drop_set) = parse_list(drop)?;
        Ok(if add_all {
            CapSet(CapSet::all().0 & !drop_set.0)
        } else if drop_all {
            add_set
        } else {
            CapSet((self.0 & !drop_set.0) | add_set.0)
        })
    }

    /// Whether capability number `cap` is in the set.
    pub fn contains(&self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// Adds one capability.
    pub fn insert(&mut self, cap: u32) {
        if cap < 64 {
            self.0 |= 1 << cap;
        }
    }

    /// Canonical names ("CAP_CHOWN", ...) in capability-number order.
    pub fn names(&self) -> Vec<String> {
        (0..64)
            .filter(|c| self.contains(*c))
            .map(Self::name_of)
            .collect()
    }

    /// The raw bit mask.
    pub fn bits(&self) -> u64 {
        self.0
    }

    /// Number of capabilities in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.names().join(","))
    }
}

/// Parses a cap-add/cap-drop list: (contains "ALL", the named caps).
fn parse_list(list: &[String]) -> Result<(bool, CapSet), CapsError> {
    let mut all = false;
    let mut set = CapSet::empty();
    for name in list {
        if name.trim().eq_ignore_ascii_case("ALL") {
            all = true;
        } else {
            set.insert(CapSet::parse_name(name)?);
        }
    }
    Ok((all, set))
}

/// The kernel's highest capability number, from `/proc/sys/kernel/cap_last_cap`; falls back to
/// [`LAST_KNOWN_CAP`] when unreadable.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .filter(|n| *n < 64)
        .unwrap_or(LAST_KNOWN_CAP)
}

/// The kernel's highest capability number found with `PR_CAPBSET_READ` (EINVAL past the last
/// one): syscalls only, no file reads or allocation, for use in the forked child.
fn last_cap_by_probe() -> u32 {
    let mut last = 0;
    for cap in 0..64u32 {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAPBSET_READ,
                cap as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            )
        };
        if rc < 0 {
            break;
        }
        last = cap;
    }
    last
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// (effective, permitted, inheritable) of the calling thread.
fn capget() -> Result<(u64, u64, u64), CapsError> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid, properly aligned repr(C) structs of the sizes the
    // kernel expects for _LINUX_CAPABILITY_VERSION_3 (one header, two data elements).
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(syscall_error("capget".to_string()));
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), CapsError> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: as in capget; the kernel only reads `data`.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(syscall_error(format!(
            "capset(effective={effective:#x}, permitted={permitted:#x}, inheritable={inheritable:#x})"
        )));
    }
    Ok(())
}

fn syscall_error(what: String) -> CapsError {
    CapsError::Syscall {
        what,
        source: nix::Error::last(),
    }
}

fn prctl(what: &str, option: libc::c_int, arg: libc::c_ulong) -> Result<(), CapsError> {
    // SAFETY: prctl with integer arguments only; no memory is passed to the kernel.
    let rc = unsafe {
        libc::prctl(
            option,
            arg,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(syscall_error(what.to_string()));
    }
    Ok(())
}

/// Sets or clears `PR_SET_KEEPCAPS`. A caller that switches from uid 0 to another uid before
/// [`apply_in_child`] must set it first, or the kernel empties the permitted set (and with it
/// CAP_SETPCAP, which dropping the bounding set needs).
pub fn set_keep_caps(keep: bool) -> Result<(), CapsError> {
    prctl(
        "prctl(PR_SET_KEEPCAPS)",
        libc::PR_SET_KEEPCAPS,
        keep as libc::c_ulong,
    )
}

/// Applies `set` to the calling (single-threaded, forked) process just before `execve`; see the
/// module docs for the resulting sets. Call it after setgid/setgroups/setuid; when switching
/// away from uid 0, set [`set_keep_caps`] before the switch. Plain syscalls only, no allocation
/// on success.
pub fn apply_in_child(set: CapSet) -> Result<(), CapsError> {
    let (effective, permitted, _) = capget()?;
    // After a uid switch with KEEPCAPS the kernel clears the effective set; raise it back to the
    // permitted set so PR_CAPBSET_DROP (needs CAP_SETPCAP) and capset work.
    if effective != permitted {
        capset(permitted, permitted, 0)?;
    }
    let last = last_cap_by_probe();
    for cap in 0..=last {
        if !set.contains(cap) {
            // SAFETY: prctl with integer arguments only.
            let rc = unsafe {
                libc::prctl(
                    libc::PR_CAPBSET_DROP,
                    cap as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                )
            };
            if rc != 0 {
                return Err(syscall_error(format!(
                    "prctl(PR_CAPBSET_DROP, {})",
                    CapSet::name_of(cap)
                )));
            }
        }
    }
    // Kernels before 4.3 have no ambient set (EINVAL): nothing to clear there.
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 && nix::Error::last() != nix::Error::EINVAL {
        return Err(syscall_error("prctl(PR_CAP_AMBIENT_CLEAR_ALL)".to_string()));
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let target = if root {
        set.bits() & CapSet::all_up_to(last).bits()
    } else {
        0
    };
    let missing = target & !permitted;
    if missing != 0 {
        return Err(CapsError::NotPermitted {
            missing: CapSet(missing).names(),
        });
    }
    capset(target, target, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_agrees_with_proc() {
        assert_eq!(last_cap_by_probe(), last_cap());
    }
}
