//! Opening the engine: find (or start) the keeper, load every record, and
//! reconcile the two after a daemon restart — adopt live containers with
//! their pipes, apply exits that happened while no daemon ran, and restart
//! what the restart policies say should run.

use super::{Inner, Runtime, RuntimeConfig};
use crate::keeper::client::{Connected, KeeperClient};
use crate::keeper::proto::ExitRecord;
use crate::keeper::{exit_record_path, socket_path};
use crate::record::load_all;
use skiff_sys::cgroup::CgroupLayout;
use skiff_types::ContainerStatus;
use std::collections::HashMap;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Starts a keeper from a sealed copy of our own binary and waits for its socket.
fn spawn_keeper(root: &Path) -> io::Result<()> {
    let exe = skiff_sys::selfexe::sealed_self_exe()?;
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&exe));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("keeper.log"))?;
    let _ = std::fs::remove_file(socket_path(root));
    std::process::Command::new(path)
        .arg0("skiff")
        .arg("keeper")
        .arg("--root")
        .arg(root)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    drop(exe);
    Ok(())
}

fn connect_or_spawn(root: &Path) -> io::Result<Connected> {
    if let Ok(c) = KeeperClient::connect(root) {
        return Ok(c);
    }
    spawn_keeper(root)?;
    // The socket file appears at bind(), before listen(): retry until it accepts.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match KeeperClient::connect(root) {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("the keeper did not come up: {e}"),
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

impl Runtime {
    /// Opens the engine under `cfg.root`, adopting whatever a previous daemon left.
    pub async fn open(cfg: RuntimeConfig) -> io::Result<Runtime> {
        Self::open_with_network(cfg, None).await
    }

    /// As `open`, with networking plugged in (see [`crate::NetworkHooks`]); after adoption
    /// the hooks reconcile what a crash may have left against the containers found.
    pub async fn open_with_network(
        cfg: RuntimeConfig,
        network: Option<std::sync::Arc<dyn crate::NetworkHooks>>,
    ) -> io::Result<Runtime> {
        std::fs::create_dir_all(cfg.root.join("containers"))?;
        let layout = CgroupLayout::discover().map_err(|e| io::Error::other(e.to_string()))?;
        let Connected {
            client,
            kept,
            mut exits,
        } = connect_or_spawn(&cfg.root)?;
        let volumes = skiff_volume::VolumeStore::open(&cfg.root)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let rt = Runtime {
            inner: std::sync::Arc::new(Inner {
                cfg,
                layout,
                keeper: client,
                containers: Mutex::new(HashMap::new()),
                execs: Mutex::new(HashMap::new()),
                early_exec_exits: Mutex::new(HashMap::new()),
                netns_pool: super::netpool::NetnsPool::start(4),
                volumes,
                volumes_lock: tokio::sync::Mutex::new(()),
                changes: tokio::sync::watch::channel(0).0,
                network,
            }),
        };
        let (records, problems) = load_all(rt.root());
        for p in problems {
            eprintln!("skiff: skipping unreadable container record: {p}");
        }
        let mut kept_by_id: HashMap<String, _> = HashMap::new();
        for k in kept {
            match k.exec_id {
                // An exec whose client went with the old daemon: drain it quietly.
                Some(exec_id) => {
                    let _ = rt.inner.keeper.forget(&k.id, Some(&exec_id)).await;
                }
                None => {
                    kept_by_id.insert(k.id.clone(), k);
                }
            }
        }
        let mut missed = Vec::new();
        for rec in records {
            let id = rec.id.to_string();
            let was_alive = rec.state.status.is_alive();
            let started_at = rec.state.started_at;
            let c = match rt.register(rec) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("skiff: cannot adopt {id}: {e}");
                    continue;
                }
            };
            if let Some(k) = kept_by_id.remove(&id) {
                if was_alive {
                    rt.attach_stdio(&c, k.stdio);
                    continue;
                }
                // The old daemon died between the spawn and recording the start: the start
                // never completed, so its process goes (below) and the record stays created.
                kept_by_id.insert(id, k);
                continue;
            }
            if was_alive {
                // Its exit happened while no daemon (or no keeper) was watching.
                let recorded = std::fs::read(exit_record_path(rt.root(), &id))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<ExitRecord>(&b).ok())
                    .filter(|r| r.at >= started_at);
                missed.push(recorded.unwrap_or(ExitRecord {
                    id: id.clone(),
                    exec_id: None,
                    pid: 0,
                    exit_code: 255,
                    signal: None,
                    at: crate::fsutil::now_nanos(),
                }));
            }
        }
        // Kept processes no record owns as running (a daemon killed mid-start): nothing could
        // ever stop them, so they are killed now and the keeper stops reporting on them.
        for id in kept_by_id.into_keys() {
            eprintln!("skiff: killing {id}: its start never completed (daemon restarted)");
            let _ = rt.inner.keeper.signal(&id, None, libc::SIGKILL).await;
            let _ = rt.inner.keeper.forget(&id, None).await;
        }
        for rec in missed {
            rt.on_exit(rec).await;
        }
        if let Some(net) = rt.inner.network.clone() {
            let all = rt.all();
            let known: Vec<String> = all.iter().map(|c| c.id.to_string()).collect();
            let alive: Vec<String> = all
                .iter()
                .filter(|c| c.rec().state.status.is_alive())
                .map(|c| c.id.to_string())
                .collect();
            let _ = tokio::task::spawn_blocking(move || net.reconcile(&known, &alive)).await;
        }
        let dispatcher = rt.clone();
        tokio::spawn(async move {
            while let Some(rec) = exits.recv().await {
                let rt = dispatcher.clone();
                tokio::spawn(async move { rt.on_exit(rec).await });
            }
        });
        rt.restart_on_daemon_start().await;
        Ok(rt)
    }

    async fn restart_on_daemon_start(&self) {
        for c in self.all() {
            let (status, policy, by_user) = {
                let rec = c.rec();
                (
                    rec.state.status,
                    rec.spec.restart,
                    rec.state.stopped_by_user,
                )
            };
            if status == ContainerStatus::Exited && policy.restarts_on_daemon_start(by_user) {
                let _op = c.op.lock().await;
                let _ = self.start_locked(&c).await;
            }
        }
    }

    /// The keeper's pid (for diagnostics and tests).
    pub fn keeper_pid(&self) -> i32 {
        self.inner.keeper.keeper_pid
    }
}
