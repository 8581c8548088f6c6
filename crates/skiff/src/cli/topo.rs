//! What `up` and `down` share: `[DIR | -f FILE ...] [--env NAME]` to a
//! validated topology, parsed here on the client with skiff-spec (so errors
//! show file:line:col and nothing reaches the daemon), with relative paths
//! (bind mounts, files, build contexts) made absolute against the topology's
//! directory; and getting every service's image ready (built or pulled)
//! before the job is handed over.

use super::Ctx;
use anyhow::Context;
use skiff_api::{PullRequest, RegistryAccess, RegistryLine};
use skiff_types::{MountKind, Topology};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct TopoArgs {
    /// Topology file (skiff.toml or Compose); repeatable for Compose overrides
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Environment overlay of skiff.toml ([env.NAME])
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Compose profiles to enable
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Job (project) name; default: from the file or its directory
    #[arg(short = 'p', long = "project-name")]
    pub project: Option<String>,
    /// Directory holding skiff.toml or a compose file (default: .)
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl TopoArgs {
    /// The files to read.
    pub fn paths(&self) -> anyhow::Result<Vec<PathBuf>> {
        if !self.files.is_empty() {
            if self.dir.is_some() {
                anyhow::bail!("give a DIR or -f FILE, not both");
            }
            return Ok(self.files.clone());
        }
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("."));
        if dir.is_file() {
            return Ok(vec![dir]);
        }
        let found = skiff_spec::find_in_dir(&dir).with_context(|| {
            format!(
                "no topology in {}: looked for {}",
                dir.display(),
                skiff_spec::DEFAULT_FILES.join(", ")
            )
        })?;
        Ok(vec![found])
    }
}

/// Parses and validates; every error with its file:line:col.
pub fn load(args: &TopoArgs) -> anyhow::Result<Topology> {
    let paths = args.paths()?;
    let opts = skiff_spec::LoadOptions {
        env: args.env.clone(),
        profiles: args.profiles.clone(),
        project: args.project.clone(),
        vars: std::env::vars().collect(),
    };
    let mut topo = skiff_spec::load(&paths, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = paths[0]
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    absolutize(&mut topo, &base);
    Ok(topo)
}

fn abs(base: &Path, p: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let path = match p.strip_prefix("~/") {
        Some(rest) => Path::new(&home).join(rest),
        None => base.join(p),
    };
    path.to_string_lossy().into_owned()
}

fn absolutize(topo: &mut Topology, base: &Path) {
    for svc in topo.services.values_mut() {
        for m in svc.volumes.iter_mut().filter(|m| m.kind == MountKind::Bind) {
            m.source = abs(base, &m.source);
        }
        for f in svc.files.iter_mut() {
            f.source = abs(base, &f.source);
        }
        if let Some(b) = svc.build.as_mut() {
            b.context = abs(base, &b.context);
        }
    }
}

/// Builds every `build:` service (tagged with its image name) and pulls
/// images the daemon does not have.
pub fn prepare_images(ctx: &Ctx, topo: &Topology) -> anyhow::Result<()> {
    let client = ctx.client()?;
    for svc in topo.services.values() {
        let image = skiff_agent::container::image_of(&topo.name, svc);
        match &svc.build {
            Some(b) => {
                eprintln!("Building {} ({image})", svc.name);
                let args = super::build::Args {
                    tags: vec![image.clone()],
                    file: b.file.as_ref().map(|f| Path::new(&b.context).join(f)),
                    build_args: b.args.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    target: None,
                    no_cache: false,
                    context: PathBuf::from(&b.context),
                };
                if super::build::run(ctx, args)? != 0 {
                    anyhow::bail!("building service {} failed", svc.name);
                }
            }
            None if client.image_inspect(&image).is_ok() => {}
            None => {
                eprintln!("Pulling {} ({image})", svc.name);
                let req = PullRequest {
                    reference: image.clone(),
                    access: RegistryAccess::default(),
                };
                match super::registry::follow(client.image_pull(&req)?, true)? {
                    RegistryLine::Pulled(_) => {}
                    _ => anyhow::bail!("pulling {image} for service {} failed", svc.name),
                }
            }
        }
    }
    Ok(())
}
