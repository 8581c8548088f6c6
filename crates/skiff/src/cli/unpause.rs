//! `skiff unpause CONTAINER...`.

use super::{for_each_ref, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    for_each_ref(&args.containers, |r| client.unpause(r))
}
