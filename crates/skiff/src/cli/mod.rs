//! The `skiff` command line: one file per verb, each parsing its flags into
//! a typed request and calling the daemon through `skiff_api::Client`.
//! This module owns the global flags, dispatch and Docker's exit codes.

mod build;
mod connect;
mod create;
mod daemon;
mod daemon_pressure;
mod down;
mod exec;
mod images;
mod inspect;
mod kill;
mod lb;
mod load;
mod login;
mod logs;
mod network;
mod pause;
mod ps;
mod pull;
mod push;
mod registry;
mod rm;
mod run;
mod scale;
mod service_flags;
mod services;
mod session;
mod spec;
mod start;
mod stats;
mod status;
mod stop;
mod svclogs;
mod term;
mod topo;
mod unpause;
mod up;
mod volume;
mod wait;

use clap::{Parser, Subcommand};
use skiff_api::{Client, ClientError};
use std::path::PathBuf;

/// Exit code for errors of skiff itself (Docker's 125).
pub const EXIT_SKIFF: i32 = 125;

#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    version,
    about = "Containers, fast and safe, in one binary"
)]
pub struct Cli {
    /// Daemon socket to connect to (unix:///path)
    #[arg(short = 'H', long, env = "SKIFF_HOST", global = true)]
    pub host: Option<String>,
    /// State directory of the daemon
    #[arg(long, default_value = "/var/lib/skiff", global = true)]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Create and run a new container
    Run(run::Args),
    /// Create a new container
    Create(create::Args),
    /// Start one or more stopped containers
    Start(start::Args),
    /// List containers
    Ps(ps::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Stop one or more running containers
    Stop(stop::Args),
    /// Kill one or more running containers
    Kill(kill::Args),
    /// Remove one or more containers
    Rm(rm::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Pause all processes within one or more containers
    Pause(pause::Args),
    /// Unpause all processes within one or more containers
    Unpause(unpause::Args),
    /// Display a live stream of container resource usage statistics
    Stats(stats::Args),
    /// Return low-level information on containers
    Inspect(inspect::Args),
    /// Block until one or more containers stop, then print their exit codes
    Wait(wait::Args),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCmd),
    /// Download an image from a registry
    Pull(pull::Args),
    /// Upload an image to a registry
    Push(push::Args),
    /// Log in to a registry (credentials kept in ROOT/auth.json)
    Login(login::Args),
    /// Build an image from a Containerfile
    Build(build::Args),
    /// List images
    Images(images::ImagesArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(load::SaveArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Manage images
    #[command(subcommand)]
    Image(images::ImageCmd),
    /// List services with healthy instances
    Services(services::ListArgs),
    /// Manage services (inspect)
    #[command(subcommand)]
    Service(services::ServiceCmd),
    /// Follow a service's instances as they change
    Watch(services::WatchArgs),
    /// Manage networks
    Network(network::Args),
    /// Run a topology (skiff.toml or Compose) and keep it converged
    Up(up::Args),
    /// Remove a topology's containers and networks (-v: and volumes)
    Down(down::Args),
    /// Set replica counts: skiff scale web=8
    Scale(scale::Args),
    /// Show jobs, their services and instances
    Status(status::Args),
    /// Run a load balancer in front of a service (lb NAME --service S --listen ADDR:PORT), or ls/inspect/rm
    Lb(lb::Args),
    #[command(hide = true)]
    Daemon(daemon::DaemonCmd),
    #[command(hide = true)]
    Keeper,
}

/// What a verb needs besides its own flags.
pub struct Ctx {
    pub host: Option<String>,
    pub root: PathBuf,
}

impl Ctx {
    pub fn client(&self) -> anyhow::Result<Client> {
        connect::connect(self.host.as_deref(), &self.root)
    }

    /// A client, and the pid of the daemon started for it if none ran.
    pub fn client_owned(&self) -> anyhow::Result<(Client, Option<u32>)> {
        connect::connect_owned(self.host.as_deref(), &self.root)
    }
}

/// Parses argv, runs the verb, prints errors; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_SKIFF } else { 0 };
        }
    };
    let ctx = Ctx {
        host: cli.host,
        root: cli.root,
    };
    // Which code a failure exits with depends on the verb, as in Docker.
    let (result, fail_code) = match cli.command {
        Verb::Run(a) => (run::run(&ctx, a), EXIT_SKIFF),
        Verb::Create(a) => (create::run(&ctx, a), EXIT_SKIFF),
        Verb::Exec(a) => (exec::run(&ctx, a), EXIT_SKIFF),
        Verb::Start(a) => (start::run(&ctx, a), 1),
        Verb::Ps(a) => (ps::run(&ctx, a), 1),
        Verb::Logs(a) => (logs::run(&ctx, a), 1),
        Verb::Stop(a) => (stop::run(&ctx, a), 1),
        Verb::Kill(a) => (kill::run(&ctx, a), 1),
        Verb::Rm(a) => (rm::run(&ctx, a), 1),
        Verb::Network(a) => (network::run(&ctx, a), 1),
        Verb::Lb(a) => (lb::run(&ctx, a), 1),
        Verb::Pause(a) => (pause::run(&ctx, a), 1),
        Verb::Unpause(a) => (unpause::run(&ctx, a), 1),
        Verb::Stats(a) => (stats::run(&ctx, a), 1),
        Verb::Inspect(a) => (inspect::run(&ctx, a), 1),
        Verb::Wait(a) => (wait::run(&ctx, a), 1),
        Verb::Volume(a) => (volume::run(&ctx, a), 1),
        Verb::Pull(a) => (pull::run(&ctx, a), 1),
        Verb::Push(a) => (push::run(&ctx, a), 1),
        Verb::Login(a) => (login::run(&ctx, a), 1),
        Verb::Build(a) => (build::run(&ctx, a), 1),
        Verb::Images(a) => (images::images(&ctx, a), 1),
        Verb::Load(a) => (load::load(&ctx, a), 1),
        Verb::Save(a) => (load::save(&ctx, a), 1),
        Verb::Rmi(a) => (images::rmi(&ctx, a), 1),
        Verb::Tag(a) => (images::tag(&ctx, a), 1),
        Verb::Image(a) => (images::image(&ctx, a), 1),
        Verb::Services(a) => (services::list(&ctx, a), 1),
        Verb::Service(a) => (services::service(&ctx, a), 1),
        Verb::Watch(a) => (services::watch(&ctx, a), 1),
        Verb::Up(a) => (up::run(&ctx, a), 1),
        Verb::Down(a) => (down::run(&ctx, a), 1),
        Verb::Scale(a) => (scale::run(&ctx, a), 1),
        Verb::Status(a) => (status::run(&ctx, a), 1),
        Verb::Daemon(a) => (daemon::run_daemon(&ctx, a), 1),
        Verb::Keeper => (daemon::run_keeper(&ctx), 1),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("skiff: {}", error_text(&e));
            exit_code(&e, fail_code)
        }
    }
}

