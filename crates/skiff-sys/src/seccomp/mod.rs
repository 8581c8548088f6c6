//! Seccomp for containers: a profile model with Docker's semantics, Docker's default profile,
//! the Docker/OCI JSON format, a compiler to classic BPF and the install call.
//!
//! ```text
//!  default.rs (Docker default)  json.rs (Docker/OCI JSON)
//!              \                  /
//!               SeccompProfile  --compile(caps)-->  SeccompFilter (BPF)  --install_in_child-->  kernel
//!                     includes/excludes resolved against caps, arch, kernel version
//! ```
//!
//! Why our own BPF code generator (compile.rs) rather than `seccompiler::SeccompFilter`:
//! seccompiler gives a filter one match action and one mismatch action, while a Docker profile
//! needs several (ALLOW, ERRNO(EPERM) default, ERRNO(ENOSYS) for clone3, any action per rule in
//! a user profile). Stacking one filter per action changes the semantics (the kernel takes the
//! most restrictive result across filters), so we emit one program: an architecture check, a
//! binary search over syscall numbers, then each syscall's rules in order.
//!
//! Semantics (follow libseccomp/runc, documented where we differ):
//! - Only the native architecture is filtered; any other audit arch (i386 `int 0x80`, arm32
//!   compat) is killed (`KILL_PROCESS`), and x32 syscalls on x86_64 get `ENOSYS`, so neither
//!   can bypass the filter. Docker also allows x86/x32 with the same list; we do not.
//! - For one syscall, conditional rules are tried first in profile order, then the first
//!   unconditional rule, then the default action.
//! - Conditions of one rule are ANDed, compared as 64-bit values like libseccomp; as runc does,
//!   a rule that names the same argument twice is split into one rule per condition (ORed).
//! - Names unknown on this architecture are skipped (libseccomp does the same); unknown actions,
//!   operators, capabilities or arguments are errors that say where they are.

mod compile;
mod default;
mod json;
#[cfg(target_arch = "aarch64")]
#[path = "table_aarch64.rs"]
mod table;
#[cfg(target_arch = "x86_64")]
#[path = "table_x86_64.rs"]
mod table;

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::caps::CapSet;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("skiff-sys seccomp supports x86_64 and aarch64 only");

/// Errors of seccomp profile parsing, compilation and installation.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The JSON text is not valid JSON or does not have the profile's shape.
    #[error("seccomp profile: line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value in a well-formed profile is not acceptable; `at` is a path like `syscalls[3].action`.
    #[error("seccomp profile: {at}: {message}")]
    Invalid { at: String, message: String },
    /// The compiled program exceeds the kernel's limit (4096 instructions) or a jump range.
    #[error("seccomp filter too large: {message}")]
    TooLarge { message: String },
    /// Installing the filter failed.
    #[error("installing seccomp filter ({len} instructions): {source}")]
    Install {
        len: usize,
        #[source]
        source: nix::Error,
    },
}

/// What the kernel does when a rule (or the default) applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    /// Fail the syscall with this errno.
    Errno(u16),
    KillThread,
    KillProcess,
    /// Deliver SIGSYS.
    Trap,
    /// Notify a ptrace tracer with this data.
    Trace(u16),
    /// Allow and log.
    Log,
}

/// Comparison of a syscall argument, as libseccomp's `SCMP_CMP_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

/// One condition on a syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCond {
    /// Argument index 0..=5.
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: CmpOp,
}

/// Docker's `includes`/`excludes` filter of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleFilter {
    /// Capability numbers; includes: all required, excludes: any excludes.
    pub caps: Vec<u32>,
    /// libseccomp native arch names as Docker writes them ("amd64", "arm64", "x32", ...).
    pub arches: Vec<String>,
    /// (major, minor); includes: kernel >= it, excludes: kernel >= it excludes.
    pub min_kernel: Option<(u32, u32)>,
}

/// One entry of a profile's `syscalls` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCond>,
    pub includes: RuleFilter,
    pub excludes: RuleFilter,
}

/// A seccomp profile in Docker's model; resolved and compiled per container by
/// [`SeccompProfile::compile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompProfile {
    pub default_action: Action,
    pub rules: Vec<SyscallRule>,
}

/// A compiled BPF program for the native architecture, ready for [`install_in_child`].
#[derive(Clone, Debug)]
pub struct SeccompFilter {
    program: Vec<libc::sock_filter>,
}

