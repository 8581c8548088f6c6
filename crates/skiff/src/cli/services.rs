//! `skiff services`, `skiff service inspect NAME...` and `skiff watch NAME`:
//! the service registry seen from the command line.

use super::Ctx;
use skiff_api::ClientError;
use skiff_types::{Instance, ServiceUpdate};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only display service names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output: table (default) or json
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCmd {
    /// Display detailed information on one or more services
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    pub name: String,
    /// Start from this registry revision (default: now)
    #[arg(long)]
    pub from: Option<u64>,
    /// Format output: text (default) or json (one update per line)
    #[arg(long)]
    pub format: Option<String>,
}

fn json_format(format: Option<&str>, text: &str) -> anyhow::Result<bool> {
    match format {
        None => Ok(false),
        Some(f) if f == text => Ok(false),
        Some("json") | Some("{{json .}}") => Ok(true),
        Some(other) => anyhow::bail!("unsupported --format {other:?}: want {text} or json"),
    }
}

fn endpoint(i: &Instance) -> String {
    format!("{}:{}/{}", i.addr, i.port, i.proto)
}

pub fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<i32> {
    let json = json_format(args.format.as_deref(), "table")?;
    let list = ctx.client()?.services()?;
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&list)? + "\n";
    } else if args.quiet {
        for s in &list.services {
            out.push_str(&s.name);
            out.push('\n');
        }
    } else {
        out.push_str(&format!(
            "{:<24} {:<10} {}\n",
            "NAME", "INSTANCES", "ENDPOINTS"
        ));
        for s in &list.services {
            let eps: Vec<String> = s.instances.iter().map(endpoint).collect();
            out.push_str(&format!(
                "{:<24} {:<10} {}\n",
                s.name,
                s.instances.len(),
                eps.join(", ")
            ));
        }
    }
    print!("{out}");
    Ok(0)
}

pub fn service(ctx: &Ctx, cmd: ServiceCmd) -> anyhow::Result<i32> {
    let ServiceCmd::Inspect { names } = cmd;
    let client = ctx.client()?;
    let mut found = Vec::new();
    let mut code = 0;
    for name in &names {
        match client.service(name) {
            Ok(info) => found.push(info),
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(code)
}

/// One update as a line of text.
pub fn update_line(u: &ServiceUpdate) -> String {
    match u {
        ServiceUpdate::Reset {
            revision,
            instances,
        } => {
            let eps: Vec<String> = instances
                .iter()
                .map(|i| format!("{} {}", i.id, endpoint(i)))
                .collect();
            format!(
                "RESET  rev={revision} instances={} [{}]",
                instances.len(),
                eps.join(", ")
            )
        }
        ServiceUpdate::Add { revision, instance } => {
            format!(
                "ADD    rev={revision} {} {}",
                instance.id,
                endpoint(instance)
            )
        }
        ServiceUpdate::Remove { revision, id } => format!("REMOVE rev={revision} {id}"),
    }
}

pub fn watch(ctx: &Ctx, args: WatchArgs) -> anyhow::Result<i32> {
    let json = json_format(args.format.as_deref(), "text")?;
    let updates = ctx.client()?.watch_service(&args.name, args.from)?;
    let mut stdout = std::io::stdout().lock();
    for u in updates {
        let u = u?;
        let line = if json {
            serde_json::to_string(&u)?
        } else {
            update_line(&u)
        };
        if writeln!(stdout, "{line}")
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return Ok(0); // the reader went away (`| head`)
        }
    }
    Ok(0)
}
