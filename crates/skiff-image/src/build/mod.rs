//! `build`: a Containerfile and a context directory into an image in the store.
//!
//! ```text
//! text -> parse (pure, file:line errors) -> stages -> per instruction:
//!   config steps (ENV, WORKDIR, USER, EXPOSE, LABEL, CMD, ENTRYPOINT, HEALTHCHECK, VOLUME, ...)
//!   layer steps  (COPY/ADD: a tar of context files; RUN: a StepRunner runs the command over
//!                 the stage's layers, its overlay upper dir becomes a tar with whiteouts)
//! -> config + manifest + tags committed to the store
//! ```
//! The cache is keyed as Docker's: the parent's key, the instruction text (after ARG/ENV
//! substitution), and for COPY/ADD the content hash of the sources. A hit reuses the layer
//! and runs nothing; an unchanged rebuild writes no layer and gives the same image id (the
//! image's `created` is the cache entry's, not the clock's).
//!
//! This room does not run containers: RUN goes through [`StepRunner`], which the daemon
//! implements with the runtime.

mod commit;
mod copy;
mod instr;
pub mod parse;
pub mod tree;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use commit::CacheEntry;
pub use parse::LineError;

use crate::digest::Digest;
use crate::error::{ImageError, Result};
use crate::oci::ContainerConfig;
use crate::store::{ImageStore, LayerRecord};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Containerfile's name, for error messages.
    pub file: String,
    /// Its text.
    pub text: String,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    /// Normalised or not; normalised here.
    pub tags: Vec<String>,
    pub no_cache: bool,
}

/// One RUN step for a [`StepRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStep {
    /// The stage's layer directories, bottom first (overlay lower dirs).
    pub lowers: Vec<PathBuf>,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

/// Runs RUN steps in real containers (implemented by the daemon over the runtime).
pub trait StepRunner {
    /// Runs `step`, copying its output to `out`; on exit 0 calls `collect` with the
    /// container's overlay upper dir (before it is removed). Errors are human text.
    fn run(
        &self,
        step: &RunStep,
        out: &mut dyn Write,
        collect: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> std::result::Result<(), String>;
}

/// The state of one stage while it builds.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    pub name: Option<String>,
    pub layers: Vec<LayerRecord>,
    pub cfg: ContainerConfig,
    pub key: Digest,
    /// Variables for substitution: ARG values, then ENV (ENV wins).
    pub args: BTreeMap<String, String>,
    pub created: Option<String>,
    pub author: Option<String>,
    pub shell: Vec<String>,
    /// CMD came from the base image (an ENTRYPOINT here resets it, as in Docker).
    pub cmd_inherited: bool,
}

impl Stage {
    pub fn vars(&self) -> BTreeMap<String, String> {
        let mut v = self.args.clone();
        for e in self.cfg.env.iter().flatten() {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }
}

/// One build.
pub(crate) struct Builder<'a> {
    pub store: &'a ImageStore,
    pub context: &'a Path,
    pub opts: &'a BuildOptions,
    pub runner: &'a dyn StepRunner,
    pub out: &'a mut dyn Write,
    pub stages: Vec<Stage>,
    pub global_args: BTreeMap<String, String>,
}

/// The result of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub id: Digest,
    pub tags: Vec<String>,
    /// Layer steps answered from the cache, and layer steps run.
    pub cached: usize,
    pub ran: usize,
}

/// Builds `opts` with the files of `context`; progress goes to `out`.
pub fn build(
    store: &ImageStore,
    context: &Path,
    opts: &BuildOptions,
    runner: &dyn StepRunner,
    out: &mut dyn Write,
) -> Result<Built> {
    let tags = opts
        .tags
        .iter()
        .map(|t| crate::ops::normalize_name(t))
        .collect::<Result<Vec<_>>>()?;
    let ins = parse::parse(&opts.file, &opts.text)?;
    let Some(first_from) = ins.iter().position(|i| i.keyword == "FROM") else {
        return Err(ImageError::Build(LineError {
            file: opts.file.clone(),
            line: ins.first().map_or(1, |i| i.line),
            msg: "no FROM instruction".into(),
        }));
    };
    let mut b = Builder {
        store,
        context,
        opts,
        runner,
        out,
        stages: Vec::new(),
        global_args: BTreeMap::new(),
    };
    for i in &ins[..first_from] {
        if i.keyword != "ARG" {
            return Err(b.err(i, format!("{} before the first FROM", i.keyword)));
        }
        b.global_arg(i)?;
    }
    let total = ins.len() - first_from;
    let (mut cached, mut ran) = (0, 0);
    let mut current: Option<Stage> = None;
    for (n, i) in ins[first_from..].iter().enumerate() {
        if i.keyword == "FROM" {
            if let Some(done) = current.take() {
                if b.is_target(&done) {
                    current = Some(done);
                    break;
                }
                b.stages.push(done);
            }
        }
        b.say(format_args!("STEP {}/{}: {}", n + 1, total, i.original))?;
        match b.instruction(current.as_mut(), i)? {
            instr::Outcome::NewStage(s) => current = Some(*s),
            instr::Outcome::Config => {}
            instr::Outcome::Cached => cached += 1,
            instr::Outcome::Ran => ran += 1,
        }
    }
    let stage = current.expect("a FROM was seen");
    if let Some(t) = &opts.target {
        if stage.name.as_deref() != Some(t) {
            return Err(ImageError::invalid(
                "--target",
                format!("no stage named {t:?}"),
            ));
        }
    }
    let config = b.config_json(&stage)?;
    let id = store.commit_image(&config, stage.layers.clone(), &tags, stage.created.clone())?;
    b.say(format_args!("COMMIT {}", tags.join(", ")))?;
    b.say(format_args!("--> {}", id.short()))?;
    Ok(Built {
        id,
        tags,
        cached,
        ran,
    })
}

impl Builder<'_> {
    pub fn err(&self, i: &parse::Instruction, msg: impl Into<String>) -> ImageError {
        ImageError::Build(LineError {
            file: self.opts.file.clone(),
            line: i.line,
            msg: msg.into(),
        })
    }

    pub fn say(&mut self, args: std::fmt::Arguments) -> Result<()> {
        writeln!(self.out, "{args}").map_err(|e| ImageError::io("write build output", "client", e))
    }

    fn is_target(&self, s: &Stage) -> bool {
        self.opts.target.is_some() && s.name.as_deref() == self.opts.target.as_deref()
    }

    fn config_json(&self, s: &Stage) -> Result<Vec<u8>> {
        let diff_ids: Vec<String> = s.layers.iter().map(|l| l.diff_id.to_string()).collect();
        let v = serde_json::json!({
            "created": s.created.clone().unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
            "author": s.author,
            "architecture": crate::load::host_arch(),
            "os": "linux",
            "config": s.cfg,
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        });
        serde_json::to_vec(&v).map_err(|e| ImageError::invalid("image config", e))
    }
}

/// The next cache key: parent key + text.
pub(crate) fn chain(parent: &Digest, text: &str) -> Digest {
    let mut v = parent.hex().as_bytes().to_vec();
    v.push(b'\n');
    v.extend_from_slice(text.as_bytes());
    Digest::of(&v)
}

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Now as RFC 3339 (UTC, seconds).
pub(crate) fn now_rfc3339() -> String {
    let secs = (now_nanos() / 1_000_000_000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
