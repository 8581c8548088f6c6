//! Counters and histograms on atomics, rendered by hand in the Prometheus
//! text exposition format (version 0.0.4) on the admin listener's
//! `/metrics`. No metrics library: a handful of atomics per backend is all
//! the hot path pays.

use crate::balancer::Balancer;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Upper bounds (seconds) of the latency buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A cumulative-on-render latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut acc = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            acc += self.counts[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {acc}");
        }
        acc += self.counts[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {acc}");
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {acc}");
    }
}

/// Proxy-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: Counter,
    pub responses: [Counter; 5],
    pub retries: Counter,
    pub no_backend: Counter,
    /// Responses cut off mid-body because the backend failed.
    pub aborted: Counter,
    pub retry_budget_exhausted: Counter,
    pub errors: [Counter; ERROR_KINDS.len()],
}

/// Labels of `errors`, in `TryError::kind` spelling.
pub const ERROR_KINDS: [&str; 6] = [
    "connect",
    "connect_timeout",
    "protocol",
    "unsent",
    "exchange",
    "timeout",
];

impl Metrics {
    pub fn response(&self, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.responses[class].inc();
    }

    pub fn error(&self, kind: &str) {
        if let Some(i) = ERROR_KINDS.iter().position(|k| *k == kind) {
            self.errors[i].inc();
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text for one balancer.
pub fn render(b: &Balancer) -> String {
    let m = &b.metrics;
    let svc = format!("service=\"{}\"", escape(b.name()));
    let mut out = String::with_capacity(4096);
    header(
        &mut out,
        "skiff_proxy_requests_total",
        "counter",
        "Requests (HTTP) or connections (TCP) accepted.",
    );
    let _ = writeln!(
        out,
        "skiff_proxy_requests_total{{{svc}}} {}",
        m.requests.get()
    );
    header(
        &mut out,
        "skiff_proxy_responses_total",
        "counter",
        "Responses sent to clients by status class.",
    );
    for (i, c) in m.responses.iter().enumerate() {
        let _ = writeln!(
            out,
            "skiff_proxy_responses_total{{{svc},class=\"{}xx\"}} {}",
            i + 1,
            c.get()
        );
    }
    header(
        &mut out,
        "skiff_proxy_errors_total",
        "counter",
        "Failed tries against a backend, by kind.",
    );
    for (k, c) in ERROR_KINDS.iter().zip(&m.errors) {
        let _ = writeln!(
            out,
            "skiff_proxy_errors_total{{{svc},kind=\"{k}\"}} {}",
            c.get()
        );
    }
    for (name, help, c) in [
        (
            "skiff_proxy_retries_total",
            "Tries after the first.",
            &m.retries,
        ),
        (
            "skiff_proxy_no_backend_total",
            "Requests answered 503: no backend.",
            &m.no_backend,
        ),
        (
            "skiff_proxy_aborted_total",
            "Responses aborted mid-body by a backend failure.",
            &m.aborted,
        ),
        (
            "skiff_proxy_retry_budget_exhausted_total",
            "Retries refused by the budget.",
            &m.retry_budget_exhausted,
        ),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name}{{{svc}}} {}", c.get());
    }
    header(
        &mut out,
        "skiff_proxy_applied_revision",
        "gauge",
        "Last registry revision applied.",
    );
    let _ = writeln!(
        out,
        "skiff_proxy_applied_revision{{{svc}}} {}",
        b.applied_revision()
    );
    render_backends(b, &svc, &mut out);
    out
}

fn render_backends(b: &Balancer, svc: &str, out: &mut String) {
    let set = b.current();
    let now = b.now();
    let labels: Vec<String> = set
        .backends()
        .iter()
        .map(|be| format!("{svc},backend=\"{}\",addr=\"{}\"", escape(&be.id), be.addr))
        .collect();
    type Get = fn(&crate::backend::Backend, u64) -> u64;
    let series: [(&str, &str, &str, Get); 4] = [
        (
            "skiff_proxy_backend_requests_total",
            "counter",
            "Tries sent to the backend.",
            |be, _| be.requests.load(Relaxed),
        ),
        (
            "skiff_proxy_backend_failures_total",
            "counter",
            "Failed tries against the backend.",
            |be, _| be.failures.load(Relaxed),
        ),
        (
            "skiff_proxy_backend_inflight",
            "gauge",
            "Requests or connections in flight.",
            |be, _| be.inflight(),
        ),
        (
            "skiff_proxy_backend_ejected",
            "gauge",
            "1 while passive health keeps the backend out.",
            |be, now| be.health.ejected(now) as u64,
        ),
    ];
    for (name, kind, help, get) in series {
        header(out, name, kind, help);
        for (be, l) in set.backends().iter().zip(&labels) {
            let _ = writeln!(out, "{name}{{{l}}} {}", get(be, now));
        }
    }
    let name = "skiff_proxy_backend_latency_seconds";
    header(
        out,
        name,
        "histogram",
        "Time from sending a request to its last response byte.",
    );
    for (be, l) in set.backends().iter().zip(&labels) {
        be.latency.render(out, name, l);
    }
}
