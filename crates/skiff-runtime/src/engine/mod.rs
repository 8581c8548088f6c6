//! The daemon's container engine: the lifecycle of every container, on top
//! of the keeper (processes), cgroups (limits, pause, stats) and the on-disk
//! records. One `Container` per id; lifecycle operations on one container are
//! serialised by its `op` lock, while exits arrive from the keeper's stream.
//!
//! Files: `mod.rs` (state, create, queries), `lifecycle.rs` (start, stop,
//! kill, pause, remove, exits and restarts), `io.rs` (output pumps, attach,
//! exec, logs), `exec_kill.rs` (ending an exec's whole process tree), `adopt.rs`
//! (picking up containers after a daemon restart).

mod adopt;
mod exec_kill;
mod io;
mod lifecycle;
mod names;
mod netpool;
mod pause;
mod volumes;
mod wire;

use crate::keeper::client::KeeperClient;
use crate::logs::LogWriter;
use crate::record::{ContainerDir, ContainerRecord};
use skiff_sys::cgroup::{Cgroup, CgroupLayout};
use skiff_types::time::human_duration;
use skiff_types::{
    ApiError, ContainerId, ContainerInfo, ContainerName, ContainerSpec, ContainerState,
    ContainerStatus, ContainerSummary, ErrorKind, Frame, PauseReason, StatsSample,
};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};

pub use io::Session;
pub(crate) use volumes::HostMount;

/// `--userns=auto`: (host id base, size) mapped to container id 0.
pub(crate) const USERNS_AUTO: (u32, u32) = (100_000, 65_536);

/// Settings the daemon passes in.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub root: PathBuf,
    /// Parent of every container's cgroup (`skiff` -> `skiff/<id>`).
    pub cgroup_parent: PathBuf,
    pub log_max_size: u64,
    pub log_max_files: u32,
}

/// Where output goes: the log file, attached clients, and the stdin to feed.
#[derive(Default)]
struct IoHub {
    log: Option<LogWriter>,
    subscribers: Vec<mpsc::UnboundedSender<Frame>>,
    stdin: Option<Arc<OwnedFd>>,
    tty: bool,
    pumps: Vec<tokio::task::JoinHandle<()>>,
    /// The running init's namespaces (see `keeper::proto::FdLayout::ns`).
    namespaces: Vec<OwnedFd>,
}

pub(crate) struct Container {
    id: ContainerId,
    dir: ContainerDir,
    rec: Mutex<ContainerRecord>,
    io: Mutex<IoHub>,
    /// Bumped after every exit has been fully handled.
    exits: watch::Sender<u64>,
    op: tokio::sync::Mutex<()>,
    /// Orders a start against its exit: held while a start is recorded (a
    /// /bin/true can exit before the keeper's reply is even read) and while an
    /// exit is handled and torn down (so `rm` never returns before the cgroup is gone).
    teardown: tokio::sync::Mutex<()>,
}

