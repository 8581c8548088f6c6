//! Lifecycle verbs and exit handling (see `skiff_types::status` for the diagram).

use super::{err, internal, Container, Runtime};
use crate::keeper::proto::{ExitRecord, LaunchSpec, StdioMode};
use crate::{launch, oci};
use skiff_sys::cgroup::{Cgroup, Resources};
use skiff_types::restart::ExitFacts;
use skiff_types::{ApiError, ContainerStatus, Control, ErrorKind, WaitResponse};
use std::sync::Arc;
use std::time::Duration;

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

impl Runtime {
    pub async fn start(&self, r: &str) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        let _op = c.op.lock().await;
        let status = c.rec().state.status;
        if status.is_alive() {
            return Ok(()); // docker start of a running container is a no-op
        }
        status
            .can_start()
            .map_err(|e| err(ErrorKind::Conflict, e.to_string()))?;
        self.start_locked(&c).await
    }

    /// Starts the container's init; the caller holds `c.op`.
    pub(super) async fn start_locked(&self, c: &Arc<Container>) -> Result<(), ApiError> {
        // The exit of what we start must not be handled before the start is recorded.
        let _gate = c.teardown.lock().await;
        let spec = c.rec().spec.clone();
        let cgroup = self.make_cgroup(c, &spec.resources)?;
        // Networking first: its /etc files are bind mounts of the launch.
        let (wired, files) = match self.wire_network(c, &spec).await {
            Ok(w) => w,
            Err(e) => {
                let _ = cgroup.destroy();
                return Err(e);
            }
        };
        let launch = match self.launch_spec(c, &cgroup, &files) {
            Ok(l) => l,
            Err(e) => {
                let _ = cgroup.destroy();
                self.unwire_network(c).await;
                return Err(e);
            }
        };
        let baseline = cgroup.oom_kill_count().unwrap_or(0);
        // User-namespaced containers need a network namespace their user namespace owns.
        let net = match (wired, launch.net_ns, launch.userns, &self.inner.netns_pool) {
            (Some(ns), ..) => Some(ns),
            (None, true, None, Some(pool)) => pool.take(),
            _ => None,
        };
        match self.inner.keeper.spawn(c.id.as_str(), launch, net).await {
            Ok(crate::keeper::client::Launched {
                pid,
                stdio,
                namespaces,
            }) => {
                {
                    let mut rec = c.rec();
                    rec.state.status = ContainerStatus::Running;
                    rec.state.pid = pid;
                    rec.state.started_at = crate::fsutil::now_nanos();
                    rec.state.error.clear();
                    rec.state.oom_killed = false;
                    rec.state.stopped_by_user = false;
                    rec.oom_baseline = baseline;
                    rec.save(self.root()).map_err(internal)?;
                }
                self.attach_stdio(c, stdio);
                c.hub().namespaces = namespaces;
                self.changed();
                Ok(())
            }
            Err(e) => {
                let _ = cgroup.destroy();
                self.unwire_network(c).await;
                let mut rec = c.rec();
                rec.state.error = e.message.clone();
                rec.state.exit_code = e.exit_code;
                let _ = rec.save(self.root());
                Err(ApiError::new(ErrorKind::Invalid, e.message).with_exit_code(e.exit_code))
            }
        }
    }

    fn make_cgroup(&self, c: &Container, res: &skiff_types::Resources) -> Result<Cgroup, ApiError> {
        let rel = self.cfg().cgroup_parent.join(c.id.as_str());
        let cgroup = Cgroup::create(&self.inner.layout, &rel)
            .map_err(|e| err(ErrorKind::Unavailable, format!("cgroup: {e}")))?;
        let limits = Resources {
            memory_limit: res.memory,
            memory_swap_limit: res.memory_swap,
            cpu_quota: res.cpu_quota(),
            cpu_shares: res.cpu_shares,
            pids_limit: res.effective_pids_limit(),
        };
        if let Err(e) = cgroup.apply(&limits) {
            let _ = cgroup.destroy();
            return Err(err(ErrorKind::Invalid, format!("resource limits: {e}")));
        }
        Ok(cgroup)
    }

    /// The container's OCI runtime spec, written to `config.json` in its directory, and the
    /// keeper's launch derived from it (the same path an OCI bundle takes).
    fn launch_spec(
        &self,
        c: &Container,
        cgroup: &Cgroup,
        files: &[(String, std::path::PathBuf)],
    ) -> Result<LaunchSpec, ApiError> {
        let spec = c.rec().spec.clone();
        let ctx = oci::OciContext {
            hostname: spec
                .hostname
                .clone()
                .unwrap_or_else(|| c.id.short().to_string()),
            cgroup_path: std::path::Path::new("/").join(cgroup.rel_path()),
            userns: spec.userns_auto.then_some(super::USERNS_AUTO),
        };
        let mut config = oci::build_spec(&spec, &ctx)?;
        oci::add_user_mounts(&mut config, &self.host_mounts(&spec)?);
        oci::add_file_binds(&mut config, files)?;
        let seccomp = launch::seccomp_choice(&spec.seccomp)?;
        let json = serde_json::to_vec_pretty(&config).map_err(internal)?;
        let path = c.dir.0.join("config.json");
        crate::fsutil::write_atomic(&path, &json)
            .map_err(|e| internal(format!("write {}: {e}", path.display())))?;
        let (procs, v2_dir) = cgroup_targets(&self.inner.layout, cgroup);
        let stdio = StdioMode {
            tty: spec.tty,
            open_stdin: spec.open_stdin,
        };
        let mut dirs = oci::OverlayDirs::of(&c.dir);
        dirs.lowers = layer_links(&c.dir.0, &spec.rootfs_layers)?;
        oci::launch_from_spec(&config, &dirs, stdio, seccomp, procs, v2_dir)
    }

    /// Signals the init (thawing a paused one so the signal lands).
    async fn signal(&self, c: &Container, signal: i32) -> Result<(), ApiError> {
        c.rec()
            .state
            .status
            .can_kill()
            .map_err(|e| err(ErrorKind::Conflict, e.to_string()))?;
        self.inner
            .keeper
            .signal(c.id.as_str(), None, signal)
            .await
            .map_err(|e| err(ErrorKind::Conflict, e.message))?;
        if c.rec().state.status == ContainerStatus::Paused {
            let _ = self.cgroup_of(c).thaw();
        }
        Ok(())
    }

    fn mark_stopped_by_user(&self, c: &Container) {
        let mut rec = c.rec();
        rec.state.stopped_by_user = true;
        if rec.state.status == ContainerStatus::Restarting {
            rec.state.status = ContainerStatus::Exited;
        }
        let _ = rec.save(self.root());
    }

    pub async fn kill(&self, r: &str, signal: i32) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        if !c.rec().state.status.is_alive() {
            let status = c.rec().state.status;
            return Err(err(
                ErrorKind::Conflict,
                format!("Container {} is not running (it is {status})", c.id),
            ));
        }
        self.mark_stopped_by_user(&c);
        self.signal(&c, signal).await
    }

    pub async fn stop(&self, r: &str, timeout: Option<u32>) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        let _op = c.op.lock().await;
        self.stop_locked(&c, timeout).await
    }

    pub(super) async fn stop_locked(
        &self,
        c: &Arc<Container>,
        timeout: Option<u32>,
    ) -> Result<(), ApiError> {
        self.mark_stopped_by_user(c);
        if !c.rec().state.status.is_alive() {
            return Ok(());
        }
        let secs = timeout.or(c.rec().spec.stop_timeout).unwrap_or(10);
        // The spec's stop signal (the user's, else the image's STOPSIGNAL),
        // checked at create; a record from before that check falls back to SIGTERM.
        let first = c
            .rec()
            .spec
            .stop_signal
            .as_deref()
            .and_then(|s| skiff_types::parse_signal(s).ok())
            .unwrap_or(SIGTERM);
        let mut exits = c.exits.subscribe();
        if secs > 0 && self.signal(c, first).await.is_ok() {
            let exited =
                tokio::time::timeout(Duration::from_secs(secs.into()), exits.changed()).await;
            if exited.is_ok() {
                return Ok(());
            }
        }
        if c.rec().state.status.is_alive() {
            let _ = self.signal(c, SIGKILL).await;
            let _ = tokio::time::timeout(Duration::from_secs(30), exits.changed()).await;
        }
        Ok(())
    }

    pub async fn remove(&self, r: &str, force: bool) -> Result<(), ApiError> {
        self.remove_with_volumes(r, force, false).await
    }

    /// `rm [-f] [-v]`: with `volumes`, the container's anonymous volumes go too.
    pub async fn remove_with_volumes(
        &self,
        r: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), ApiError> {
        let c = self.resolve(r)?;
        let _op = c.op.lock().await;
        // A `--rm` container's anonymous volumes always go with it (also after a failed start).
        let volumes = volumes || c.rec().spec.auto_remove;
        let status = c.rec().state.status;
        status.can_remove(force).map_err(|_| {
            err(
                ErrorKind::Conflict,
                format!("cannot remove container \"{}\": container is {status}: stop the container before removing or force remove", c.rec().name),
            )
        })?;
        if status.is_alive() {
            self.mark_stopped_by_user(&c);
            let mut exits = c.exits.subscribe();
            let _ = self.signal(&c, SIGKILL).await;
            let _ = tokio::time::timeout(Duration::from_secs(30), exits.changed()).await;
        }
        self.remove_locked(&c, volumes).await
    }

    pub(super) async fn remove_locked(
        &self,
        c: &Arc<Container>,
        volumes: bool,
    ) -> Result<(), ApiError> {
        if c.rec().state.status.is_alive() {
            return Err(err(ErrorKind::Conflict, "container is still running"));
        }
        // The keeper's fds and the cgroup went with the exit (`on_exit`) or the
        // failed start; what is left is the record, the log and the overlay dirs.
        let _teardown = c.teardown.lock().await;
        if volumes {
            let mounts = c.rec().spec.mounts.clone();
            self.remove_anonymous_volumes(c.id.as_str(), &mounts).await;
        }
        self.inner
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(c.id.as_str());
        self.changed();
        c.hub().log = None;
        if let Some(net) = self.inner.network.clone() {
            let id = c.id.to_string();
            let _ = tokio::task::spawn_blocking(move || net.release(&id)).await;
        }
        std::fs::remove_dir_all(&c.dir.0).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(internal(format!("remove {}: {e}", c.dir.0.display()))),
        })
    }

    pub async fn wait(&self, r: &str) -> Result<WaitResponse, ApiError> {
        let c = self.resolve(r)?;
        let mut exits = c.exits.subscribe();
        loop {
            {
                let rec = c.rec();
                let st = &rec.state;
                let done = st.status == ContainerStatus::Exited && st.finished_at >= st.started_at
                    || st.status == ContainerStatus::Dead;
                if done {
                    return Ok(WaitResponse {
                        exit_code: st.exit_code,
                        oom_killed: st.oom_killed,
                    });
                }
            }
            if exits.changed().await.is_err() {
                // The container was removed (--rm) after its exit was recorded.
                let rec = c.rec();
                return Ok(WaitResponse {
                    exit_code: rec.state.exit_code,
                    oom_killed: rec.state.oom_killed,
                });
            }
        }
    }

    /// Handles an exit the keeper reported (or recorded while we were away).
    pub(crate) async fn on_exit(&self, record: ExitRecord) {
        if let Some(exec_id) = &record.exec_id {
            self.on_exec_exit(exec_id, record.exit_code).await;
            return;
        }
        let Ok(c) = self.resolve(&record.id) else {
            return;
        };
        let teardown = c.teardown.lock().await;
        let pumps = std::mem::take(&mut c.hub().pumps);
        for p in pumps {
            let _ = tokio::time::timeout(Duration::from_secs(2), p).await;
        }
        let cgroup = self.cgroup_of(&c);
        let oom = cgroup.oom_kill_count().unwrap_or(0) > c.rec().oom_baseline;
        let (facts, policy, auto_remove) = {
            let mut rec = c.rec();
            let ran_for = record.at.saturating_sub(rec.state.started_at);
            rec.state.status = ContainerStatus::Exited;
            rec.state.paused_by = None;
            rec.state.exit_code = record.exit_code;
            rec.state.oom_killed = oom;
            rec.state.pid = 0;
            rec.state.finished_at = record.at.max(rec.state.started_at);
            let facts = ExitFacts {
                exit_code: record.exit_code,
                stopped_by_user: rec.state.stopped_by_user,
                restart_count: rec.restart_count,
                ran_for: Duration::from_nanos(ran_for),
            };
            (facts, rec.spec.restart, rec.spec.auto_remove)
        };
        let restart = policy.decide(facts);
        {
            let mut rec = c.rec();
            if let Some(r) = restart {
                rec.state.status = ContainerStatus::Restarting;
                rec.restart_count = r.restart_count;
            }
            let _ = rec.save(self.root());
        }
        {
            let mut hub = c.hub();
            let frame = skiff_types::Frame::control(&Control::Exit {
                exit_code: record.exit_code,
                oom_killed: oom,
            });
            for s in hub.subscribers.drain(..) {
                let _ = s.send(frame.clone());
            }
            hub.stdin = None;
            // Dropping the last reference unmounts the container's whole tree:
            // do it off the async workers, after the exit was reported.
            let namespaces = std::mem::take(&mut hub.namespaces);
            if !namespaces.is_empty() {
                tokio::task::spawn_blocking(move || drop(namespaces));
            }
        }
        c.exits.send_modify(|n| *n += 1);
        self.changed();
        // Teardown after the exit is reported: the client's `run` returns sooner.
        let _ = cgroup.kill_all();
        let _ = cgroup.destroy();
        self.unwire_network(&c).await;
        drop(teardown);
        let rt = self.clone();
        let id = c.id.to_string();
        tokio::spawn(async move { rt.inner.keeper.forget(&id, None).await });
        if let Some(r) = restart {
            let rt = self.clone();
            tokio::spawn(async move { rt.restart_after(c, r.delay).await });
        } else if auto_remove {
            let _op = c.op.lock().await;
            // `--rm` takes the anonymous volumes along, as Docker's does.
            let _ = self.remove_locked(&c, true).await;
        }
    }

    async fn restart_after(&self, c: Arc<Container>, delay: Duration) {
        tokio::time::sleep(delay).await;
        let _op = c.op.lock().await;
        let still = {
            let rec = c.rec();
            rec.state.status == ContainerStatus::Restarting && !rec.state.stopped_by_user
        };
        if still {
            if let Err(e) = self.start_locked(&c).await {
                let mut rec = c.rec();
                rec.state.status = ContainerStatus::Exited;
                rec.state.error = e.message;
                let _ = rec.save(self.root());
            }
        }
    }
}

