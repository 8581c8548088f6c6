//! Crash durability of [`RedbStore`]: a child process writes keys and
//! acknowledges each one to the parent over a pipe only after `put` returned;
//! the parent kill -9s it midway, reopens the database, and every
//! acknowledged key must be there. The child is this same test binary,
//! re-executed with an environment variable naming the database.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use skiff_store::{RedbStore, Store};

const CHILD_ENV: &str = "SKIFF_STORE_CRASH_CHILD_DB";
const TEST_NAME: &str = "acknowledged_writes_survive_kill_9";
const KILL_AFTER: usize = 300;

/// Kills the child if the parent panics before it did so itself.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        return write_until_killed(PathBuf::from(path));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.redb");
    let exe = std::env::current_exe().expect("test binary path");
    let child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer child");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("child stdout");
    let mut acked = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    while acked.len() < KILL_AFTER {
        let line = lines
            .next()
            .expect("child ended before being killed")
            .expect("read pipe");
        if let Some(n) = line.strip_prefix("ack ") {
            acked.push(n.parse::<usize>().expect("ack number"));
        }
    }
    child.0.kill().expect("kill -9 the writer");
    child.0.wait().expect("reap the writer");
    // Acks already in the pipe were sent before the kill: they count too.
    for line in lines {
        if let Some(n) = line.expect("read pipe").strip_prefix("ack ") {
            acked.push(n.parse().expect("ack number"));
        }
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = RedbStore::open(&db).await.expect("reopen after kill -9");
        for n in &acked {
            let (kv, _) = store.get(&format!("/crash/{n:06}")).await.expect("get");
            assert_eq!(
                kv.expect("acknowledged key lost").value,
                n.to_string().into_bytes()
            );
        }
        let (all, _) = store.range("/crash/").await.expect("range");
        assert!(
            all.len() >= acked.len(),
            "at most one unacknowledged write extra"
        );
        assert!(
            all.len() <= acked.len() + 1,
            "{} keys but {} acks",
            all.len(),
            acked.len()
        );
    });
    eprintln!(
        "{} acknowledged writes all present after kill -9",
        acked.len()
    );
}

fn write_until_killed(db: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = RedbStore::open(&db).await.expect("open in child");
        for n in 0.. {
            let key = format!("/crash/{n:06}");
            store
                .put(&key, n.to_string().into_bytes(), None)
                .await
                .expect("put in child");
            println!("ack {n}");
        }
    });
}