impl Container {
    fn rec(&self) -> MutexGuard<'_, ContainerRecord> {
        self.rec.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn hub(&self) -> MutexGuard<'_, IoHub> {
        self.io.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Inner {
    cfg: RuntimeConfig,
    layout: CgroupLayout,
    keeper: KeeperClient,
    containers: Mutex<HashMap<String, Arc<Container>>>,
    execs: Mutex<HashMap<String, io::ExecState>>,
    /// Exits of execs that ended before `exec` had registered them (a fast
    /// `touch` can exit before the keeper's reply is processed).
    early_exec_exits: Mutex<HashMap<String, i32>>,
    netns_pool: Option<netpool::NetnsPool>,
    volumes: skiff_volume::VolumeStore,
    /// See `volumes.rs`: orders mount resolution in `create` against volume removal.
    volumes_lock: tokio::sync::Mutex<()>,
    /// Bumped whenever a container's lifecycle status changes (see `changes`).
    changes: watch::Sender<u64>,
    network: Option<Arc<dyn crate::NetworkHooks>>,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

pub(crate) fn err(kind: ErrorKind, msg: impl Into<String>) -> ApiError {
    ApiError::new(kind, msg)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(ErrorKind::Internal, e.to_string())
}

impl Runtime {
    /// Follows lifecycle changes (start, exit, pause, unpause, remove) of any
    /// container: the counter moves after the new state is recorded, so a
    /// reader that then lists containers sees it. Watchers (the service
    /// registration) re-read state on every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    pub(crate) fn changed(&self) {
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn cfg(&self) -> &RuntimeConfig {
        &self.inner.cfg
    }

    fn root(&self) -> &Path {
        &self.inner.cfg.root
    }

    fn all(&self) -> Vec<Arc<Container>> {
        let map = self
            .inner
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// Finds a container by full id, unique id prefix or name.
    pub(crate) fn resolve(&self, r: &str) -> Result<Arc<Container>, ApiError> {
        let map = self
            .inner
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(r) {
            return Ok(c.clone());
        }
        if let Some(c) = map
            .values()
            .find(|c| c.rec().name == r.trim_start_matches('/'))
        {
            return Ok(c.clone());
        }
        let matches: Vec<_> = if r.is_empty() {
            Vec::new()
        } else {
            map.iter()
                .filter(|(id, _)| id.starts_with(r))
                .map(|(_, c)| c.clone())
                .collect()
        };
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(err(ErrorKind::NotFound, format!("No such container: {r}"))),
            _ => Err(err(
                ErrorKind::Invalid,
                format!("multiple containers match {r:?}: use more characters"),
            )),
        }
    }

    fn cgroup_of(&self, c: &Container) -> Cgroup {
        Cgroup::open(
            &self.inner.layout,
            &self.cfg().cgroup_parent.join(c.id.as_str()),
        )
    }

    fn register(&self, rec: ContainerRecord) -> Result<Arc<Container>, ApiError> {
        let dir = ContainerDir::new(self.root(), rec.id.as_str());
        let log = LogWriter::open(
            &dir.log(),
            self.cfg().log_max_size,
            self.cfg().log_max_files,
        )
        .map_err(|e| internal(format!("open log {}: {e}", dir.log().display())))?;
        let c = Arc::new(Container {
            id: rec.id.clone(),
            dir,
            rec: Mutex::new(rec),
            io: Mutex::new(IoHub {
                log: Some(log),
                ..Default::default()
            }),
            exits: watch::channel(0).0,
            op: tokio::sync::Mutex::new(()),
            teardown: tokio::sync::Mutex::new(()),
        });
        let mut map = self
            .inner
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.insert(c.id.to_string(), c.clone());
        Ok(c)
    }

    /// `create`: validates, resolves the mounts (creating volumes), writes the record and the
    /// container's directories. A failure removes the volumes it created.
    pub async fn create(&self, mut spec: ContainerSpec) -> Result<ContainerId, ApiError> {
        validate(&spec)?;
        if let Some(net) = &self.inner.network {
            net.validate(&spec)?;
        }
        // Only creates that use volumes wait for (and hold) the volumes lock.
        let uses_volumes = spec
            .mounts
            .iter()
            .any(|m| m.kind == skiff_types::MountType::Volume);
        let _volumes = match uses_volumes {
            true => Some(self.inner.volumes_lock.lock().await),
            false => None,
        };
        let made = self.prepare_mounts(&mut spec)?;
        let res = self.create_record(spec);
        if res.is_err() {
            self.drop_volumes(&made);
        }
        res
    }

    fn create_record(&self, spec: ContainerSpec) -> Result<ContainerId, ApiError> {
        let name = match &spec.name {
            Some(n) => ContainerName::parse(n)
                .map_err(|e| err(ErrorKind::Invalid, e.to_string()))?
                .to_string(),
            None => names::generate(&self.taken_names()),
        };
        // Hold the map lock across the name check and insert, so two creates can't both take a name.
        let id = ContainerId::from_bytes(random_bytes().map_err(internal)?);
        {
            let map = self
                .inner
                .containers
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(other) = map.values().find(|c| c.rec().name == name) {
                return Err(err(
                    ErrorKind::Conflict,
                    format!(
                        "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    ),
                ));
            }
        }
        let dir = ContainerDir::new(self.root(), id.as_str());
        let made = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir.0)?;
            for d in [dir.upper(), dir.work(), dir.merged()] {
                std::fs::create_dir(&d)?;
                if spec.userns_auto && d != dir.merged() {
                    // The overlay is mounted by the container's (mapped) root: its writable
                    // layer must be that root's, or the rootfs and mount points are read-only.
                    let root = Some(USERNS_AUTO.0);
                    std::os::unix::fs::chown(&d, root, root)?;
                }
            }
            Ok(())
        })();
        let rec = ContainerRecord {
            id: id.clone(),
            name,
            created: crate::fsutil::now_nanos(),
            spec,
            state: ContainerState::created(),
            restart_count: 0,
            oom_baseline: 0,
        };
        let saved = made.and_then(|_| rec.save(self.root()));
        if let Err(e) = saved {
            let _ = std::fs::remove_dir_all(&dir.0);
            return Err(internal(format!("create {}: {e}", dir.0.display())));
        }
        self.register(rec)?;
        Ok(id)
    }

    fn taken_names(&self) -> Vec<String> {
        self.all().iter().map(|c| c.rec().name.clone()).collect()
    }

