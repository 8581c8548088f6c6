//! `run`/`create` flags and their translation into a `ContainerSpec`.
//!
//! The translation is pure: files (`--env-file`, a seccomp profile) are read
//! through a callback and the caller's environment is looked up through
//! another, so the mapping is unit-tested without touching the host.

use anyhow::{bail, Context};
use clap::{ArgAction, Args};
use skiff_types::resources::parse_size;
use skiff_types::{
    parse_cpus, parse_memory_size, ContainerName, ContainerSpec, NetworkMode, RestartPolicy,
    SeccompOption,
};
use std::path::{Path, PathBuf};

/// The flags `run` and `create` share (Docker's names and meaning).
#[derive(Debug, Clone, Default, Args)]
pub struct ContainerFlags {
    /// Print usage
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Root filesystem directory of the container, instead of an IMAGE (used read-only
    /// under an overlay)
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Overwrite the default entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares", short = 'c')]
    pub cpu_shares: Option<u64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security options (seccomp=unconfined|FILE, no-new-privileges)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Connect a container to a network (bridge, none, host or a network name)
    #[arg(long = "network", alias = "net", default_value = "bridge")]
    pub network: String,
    /// Add a network-scoped alias for the container
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Publish a container's port to the host ([IP:]HOST:CONTAINER[/tcp|udp])
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to free host ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Set custom DNS servers
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (NAME:IP)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// User namespace to use (auto)
    #[arg(long)]
    pub userns: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u32>,
    /// Signal to stop the container (default: the image's STOPSIGNAL, else SIGTERM)
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Bind mount a volume ([SOURCE:]TARGET[:ro,nocopy])
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=..,target=..,readonly)
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (TARGET[:size=..,mode=..])
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    #[command(flatten)]
    pub services: super::service_flags::ServiceFlags,
    /// IMAGE, then the command to run and its arguments (without --rootfs); the command
    /// alone with --rootfs
    #[arg(trailing_var_arg = true, value_name = "IMAGE] [COMMAND")]
    pub command: Vec<String>,
}

/// What the mapping needs from the host, injected so it stays pure.
pub struct Host<'a> {
    /// The CLI's working directory (relative paths resolve against it).
    pub cwd: &'a Path,
    pub read_file: &'a dyn Fn(&Path) -> std::io::Result<String>,
    pub getenv: &'a dyn Fn(&str) -> Option<String>,
}

/// `KEY=VALUE` as is; a bare `KEY` takes the CLI's value, or is dropped.
fn env_entry(
    entry: &str,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<String>> {
    let key = entry.split('=').next().unwrap_or("");
    if key.is_empty() {
        bail!("invalid environment variable: {entry:?}");
    }
    if key.chars().any(char::is_whitespace) {
        bail!("variable {key:?} contains whitespaces");
    }
    if entry.contains('=') {
        return Ok(Some(entry.to_string()));
    }
    Ok(getenv(entry).map(|v| format!("{entry}={v}")))
}

/// Docker's env-file format: one `KEY=VALUE` or `KEY` per line; blank lines
/// and `#` comments skipped; values taken literally (no quote processing).
pub fn parse_env_file(
    text: &str,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let entry = env_entry(line, getenv).with_context(|| format!("line {}", n + 1))?;
        out.extend(entry);
    }
    Ok(out)
}

/// The effect of the `--security-opt` values.
#[derive(Debug, PartialEq, Eq)]
pub struct SecurityOpts {
    pub seccomp: SeccompOption,
}

/// Parses `seccomp=unconfined|FILE` (or `:`) and `no-new-privileges[=|:true]`.
pub fn parse_security_opts(opts: &[String], host: &Host) -> anyhow::Result<SecurityOpts> {
    let mut seccomp = SeccompOption::Default;
    for opt in opts {
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt.as_str(), None),
        };
        match (key, value) {
            ("seccomp", Some("unconfined")) => seccomp = SeccompOption::Unconfined,
            ("seccomp", Some(file)) if !file.is_empty() => {
                let path = host.cwd.join(file);
                let text = (host.read_file)(&path)
                    .with_context(|| format!("opening seccomp profile {}", path.display()))?;
                serde_json::from_str::<serde_json::Value>(&text)
                    .with_context(|| format!("decoding seccomp profile {}", path.display()))?;
                seccomp = SeccompOption::Profile(text);
            }
            ("no-new-privileges", None | Some("true")) => {}
            ("no-new-privileges", Some("false")) => {
                bail!("invalid --security-opt {opt:?}: skiff always sets no-new-privileges")
            }
            _ => bail!(
                "invalid --security-opt {opt:?}: want seccomp=unconfined, seccomp=FILE or no-new-privileges"
            ),
        }
    }
    Ok(SecurityOpts { seccomp })
}

impl ContainerFlags {
    /// The rootfs as an absolute path (relative to the CLI's cwd), if one was given.
    pub fn rootfs_path(&self, cwd: &Path) -> Option<PathBuf> {
        self.rootfs.as_ref().map(|r| cwd.join(r))
    }

