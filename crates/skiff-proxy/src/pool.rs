//! Keep-alive connections to one backend: a stack of idle `Upstream`s (most
//! recently used first, so fewer connections stay warm), each with its own
//! read buffer. An idle connection the backend has closed (or that sent
//! bytes nobody asked for) is found at checkout from the readiness the
//! runtime already tracks, without a syscall in the common case.

use crate::buf::Buf;
use std::sync::Mutex;
use tokio::net::TcpStream;

/// One connection to a backend and the bytes read from it.
#[derive(Debug)]
pub struct Upstream {
    pub io: TcpStream,
    pub buf: Buf,
    /// Came from the pool (a failure before sending may be a stale close).
    pub reused: bool,
}

impl Upstream {
    pub fn new(io: TcpStream) -> Self {
        Upstream {
            io,
            buf: Buf::default(),
            reused: false,
        }
    }

    /// Idle and still open: nothing to read (a readable idle connection is
    /// at its end, reset, or out of step).
    fn still_idle(&self) -> bool {
        let mut probe = [0u8; 1];
        self.buf.is_empty()
            && matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

#[derive(Debug)]
pub struct Pool {
    idle: Mutex<Vec<Upstream>>,
    max: usize,
}

impl Pool {
    pub fn new(max: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Upstream>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection that is not known to be closed.
    pub fn checkout(&self) -> Option<Upstream> {
        loop {
            let mut up = self.lock().pop()?;
            if up.still_idle() {
                up.reused = true;
                return Some(up);
            }
        }
    }

    pub fn checkin(&self, up: Upstream) {
        let mut idle = self.lock();
        if idle.len() < self.max {
            idle.push(up);
        }
    }

    /// Drops (closes) every idle connection.
    pub fn clear(&self) {
        let gone = std::mem::take(&mut *self.lock());
        drop(gone);
    }
}
