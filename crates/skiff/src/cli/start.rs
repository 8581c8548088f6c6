//! `skiff start [-a] [-i] CONTAINER...`.

use super::session::{self, End, Options};
use super::{for_each_ref, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    if !(args.attach || args.interactive) {
        return for_each_ref(&args.containers, |r| client.start(r));
    }
    if args.containers.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let r = &args.containers[0];
    let info = client.inspect(r)?;
    let id = info.id.to_string();
    let stream = client.attach(&id)?;
    let opts = Options {
        stdin: args.interactive && info.config.open_stdin,
        tty: info.config.tty,
        proxy_signals_to: Some(id.clone()),
    };
    match session::drive(&client, stream, &opts, || client.start(&id))? {
        End::Exit(code) => Ok(code),
        End::Closed => Ok(client.wait(&id)?.exit_code),
    }
}
