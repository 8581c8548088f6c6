//! Registry benchmark, measured through the registry API (`NodeSession`,
//! `ServiceWatch`), side by side with raw etcd in the same run; figures only:
//!
//! - registration -> typed watcher notified (p50/p99) on the embedded redb
//!   store and on etcd, split into "register returned" (the commit) and
//!   "returned -> watcher" (the notification path), with raw etcd-client
//!   put -> watch against the same etcd as etcd's floor and a bare 4 KiB
//!   write + fdatasync in the store's directory as the disk's floor;
//! - registrations/s on the embedded store: one per commit, and batched
//!   (`register_batch`, 128 per commit) from 1 and 4 concurrent writers;
//! - fan-out: one registration seen by 1,000 watchers of the service (p99
//!   over all watchers and rounds).
//!
//! Run: `cargo run --release -p skiff-registry --example registry_bench -- [SAMPLES]`
//! (needs the `etcd` binary).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_registry::{NodeSession, Registry};
use skiff_store::etcd_server::EtcdCluster;
use skiff_store::{RedbStore, Store};
use skiff_types::{Instance, ServiceUpdate};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
    println!(
        "{name:<40} n={:<6} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
    p99
}

fn inst(service: &str, id: String) -> Instance {
    Instance {
        id,
        service: service.into(),
        node: "bench".into(),
        addr: "198.18.0.10".parse().expect("addr"),
        port: 80,
        proto: Default::default(),
        tags: vec!["v1".into()],
        meta: BTreeMap::from([("container".into(), "0".repeat(64))]),
    }
}

/// Time from starting `register` until a typed watcher of the service has the
/// Add, and (to see where a tail comes from) until `register` returned (the
/// store's commit, fsync included) and from then to the watcher.
async fn register_to_watch(reg: &Registry, node: &NodeSession, n: usize) -> Split {
    let mut watch = reg.watch("lat", None).await.expect("watch");
    assert!(matches!(
        watch.next().await,
        Some(Ok(ServiceUpdate::Reset { .. }))
    ));
    let mut out = Split::default();
    for i in 0..n {
        let started = Instant::now();
        let rev = node
            .register(&inst("lat", format!("i{}", i % 64)))
            .await
            .expect("register");
        let committed = Instant::now();
        loop {
            match watch.next().await.expect("item").expect("ok") {
                ServiceUpdate::Add { revision, .. } if revision == rev => break,
                _ => continue,
            }
        }
        out.total.push(started.elapsed());
        out.commit.push(committed - started);
        out.notify.push(committed.elapsed());
    }
    out
}

#[derive(Default)]
struct Split {
    total: Vec<Duration>,
    commit: Vec<Duration>,
    notify: Vec<Duration>,
}

impl Split {
    /// Prints all three; returns the total's p99.
    fn report(self, name: &str) -> Duration {
        report(&format!("  {name}: register returned"), self.commit);
        report(&format!("  {name}: returned -> watcher"), self.notify);
        report(name, self.total)
    }
}

/// The disk's own floor for one durable write: a 4 KiB overwrite plus
/// fdatasync in the directory the embedded store lives in (what every redb
/// commit pays at least once), measured in the same run.
fn fdatasync_floor(dir: &std::path::Path, n: usize) -> Vec<Duration> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(dir.join("fsync-floor"))
        .expect("floor file");
    let block = vec![7u8; 4096];
    for i in 0..64 {
        file.write_all_at(&block, i * 4096).expect("fill");
    }
    file.sync_all().expect("sync");
    (0..n)
        .map(|i| {
            let started = Instant::now();
            file.write_all_at(&block, (i as u64 % 64) * 4096)
                .expect("write");
            file.sync_data().expect("fdatasync");
            started.elapsed()
        })
        .collect()
}

/// The floor: etcd-client put + watch, no skiff code involved.
async fn raw_etcd(endpoints: &[String], n: usize) -> Vec<Duration> {
    let client = etcd_client::Client::connect(endpoints, None)
        .await
        .expect("connect raw");
    let mut kv = client.kv_client();
    let opts = etcd_client::WatchOptions::new().with_prefix();
    let (_w, mut stream) = client
        .watch_client()
        .watch("/raw/", Some(opts))
        .await
        .expect("raw watch");
    let value = serde_json::to_vec(&inst("raw", "x".into())).expect("json");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let resp = kv
            .put(format!("/raw/{}", i % 64), value.clone(), None)
            .await
            .expect("raw put");
        let rev = resp.header().map(|h| h.revision()).expect("header");
        'wait: loop {
            let msg = stream.message().await.expect("msg").expect("open");
            for e in msg.events() {
                if e.kv().is_some_and(|kv| kv.mod_revision() == rev) {
                    break 'wait;
                }
            }
        }
        out.push(started.elapsed());
    }
    out
}

