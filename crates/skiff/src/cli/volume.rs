//! `skiff volume create|ls|inspect|rm|prune`, and the `-v`/`--mount`/`--tmpfs` flags of
//! `run`/`create` turned into `MountSpec`s (the grammars live in `skiff_types::mount_parse`).

use super::spec::ContainerFlags;
use super::{for_each_ref, Ctx};
use anyhow::{bail, Context};
use skiff_api::ClientError;
use skiff_types::mount::MountSpec;
use skiff_types::mount_parse::{parse_mount_flag, parse_tmpfs_flag, parse_volume_flag};
use skiff_types::VolumeCreateRequest;
use std::io::BufRead;
use std::path::Path;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(NamesArgs),
    /// Remove one or more volumes (never one a container uses)
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused anonymous volumes (all unused volumes with --all)
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Set metadata for a volume
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Volume driver name (local only)
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Volume name (generated when absent)
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output: table (default) or json (one object per line)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Do not fail on volumes that do not exist (in-use volumes are still refused)
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// The mounts of `-v`, `--mount` and `--tmpfs`, in that order, checked as a whole.
pub fn mounts_from_flags(f: &ContainerFlags, cwd: &Path) -> anyhow::Result<Vec<MountSpec>> {
    let mut out = Vec::new();
    for v in &f.volume {
        out.push(parse_volume_flag(v, cwd).map_err(anyhow::Error::msg)?);
    }
    for m in &f.mount {
        out.push(
            parse_mount_flag(m, cwd)
                .map_err(|e| anyhow::anyhow!("invalid argument {m:?} for \"--mount\" flag: {e}"))?,
        );
    }
    for t in &f.tmpfs {
        out.push(parse_tmpfs_flag(t).map_err(anyhow::Error::msg)?);
    }
    skiff_types::mount::validate_mounts(&out).map_err(anyhow::Error::msg)?;
    Ok(out)
}

pub fn run(ctx: &Ctx, cmd: VolumeCmd) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    match cmd {
        VolumeCmd::Create(a) => {
            if a.driver != "local" {
                bail!("volume driver {:?} is not supported (local only)", a.driver);
            }
            let mut req = VolumeCreateRequest {
                name: a.name.unwrap_or_default(),
                ..Default::default()
            };
            for l in &a.label {
                let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                if k.is_empty() {
                    bail!("invalid label {l:?}: empty key");
                }
                req.labels.insert(k.to_string(), v.to_string());
            }
            println!("{}", client.volume_create(&req)?.name);
            Ok(0)
        }
        VolumeCmd::Ls(a) => {
            let vols = client.volume_list()?;
            let json = match a.format.as_deref() {
                None | Some("table") => false,
                Some("json") | Some("{{json .}}") => true,
                Some(other) => bail!("unsupported --format {other:?}: want table or json"),
            };
            let mut out = String::new();
            if !a.quiet && !json {
                out.push_str(&format!("{:<10}{}\n", "DRIVER", "VOLUME NAME"));
            }
            for v in &vols {
                match (a.quiet, json) {
                    (true, _) => out.push_str(&format!("{}\n", v.name)),
                    (false, true) => out.push_str(&format!("{}\n", serde_json::to_string(v)?)),
                    (false, false) => out.push_str(&format!("{:<10}{}\n", v.driver, v.name)),
                }
            }
            print!("{out}");
            Ok(0)
        }
        VolumeCmd::Inspect(a) => {
            let mut found = Vec::new();
            let mut code = 0;
            for n in &a.names {
                match client.volume_inspect(n) {
                    Ok(v) => found.push(v),
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
        VolumeCmd::Rm(a) => for_each_ref(&a.names, |n| client.volume_remove(n, a.force)),
        VolumeCmd::Prune(a) => {
            if !a.force && !confirm(a.all)? {
                return Ok(0);
            }
            let r = client.volume_prune(a.all)?;
            if !r.volumes_deleted.is_empty() {
                println!("Deleted Volumes:");
                for n in &r.volumes_deleted {
                    println!("{n}");
                }
                println!();
            }
            println!("Total reclaimed space: {}B", r.space_reclaimed);
            Ok(0)
        }
    }
}

fn confirm(all: bool) -> anyhow::Result<bool> {
    let what = if all {
        "all volumes not used by at least one container"
    } else {
        "all anonymous volumes not used by at least one container"
    };
    eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the answer")?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
