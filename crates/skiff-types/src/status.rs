//! The container lifecycle, as an enum with guarded transitions.
//!
//! ```text
//!            start                 pause
//!  Created ---------> Running <----------> Paused
//!     ^                 |  ^     unpause     |
//!     |            exit |  | start (backoff) | kill/stop
//!     |                 v  |                 v
//!     |             Restarting <-------- Exited ---> (removed)
//!     |                 |    restart policy   ^
//!     +-----------------+---------------------+ start again (`skiff start`)
//! ```
//! A container is removed only when not running, or with force (kill first).

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    /// Cleanup failed half-way; only `rm -f` is allowed.
    Dead,
}

/// A transition the lifecycle does not allow, with the state it was refused in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} container: it is {status}")]
pub struct TransitionError {
    pub action: &'static str,
    pub status: ContainerStatus,
}

impl ContainerStatus {
    pub fn is_alive(self) -> bool {
        matches!(self, ContainerStatus::Running | ContainerStatus::Paused)
    }

    fn guard(self, ok: bool, action: &'static str) -> Result<(), TransitionError> {
        if ok {
            Ok(())
        } else {
            Err(TransitionError {
                action,
                status: self,
            })
        }
    }

    pub fn can_start(self) -> Result<(), TransitionError> {
        use ContainerStatus::*;
        self.guard(matches!(self, Created | Exited | Restarting), "start")
    }

    pub fn can_pause(self) -> Result<(), TransitionError> {
        self.guard(self == ContainerStatus::Running, "pause")
    }

    pub fn can_unpause(self) -> Result<(), TransitionError> {
        self.guard(self == ContainerStatus::Paused, "unpause")
    }

    /// `kill` needs a live process (a paused one is thawed by the runtime).
    pub fn can_kill(self) -> Result<(), TransitionError> {
        self.guard(self.is_alive(), "kill")
    }

    /// `rm` without force refuses live and restarting containers.
    pub fn can_remove(self, force: bool) -> Result<(), TransitionError> {
        let ok = force || !matches!(self, ContainerStatus::Running | ContainerStatus::Paused);
        self.guard(ok, "remove")
    }

    pub fn can_exec(self) -> Result<(), TransitionError> {
        self.guard(self == ContainerStatus::Running, "exec in")
    }
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ContainerStatus::Created => "created",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Restarting => "restarting",
            ContainerStatus::Exited => "exited",
            ContainerStatus::Dead => "dead",
        };
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::ContainerStatus::*;

    #[test]
    fn guards_follow_the_diagram() {
        assert!(Created.can_start().is_ok());
        assert!(Exited.can_start().is_ok());
        assert!(Running.can_start().is_err());
        assert!(Running.can_pause().is_ok());
        assert!(Paused.can_pause().is_err());
        assert!(Paused.can_unpause().is_ok());
        assert!(Paused.can_kill().is_ok());
        assert!(Exited.can_kill().is_err());
        assert!(Running.can_remove(false).is_err());
        assert!(Running.can_remove(true).is_ok());
        assert!(Exited.can_remove(false).is_ok());
        assert!(Paused.can_exec().is_err());
        let e = Running.can_remove(false).unwrap_err();
        assert_eq!(e.to_string(), "cannot remove container: it is running");
    }
}
