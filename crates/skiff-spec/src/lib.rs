//! skiff-spec: topology files to a typed, validated `skiff_types::Topology`.
//!
//! Owns the two input formats (skiff's own `skiff.toml`, also as YAML, with
//! environment overlays; and the Compose specification, with several `-f`
//! files merged and `.env` interpolation), and every check that can be made
//! without a cluster: unknown or unsupported keys, bad values, references to
//! unknown services, dependency and placement cycles. Every error carries
//! file:line:col. Loading is all-or-nothing: one error and no topology is
//! returned.
//!
//! Pipeline: text -> positioned tree (`toml_src`, `yaml_src`) -> for Compose:
//! interpolation (`interp`) and merging (`merge`) -> schema walk (`skiff`,
//! `compose`, sharing `walk` and `fields`) -> cross-checks (`validate`).
//! It reads files only through a caller-supplied `Reader`, so it stays
//! testable without a disk; it must not start, stop or contact anything.

#![forbid(unsafe_code)]

pub mod compose;
mod compose_fields;
pub mod dotenv;
pub mod error;
pub mod fields;
pub mod interp;
pub mod merge;
pub mod node;
pub mod skiff;
pub mod toml_src;
pub mod validate;
pub mod walk;
pub mod yaml_src;

pub use error::{Pos, SpecError, SpecErrors};

use error::Errors;
use node::Node;
use skiff_types::Topology;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Reads a file the topology refers to (`env_file`, `.env`, `-f` files).
pub type Reader<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

/// File names `skiff up DIR` looks for, in order.
pub const DEFAULT_FILES: &[&str] = &[
    "skiff.toml",
    "skiff.yaml",
    "skiff.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// What a load may be told besides the files.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The `[env.NAME]` overlay to apply (skiff.toml only).
    pub env: Option<String>,
    /// Active Compose profiles.
    pub profiles: Vec<String>,
    /// Overrides the project (job) name.
    pub project: Option<String>,
    /// The caller's environment, for Compose interpolation; it wins over `.env`.
    pub vars: BTreeMap<String, String>,
}

/// skiff's own schema, or Compose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Skiff,
    Compose,
}

impl Format {
    pub fn of(path: &Path) -> Format {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("skiff.") || name.ends_with(".toml") {
            Format::Skiff
        } else {
            Format::Compose
        }
    }
}

/// The topology file in `dir`, if any.
pub fn find_in_dir(dir: &Path) -> Option<PathBuf> {
    DEFAULT_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

/// Loads files from disk.
pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> Result<Topology, SpecErrors> {
    load_with(paths, opts, &|p: &Path| std::fs::read_to_string(p))
}

fn parse_tree(path: &Path, text: &str) -> Result<Node, SpecError> {
    let file: Arc<str> = path.display().to_string().into();
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    if is_toml {
        toml_src::parse(text, &file)
    } else {
        yaml_src::parse(text, &file)
    }
}

fn read_tree(path: &Path, read: Reader<'_>) -> Result<Node, SpecError> {
    let text = read(path).map_err(|e| {
        SpecError::new(
            &Pos::file(&path.display().to_string().into()),
            format!("cannot read: {e}"),
        )
    })?;
    parse_tree(path, &text)
}

/// The project name Compose would pick: the directory's name, lowercased,
/// with characters outside `[a-z0-9_-]` dropped.
fn project_name(dir: &Path) -> String {
    let raw = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "default".into());
    let name: String = raw
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        .collect();
    if name.is_empty() {
        "default".into()
    } else {
        name
    }
}

/// Loads through `read`: one skiff file, or one or more Compose files.
pub fn load_with(
    paths: &[PathBuf],
    opts: &LoadOptions,
    read: Reader<'_>,
) -> Result<Topology, SpecErrors> {
    let Some(first) = paths.first() else {
        let pos = Pos::file(&"<none>".into());
        return Err(SpecError::new(&pos, "no topology file given").into());
    };
    let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let default_name = opts.project.clone().unwrap_or_else(|| project_name(&dir));
    let mut errs = Errors::default();
    match Format::of(first) {
        Format::Skiff => {
            if let Some(extra) = paths.get(1) {
                let pos = Pos::file(&extra.display().to_string().into());
                errs.push(
                    &pos,
                    "a skiff.toml stands alone; several -f files are for Compose",
                );
                return errs.finish(Topology::default());
            }
            let tree = read_tree(first, read)?;
            let mut refs = vec![];
            let mut topo = skiff::lower(
                &tree,
                &default_name,
                opts.env.as_deref(),
                &dir,
                read,
                &mut errs,
                &mut refs,
            );
            if let Some(p) = &opts.project {
                topo.name = p.clone();
            }
            validate::check(&topo, &refs, &[], &mut errs);
            errs.finish(topo)
        }
        Format::Compose => {
            if let Some(env) = &opts.env {
                let pos = Pos::file(&first.display().to_string().into());
                errs.push(&pos, format!("--env {env}: environment overlays are a skiff.toml feature; Compose files use profiles and -f overrides"));
                return errs.finish(Topology::default());
            }
            let vars = compose_vars(&dir, opts, read, &mut errs);
            let mut merged: Option<Node> = None;
            for p in paths {
                let mut tree = match read_tree(p, read) {
                    Ok(t) => t,
                    Err(e) => {
                        errs.0.push(e);
                        continue;
                    }
                };
                interp::tree(&mut tree, &vars, &mut errs);
                merged = Some(match merged {
                    None => tree,
                    Some(base) => merge::documents(base, tree),
                });
            }
            let Some(doc) = merged else {
                return errs.finish(Topology::default());
            };
            let mut low =
                compose::lower(&doc, &default_name, &opts.profiles, &dir, read, &mut errs);
            if let Some(p) = &opts.project {
                low.topo.name = p.clone();
            }
            validate::check(&low.topo, &low.refs, &low.disabled, &mut errs);
            errs.finish(low.topo)
        }
    }
}

/// `.env` in the project directory, overridden by the caller's environment.
fn compose_vars(
    dir: &Path,
    opts: &LoadOptions,
    read: Reader<'_>,
    errs: &mut Errors,
) -> interp::Vars {
    let path = dir.join(".env");
    let mut vars = interp::Vars::new();
    if let Ok(text) = read(&path) {
        match dotenv::parse(&text) {
            Ok(pairs) => {
                // Later lines may refer to earlier ones, as in Compose.
                for (k, v) in pairs {
                    let v = interp::string(&v, &vars).unwrap_or(v);
                    vars.insert(k, v);
                }
            }
            Err((line, msg)) => {
                let pos = Pos {
                    file: path.display().to_string().into(),
                    line,
                    col: 1,
                };
                errs.push(&pos, msg);
            }
        }
    }
    vars.extend(opts.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}
