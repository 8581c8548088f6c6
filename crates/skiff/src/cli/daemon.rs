//! The hidden `daemon` and `keeper` verbs: entry points into `crate::daemon`.

use super::connect::{parse_host, DEFAULT_SOCKET};
use super::Ctx;
use anyhow::Context;
use skiff_sys::cgroup::capacity::HostCapacity;
use skiff_types::node::{parse_node_cpu, parse_node_labels, parse_node_memory};
use skiff_types::{Capacity, NodeOffer};
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
    /// CPUs this node offers the scheduler (e.g. 1.5; default: measured)
    #[arg(long, value_name = "CPUS")]
    pub node_cpu: Option<String>,
    /// Memory this node offers the scheduler (e.g. 512m, 4g; default: measured)
    #[arg(long, value_name = "BYTES")]
    pub node_memory: Option<String>,
    /// A label of this node, published with its capacity (repeatable)
    #[arg(long = "node-label", value_name = "KEY=VALUE")]
    pub node_labels: Vec<String>,
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
    // Bad flags stop the daemon before it touches anything.
    let offer = node_offer(
        skiff_sys::cgroup::capacity::measure().map_err(|e| e.to_string()),
        args.node_cpu.as_deref(),
        args.node_memory.as_deref(),
        &args.node_labels,
    )?;
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
        offer,
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

/// What this node publishes: the measured capacity with `--node-cpu` /
/// `--node-memory` replacing either part (like Nomad's client
/// `cpu_total_compute` / `memory_total_mb`), and the `--node-label`s.
fn node_offer(
    measured: Result<HostCapacity, String>,
    cpu: Option<&str>,
    memory: Option<&str>,
    labels: &[String],
) -> anyhow::Result<NodeOffer> {
    let cpu = cpu.map(parse_node_cpu).transpose()?;
    let memory = memory.map(parse_node_memory).transpose()?;
    let labels = parse_node_labels(labels)?;
    let capacity = match (cpu, memory, measured) {
        (Some(c), Some(m), _) => Capacity::new(c, m),
        (c, m, Ok(host)) => Capacity::new(c.unwrap_or(host.cpu_milli), m.unwrap_or(host.memory)),
        (_, _, Err(e)) => anyhow::bail!(
            "cannot measure this node's capacity ({e}); pass --node-cpu and --node-memory"
        ),
    };
    Ok(NodeOffer {
        capacity: Some(capacity),
        labels,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: HostCapacity = HostCapacity {
        cpu_milli: 2000,
        memory: 4 << 30,
    };

    #[test]
    fn offer_is_measured_then_overridden() {
        let o = node_offer(Ok(HOST), None, None, &[]).unwrap();
        assert_eq!(o.capacity, Some(Capacity::new(2000, 4 << 30)));
        let o = node_offer(Ok(HOST), Some("1"), None, &["zone=a".into()]).unwrap();
        assert_eq!(o.capacity, Some(Capacity::new(1000, 4 << 30)));
        assert_eq!(o.labels["zone"], "a");
        let o = node_offer(Err("no /proc".into()), Some("0.5"), Some("256m"), &[]).unwrap();
        assert_eq!(o.capacity, Some(Capacity::new(500, 256 << 20)));
    }

    #[test]
    fn bad_values_are_refused_clearly() {
        let err = |cpu, mem, labels: &[&str]| {
            let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            node_offer(Ok(HOST), cpu, mem, &labels)
                .unwrap_err()
                .to_string()
        };
        assert!(err(Some("lots"), None, &[]).starts_with("--node-cpu: invalid cpu count \"lots\""));
        assert!(err(None, Some("2x"), &[]).starts_with("--node-memory: invalid size \"2x\""));
        assert!(err(None, None, &["nokey"]).starts_with("--node-label \"nokey\""));
        let e = node_offer(Err("gone".into()), Some("1"), None, &[]).unwrap_err();
        assert!(
            e.to_string().contains("pass --node-cpu and --node-memory"),
            "{e}"
        );
    }
}
