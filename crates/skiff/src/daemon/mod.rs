//! `skiff daemon` and `skiff keeper`: process entry points that wire the
//! runtime engine to the HTTP API. Thin by design: no container logic here.

mod build;
mod engine;
mod executor;
mod images;
mod job_lbs;
mod jobs;
pub mod lb;
mod net;
pub mod pressure;
mod registry;
mod service_dns;
pub mod services;
pub mod store;

use anyhow::Context;
use skiff_runtime::{Runtime, RuntimeConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct DaemonArgs {
    pub root: PathBuf,
    pub socket: PathBuf,
    pub debug: bool,
    pub cgroup_parent: PathBuf,
    /// Registries (`host:port`) pulled from and pushed to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// `--store`: embedded (ROOT/store.redb) or etcd.
    pub store: store::StoreSpec,
    /// `--node`: this host's name in the registry.
    pub node: String,
    /// `--node-ttl`: how long a dead daemon's registrations linger.
    pub node_ttl: std::time::Duration,
    /// What this node publishes for the scheduler (capacity, labels).
    pub offer: skiff_types::NodeOffer,
    pub net: skiff_net::NetConfig,
    /// `--batch-pressure*`: the freezer that makes batch containers yield.
    pub pressure: pressure::PressureConfig,
}

/// Takes an exclusive lock on ROOT/daemon.lock, held for the daemon's lifetime:
/// two daemons on one state directory would fight over the same containers.
fn lock_root(root: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let path = root.join("daemon.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "another skiff daemon is running on {} ({e}); stop it first",
            root.display()
        )
    })
}

