//! Proxy errors. Like pingora-error, every forwarding error says whether it
//! is safe to retry the request on another backend, and where it happened,
//! so the retry loop decides from data rather than from error strings.

use std::net::SocketAddr;

/// Where a try failed; decides retry safety together with the method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No byte of the request reached the backend: retry any method.
    BeforeSend,
    /// The request was (maybe partly) sent: retry only idempotent methods.
    AfterSend,
}

/// One failed try against one backend.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connect to {addr}: timed out")]
    ConnectTimeout { addr: SocketAddr },
    /// The backend answered something that is not an HTTP/1.1 response.
    #[error("backend {addr}: {source}")]
    Protocol {
        addr: SocketAddr,
        source: crate::codec::HeadError,
    },
    #[error("backend {addr}: {source} (request not sent)")]
    Unsent {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("backend {addr}: {source}")]
    Exchange {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("backend {addr}: no response head within the per-try timeout")]
    Timeout { addr: SocketAddr },
}

impl TryError {
    pub fn stage(&self) -> Stage {
        match self {
            TryError::Connect { .. }
            | TryError::ConnectTimeout { .. }
            | TryError::Unsent { .. } => Stage::BeforeSend,
            TryError::Protocol { .. } | TryError::Exchange { .. } | TryError::Timeout { .. } => {
                Stage::AfterSend
            }
        }
    }

    /// Whether a retry of this request on another backend is safe.
    pub fn retry_safe(&self, idempotent: bool) -> bool {
        self.stage() == Stage::BeforeSend || idempotent
    }

    /// Counts toward passive-health ejection: the backend did not accept or
    /// did not answer in time (an answered-then-reset exchange does not).
    pub fn is_health_failure(&self) -> bool {
        matches!(
            self,
            TryError::Connect { .. }
                | TryError::ConnectTimeout { .. }
                | TryError::Protocol { .. }
                | TryError::Timeout { .. }
        )
    }

    /// The status the client gets when this was the last try (504 or 502).
    pub fn status(&self) -> u16 {
        match self {
            TryError::Timeout { .. } | TryError::ConnectTimeout { .. } => 504,
            _ => 502,
        }
    }

    /// Short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TryError::Connect { .. } => "connect",
            TryError::ConnectTimeout { .. } => "connect_timeout",
            TryError::Protocol { .. } => "protocol",
            TryError::Unsent { .. } => "unsent",
            TryError::Exchange { .. } => "exchange",
            TryError::Timeout { .. } => "timeout",
        }
    }
}

/// Errors of setting up a proxy or ambassador.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("accept on {addr}: {source}")]
    Accept {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[test]
    fn connect_errors_are_retry_safe_for_any_method() {
        let e = TryError::Connect {
            addr: addr(),
            source: std::io::ErrorKind::ConnectionRefused.into(),
        };
        assert!(e.retry_safe(false));
        assert!(e.is_health_failure());
    }

    #[test]
    fn after_send_only_idempotent() {
        let e = TryError::Timeout { addr: addr() };
        assert!(!e.retry_safe(false));
        assert!(e.retry_safe(true));
        assert_eq!(e.status(), 504);
    }
}