impl SeccompFilter {
    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    /// Whether the program is empty (never true for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// The BPF instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }
}

/// The libseccomp/Docker name of the architecture we compile for.
pub fn native_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else {
        "arm64"
    }
}

/// The syscall number of `name` on the native architecture, if it exists there.
pub fn syscall_number(name: &str) -> Option<u32> {
    static INDEX: OnceLock<HashMap<&'static str, u32>> = OnceLock::new();
    INDEX
        .get_or_init(|| table::SYSCALLS.iter().copied().collect())
        .get(name)
        .copied()
}

/// The running kernel's (major, minor) from uname(2); (0, 0) if it cannot be parsed.
pub fn kernel_version() -> (u32, u32) {
    let Ok(uname) = nix::sys::utsname::uname() else {
        return (0, 0);
    };
    parse_kernel_version(&uname.release().to_string_lossy()).unwrap_or((0, 0))
}

/// "6.1.0-18-amd64" -> (6, 1); "4.8" -> (4, 8).
pub(crate) fn parse_kernel_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

impl SeccompProfile {
    /// Docker's default profile (moby `profiles/seccomp/default.json`) for x86_64 and aarch64.
    pub fn docker_default() -> Self {
        default::profile()
    }

    /// Parses Docker/OCI seccomp JSON; errors carry line:column or the path of the bad value.
    pub fn from_docker_json(text: &str) -> Result<Self, SeccompError> {
        json::parse(text)
    }

    /// Compiles for the native architecture and running kernel, resolving includes/excludes
    /// against `caps` (the container's bounding set). Pure apart from reading the kernel version.
    pub fn compile(&self, caps: CapSet) -> Result<SeccompFilter, SeccompError> {
        self.compile_for(caps, kernel_version())
    }

    /// [`SeccompProfile::compile`] with an explicit kernel version (for tests).
    pub fn compile_for(
        &self,
        caps: CapSet,
        kernel: (u32, u32),
    ) -> Result<SeccompFilter, SeccompError> {
        let program = compile::compile(self, caps, kernel)?;
        Ok(SeccompFilter { program })
    }

    /// The rules that apply to a container with `caps` on `kernel` (includes/excludes
    /// resolved), in profile order, the way moby's `setupSeccomp` filters them.
    pub fn resolve(&self, caps: CapSet, kernel: (u32, u32)) -> Vec<&SyscallRule> {
        let arch = native_arch();
        self.rules
            .iter()
            .filter(|rule| {
                let ex = &rule.excludes;
                let inc = &rule.includes;
                if ex.arches.iter().any(|a| a == arch)
                    || ex.caps.iter().any(|c| caps.contains(*c))
                    || ex.min_kernel.is_some_and(|min| kernel >= min)
                {
                    return false;
                }
                (inc.arches.is_empty() || inc.arches.iter().any(|a| a == arch))
                    && inc.caps.iter().all(|c| caps.contains(*c))
                    && inc.min_kernel.is_none_or(|min| kernel >= min)
            })
            .collect()
    }
}

/// Sets `no_new_privs` on the calling thread; required before [`install_in_child`] for a
/// process without CAP_SYS_ADMIN, and always done by skiff for containers.
pub fn set_no_new_privs() -> Result<(), nix::Error> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// Installs `filter` on the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER)` (falling back
/// to `prctl(PR_SET_SECCOMP)` on kernels without the seccomp syscall). The caller must have
/// called [`set_no_new_privs`] first (or hold CAP_SYS_ADMIN); the container spawner calls it in
/// the forked, single-threaded child right before `execve`. The filter is inherited by the
/// exec'd program and its children. Plain syscalls only.
pub fn install_in_child(filter: &SeccompFilter) -> Result<(), SeccompError> {
    let len = filter.program.len();
    let prog = libc::sock_fprog {
        len: u16::try_from(len).map_err(|_| SeccompError::TooLarge {
            message: format!("{len} instructions"),
        })?,
        filter: filter.program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `len` valid sock_filter instructions that outlive the call; the
    // kernel copies the program and does not keep the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = nix::Error::last();
    if err != nix::Error::ENOSYS {
        return Err(SeccompError::Install { len, source: err });
    }
    // SAFETY: as above, through the older prctl interface.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return Err(SeccompError::Install {
            len,
            source: nix::Error::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
