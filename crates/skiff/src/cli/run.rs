//! `skiff run`: create, attach (before start: nothing is missed), start,
//! stream, exit with the container's code; `-d` prints the id instead.

use super::session::{self, End, Options};
use super::spec::{check_rootfs, ContainerFlags, Host};
use super::Ctx;
use anyhow::Context;
use skiff_api::{Client, ClientError};
use skiff_types::{ContainerSpec, ErrorKind};
use std::io::IsTerminal;

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[command(flatten)]
    pub flags: ContainerFlags,
}

/// The spec from the flags, with the host's cwd, files and environment.
pub fn spec_from_flags(flags: &ContainerFlags) -> anyhow::Result<ContainerSpec> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let read = |p: &std::path::Path| std::fs::read_to_string(p);
    let getenv = |k: &str| std::env::var(k).ok();
    let host = Host {
        cwd: &cwd,
        read_file: &read,
        getenv: &getenv,
    };
    let spec = flags.to_spec(&host)?;
    if spec.image.is_none() {
        check_rootfs(std::path::Path::new(&spec.rootfs))?;
    }
    Ok(spec)
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let spec = spec_from_flags(&args.flags)?;
    if spec.tty && spec.open_stdin && !args.detach && !std::io::stdin().is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let client = ctx.client()?;
    if args.detach {
        let id = client.create(&spec)?;
        client.start(id.as_str())?;
        println!("{id}");
        return Ok(0);
    }
    // One request creates, attaches and starts (the daemon attaches before it
    // starts, so no output is missed); its session id is the container's id.
    let stream = client.run(&spec)?;
    let id = stream.session_id().to_string();
    let opts = Options {
        stdin: spec.open_stdin,
        tty: spec.tty,
        proxy_signals_to: Some(id.clone()),
    };
    let end = session::drive(&client, stream, &opts, || Ok(()));
    let code = match end {
        Ok(End::Exit(code)) => Ok(code),
        // The stream broke without an exit frame: ask for the exit directly.
        Ok(End::Closed) => client.wait(&id).map(|w| w.exit_code).map_err(Into::into),
        Err(e) => Err(e),
    };
    if args.flags.rm {
        // The run's own error, if any, is the one worth reporting.
        let removed = remove_quietly(&client, &id);
        if code.is_ok() {
            removed?;
        }
    }
    code
}

/// `--rm`: the daemon removes the container itself (auto_remove); removing
/// here as well makes sure it is gone before the CLI returns.
fn remove_quietly(client: &Client, id: &str) -> anyhow::Result<()> {
    match client.remove(id, true) {
        Ok(()) => Ok(()),
        Err(ClientError::Api(e)) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
