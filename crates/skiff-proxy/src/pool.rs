//! Keep-alive connections to one backend: a stack of idle HTTP/1 senders
//! (most recently used first, so fewer connections stay warm). Connections
//! are made by the forwarder; the pool only keeps the idle ones.

use crate::body::ReqBody;
use hyper::client::conn::http1::SendRequest;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Pool {
    idle: Mutex<Vec<SendRequest<ReqBody>>>,
    max: usize,
}

impl Pool {
    pub fn new(max: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<ReqBody>>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection that is not known to be closed.
    pub fn checkout(&self) -> Option<SendRequest<ReqBody>> {
        let mut idle = self.lock();
        while let Some(s) = idle.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    pub fn checkin(&self, sender: SendRequest<ReqBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.max {
            idle.push(sender);
        }
    }

    /// Drops every idle connection (their connection tasks then close them).
    pub fn clear(&self) {
        self.lock().clear();
    }
}
