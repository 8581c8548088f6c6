//! `skiff wait CONTAINER...`: prints each exit code.

use super::Ctx;
use skiff_api::ClientError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut code = 0;
    for r in &args.containers {
        match client.wait(r) {
            Ok(w) => println!("{}", w.exit_code),
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}
