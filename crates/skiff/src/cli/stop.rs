//! `skiff stop [-t S] CONTAINER...`.

use super::{for_each_ref, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u32>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    for_each_ref(&args.containers, |r| client.stop(r, args.time))
}