/// How an error reads: daemon answers as Docker words them.
pub fn error_text(e: &anyhow::Error) -> String {
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api(api)) => format!("Error response from daemon: {}", api.message),
        // The context chain, but not below a ClientError (whose message
        // already includes its io cause).
        _ => {
            let mut parts = Vec::new();
            for cause in e.chain() {
                parts.push(cause.to_string());
                if cause.is::<ClientError>() {
                    break;
                }
            }
            parts.join(": ")
        }
    }
}

/// The exit code of a failed verb: 126/127 when the daemon says so (the
/// command could not be run), else the verb's failure code.
pub fn exit_code(e: &anyhow::Error, fail_code: i32) -> i32 {
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api(api)) => match api.exit_code {
            Some(c @ (126 | 127)) => c,
            _ => fail_code,
        },
        _ => fail_code,
    }
}

/// An io::Error's text without the " (os error N)" suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Runs `f` on every ref, printing each ref on success (as Docker does)
/// and each error on stderr; exit 1 if any failed.
pub fn for_each_ref(
    refs: &[String],
    mut f: impl FnMut(&str) -> Result<(), ClientError>,
) -> anyhow::Result<i32> {
    let mut code = 0;
    for r in refs {
        match f(r) {
            Ok(()) => println!("{r}"),
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{ApiError, ErrorKind};

    #[test]
    fn exit_codes_follow_docker() {
        let api = |code: Option<i32>| {
            let mut e = ApiError::new(ErrorKind::Invalid, "exec: \"nope\": not found");
            e.exit_code = code;
            anyhow::Error::from(ClientError::Api(e))
        };
        assert_eq!(exit_code(&api(Some(127)), EXIT_SKIFF), 127);
        assert_eq!(exit_code(&api(Some(126)), EXIT_SKIFF), 126);
        assert_eq!(exit_code(&api(Some(125)), 1), 1);
        assert_eq!(exit_code(&api(None), EXIT_SKIFF), 125);
        assert_eq!(exit_code(&anyhow::anyhow!("bad flag"), EXIT_SKIFF), 125);
        assert_eq!(
            error_text(&api(None)),
            "Error response from daemon: exec: \"nope\": not found"
        );
        let unreachable = anyhow::Error::from(ClientError::Unreachable {
            socket: "/run/skiff/skiff.sock".into(),
            source: std::io::Error::from_raw_os_error(2),
        });
        assert_eq!(
            error_text(&unreachable),
            "cannot connect to the skiff daemon at /run/skiff/skiff.sock: No such file or directory"
        );
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        let e = Cli::try_parse_from(["skiff", "run", "--bogus"]).unwrap_err();
        assert!(e.use_stderr());
        let e = Cli::try_parse_from(["skiff", "ps", "--help"]).unwrap_err();
        assert!(!e.use_stderr());
        assert!(Cli::try_parse_from(["skiff", "run", "--rootfs", "/r", "-h", "x", "true"]).is_ok());
        let cli = Cli::try_parse_from(["skiff", "keeper", "--root", "/tmp/x"]).unwrap();
        assert_eq!(cli.root, PathBuf::from("/tmp/x"));
    }
}