/// The cgroup.procs files the keeper writes (v1), or the v2 directory for CLONE_INTO_CGROUP.
fn cgroup_targets(
    layout: &skiff_sys::cgroup::CgroupLayout,
    cgroup: &Cgroup,
) -> (Vec<std::path::PathBuf>, Option<std::path::PathBuf>) {
    let procs = cgroup.procs_files();
    if layout.is_v2() {
        let dir = procs
            .first()
            .and_then(|p| p.parent())
            .map(|p| p.to_path_buf());
        if dir.is_some() {
            return (Vec::new(), dir);
        }
    }
    (procs, None)
}

/// Short symlinks `DIR/l/<n>` to an image's layers (bottom first in, topmost first out).
/// The overlay's options must fit in one page; 100 store paths would not, but `l/99`
/// relative to the container's directory does (the spawn chdirs there when needed).
fn layer_links(
    dir: &std::path::Path,
    layers: &[String],
) -> Result<Vec<std::path::PathBuf>, ApiError> {
    if layers.is_empty() {
        return Ok(Vec::new());
    }
    let l = dir.join("l");
    let fail = |e: std::io::Error| internal(format!("layer links in {}: {e}", l.display()));
    match std::fs::remove_dir_all(&l) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    std::fs::create_dir(&l).map_err(fail)?;
    let mut out = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate().rev() {
        let link = l.join(i.to_string());
        std::os::unix::fs::symlink(layer, &link).map_err(fail)?;
        out.push(link);
    }
    Ok(out)
}
