//! Proxy settings: the mode, the balancing policy, and the limits that bound
//! retries, timeouts and passive health. Plain data with defaults chosen to
//! match what Envoy and linkerd2-proxy ship with, scaled to one host.

use hyper::Method;
use std::time::Duration;

/// What the listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP/1.1 reverse proxy (keep-alive, chunked, Upgrade pass-through).
    Http,
    /// Byte pipe per connection.
    Tcp,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http" => Ok(Mode::Http),
            "tcp" => Ok(Mode::Tcp),
            other => Err(format!("unknown mode {other:?} (expected http or tcp)")),
        }
    }
}

/// How a backend is chosen among the eligible ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    /// Power of two choices on outstanding requests.
    P2c,
}

impl std::str::FromStr for Balance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rr" | "round-robin" => Ok(Balance::RoundRobin),
            "p2c" => Ok(Balance::P2c),
            other => Err(format!("unknown balance {other:?} (expected rr or p2c)")),
        }
    }
}

/// Passive health: eject a backend after `eject_after` consecutive failures
/// (connect errors and per-try timeouts), let one probe through after a
/// backoff that doubles per consecutive ejection up to `max_backoff`.
#[derive(Debug, Clone)]
pub struct HealthConfig {
    pub eject_after: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            eject_after: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Retry limits. The budget allows `ratio` retries per request seen plus
/// `min_per_sec` always (Finagle's and linkerd's retry budget).
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Total tries per request, the first included.
    pub max_tries: u32,
    /// Methods retried after the request reached a backend (RFC 9110 9.2.2).
    pub idempotent: Vec<Method>,
    pub budget_ratio: f64,
    pub budget_min_per_sec: u32,
    /// Request bodies up to this size are buffered so they can be replayed;
    /// larger or streamed bodies are retried only if they were never sent.
    pub replay_limit: usize,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_tries: 3,
            idempotent: vec![
                Method::GET,
                Method::HEAD,
                Method::OPTIONS,
                Method::PUT,
                Method::DELETE,
                Method::TRACE,
            ],
            budget_ratio: 0.2,
            budget_min_per_sec: 3,
            replay_limit: 64 * 1024,
        }
    }
}

/// Everything a proxy or ambassador needs besides its listener and updates.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub mode: Mode,
    pub balance: Balance,
    /// Seed of the balancer's RNG (p2c), so picks are reproducible.
    pub seed: u64,
    pub connect_timeout: Duration,
    /// Time from the start of one try to the response head.
    pub per_try_timeout: Duration,
    /// Idle keep-alive connections kept per backend.
    pub max_idle_per_backend: usize,
    pub health: HealthConfig,
    pub retry: RetryConfig,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            mode: Mode::Http,
            balance: Balance::RoundRobin,
            seed: 0x5eed,
            connect_timeout: Duration::from_secs(2),
            per_try_timeout: Duration::from_secs(15),
            max_idle_per_backend: 64,
            health: HealthConfig::default(),
            retry: RetryConfig::default(),
        }
    }
}
