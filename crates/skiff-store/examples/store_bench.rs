//! Store benchmark, side by side in one run (no timing asserts; figures only):
//!
//! - put -> watch-notified latency (p50/p99) for the memory, redb and etcd
//!   backends, and for raw etcd-client put + watch against the same etcd (the
//!   floor our etcd backend is measured against);
//! - redb writes/s with single puts and with `put_batch`;
//! - fan-out: one put seen by N watchers of the same prefix (p99 over watchers).
//!
//! Run: `cargo run --release -p skiff-store --example store_bench -- [SAMPLES]`
//! (needs the `etcd` binary; data dirs are temp dirs on the local disk).

use std::time::{Duration, Instant};

use skiff_store::etcd_server::EtcdCluster;
use skiff_store::{MemoryStore, RedbStore, Store, WatchEvent};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!(
        "{name:<34} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
    p99
}

/// Time from starting a put until our watcher has the event.
async fn put_to_watch<S: Store>(store: &S, prefix: &str, samples: usize) -> Vec<Duration> {
    let mut watch = store.watch(prefix, None).await.expect("watch");
    assert!(matches!(
        watch.next().await,
        Some(Ok(WatchEvent::Reset { .. }))
    ));
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        let key = format!("{prefix}{}", i % 64);
        let started = Instant::now();
        let rev = store.put(&key, vec![b'x'; 100], None).await.expect("put");
        loop {
            match watch.next().await.expect("watch item").expect("watch ok") {
                WatchEvent::Put(kv) if kv.mod_revision == rev => break,
                WatchEvent::Put(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
        out.push(started.elapsed());
    }
    out
}

/// The same measurement with etcd-client directly (no skiff code involved).
async fn raw_etcd_put_to_watch(endpoints: &[String], prefix: &str, n: usize) -> Vec<Duration> {
    let client = etcd_client::Client::connect(endpoints, None)
        .await
        .expect("connect raw");
    let mut kv = client.kv_client();
    let options = etcd_client::WatchOptions::new().with_prefix();
    let (_watcher, mut stream) = client
        .watch_client()
        .watch(prefix, Some(options))
        .await
        .expect("raw watch");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let key = format!("{prefix}{}", i % 64);
        let started = Instant::now();
        let rev = kv.put(key, vec![b'x'; 100], None).await.expect("raw put");
        let rev = rev.header().map(|h| h.revision()).expect("header");
        'wait: loop {
            let resp = stream
                .message()
                .await
                .expect("raw watch msg")
                .expect("raw stream open");
            for event in resp.events() {
                if event.kv().is_some_and(|kv| kv.mod_revision() == rev) {
                    break 'wait;
                }
            }
        }
        out.push(started.elapsed());
    }
    out
}

async fn writes_per_sec<S: Store>(store: &S, prefix: &str, total: usize, batch: usize) -> f64 {
    let started = Instant::now();
    let mut written = 0;
    while written < total {
        let items = (written..written + batch)
            .map(|i| (format!("{prefix}{i:08}"), vec![b'v'; 100], None))
            .collect::<Vec<_>>();
        if batch == 1 {
            let (key, value, lease) = items.into_iter().next().expect("one item");
            store.put(&key, value, lease).await.expect("put");
        } else {
            store.put_batch(items).await.expect("put_batch");
        }
        written += batch;
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// One put; time until each of `watchers` watchers has seen it.
async fn fan_out<S: Store>(
    store: &S,
    prefix: &str,
    watchers: usize,
    rounds: usize,
) -> Vec<Duration> {
    let mut handles = Vec::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..watchers {
        let mut watch = store.watch(prefix, None).await.expect("watch");
        assert!(matches!(
            watch.next().await,
            Some(Ok(WatchEvent::Reset { .. }))
        ));
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(Ok(WatchEvent::Put(kv))) = watch.next().await {
                if tx.send((kv.mod_revision, Instant::now())).is_err() {
                    return;
                }
            }
        }));
    }
    let mut out = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        let rev = store
            .put(&format!("{prefix}svc"), vec![round as u8], None)
            .await
            .expect("put");
        let mut seen = 0;
        while seen < watchers {
            let (r, at) = rx.recv().await.expect("fan-out event");
            assert_eq!(r, rev);
            out.push(at - started);
            seen += 1;
        }
    }
    for handle in handles {
        handle.abort();
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::Builder::new()
        .prefix("skiff-bench-")
        .tempdir_in(".")
        .expect("temp dir");
    let etcd = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let etcd_store = etcd.connect().await.unwrap_or_else(|e| panic!("{e}"));
    let redb = RedbStore::open(dir.path().join("bench.redb"))
        .await
        .expect("open redb");
    let memory = MemoryStore::new();

    println!("== put -> watch notified ({samples} sequential puts of 100 B) ==");
    report(
        "memory (skiff)",
        put_to_watch(&memory, "/lat/", samples).await,
    );
    report(
        "redb (skiff, fsync per put)",
        put_to_watch(&redb, "/lat/", samples).await,
    );
    let ours = report(
        "etcd (skiff EtcdStore)",
        put_to_watch(&etcd_store, "/lat/", samples).await,
    );
    let raw = raw_etcd_put_to_watch(&etcd.endpoints(), "/raw/", samples).await;
    let floor = report("etcd (raw etcd-client, floor)", raw);
    println!(
        "etcd p99 ratio skiff/raw: {:.2}",
        ours.as_secs_f64() / floor.as_secs_f64()
    );

    println!("== writes/s (100 B values) ==");
    let single = writes_per_sec(&redb, "/w1/", 1000.min(samples * 2), 1).await;
    println!(
        "{:<34} {single:>10.0} writes/s",
        "redb single put (fsync each)"
    );
    for batch in [100, 1000] {
        let rate = writes_per_sec(&redb, &format!("/wb{batch}/"), 100_000, batch).await;
        println!(
            "{:<34} {rate:>10.0} writes/s",
            format!("redb put_batch x{batch}")
        );
    }
    let etcd_single = writes_per_sec(&etcd_store, "/w1/", 1000.min(samples * 2), 1).await;
    println!("{:<34} {etcd_single:>10.0} writes/s", "etcd single put");
    let etcd_batch = writes_per_sec(&etcd_store, "/wb/", 20_000, 100).await;
    println!(
        "{:<34} {etcd_batch:>10.0} writes/s",
        "etcd put_batch x100 (txn)"
    );

    println!("== fan-out: one put, 1000 watchers on the prefix, 20 rounds ==");
    report(
        "redb fan-out (per watcher)",
        fan_out(&redb, "/fan/", 1000, 20).await,
    );
    report(
        "etcd fan-out (per watcher)",
        fan_out(&etcd_store, "/fan/", 1000, 20).await,
    );
}