/// Registrations per second: `writers` concurrent tasks, `batch` per call.
async fn registrations_per_sec(
    node: &Arc<NodeSession>,
    total: usize,
    batch: usize,
    writers: usize,
) -> f64 {
    let started = Instant::now();
    let per_writer = total / writers;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < per_writer {
                let chunk: Vec<Instance> = (done..done + batch)
                    .map(|i| inst("bulk", format!("w{w}-b{batch}-{i:08}")))
                    .collect();
                node.register_batch(&chunk).await.expect("register_batch");
                done += batch;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    (per_writer * writers) as f64 / started.elapsed().as_secs_f64()
}

/// One registration; time until each of `watchers` typed watchers has it.
async fn fan_out(
    reg: &Registry,
    node: &NodeSession,
    watchers: usize,
    rounds: usize,
) -> Vec<Duration> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let mut watch = reg.watch("fan", None).await.expect("watch");
        assert!(matches!(
            watch.next().await,
            Some(Ok(ServiceUpdate::Reset { .. }))
        ));
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            while let Some(Ok(u)) = watch.next().await {
                if tx.send((u.revision(), Instant::now())).is_err() {
                    return;
                }
            }
        }));
    }
    let mut out = Vec::new();
    for round in 0..rounds {
        let started = Instant::now();
        let rev = node
            .register(&inst("fan", format!("r{round}")))
            .await
            .expect("register");
        let mut seen = 0;
        while seen < watchers {
            let (r, at) = rx.recv().await.expect("fan-out update");
            assert_eq!(r, rev);
            out.push(at - started);
            seen += 1;
        }
    }
    for h in handles {
        h.abort();
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
        .prefix("skiff-registry-bench-")
        .tempdir_in(".")
        .expect("temp dir");
    let etcd = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let etcd_store: Arc<dyn Store> =
        Arc::new(etcd.connect().await.unwrap_or_else(|e| panic!("{e}")));
    let redb: Arc<dyn Store> = Arc::new(
        RedbStore::open(dir.path().join("bench.redb"))
            .await
            .expect("open redb"),
    );
    let ttl = Duration::from_secs(60);
    // The embedded store commits 1,024 registrations at once; etcd caps a txn at 128.
    let (reg_redb, reg_etcd) = (
        Registry::new(redb).with_max_batch(1024),
        Registry::new(etcd_store),
    );
    let node_redb = Arc::new(reg_redb.join("bench", ttl).await.expect("join redb"));
    let node_etcd = reg_etcd.join("bench", ttl).await.expect("join etcd");

    println!("== registration -> typed watcher notified ({samples} sequential registrations) ==");
    let disk = report(
        "disk floor: 4 KiB write + fdatasync",
        fdatasync_floor(dir.path(), samples),
    );
    let redb_p99 = register_to_watch(&reg_redb, &node_redb, samples)
        .await
        .report("embedded redb (skiff registry)");
    let etcd_p99 = register_to_watch(&reg_etcd, &node_etcd, samples)
        .await
        .report("etcd (skiff registry)");
    let floor = report(
        "etcd (raw etcd-client put->watch, floor)",
        raw_etcd(&etcd.endpoints(), samples).await,
    );
    println!(
        "targets: embedded p99 <= 5 ms: {}; etcd p99 <= 10 ms: {}; etcd p99 skiff/raw = {:.2}; \
         embedded p99 / disk fdatasync p99 = {:.2}",
        redb_p99 <= Duration::from_millis(5),
        etcd_p99 <= Duration::from_millis(10),
        etcd_p99.as_secs_f64() / floor.as_secs_f64(),
        redb_p99.as_secs_f64() / disk.as_secs_f64()
    );

    println!("== registrations/s on the embedded store ==");
    let single = registrations_per_sec(&node_redb, 1000, 1, 1).await;
    println!("{:<40} {single:>10.0} /s", "one per commit (fsync each)");
    for (batch, writers) in [(128, 1), (128, 4), (1024, 1)] {
        let rate = registrations_per_sec(&node_redb, 100_352, batch, writers).await;
        println!(
            "{:<40} {rate:>10.0} /s  (target >= 20000: {})",
            format!("register_batch x{batch}, {writers} writer(s)"),
            rate >= 20_000.0
        );
    }

    println!("== fan-out: one registration, 1000 watchers of the service, 20 rounds ==");
    report(
        "embedded redb (per watcher)",
        fan_out(&reg_redb, &node_redb, 1000, 20).await,
    );
    report(
        "etcd (per watcher)",
        fan_out(&reg_etcd, &node_etcd, 1000, 20).await,
    );
}
