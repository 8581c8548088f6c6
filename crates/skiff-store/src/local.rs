//! What the two in-process backends (memory, redb) share beyond the engine:
//! the watch feeder that follows the change log, and lease deadlines with the
//! reaper task that expires them.
//!
//! A watcher does not get events pushed by writers; it pulls rows from the
//! log after its own position whenever the revision advances (in its own
//! `next`, no task in between). So a slow watcher never blocks writers or
//! buffers without bound, each event is delivered exactly once in log order,
//! and a watcher that fell behind compaction is handed a fresh `Reset`
//! instead of a gap.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::engine::{LogEvent, LogRow, Snapshot};
use crate::watch::{Pull, WatchItem};
use crate::{LeaseId, Revision, StoreError, StoreFuture, Watch, WatchEvent};

/// Log rows read per wake-up of a watcher.
const ROWS_PER_READ: usize = 256;
/// How often the reaper looks for expired leases.
const REAP_INTERVAL: Duration = Duration::from_millis(20);

/// The hooks a log-backed store gives to its watchers and lease reaper.
pub(crate) trait LocalBackend: Send + Sync + 'static {
    fn read_snapshot(&self, prefix: &str, at: Option<Revision>) -> Result<Snapshot, StoreError>;
    #[allow(clippy::type_complexity)]
    fn read_rows_after(
        &self,
        after: Revision,
        limit: usize,
    ) -> Result<Option<(Vec<LogRow>, Revision)>, StoreError>;
    /// Follows the committed revision.
    fn revisions(&self) -> watch::Receiver<Revision>;
    fn clock(&self) -> &LeaseClock;
    /// Revokes an expired lease (deleting its keys).
    fn expire(self: Arc<Self>, id: LeaseId) -> StoreFuture<'static, ()>;
}

/// Publishes a newly committed revision without ever moving it backwards
/// (concurrent committers may finish out of order).
pub(crate) fn publish(revisions: &watch::Sender<Revision>, revision: Revision) {
    revisions.send_if_modified(|current| {
        let newer = revision > *current;
        if newer {
            *current = revision;
        }
        newer
    });
}

/// Starts a watcher: the snapshot is read now (so a bad revision fails the
/// call); the consumer then pulls `Reset` and every later change itself.
pub(crate) fn start_watch<B: LocalBackend>(
    backend: &Arc<B>,
    prefix: &str,
    from: Option<Revision>,
) -> Result<Watch, StoreError> {
    let revisions = backend.revisions();
    let snap = match backend.read_snapshot(prefix, from) {
        Err(StoreError::Compacted { .. }) => backend.read_snapshot(prefix, None)?,
        other => other?,
    };
    let follower = Follower {
        backend: Arc::downgrade(backend),
        revisions,
        prefix: prefix.to_owned(),
        last: snap.revision,
        pending: VecDeque::from([Ok(WatchEvent::Reset {
            kvs: snap.kvs,
            revision: snap.revision,
        })]),
        ended: false,
    };
    Ok(Watch::pulled(follower))
}

/// A consumer's position in the log and the events read but not yet taken.
struct Follower<B> {
    backend: Weak<B>,
    revisions: watch::Receiver<Revision>,
    prefix: String,
    last: Revision,
    pending: VecDeque<Result<WatchEvent, StoreError>>,
    /// After an error item (or a closed store) the stream is over.
    ended: bool,
}

impl<B: LocalBackend> Pull for Follower<B> {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = WatchItem> + Send + '_>> {
        Box::pin(async move {
            loop {
                if let Some(item) = self.pending.pop_front() {
                    if item.is_err() {
                        self.ended = true;
                        self.pending.clear();
                    }
                    return Some(item);
                }
                if self.ended {
                    return None;
                }
                // Cancel-safe: nothing is taken from the log until the wait is over.
                let last = self.last;
                if self.revisions.wait_for(|r| *r > last).await.is_err() {
                    self.ended = true;
                    return None;
                }
                let Some(store) = self.backend.upgrade() else {
                    self.ended = true;
                    return None;
                };
                let items = next_items(store.as_ref(), &self.prefix, &mut self.last);
                self.pending.extend(items);
            }
        })
    }
}

fn next_items<B: LocalBackend>(
    store: &B,
    prefix: &str,
    last: &mut Revision,
) -> Vec<Result<WatchEvent, StoreError>> {
    match store.read_rows_after(*last, ROWS_PER_READ) {
        Ok(Some((rows, upto))) => {
            *last = upto;
            rows.into_iter()
                .flat_map(|row| row_events(row, prefix))
                .map(Ok)
                .collect()
        }
        Ok(None) => match store.read_snapshot(prefix, None) {
            Ok(snap) => {
                *last = snap.revision;
                vec![Ok(WatchEvent::Reset {
                    kvs: snap.kvs,
                    revision: snap.revision,
                })]
            }
            Err(e) => vec![Err(e)],
        },
        Err(e) => vec![Err(e)],
    }
}

fn row_events(row: LogRow, prefix: &str) -> impl Iterator<Item = WatchEvent> + '_ {
    let revision = row.revision;
    row.events
        .into_iter()
        .filter(move |e| e.key().starts_with(prefix))
        .map(move |e| match e {
            LogEvent::Put { kv, .. } => WatchEvent::Put(kv),
            LogEvent::Delete { prev } => WatchEvent::Delete {
                key: prev.key,
                revision,
            },
        })
}

/// Lease deadlines on the monotonic clock. Deadlines are never persisted:
/// after a restart every lease gets a full TTL from the moment of opening.
#[derive(Debug, Default)]
pub(crate) struct LeaseClock {
    deadlines: Mutex<HashMap<LeaseId, (Instant, Duration)>>,
    reaper: OnceLock<()>,
}

impl LeaseClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LeaseId, (Instant, Duration)>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single inserts/removes), so a poisoned lock is still usable.
        self.deadlines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn arm(&self, id: LeaseId, ttl: Duration) {
        self.lock().insert(id, (Instant::now() + ttl, ttl));
    }

    /// Extends a live lease by its TTL; an overdue or unknown one is expired.
    pub(crate) fn renew(&self, id: LeaseId) -> Result<Duration, StoreError> {
        let now = Instant::now();
        match self.lock().get_mut(&id) {
            Some((deadline, ttl)) if *deadline > now => {
                *deadline = now + *ttl;
                Ok(*ttl)
            }
            _ => Err(StoreError::LeaseExpired { id }),
        }
    }

    pub(crate) fn remove(&self, id: LeaseId) {
        self.lock().remove(&id);
    }

    fn due(&self, now: Instant) -> Vec<LeaseId> {
        self.lock()
            .iter()
            .filter(|(_, (d, _))| *d <= now)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Starts the backend's lease reaper once; it stops when the store is dropped.
pub(crate) fn ensure_reaper<B: LocalBackend>(backend: &Arc<B>) {
    if backend.clock().reaper.set(()).is_err() {
        return;
    }
    let weak = Arc::downgrade(backend);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REAP_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(store) = weak.upgrade() else { return };
            for id in store.clock().due(Instant::now()) {
                match store.clone().expire(id).await {
                    Ok(()) | Err(StoreError::LeaseExpired { .. }) => store.clock().remove(id),
                    // Left armed: the next tick retries (e.g. a transient disk error).
                    Err(_) => {}
                }
            }
        }
    });
}
