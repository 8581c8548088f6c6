//! Starts real etcd members on loopback for tests and benchmarks, and kills
//! them by PID when dropped. Ports are picked by binding port 0; data lives in
//! a temp dir that is removed with the cluster.
//!
//! A missing etcd binary is an error that says how to install it, never a
//! silent skip: CI installs `etcd-server`, and a test that cannot run must fail.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{EtcdOptions, EtcdStore, StoreError};

/// Why an etcd member could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EtcdServerError {
    #[error(
        "etcd binary not found (looked for $SKIFF_ETCD_BIN and `etcd` on PATH); \
         install it with `apt-get install -y etcd-server`"
    )]
    Missing,
    #[error("etcd test setup failed: {context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("etcd cluster at {endpoints:?} did not become ready: {last}")]
    NotReady {
        endpoints: Vec<String>,
        last: StoreError,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EtcdServerError {
    let context = context.into();
    move |source| EtcdServerError::Io { context, source }
}

/// Locates the etcd binary: `$SKIFF_ETCD_BIN`, else `etcd` on `$PATH`.
pub fn etcd_binary() -> Result<PathBuf, EtcdServerError> {
    if let Some(path) = std::env::var_os("SKIFF_ETCD_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(EtcdServerError::Missing)
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
        .ok_or(EtcdServerError::Missing)
}

struct Member {
    name: String,
    client_url: String,
    args: Vec<String>,
    child: Option<Child>,
}

/// A running etcd cluster of one or more members.
pub struct EtcdCluster {
    binary: PathBuf,
    members: Vec<Member>,
    dir: tempfile::TempDir,
}

fn free_ports(n: usize) -> Result<Vec<u16>, EtcdServerError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(io("bind a free port")))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|l| {
            l.local_addr()
                .map(|a| a.port())
                .map_err(io("read a free port"))
        })
        .collect()
}

impl EtcdCluster {
    /// Starts `size` members (fast election timing, loopback only).
    pub fn start(size: usize) -> Result<Self, EtcdServerError> {
        let binary = etcd_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("skiff-test-etcd-")
            .tempdir()
            .map_err(io("create etcd temp dir"))?;
        let ports = free_ports(size * 2)?;
        let peer = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let initial: Vec<String> = (0..size).map(|i| format!("n{i}={}", peer(i))).collect();
        let members = (0..size)
            .map(|i| {
                let name = format!("n{i}");
                let client_url = format!("http://127.0.0.1:{}", ports[2 * i]);
                let data = dir.path().join(&name);
                let args = [
                    "--name",
                    &name,
                    "--data-dir",
                    &data.to_string_lossy(),
                    "--listen-client-urls",
                    &client_url,
                    "--advertise-client-urls",
                    &client_url,
                    "--listen-peer-urls",
                    &peer(i),
                    "--initial-advertise-peer-urls",
                    &peer(i),
                    "--initial-cluster",
                    &initial.join(","),
                    "--initial-cluster-token",
                    "skiff-test",
                    "--initial-cluster-state",
                    "new",
                    "--heartbeat-interval",
                    "50",
                    "--election-timeout",
                    "500",
                ]
                .map(String::from)
                .to_vec();
                Member {
                    name,
                    client_url,
                    args,
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self {
            binary,
            members,
            dir,
        };
        for i in 0..size {
            cluster.start_member(i)?;
        }
        Ok(cluster)
    }

    fn start_member(&mut self, i: usize) -> Result<(), EtcdServerError> {
        let member = &mut self.members[i];
        let log_path = self.dir.path().join(format!("{}.log", member.name));
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("open {}", log_path.display())))?;
        let err_log = log.try_clone().map_err(io("clone etcd log handle"))?;
        let child = Command::new(&self.binary)
            .args(&member.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(io(format!("spawn {}", self.binary.display())))?;
        member.child = Some(child);
        Ok(())
    }

    /// Client URLs of all members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// The cluster as `skiff daemon --store` takes it: `etcd://host:port,...`.
    pub fn store_url(&self) -> String {
        let members: Vec<&str> = self
            .members
            .iter()
            .map(|m| m.client_url.trim_start_matches("http://"))
            .collect();
        format!("etcd://{}", members.join(","))
    }

    /// SIGKILLs member `i` (by its PID) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            // Errors mean it already exited; either way it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again on its old ports and data.
    pub fn restart(&mut self, i: usize) -> Result<(), EtcdServerError> {
        self.kill(i);
        self.start_member(i)
    }

    /// Connects a store to all members, waiting up to 20 s for a leader.
    pub async fn connect(&self) -> Result<EtcdStore, EtcdServerError> {
        let mut options = EtcdOptions::new(self.endpoints());
        options.request_timeout = Duration::from_secs(2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match EtcdStore::connect(options.clone()).await {
                Ok(store) => return Ok(store),
                Err(last) if tokio::time::Instant::now() >= deadline => {
                    return Err(EtcdServerError::NotReady {
                        endpoints: self.endpoints(),
                        last,
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
