//! Every acknowledged registration survives kill -9 of the registering
//! process on the embedded (redb) store: a child (this test binary,
//! re-executed) joins as a node and registers instances, acknowledging each
//! only after `register` returned; the parent kills it with SIGKILL, reopens
//! the database, joins as the same node (adopting the still-live lease) and
//! finds every acknowledged instance.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use skiff_registry::Registry;
use skiff_store::RedbStore;

const CHILD_ENV: &str = "SKIFF_REGISTRY_CRASH_CHILD_DB";
const TEST_NAME: &str = "acknowledged_registrations_survive_kill_9";
const KILL_AFTER: usize = 100;

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_registrations_survive_kill_9() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        return register_until_killed(PathBuf::from(path));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.redb");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < KILL_AFTER {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(id) = line.strip_prefix("ack ") {
            acked.push(id.to_string());
        }
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    for line in lines {
        if let Some(id) = line.unwrap().strip_prefix("ack ") {
            acked.push(id.to_string());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RedbStore::open(&db).await.expect("reopen after kill -9");
        let reg = Registry::new(Arc::new(store));
        let node = reg.join("crashy", Duration::from_secs(60)).await.unwrap();
        let mine: Vec<String> = node
            .registered()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        for id in &acked {
            assert!(mine.contains(id), "acknowledged registration {id} lost");
        }
    });
}

fn register_until_killed(db: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RedbStore::open(&db).await.unwrap();
        let reg = Registry::new(Arc::new(store));
        let node = reg.join("crashy", Duration::from_secs(60)).await.unwrap();
        for n in 0.. {
            let id = format!("i{n:06}");
            node.register(&support::inst("crash", &id, "crashy"))
                .await
                .unwrap();
            println!("ack {id}");
        }
    });
}
