//! `skiff down [-v] [DIR | -f FILE ... | JOB]`: removes a job: its
//! containers, its networks, and with `-v` its named volumes. Returns once
//! they are gone.

use super::topo::{load, TopoArgs};
use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also remove the job's named volumes
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[command(flatten)]
    pub topo: TopoArgs,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    // `skiff down NAME` for a job that is not a directory here.
    let job = match (&args.topo.dir, &args.topo.project) {
        (_, Some(p)) => p.clone(),
        (Some(d), None) if args.topo.files.is_empty() && !d.exists() => {
            d.to_string_lossy().into_owned()
        }
        _ => load(&args.topo)?.name,
    };
    client.delete_job(&job, args.volumes)?;
    println!("Job {job} removed");
    Ok(0)
}