    /// Builds the spec. Does not check that the rootfs exists (see `check_rootfs`).
    pub fn to_spec(&self, host: &Host) -> anyhow::Result<ContainerSpec> {
        let mut spec = ContainerSpec::default();
        let command = match self.rootfs_path(host.cwd) {
            Some(r) => {
                spec.rootfs = r.to_string_lossy().into_owned();
                &self.command[..]
            }
            None => {
                let Some((image, rest)) = self.command.split_first() else {
                    bail!("no image given: `skiff run IMAGE [COMMAND...]` or `skiff run --rootfs DIR COMMAND...`");
                };
                spec.image = Some(image.clone());
                rest
            }
        };
        if let Some(name) = &self.name {
            spec.name = Some(ContainerName::parse(name)?.to_string());
        }
        for file in &self.env_file {
            let path = host.cwd.join(file);
            let text = (host.read_file)(&path)
                .with_context(|| format!("opening env file {}", path.display()))?;
            let vars = parse_env_file(&text, host.getenv)
                .with_context(|| format!("in env file {}", path.display()))?;
            spec.env.extend(vars);
        }
        for e in &self.env {
            spec.env.extend(env_entry(e, host.getenv)?);
        }
        if let Some(w) = &self.workdir {
            if !w.starts_with('/') {
                bail!("the working directory {w:?} is invalid, it needs to be an absolute path");
            }
            spec.working_dir = Some(w.clone());
        }
        spec.hostname = self.hostname.clone();
        spec.entrypoint = self.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        });
        spec.cmd = command.to_vec();
        if spec.image.is_none() && spec.argv().is_empty() {
            bail!("no command given: `skiff run --rootfs DIR COMMAND [ARG...]`");
        }
        spec.tty = self.tty;
        spec.open_stdin = self.interactive;
        spec.user = self.user.clone();
        let r = &mut spec.resources;
        if let Some(m) = &self.memory {
            r.memory =
                Some(parse_memory_size(m).map_err(|e| anyhow::anyhow!("invalid --memory: {e}"))?);
        }
        if let Some(s) = &self.memory_swap {
            let swap = if s.trim() == "-1" {
                -1
            } else {
                let bytes =
                    parse_size(s).map_err(|e| anyhow::anyhow!("invalid --memory-swap: {e}"))?;
                i64::try_from(bytes)
                    .map_err(|_| anyhow::anyhow!("invalid --memory-swap {s:?}: too large"))?
            };
            match r.memory {
                None => {
                    bail!("you should always set the memory limit when using the memory-swap limit")
                }
                Some(m) if swap != -1 && (swap as u64) < m => {
                    bail!("minimum memoryswap limit should be larger than memory limit, see usage")
                }
                _ => r.memory_swap = Some(swap),
            }
        }
        if let Some(c) = &self.cpus {
            r.nano_cpus = Some(parse_cpus(c).map_err(|e| anyhow::anyhow!("invalid --cpus: {e}"))?);
        }
        r.cpu_shares = self.cpu_shares;
        r.pids_limit = self.pids_limit;
        spec.cap_add = self.cap_add.clone();
        spec.cap_drop = self.cap_drop.clone();
        spec.seccomp = parse_security_opts(&self.security_opt, host)?.seccomp;
        spec.read_only = self.read_only;
        spec.restart = self.restart.parse::<RestartPolicy>()?;
        if self.rm && spec.restart != RestartPolicy::No {
            bail!("conflicting options: cannot specify both --restart and --rm");
        }
        spec.network = self
            .network
            .parse::<NetworkMode>()
            .map_err(anyhow::Error::msg)?;
        spec.network_aliases = self.network_alias.clone();
        spec.publish = self.publish.clone();
        spec.publish_all = self.publish_all;
        spec.dns = self.dns.clone();
        spec.add_hosts = self.add_host.clone();
        spec.userns_auto = match self.userns.as_deref() {
            None | Some("") | Some("host") => false,
            Some("auto") => true,
            Some(other) => bail!("invalid --userns {other:?}: want auto or host"),
        };
        for l in &self.label {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.is_empty() {
                bail!("invalid label {l:?}: empty key");
            }
            spec.labels.insert(k.to_string(), v.to_string());
        }
        spec.stop_timeout = self.stop_timeout;
        if let Some(sig) = &self.stop_signal {
            skiff_types::parse_signal(sig).map_err(|e| anyhow::anyhow!("--stop-signal: {e}"))?;
            spec.stop_signal = Some(sig.clone());
        }
        spec.auto_remove = self.rm;
        spec.mounts = super::volume::mounts_from_flags(self, host.cwd)?;
        self.services.apply(&mut spec)?;
        Ok(spec)
    }
}

/// A clear error for a rootfs that is missing or not a directory.
pub fn check_rootfs(path: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("invalid --rootfs {}: not a directory", path.display()),
        Err(e) => bail!(
            "invalid --rootfs {}: {}",
            path.display(),
            super::io_text(&e)
        ),
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
