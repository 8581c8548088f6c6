//! `skiff inspect CONTAINER...`: a JSON array, as Docker prints it.

use super::Ctx;
use skiff_api::ClientError;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut found = Vec::new();
    let mut code = 0;
    for r in &args.containers {
        match client.inspect(r) {
            Ok(info) => found.push(info),
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(code)
}
