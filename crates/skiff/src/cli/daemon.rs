//! The hidden `daemon` and `keeper` verbs: entry points into `crate::daemon`.

use super::connect::{parse_host, DEFAULT_SOCKET};
use super::Ctx;
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
}

pub fn run_daemon(ctx: &Ctx, args: DaemonCmd) -> anyhow::Result<i32> {
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
