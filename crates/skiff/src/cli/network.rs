//! `skiff network create|ls|inspect|rm|connect|disconnect`.

use super::Ctx;
use skiff_types::{NetworkConnect, NetworkCreate};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub verb: NetVerb,
}

#[derive(Debug, clap::Subcommand)]
pub enum NetVerb {
    /// Create a network
    Create {
        /// Subnet in CIDR form (default: the next free /24 of 198.18.0.0/15)
        #[arg(long)]
        subnet: Option<String>,
        /// Masquerade traffic leaving the host (off by default)
        #[arg(long)]
        egress: bool,
        /// Set metadata on the network
        #[arg(short = 'l', long = "label")]
        label: Vec<String>,
        name: String,
    },
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Only display network names
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display detailed information on one or more networks
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// Add a network-scoped alias for the container
        #[arg(long = "alias")]
        alias: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect { network: String, container: String },
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    match args.verb {
        NetVerb::Create {
            subnet,
            egress,
            label,
            name,
        } => {
            let labels = label
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let info = client.network_create(&NetworkCreate {
                name,
                subnet,
                egress,
                labels,
            })?;
            println!("{}", info.id);
        }
        NetVerb::Ls { quiet } => {
            let nets = client.network_list()?;
            if !quiet {
                println!(
                    "{:<14}{:<20}{:<18}{:<16}EGRESS",
                    "NETWORK ID", "NAME", "SUBNET", "BRIDGE"
                );
            }
            for n in nets {
                if quiet {
                    println!("{}", n.name);
                } else {
                    println!(
                        "{:<14}{:<20}{:<18}{:<16}{}",
                        n.id, n.name, n.subnet, n.bridge, n.egress
                    );
                }
            }
        }
        NetVerb::Inspect { networks } => {
            let mut found = Vec::new();
            let mut code = 0;
            for r in &networks {
                match client.network_inspect(r) {
                    Ok(i) => found.push(i),
                    Err(skiff_api::ClientError::Api(e)) => {
                        eprintln!("skiff: Error response from daemon: {}", e.message);
                        code = 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            println!("{}", serde_json::to_string_pretty(&found)?);
            return Ok(code);
        }
        NetVerb::Rm { networks } => {
            let mut code = 0;
            for r in &networks {
                match client.network_remove(r) {
                    Ok(()) => println!("{r}"),
                    Err(skiff_api::ClientError::Api(e)) => {
                        eprintln!("skiff: Error response from daemon: {}", e.message);
                        code = 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(code);
        }
        NetVerb::Connect {
            alias,
            network,
            container,
        } => client.network_connect(
            &network,
            &NetworkConnect {
                container,
                aliases: alias,
            },
        )?,
        NetVerb::Disconnect { network, container } => {
            client.network_disconnect(&network, &container)?
        }
    }
    Ok(0)
}
