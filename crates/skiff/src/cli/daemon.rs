//! The hidden `daemon` and `keeper` verbs: entry points into `crate::daemon`.

use super::connect::{parse_host, DEFAULT_SOCKET};
use super::Ctx;
use anyhow::Context;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct DaemonCmd {
    /// Log more
    #[arg(long)]
    pub debug: bool,
    /// Start a new session (the CLI's auto-start uses this)
    #[arg(long, hide = true)]
    pub detach: bool,
    /// Parent cgroup of every container (`<parent>/<id>` in each hierarchy)
    #[arg(long, default_value = "skiff")]
    pub cgroup_parent: String,
    /// Registry (`host:port`) to reach over plain HTTP (repeatable)
    #[arg(long = "insecure-registry", value_name = "HOST:PORT")]
    pub insecure_registries: Vec<String>,
    /// Registry store: embedded (ROOT/store.redb) or etcd://host:port[,host:port...]
    #[arg(long, default_value = "embedded")]
    pub store: String,
    /// This node's name in the service registry (default: the host name)
    #[arg(long)]
    pub node: Option<String>,
    /// Seconds a killed daemon's registrations outlive it (its node lease TTL)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub node_ttl: u64,
    /// Interface name of the default bridge network
    #[arg(long, default_value = "skiff0")]
    pub bridge: String,
    /// Subnet of the default bridge (default: the first free /24 of 198.18.0.0/15)
    #[arg(long = "bridge-subnet")]
    pub bridge_subnet: Option<String>,
    /// Masquerade outbound traffic of the default bridge (egress to other hosts)
    #[arg(long = "bridge-egress")]
    pub bridge_egress: bool,
    /// DNS server(s) the embedded DNS forwards to (IP:PORT; default: /etc/resolv.conf's)
    #[arg(long = "dns-upstream")]
    pub dns_upstream: Vec<std::net::SocketAddr>,
    #[command(flatten)]
    pub batch: super::daemon_pressure::BatchPressureFlags,
}

pub fn run_daemon(ctx: &Ctx, args: DaemonCmd) -> anyhow::Result<i32> {
    // A signal mask is inherited across exec: a daemon started by a
    // foreground `skiff up` (which blocks SIGINT/SIGTERM to wait for them)
    // would otherwise never see its SIGTERM. Start from an empty mask.
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .context("reset the signal mask")?;
    if args.detach {
        // Leave the starting CLI's session and terminal behind.
        let _ = nix::unistd::setsid();
    }
    let socket = match &ctx.host {
        Some(h) => parse_host(h)?,
        None => PathBuf::from(DEFAULT_SOCKET),
    };
    crate::daemon::main(crate::daemon::DaemonArgs {
        root: ctx.root.clone(),
        socket,
        debug: args.debug,
        cgroup_parent: PathBuf::from(args.cgroup_parent),
        insecure_registries: args.insecure_registries,
        store: args.store.parse()?,
        node: match args.node {
            Some(n) => n,
            None => hostname()?,
        },
        node_ttl: std::time::Duration::from_secs(args.node_ttl),
        pressure: args.batch.config()?,
        net: skiff_net::NetConfig {
            root: ctx.root.clone(),
            bridge: args.bridge,
            bridge_subnet: args.bridge_subnet,
            default_egress: args.bridge_egress,
            upstreams: args.dns_upstream,
        },
    })?;
    Ok(0)
}

pub fn run_keeper(ctx: &Ctx) -> anyhow::Result<i32> {
    crate::daemon::keeper_main(ctx.root.clone())?;
    Ok(0)
}

/// The host name (the default node name).
fn hostname() -> anyhow::Result<String> {
    let name = nix::unistd::gethostname()
        .map_err(|e| anyhow::anyhow!("cannot read the host name ({e}); pass --node NAME"))?;
    Ok(name.to_string_lossy().into_owned())
}
