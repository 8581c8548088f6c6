//! `skiff lb NAME --service S --listen ADDR:PORT [--mode http|tcp] [--port P]`,
//! `skiff lb ls`, `skiff lb inspect NAME...`, `skiff lb rm NAME...`: load
//! balancers the daemon runs, as records in the store.

use super::Ctx;
use anyhow::Context;
use skiff_types::{LbDef, LbMode, LbStatus};
use std::net::SocketAddr;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub verb: Option<LbVerb>,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// `skiff lb NAME ...`: create one (returns once it listens).
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Name of the load balancer
    #[arg(required = true)]
    pub name: Option<String>,
    /// Service whose healthy instances receive the traffic
    #[arg(long, required = true)]
    pub service: Option<String>,
    /// Address to listen on (ADDR:PORT)
    #[arg(long, required = true, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// What the listener speaks: http (default) or tcp
    #[arg(long, default_value = "http")]
    pub mode: String,
    /// Only forward to instances offering this port
    #[arg(long)]
    pub port: Option<u16>,
}

#[derive(Debug, clap::Subcommand)]
pub enum LbVerb {
    /// List load balancers
    #[command(alias = "list")]
    Ls {
        /// Only display names
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display detailed information on one or more load balancers
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more load balancers (their ports are free on return)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// The request `skiff lb NAME ...` sends, checked before it leaves.
pub fn parse_create(a: CreateArgs) -> anyhow::Result<LbDef> {
    let name = a.name.context("a load balancer NAME is required")?;
    let service = a.service.context("--service is required")?;
    let listen = a.listen.context("--listen is required")?;
    let listen: SocketAddr = listen.parse().map_err(|_| {
        anyhow::anyhow!("invalid --listen {listen:?}: want ADDR:PORT (e.g. 127.0.0.1:8080)")
    })?;
    if listen.port() == 0 {
        anyhow::bail!("invalid --listen {listen}: give a port (not 0)");
    }
    let mode: LbMode = a
        .mode
        .parse()
        .map_err(|e: String| anyhow::anyhow!("invalid --mode: {e}"))?;
    if a.port == Some(0) {
        anyhow::bail!("invalid --port 0: want 1-65535");
    }
    Ok(LbDef {
        name,
        service,
        listen,
        mode,
        port: a.port,
        owner: None,
    })
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let Some(verb) = args.verb else {
        let def = parse_create(args.create)?;
        let status = ctx.client()?.lb_create(&def)?;
        println!("{}", status.def.name);
        return Ok(0);
    };
    let client = ctx.client()?;
    match verb {
        LbVerb::Ls { quiet } => {
            let list = client.lb_list()?;
            print!("{}", table(&list, quiet));
        }
        LbVerb::Inspect { names } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &names {
                match client.lb_inspect(n) {
                    Ok(s) => out.push(s),
                    Err(e) => {
                        eprintln!("skiff: {}", super::error_text(&e.into()));
                        failed = true;
                    }
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            return Ok(i32::from(failed));
        }
        LbVerb::Rm { names } => {
            let mut failed = false;
            for n in &names {
                match client.lb_remove(n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("skiff: {}", super::error_text(&e.into()));
                        failed = true;
                    }
                }
            }
            return Ok(i32::from(failed));
        }
    }
    Ok(0)
}

fn table(list: &[LbStatus], quiet: bool) -> String {
    let mut out = String::new();
    if quiet {
        for s in list {
            out.push_str(&s.def.name);
            out.push('\n');
        }
        return out;
    }
    out.push_str(&format!(
        "{:<20} {:<16} {:<22} {:<5} {:<9} {}\n",
        "NAME", "SERVICE", "LISTEN", "MODE", "BACKENDS", "STATUS"
    ));
    for s in list {
        let status = match (&s.running, &s.error) {
            (true, _) => "running".to_owned(),
            (false, Some(e)) => format!("not running: {e}"),
            (false, None) => "not running".to_owned(),
        };
        out.push_str(&format!(
            "{:<20} {:<16} {:<22} {:<5} {:<9} {}\n",
            s.def.name,
            s.def.service,
            s.def.listen.to_string(),
            s.def.mode.to_string(),
            s.backends.len(),
            status
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        T::try_parse_from(std::iter::once("lb").chain(argv.iter().copied())).map(|t| t.a)
    }

    #[test]
    fn create_and_subcommands_parse() {
        let a = parse(&["web", "--service", "web", "--listen", "127.0.0.1:8080"]).unwrap();
        let def = parse_create(a.create).unwrap();
        assert_eq!(
            (def.mode, def.listen.port(), def.port),
            (LbMode::Http, 8080, None)
        );
        let a = parse(&["ls"]).unwrap();
        assert!(matches!(a.verb, Some(LbVerb::Ls { quiet: false })));
        let a = parse(&["rm", "a", "b"]).unwrap();
        assert!(matches!(a.verb, Some(LbVerb::Rm { names }) if names.len() == 2));
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        assert!(
            parse(&["web", "--service", "web"]).is_err(),
            "--listen missing"
        );
        assert!(parse(&["web", "--service", "web", "--listen", "x", "--bogus"]).is_err());
        let bad = |argv: &[&str]| {
            parse_create(parse(argv).unwrap().create)
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&["w", "--service", "s", "--listen", "localhost"]).contains("ADDR:PORT"));
        assert!(bad(&["w", "--service", "s", "--listen", "127.0.0.1:0"]).contains("port"));
        assert!(bad(&[
            "w",
            "--service",
            "s",
            "--listen",
            "127.0.0.1:1",
            "--mode",
            "udp"
        ])
        .contains("mode"));
        assert!(bad(&[
            "w",
            "--service",
            "s",
            "--listen",
            "127.0.0.1:1",
            "--port",
            "0"
        ])
        .contains("--port"));
    }
}
