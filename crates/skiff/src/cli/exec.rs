//! `skiff exec [-i] [-t] [-d] [-e] [-w] [-u] CONTAINER COMMAND [ARG...]`.

use super::session::{self, End, Options};
use super::Ctx;
use skiff_types::ExecSpec;
use std::io::IsTerminal;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// The exec request of the flags (bare `-e KEY` takes the CLI's value).
pub fn exec_spec(args: &Args, getenv: &dyn Fn(&str) -> Option<String>) -> ExecSpec {
    let env = args
        .env
        .iter()
        .filter_map(|e| match e.contains('=') {
            true => Some(e.clone()),
            false => getenv(e).map(|v| format!("{e}={v}")),
        })
        .collect();
    ExecSpec {
        cmd: args.command.clone(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
        open_stdin: args.interactive && !args.detach,
    }
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    if args.tty && args.interactive && !std::io::stdin().is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    let spec = exec_spec(&args, &|k| std::env::var(k).ok());
    let client = ctx.client()?;
    let stream = client.exec(&args.container, &spec)?;
    if args.detach {
        // The daemon keeps the process; closing our end detaches.
        return Ok(0);
    }
    let opts = Options {
        stdin: spec.open_stdin,
        tty: spec.tty,
        proxy_signals_to: None,
    };
    match session::drive(&client, stream, &opts, || Ok(()))? {
        End::Exit(code) => Ok(code),
        End::Closed => anyhow::bail!("the exec stream ended without an exit status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn flags_map_to_the_exec_spec() {
        let t = T::try_parse_from([
            "exec", "-it", "-e", "A=1", "-e", "HOME", "-e", "NOPE", "-w", "/tmp", "-u", "0", "web",
            "ls", "-l",
        ])
        .unwrap();
        let getenv = |k: &str| (k == "HOME").then(|| "/root".to_string());
        let s = exec_spec(&t.a, &getenv);
        assert_eq!(s.cmd, ["ls", "-l"]);
        assert_eq!(s.env, ["A=1", "HOME=/root"]);
        assert!(s.tty && s.open_stdin);
        assert_eq!(
            (s.working_dir.as_deref(), s.user.as_deref()),
            (Some("/tmp"), Some("0"))
        );
        assert_eq!(t.a.container, "web");
        assert!(T::try_parse_from(["exec", "web"]).is_err());
    }
}
