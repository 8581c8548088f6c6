//! `skiff pull [--quiet] NAME[:TAG|@DIGEST]`: pulls an image through the daemon.

use super::registry::{follow, AccessArgs};
use super::Ctx;
use skiff_api::{PullRequest, RegistryLine};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print only the image reference when done
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub access: AccessArgs,
    /// HOST[:PORT]/NAME[:TAG|@DIGEST]
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let req = PullRequest {
        reference: args.reference.clone(),
        access: args.access.into_access()?,
    };
    let RegistryLine::Pulled(p) = follow(client.image_pull(&req)?, args.quiet)? else {
        anyhow::bail!("the daemon answered a pull with something else");
    };
    if !args.quiet {
        println!("Digest: {}", p.manifest);
        if p.layers_downloaded == 0 {
            println!("Status: Image is up to date for {}", args.reference);
        } else {
            println!("Status: Downloaded newer image for {}", args.reference);
        }
    }
    println!("{}", args.reference);
    Ok(0)
}
