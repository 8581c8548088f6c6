//! Pause and unpause (the cgroup freezer), with who asked for it.
//!
//! ```text
//!  Running             --pause_as(User)---------------> Paused{User}
//!  Running             --pause_as(CpuPressure)--------> Paused{CpuPressure}
//!  Paused{CpuPressure} --pause_as(User)---------------> Paused{User}  (the user takes it over)
//!  Paused{any}         --unpause----------------------> Running
//!  Paused{CpuPressure} --unpause_if(CpuPressure)------> Running       (any other state: no-op)
//!  Paused{any}         --exit (kill, stop)------------> Exited        (reason cleared)
//! ```
//! The reason is saved in the record together with the status, so a daemon
//! restart knows which pauses are its freezer's (and thaws only those), and a
//! user's `pause`/`unpause` always wins over the freezer: both run under the
//! container's operation lock, so the freezer's conditional thaw can never
//! undo a pause the user made a moment before.

use super::{err, internal, Runtime};
use skiff_types::{ApiError, ContainerStatus, ErrorKind, PauseReason};

impl Runtime {
    /// `skiff pause`: freezes the container for the user.
    pub async fn pause(&self, r: &str) -> Result<(), ApiError> {
        self.pause_as(r, PauseReason::User).await
    }

    /// `skiff unpause`: thaws the container, whoever froze it.
    pub async fn unpause(&self, r: &str) -> Result<(), ApiError> {
        self.thaw(r, None).await.map(|_| ())
    }

    /// Freezes a running container, recording why. Pausing (as the user) a
    /// container the freezer holds makes it the user's: the freezer lets go.
    pub async fn pause_as(&self, r: &str, reason: PauseReason) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        let _op = c.op.lock().await;
        let (status, by) = {
            let rec = c.rec();
            (rec.state.status, rec.state.paused_by)
        };
        let adopt = status == ContainerStatus::Paused
            && reason == PauseReason::User
            && by == Some(PauseReason::CpuPressure);
        if !adopt {
            status
                .can_pause()
                .map_err(|e| err(ErrorKind::Conflict, e.to_string()))?;
            self.cgroup_of(&c).freeze().map_err(internal)?;
        }
        let mut rec = c.rec();
        rec.state.status = ContainerStatus::Paused;
        rec.state.paused_by = Some(reason);
        let saved = rec.save(self.root()).map_err(internal);
        drop(rec);
        self.changed();
        saved
    }

    /// Thaws the container only if it is paused for `reason`; Ok(false) (and
    /// nothing done) when it is not paused, or paused for another reason.
    pub async fn unpause_if(&self, r: &str, reason: PauseReason) -> Result<bool, ApiError> {
        self.thaw(r, Some(reason)).await
    }

    async fn thaw(&self, r: &str, only: Option<PauseReason>) -> Result<bool, ApiError> {
        let c = self.resolve(r)?;
        let _op = c.op.lock().await;
        let (status, by) = {
            let rec = c.rec();
            (rec.state.status, rec.state.paused_by)
        };
        if let Some(want) = only {
            if status != ContainerStatus::Paused || by.unwrap_or(PauseReason::User) != want {
                return Ok(false);
            }
        }
        status
            .can_unpause()
            .map_err(|e| err(ErrorKind::Conflict, e.to_string()))?;
        self.cgroup_of(&c).thaw().map_err(internal)?;
        let mut rec = c.rec();
        rec.state.status = ContainerStatus::Running;
        rec.state.paused_by = None;
        let saved = rec.save(self.root()).map_err(internal);
        drop(rec);
        self.changed();
        saved.map(|_| true)
    }
}