pub fn main(args: DaemonArgs) -> anyhow::Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        anyhow::bail!("skiff daemon must run as root (it creates namespaces and cgroups)");
    }
    std::fs::create_dir_all(&args.root)
        .with_context(|| format!("create state directory {}", args.root.display()))?;
    let _lock = lock_root(&args.root)?;
    let freezer = pressure::Freezer::prepare(&args.pressure, &psi_files(&args))?;
    skiff_sys::signals::set_child_subreaper().context("set child subreaper")?;
    let _fast_attach = fast_attach(&args.root);
    std::fs::write(args.root.join("daemon.pid"), std::process::id().to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let cfg = RuntimeConfig {
        root: args.root.clone(),
        cgroup_parent: args.cgroup_parent.clone(),
        log_max_size: skiff_runtime::logs::DEFAULT_MAX_SIZE,
        log_max_files: skiff_runtime::logs::DEFAULT_MAX_FILES,
    };
    let debug = args.debug;
    registry::configure(args.root.clone(), args.insecure_registries.clone());
    rt.block_on(async move {
        let net = skiff_net::NetManager::open(args.net.clone())
            .map_err(|e| anyhow::anyhow!("set up networking: {e}"))?;
        let store = store::open(&args.store, &args.root).await?;
        let registry = skiff_registry::Registry::new(store);
        let lease = lb::LeaseKeeper::spawn(registry.store().clone(), args.node_ttl);
        let ambassadors =
            lb::uses::Ambassadors::new(registry.clone(), args.node.clone(), lease.subscribe());
        let hooks = std::sync::Arc::new(net::Hooks(net.clone(), ambassadors.clone()));
        let engine = Runtime::open_with_network(cfg, Some(hooks))
            .await
            .context("open the container engine")?;
        lb::uses::readopt(&engine, &ambassadors).await;
        let images = skiff_image::ImageStore::open(&args.root)
            .with_context(|| format!("open the image store in {}", args.root.display()))?;
        if debug {
            eprintln!(
                "skiff daemon: pid {}, keeper pid {}",
                std::process::id(),
                engine.keeper_pid()
            );
        }
        // `NAME.skiff` (A/AAAA/SRV of healthy instances) in every network's DNS.
        net.add_name_source(Arc::new(service_dns::ServiceNames(
            skiff_registry::LiveCatalog::follow(
                registry.clone(),
                std::time::Duration::from_secs(1),
            ),
        )));
        let draining = services::Draining::default();
        if let Some(cap) = args.offer.capacity {
            eprintln!(
                "skiff daemon: node {} offers {} cpu, {} memory",
                args.node,
                skiff_types::node::format_cpu_milli(cap.cpu_milli),
                skiff_types::node::format_memory(cap.memory)
            );
        }
        let agent = services::AgentConfig {
            node: args.node.clone(),
            ttl: args.node_ttl,
            offer: args.offer.clone(),
            draining: draining.clone(),
        };
        let lbs = lb::LbManager::spawn(registry.clone(), args.node.clone(), &lease);
        let drainer = lb::drain::Drainer {
            rt: engine.clone(),
            registry: registry.clone(),
            draining,
        };
        let control_store = registry.store().clone();
        let health = services::spawn(engine.clone(), registry.clone(), agent);
        freezer.spawn(engine.clone());
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("install SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        eprintln!("skiff daemon: listening on {}", args.socket.display());
        let adapter = Arc::new(engine::Adapter(
            engine.clone(),
            Arc::new(images),
            health,
            net.clone(),
            drainer,
        ));
        // Topologies: the controller and this node's agent (one code path
        // for a single host over redb and for a cluster over etcd). Every
        // daemon is a candidate; only the elected one runs the controller.
        let elector = skiff_control::Elector::new(control_store.clone(), args.node.clone());
        let controller = tokio::spawn(skiff_control::run_elected(
            control_store.clone(),
            skiff_control::ControllerConfig::default(),
            elector.clone(),
            lease.subscribe(),
        ));
        let node_agent = tokio::spawn(skiff_agent::run(
            control_store.clone(),
            Arc::new(executor::DaemonExecutor::new(
                adapter.clone(),
                args.node.clone(),
            )),
            skiff_agent::AgentConfig {
                node: args.node.clone(),
                tick: std::time::Duration::from_millis(500),
            },
        ));
        let jobs = Arc::new(jobs::Jobs {
            store: control_store,
            engine: adapter.clone(),
            lbs: lbs.clone(),
        });
        let app = skiff_api::router(adapter)
            .merge(skiff_api::services_router(Arc::new(services::Directory(
                registry,
            ))))
            .merge(skiff_api::jobs_router(jobs))
            .merge(skiff_api::lbs_router(Arc::new(lbs)));
        let served = skiff_api::serve_router(app, &args.socket, shutdown)
            .await
            .with_context(|| format!("serve on {}", args.socket.display()));
        controller.abort();
        node_agent.abort();
        if let Err(e) = elector.step_down().await {
            eprintln!("skiff daemon: hand over the controller: {e}");
        }
        // Containers keep running under the keeper (like live-restore); only an
        // empty parent cgroup is tidied away.
        engine.tidy_cgroup_parent();
        net.shutdown(!engine.any_alive());
        served
    })
}

/// Where the freezer reads CPU pressure, best first: the host's PSI, then the
/// cgroup v2 `cpu.pressure` of the containers' parent cgroup.
fn psi_files(args: &DaemonArgs) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(skiff_sys::psi::HOST_CPU)];
    if let Ok(layout) = skiff_sys::cgroup::CgroupLayout::discover() {
        let parent = skiff_sys::cgroup::Cgroup::open(&layout, &args.cgroup_parent);
        files.extend(parent.cpu_pressure_file());
    }
    files
}

/// On cgroup v1 hosts, holds a favordynmods mount so attaching a container to
/// its cgroups never waits for an RCU grace period (see skiff_sys::cgroup::fastattach).
/// Best effort: older kernels refuse the option and starts are merely slower.
fn fast_attach(root: &Path) -> Option<skiff_sys::cgroup::fastattach::FastAttach> {
    let layout = skiff_sys::cgroup::CgroupLayout::discover().ok()?;
    if layout.is_v2() || std::env::var_os("SKIFF_NO_FAST_ATTACH").is_some() {
        return None;
    }
    match skiff_sys::cgroup::fastattach::FastAttach::mount(&root.join("cgroup-fastattach")) {
        Ok(m) => Some(m),
        Err(e) => {
            eprintln!("skiff daemon: fast cgroup attach unavailable ({e}); starts wait for RCU");
            None
        }
    }
}

/// The keeper process (started by the daemon from a sealed copy of this binary).
pub fn keeper_main(root: PathBuf) -> anyhow::Result<()> {
    skiff_runtime::keeper::server::run(&root)
        .with_context(|| format!("keeper for {}", root.display()))
}
