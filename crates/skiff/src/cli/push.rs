//! `skiff push [--quiet] IMAGE [DESTINATION]`: pushes a local image through the daemon;
//! without a destination the image's own name says where (as `docker push`).

use super::registry::{follow, AccessArgs};
use super::Ctx;
use skiff_api::{PushRequest, RegistryLine};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print only the manifest digest when done
    #[arg(short, long)]
    pub quiet: bool,
    /// Upload blobs in chunks of this many bytes (default: one request per blob)
    #[arg(long, value_name = "BYTES")]
    pub chunk_size: Option<u64>,
    #[command(flatten)]
    pub access: AccessArgs,
    /// Local image (name or id)
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// HOST[:PORT]/NAME[:TAG] (default: IMAGE)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let req = PushRequest {
        destination: args.destination.clone(),
        chunk_size: args.chunk_size,
        access: args.access.into_access()?,
    };
    let lines = client.image_push(&args.image, &req)?;
    let RegistryLine::Pushed(p) = follow(lines, args.quiet)? else {
        anyhow::bail!("the daemon answered a push with something else");
    };
    if args.quiet {
        println!("{}", p.manifest);
    } else {
        println!("{}: digest: {}", p.reference, p.manifest);
    }
    Ok(0)
}
