//! Containers being drained: the stop path marks a container here, the
//! service agent stops wanting its instances, deregisters them, and reports
//! the revision of that deregistration back, so the stopper can wait for
//! every watcher to ack it (see `daemon::lb::drain`).
//!
//! The agent stays the only writer of registrations: had the stopper
//! deleted the keys itself, the agent's view would go stale and a
//! cancelled drain would leave a running container unregistered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The instances a drain took out of the registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deregistered {
    /// The store revision at which the last of them was deleted (0: none was registered).
    pub revision: u64,
    pub services: Vec<String>,
}

struct Inner {
    map: Mutex<HashMap<String, Option<Deregistered>>>,
    wake: Notify,
    done: watch::Sender<u64>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            map: Mutex::default(),
            wake: Notify::new(),
            done: watch::channel(0).0,
        }
    }
}

/// Shared between the stop path and the service agent. Cheap to clone.
#[derive(Clone, Default)]
pub struct Draining(Arc<Inner>);

impl Draining {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Deregistered>>> {
        self.0.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True while `id` (a full container id) is being drained.
    pub fn contains(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }

    /// Marks `id`, wakes the agent, and waits (at most `within`) for it to
    /// report what it deregistered. `None`: the agent could not do it in time.
    pub async fn begin(&self, id: &str, within: Duration) -> Option<Deregistered> {
        let mut done = self.0.done.subscribe();
        self.map().insert(id.to_owned(), None);
        self.0.wake.notify_one();
        let wait = async {
            loop {
                if let Some(Some(d)) = self.map().get(id) {
                    return d.clone();
                }
                if done.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(within, wait).await.ok()
    }

    /// Unmarks `id` (after the container stopped, or the stop failed).
    pub fn end(&self, id: &str) {
        self.map().remove(id);
        self.0.wake.notify_one();
    }

    /// Resolves when a drain began or ended (the agent's wake-up).
    pub(super) async fn woken(&self) {
        self.0.wake.notified().await
    }

    /// Containers marked whose deregistration is not reported yet.
    pub(super) fn pending(&self) -> Vec<String> {
        self.map()
            .iter()
            .filter(|(_, d)| d.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub(super) fn finish(&self, id: &str, d: Deregistered) {
        if let Some(slot) = self.map().get_mut(id) {
            *slot = Some(d);
        }
        self.0.done.send_modify(|n| *n += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn begin_waits_for_the_agent_report_and_end_unmarks() {
        let d = Draining::default();
        let agent = d.clone();
        let task = tokio::spawn(async move {
            agent.woken().await;
            assert_eq!(agent.pending(), ["c1"]);
            let rep = Deregistered {
                revision: 7,
                services: vec!["web".into()],
            };
            agent.finish("c1", rep);
        });
        let got = d.begin("c1", Duration::from_secs(60)).await.unwrap();
        assert_eq!((got.revision, got.services.len()), (7, 1));
        assert!(d.contains("c1") && d.pending().is_empty());
        d.end("c1");
        assert!(!d.contains("c1"));
        task.await.unwrap();
    }

    #[tokio::test]
    async fn begin_gives_up_when_nobody_reports() {
        let d = Draining::default();
        assert_eq!(d.begin("c1", Duration::from_millis(10)).await, None);
        assert!(d.contains("c1"), "still marked until the stopper ends it");
    }
}
