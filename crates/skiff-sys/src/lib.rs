//! skiff-sys: the one room that talks to the kernel.
//!
//! Owns every syscall skiff makes for containers: cgroups (v1 and v2 behind one
//! interface), namespaces, mounts and pivot_root, capabilities, seccomp, ptys,
//! and the protected self-exe. It is the ONLY crate allowed `unsafe`; every
//! unsafe block carries a `// SAFETY:` comment. It knows nothing of skiff's
//! types, store or API: callers hand it plain data.

pub mod caps;
pub mod cgroup;
pub mod fdpass;
pub mod fsroot;
pub mod netlink;
pub mod netns;
pub mod psi;
pub mod pty;
pub mod rlimit;
pub mod rootfs;
pub mod seccomp;
pub mod selfexe;
pub mod signals;
pub mod spawn;
