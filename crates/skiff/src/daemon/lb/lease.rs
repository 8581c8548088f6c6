//! The lease every watcher record of this daemon hangs on (like the node
//! lease of registrations): if the daemon dies, its proxies stop being
//! waited for once the TTL passes. Kept alive in the background; replaced
//! (and announced on the channel) when lost, so watchers rewrite their records.

use skiff_store::{LeaseId, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct LeaseKeeper {
    rx: watch::Receiver<Option<LeaseId>>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    pub fn spawn(store: Arc<dyn Store>, ttl: Duration) -> Self {
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(async move {
            let period = (ttl / 3).max(Duration::from_millis(100));
            loop {
                let current = *tx.borrow();
                let alive = match current {
                    Some(id) => !matches!(
                        store.keepalive(id).await,
                        Err(StoreError::LeaseExpired { .. })
                    ),
                    None => false,
                };
                if !alive {
                    if let Ok(lease) = store.grant(ttl).await {
                        tx.send_replace(Some(lease.id));
                    }
                }
                let wait = if tx.borrow().is_some() {
                    period
                } else {
                    Duration::from_millis(200)
                };
                tokio::time::sleep(wait).await;
            }
        });
        LeaseKeeper { rx, task }
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<LeaseId>> {
        self.rx.clone()
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}
