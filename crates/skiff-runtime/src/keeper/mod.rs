//! The keeper: one small, single-threaded process per daemon that is the
//! parent of every container (no per-container shim).
//!
//! ```text
//!  skiff daemon (tokio, API) --SEQPACKET keeper.sock--> skiff keeper (poll loop)
//!        ^   stdio fds (SCM_RIGHTS), exit events           | fork+clone
//!        +------------------------------------------------  v
//!                                                       containers, execs
//! ```
//! The keeper forks containers (a single-threaded parent makes the child's
//! setup safe), reaps them, writes each container's exit record to disk the
//! moment it reaps it, and holds a duplicate of every stdio pipe. A daemon
//! killed with -9 therefore loses nothing: containers keep their parent,
//! their pipes keep a reader (output waits in the pipe), and the next daemon
//! gets the pipes and the exits it missed in its `Hello`.
//!
//! The keeper runs from a sealed memfd copy of the skiff binary, so no
//! process inside a container can rewrite the binary through /proc/PID/exe.

pub mod client;
mod launch;
pub mod proto;
pub mod server;

use std::path::{Path, PathBuf};

/// The keeper's socket under the daemon's root.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join("keeper.sock")
}

/// Where the keeper records a container's last exit.
pub fn exit_record_path(root: &Path, id: &str) -> PathBuf {
    root.join("containers").join(id).join("exit.json")
}
