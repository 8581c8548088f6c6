//! `skiff create`: the `run` flags, without starting; prints the id.

use super::run::spec_from_flags;
use super::spec::ContainerFlags;
use super::Ctx;

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    #[command(flatten)]
    pub flags: ContainerFlags,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let spec = spec_from_flags(&args.flags)?;
    let id = ctx.client()?.create(&spec)?;
    println!("{id}");
    Ok(0)
}
