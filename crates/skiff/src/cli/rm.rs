//! `skiff rm [-f] [-v] CONTAINER...`.

use super::{for_each_ref, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    for_each_ref(&args.containers, |r| {
        if args.volumes {
            client.remove_with_volumes(r, args.force)
        } else {
            client.remove(r, args.force)
        }
    })
}
