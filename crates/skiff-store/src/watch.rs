//! The consumer side of a watch: a bounded channel fed by one backend task.
//! Dropping the [`Watch`] stops that task, so abandoned watchers cost nothing.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{StoreError, WatchEvent};

/// Items buffered per watcher before its feeding task waits for the consumer.
/// Backpressure never loses events: the feeder resumes from its own position.
pub(crate) const WATCH_BUFFER: usize = 1024;

pub(crate) type WatchSender = mpsc::Sender<Result<WatchEvent, StoreError>>;

/// A revisioned change stream under one prefix: first [`WatchEvent::Reset`],
/// then every change exactly once in revision order. It ends (`None`) when the
/// store is closed, and yields an error item only when it cannot continue.
#[derive(Debug)]
pub struct Watch {
    rx: mpsc::Receiver<Result<WatchEvent, StoreError>>,
    task: JoinHandle<()>,
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
        Self { rx, task }
    }

    /// The next item, or `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        self.rx.recv().await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}
