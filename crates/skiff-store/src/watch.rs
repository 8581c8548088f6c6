//! The consumer side of a watch. Two shapes behind one type:
//! - fed: a bounded channel filled by one backend task (etcd: a gRPC stream
//!   to follow); dropping the [`Watch`] stops that task;
//! - pulled: the in-process backends (memory, redb) need no task at all: the
//!   consumer itself waits for the committed revision to move and reads the
//!   change log after its own position. A commit then wakes exactly the
//!   consumers, one scheduling hop instead of two (feeder, then consumer),
//!   which is most of the registration -> watcher tail on a busy host.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{StoreError, WatchEvent};

/// Items buffered per watcher before its feeding task waits for the consumer.
/// Backpressure never loses events: the feeder resumes from its own position.
pub(crate) const WATCH_BUFFER: usize = 1024;

pub(crate) type WatchSender = mpsc::Sender<Result<WatchEvent, StoreError>>;

pub(crate) type WatchItem = Option<Result<WatchEvent, StoreError>>;

/// A watch source the consumer drives itself (`next` must be cancel-safe:
/// dropping its future loses nothing).
pub(crate) trait Pull: Send {
    fn next(&mut self) -> Pin<Box<dyn Future<Output = WatchItem> + Send + '_>>;
}

/// A revisioned change stream under one prefix: first [`WatchEvent::Reset`],
/// then every change exactly once in revision order. It ends (`None`) when the
/// store is closed, and yields an error item only when it cannot continue.
pub struct Watch {
    source: Source,
}

enum Source {
    Fed {
        rx: mpsc::Receiver<Result<WatchEvent, StoreError>>,
        task: JoinHandle<()>,
    },
    Pulled(Box<dyn Pull>),
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.source {
            Source::Fed { .. } => "Watch(fed)",
            Source::Pulled(_) => "Watch(pulled)",
        })
    }
}

impl Watch {
    /// Starts `feed` on the current runtime with the sending half of a new stream.
    pub(crate) fn spawn<F, Fut>(feed: F) -> Self
    where
        F: FnOnce(WatchSender) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let task = tokio::spawn(feed(tx));
        Self {
            source: Source::Fed { rx, task },
        }
    }

    /// A watch the consumer drives (no task).
    pub(crate) fn pulled(source: impl Pull + 'static) -> Self {
        Self {
            source: Source::Pulled(Box::new(source)),
        }
    }

    /// The next item, or `None` once the stream has ended. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        match &mut self.source {
            Source::Fed { rx, .. } => rx.recv().await,
            Source::Pulled(p) => p.next().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Source::Fed { task, .. } = &self.source {
            task.abort();
        }
    }
}
