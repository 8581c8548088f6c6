//! `skiff kill [-s SIG] CONTAINER...`.

use super::{for_each_ref, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    // Refuse a bad name before touching any container.
    skiff_api::parse_signal(&args.signal)?;
    let client = ctx.client()?;
    for_each_ref(&args.containers, |r| client.kill(r, Some(&args.signal)))
}
