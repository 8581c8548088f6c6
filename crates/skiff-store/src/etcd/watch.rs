//! Watches on etcd that survive dropped connections and compaction.
//!
//! The feeder remembers the revision of the last event it delivered. When the
//! gRPC stream breaks (member restart, network drop) it re-creates the etcd
//! watch from `last + 1`, so nothing is missed or repeated. If that revision
//! has been compacted meanwhile, etcd cancels the watch with a compact
//! revision and the feeder relists: a fresh `Reset`, then changes after it.
//! Progress notifications advance the position without events.

use std::time::Duration;

use etcd_client::{Client, EventType, WatchOptions, WatchResponse, WatchStream, Watcher};

use super::errors::{bounded, ErrCtx};
use super::{convert_kv, range_at};
use crate::watch::WatchSender;
use crate::{Revision, StoreError, Watch, WatchEvent};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Reads the first snapshot (so bad revisions fail the call) and spawns the feeder.
pub(crate) async fn start(
    client: Client,
    timeout: Duration,
    prefix: &str,
    from: Option<Revision>,
) -> Result<Watch, StoreError> {
    if let Some(r) = from.filter(|r| *r < 1) {
        return Err(StoreError::invalid(format!(
            "watch from revision {r}: revisions start at 1"
        )));
    }
    let snapshot = match range_at(&client, timeout, prefix, from).await {
        Err(StoreError::Compacted { .. }) => range_at(&client, timeout, prefix, None).await?,
        other => other?,
    };
    let feeder = Feeder {
        client,
        timeout,
        prefix: prefix.to_owned(),
        last: snapshot.1,
    };
    Ok(Watch::spawn(move |tx| feeder.run(snapshot.0, tx)))
}

struct Feeder {
    client: Client,
    timeout: Duration,
    prefix: String,
    /// Every change up to and including this revision has been delivered.
    last: Revision,
}

/// Why a stream ended.
enum Interrupted {
    /// Connection trouble: reconnect from `last + 1`.
    Broken,
    /// Our position was compacted: relist.
    Compacted,
    /// The consumer went away.
    Closed,
}

impl Feeder {
    async fn run(mut self, kvs: Vec<crate::KeyValue>, tx: WatchSender) {
        if tx
            .send(Ok(WatchEvent::Reset {
                kvs,
                revision: self.last,
            }))
            .await
            .is_err()
        {
            return;
        }
        let mut backoff = MIN_BACKOFF;
        loop {
            let outcome = match self.open().await {
                Ok((_watcher, stream)) => {
                    // `_watcher` holds the request side open while we pump.
                    backoff = MIN_BACKOFF;
                    self.pump(stream, &tx).await
                }
                Err(StoreError::Compacted { .. }) => Interrupted::Compacted,
                Err(_) => Interrupted::Broken,
            };
            match outcome {
                Interrupted::Closed => return,
                Interrupted::Compacted => {
                    if !self.relist(&tx).await {
                        return;
                    }
                }
                Interrupted::Broken => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn open(&self) -> Result<(Watcher, WatchStream), StoreError> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(self.last + 1)
            .with_progress_notify();
        let ctx = ErrCtx::revision("watch", self.last + 1);
        bounded(self.timeout, ctx, || {
            let (mut watch, options) = (self.client.watch_client(), options.clone());
            async move { watch.watch(self.prefix.as_str(), Some(options)).await }
        })
        .await
    }

    async fn pump(&mut self, mut stream: WatchStream, tx: &WatchSender) -> Interrupted {
        loop {
            let resp = match stream.message().await {
                Ok(Some(resp)) => resp,
                Ok(None) | Err(_) => return Interrupted::Broken,
            };
            if resp.compact_revision() > 0 {
                return Interrupted::Compacted;
            }
            if resp.canceled() {
                return Interrupted::Broken;
            }
            if let Err(outcome) = self.deliver(&resp, tx).await {
                return outcome;
            }
        }
    }

    async fn deliver(&mut self, resp: &WatchResponse, tx: &WatchSender) -> Result<(), Interrupted> {
        if resp.events().is_empty() {
            // A progress notification: everything up to here was delivered.
            if let Some(header) = resp.header() {
                self.last = self.last.max(header.revision());
            }
            return Ok(());
        }
        for event in resp.events() {
            let Some(kv) = event.kv() else { continue };
            let item = match (event.event_type(), convert_kv(kv)) {
                (_, Err(e)) => Err(e),
                (EventType::Put, Ok(kv)) => Ok(WatchEvent::Put(kv)),
                (EventType::Delete, Ok(kv)) => Ok(WatchEvent::Delete {
                    key: kv.key,
                    revision: kv.mod_revision,
                }),
            };
            let revision = kv.mod_revision();
            if tx.send(item).await.is_err() {
                return Err(Interrupted::Closed);
            }
            self.last = self.last.max(revision);
        }
        Ok(())
    }

    /// Sends a fresh `Reset`, retrying while etcd is unreachable. False once
    /// the consumer is gone.
    async fn relist(&mut self, tx: &WatchSender) -> bool {
        let mut backoff = MIN_BACKOFF;
        loop {
            match range_at(&self.client, self.timeout, &self.prefix, None).await {
                Ok((kvs, revision)) => {
                    self.last = revision;
                    return tx
                        .send(Ok(WatchEvent::Reset { kvs, revision }))
                        .await
                        .is_ok();
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
