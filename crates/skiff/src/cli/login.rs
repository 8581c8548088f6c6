//! `skiff login [-u USER] [-p PASSWORD | --password-stdin] REGISTRY`: checks the credentials
//! against the registry, then stores them in ROOT/auth.json (Docker's `config.json` shape),
//! where the daemon's pulls and pushes find them.

use super::registry::AccessArgs;
use super::Ctx;
use anyhow::Context;
use skiff_image::registry::{login, Credentials, RegistryOptions};
use std::io::{BufRead, Write};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin: argv is visible to other users)
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub access: AccessArgs,
    /// HOST[:PORT]
    #[arg(value_name = "REGISTRY")]
    pub registry: String,
}

fn ask(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let username = match args.username {
        Some(u) => u,
        None => ask("Username: ")?,
    };
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => p,
        (None, true) => ask("")?,
        (None, false) => ask("Password: ")?,
    };
    let creds = Credentials::parse(&format!("{username}:{password}"))?;
    let access = args.access;
    let mut insecure = Vec::new();
    if access.insecure {
        insecure.push(args.registry.clone());
    }
    let opts = RegistryOptions {
        ca_file: access.ca,
        certs_dir: Some(ctx.root.join("certs.d")),
        insecure_registries: insecure,
        ..RegistryOptions::default()
    };
    login(&args.registry, &creds, &opts)?;
    let file = ctx.root.join("auth.json");
    creds
        .save_to_auth_file(&file, &args.registry)
        .with_context(|| format!("store credentials in {}", file.display()))?;
    println!("Login Succeeded");
    Ok(0)
}
