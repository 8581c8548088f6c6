//! The drain-aware stop, the one path every stop takes (API stop, `rm -f`
//! of a running container, and the topology agent's stops):
//!
//! ```text
//!  mark draining -> agent deregisters its instances at revision R
//!    -> every watcher of each service acks drained >= R (deadline)
//!    -> signal the container (stop / kill) -> unmark
//! ```
//!
//! The deadline is the stop timeout capped at 10 s (`stop -t 0`: no wait);
//! a container with no registered instance, or services nobody watches, is
//! signalled at once. Waiting past the deadline never fails the stop: the
//! container is signalled anyway, as Kubernetes does after its grace period.

use crate::daemon::services::Draining;
use skiff_registry::{watchers, Registry};
use skiff_runtime::Runtime;
use skiff_types::{ApiError, ContainerStatus};
use std::time::{Duration, Instant};

/// Longest a stop waits for watchers before it signals.
pub const MAX_DRAIN: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Drainer {
    pub rt: Runtime,
    pub registry: Registry,
    pub draining: Draining,
}

impl Drainer {
    /// Stops container `r` (SIGTERM, SIGKILL after `timeout` s) after draining it.
    pub async fn stop(&self, r: &str, timeout: Option<u32>) -> Result<(), ApiError> {
        let id = self.drain(r, timeout).await?;
        let result = self.rt.stop(r, timeout).await;
        if let Some(id) = id {
            self.draining.end(&id);
        }
        result
    }

    /// Removes `r` (with `force`, a running one is drained, then killed).
    pub async fn remove(&self, r: &str, force: bool, volumes: bool) -> Result<(), ApiError> {
        let id = match force {
            true => self.drain(r, None).await?,
            false => None,
        };
        let result = self.rt.remove_with_volumes(r, force, volumes).await;
        if let Some(id) = id {
            self.draining.end(&id);
        }
        result
    }

    /// Drains `r` if it is running and has services; returns its id if it
    /// was marked (the caller unmarks it once the container is signalled).
    pub async fn drain(&self, r: &str, timeout: Option<u32>) -> Result<Option<String>, ApiError> {
        let info = self.rt.inspect(r).await?;
        if info.state.status != ContainerStatus::Running || info.config.services.is_empty() {
            return Ok(None);
        }
        let grace = timeout.or(info.config.stop_timeout).unwrap_or(10);
        let limit = Duration::from_secs(u64::from(grace)).min(MAX_DRAIN);
        let started = Instant::now();
        let id = info.id.to_string();
        let Some(done) = self.draining.begin(&id, limit).await else {
            eprintln!("skiff daemon: drain of {id}: instances not deregistered within {limit:?}; stopping anyway");
            return Ok(Some(id));
        };
        if done.revision == 0 {
            return Ok(Some(id));
        }
        for service in &done.services {
            let left = limit.saturating_sub(started.elapsed());
            let store = self.registry.store();
            match watchers::wait_acked(&**store, service, done.revision, left).await {
                Ok(true) => {}
                Ok(false) => eprintln!(
                    "skiff daemon: drain of {id}: watchers of {service} did not ack revision {} within {limit:?}; stopping anyway",
                    done.revision
                ),
                Err(e) => eprintln!("skiff daemon: drain of {id}: {e}; stopping anyway"),
            }
        }
        Ok(Some(id))
    }
}