    pub async fn list(&self, all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        let now = crate::fsutil::now_nanos();
        let mut out: Vec<ContainerSummary> = self
            .all()
            .iter()
            .map(|c| summary(&c.rec(), now))
            .filter(|s| all || s.status.is_alive() || s.status == ContainerStatus::Restarting)
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created));
        Ok(out)
    }

    pub async fn inspect(&self, r: &str) -> Result<ContainerInfo, ApiError> {
        let c = self.resolve(r)?;
        let rec = c.rec().clone();
        Ok(ContainerInfo {
            id: rec.id,
            name: format!("/{}", rec.name),
            created: rec.created,
            config: rec.spec,
            state: rec.state,
            restart_count: rec.restart_count,
            log_path: c.dir.log().display().to_string(),
            cgroup: self
                .cfg()
                .cgroup_parent
                .join(c.id.as_str())
                .display()
                .to_string(),
            addresses: match &self.inner.network {
                Some(net) => net.addresses(c.id.as_str()),
                None => Vec::new(),
            },
        })
    }

    /// Whether any container of this engine is running or paused.
    pub fn any_alive(&self) -> bool {
        self.all().iter().any(|c| c.rec().state.status.is_alive())
    }

    /// Removes the (empty) parent cgroup when no container of ours is alive; called at shutdown.
    pub fn tidy_cgroup_parent(&self) {
        if self.all().iter().any(|c| c.rec().state.status.is_alive()) {
            return;
        }
        let parent = Cgroup::open(&self.inner.layout, &self.cfg().cgroup_parent);
        for procs in parent.procs_files() {
            if let Some(dir) = procs.parent() {
                // Non-recursive on purpose: another daemon may share the parent.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    pub async fn stats(&self, r: &str) -> Result<StatsSample, ApiError> {
        let c = self.resolve(r)?;
        let (name, alive) = {
            let rec = c.rec();
            (rec.name.clone(), rec.state.status.is_alive())
        };
        let s = if alive {
            self.cgroup_of(&c).stats().map_err(internal)?
        } else {
            skiff_sys::cgroup::CgroupStats {
                memory_usage: 0,
                memory_limit: None,
                cpu_usage_ns: 0,
                pids_current: 0,
            }
        };
        Ok(StatsSample {
            id: c.id.clone(),
            name,
            read_at: crate::fsutil::now_nanos(),
            cpu_usage_ns: s.cpu_usage_ns,
            memory_usage: s.memory_usage,
            memory_limit: s.memory_limit,
            pids: s.pids_current,
        })
    }
}

fn validate(spec: &ContainerSpec) -> Result<(), ApiError> {
    let invalid = |m: String| err(ErrorKind::Invalid, m);
    let dirs = crate::launch::rootfs_dirs(spec);
    let what = if spec.rootfs_layers.is_empty() {
        "rootfs"
    } else {
        "image layer"
    };
    for dir in &dirs {
        if dir.as_os_str().is_empty() || !dir.is_absolute() {
            return Err(invalid(format!(
                "{what} must be an absolute path, got {:?}",
                dir.display().to_string()
            )));
        }
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(invalid(format!(
                    "{what} {} is not a directory",
                    dir.display()
                )))
            }
            Err(e) => return Err(invalid(format!("{what} {}: {e}", dir.display()))),
        }
    }
    if spec.argv().is_empty() {
        return Err(invalid("No command specified".into()));
    }
    if let Some(sig) = &spec.stop_signal {
        skiff_types::parse_signal(sig).map_err(|e| invalid(format!("stop signal: {e}")))?;
    }
    if spec.auto_remove && spec.restart != skiff_types::RestartPolicy::No {
        return Err(invalid("Conflicting options: --restart and --rm".into()));
    }
    crate::launch::capabilities(spec)?;
    crate::launch::seccomp_choice(&spec.seccomp)?;
    crate::launch::resolve_user_in(&dirs, spec.user.as_deref())?;
    Ok(())
}

fn random_bytes() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

fn summary(rec: &ContainerRecord, now: u64) -> ContainerSummary {
    let st = &rec.state;
    let secs = |t: u64| now.saturating_sub(t) / 1_000_000_000;
    let status_text = match st.status {
        ContainerStatus::Created => "Created".to_string(),
        ContainerStatus::Running => format!("Up {}", human_duration(secs(st.started_at))),
        ContainerStatus::Paused => format!(
            "Up {} ({})",
            human_duration(secs(st.started_at)),
            st.paused_by.unwrap_or(PauseReason::User).label()
        ),
        ContainerStatus::Restarting => {
            format!(
                "Restarting ({}) {} ago",
                st.exit_code,
                human_duration(secs(st.finished_at))
            )
        }
        ContainerStatus::Exited => {
            format!(
                "Exited ({}) {} ago",
                st.exit_code,
                human_duration(secs(st.finished_at))
            )
        }
        ContainerStatus::Dead => "Dead".to_string(),
    };
    let argv = rec.spec.argv();
    ContainerSummary {
        id: rec.id.clone(),
        name: rec.name.clone(),
        command: argv.join(" "),
        created: rec.created,
        status: st.status,
        status_text,
        exit_code: st.exit_code,
        pid: st.pid,
    }
}
