//! `skiff build -t NAME [-f FILE] [--build-arg K=V] [--target STAGE] [--no-cache] CONTEXT`:
//! the context directory goes to the daemon as a tar stream (minus `.dockerignore` matches,
//! as Docker's client does it), the daemon's progress is printed as it comes.

use super::Ctx;
use anyhow::{bail, Context};
use skiff_api::BuildRequest;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name and optionally a tag (name:tag); repeatable
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Containerfile inside the context (default: Containerfile, then Dockerfile)
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let dir = std::fs::canonicalize(&args.context)
        .with_context(|| format!("unable to prepare context: {}", args.context.display()))?;
    if !dir.is_dir() {
        bail!(
            "unable to prepare context: {} is not a directory",
            dir.display()
        );
    }
    let file = match &args.file {
        None => None,
        Some(f) => {
            let abs = std::fs::canonicalize(f)
                .or_else(|_| std::fs::canonicalize(dir.join(f)))
                .with_context(|| format!("cannot read {}", f.display()))?;
            let rel = abs.strip_prefix(&dir).map_err(|_| {
                anyhow::anyhow!(
                    "the Containerfile {} must be inside the context {}",
                    f.display(),
                    dir.display()
                )
            })?;
            Some(rel.to_string_lossy().into_owned())
        }
    };
    let mut build_args = std::collections::BTreeMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => build_args.insert(k.to_string(), v.to_string()),
            None => build_args.insert(a.clone(), std::env::var(a).unwrap_or_default()),
        };
    }
    let req = BuildRequest {
        tags: args.tags.clone(),
        file: file.clone(),
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
    };
    let ignore = read_ignore(&dir)?;
    let (reader, writer) = nix::unistd::pipe().context("pipe")?;
    let keep: Vec<String> = file.into_iter().collect();
    let tar_dir = dir.clone();
    let producer = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut b = tar::Builder::new(std::io::BufWriter::new(std::fs::File::from(writer)));
        b.follow_symlinks(false);
        b.mode(tar::HeaderMode::Complete);
        add_dir(&mut b, &tar_dir, Path::new(""), &ignore, &keep)?;
        b.into_inner()?.flush()?;
        Ok(())
    });
    let client = ctx.client()?;
    let mut out = LastLine::default();
    let res = client.build(&req, std::fs::File::from(reader), &mut out);
    let produced = producer
        .join()
        .map_err(|_| anyhow::anyhow!("context writer panicked"))?;
    res?;
    if let Err(e) = produced {
        bail!("sending the build context: {e}");
    }
    Ok(if out.last.starts_with("ERROR: ") {
        1
    } else {
        0
    })
}

/// Copies the daemon's output to stdout, remembering the last line.
#[derive(Default)]
struct LastLine {
    last: String,
    cur: Vec<u8>,
}

impl Write for LastLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::io::stdout().write_all(buf)?;
        for &b in buf {
            if b == b'\n' {
                self.last = String::from_utf8_lossy(&self.cur).into_owned();
                self.cur.clear();
            } else {
                self.cur.push(b);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

/// `.dockerignore` patterns (`!` re-includes; later lines win).
fn read_ignore(dir: &Path) -> anyhow::Result<Vec<(bool, String)>> {
    let text = match std::fs::read_to_string(dir.join(".dockerignore")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context("read .dockerignore"),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.strip_prefix('!') {
            Some(p) => (false, clean(p)),
            None => (true, clean(l)),
        })
        .collect())
}

fn clean(p: &str) -> String {
    p.trim()
        .trim_start_matches("./")
        .trim_matches('/')
        .to_string()
}

fn ignored(rel: &str, patterns: &[(bool, String)]) -> bool {
    let mut out = false;
    for (exclude, p) in patterns {
        // A pattern matches the path or one of its parents (`dir` excludes `dir/x`).
        let mut hit = false;
        let mut prefix = String::new();
        for comp in rel.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            if glob(p.as_bytes(), prefix.as_bytes()) {
                hit = true;
                break;
            }
        }
        if hit {
            out = *exclude;
        }
    }
    out
}

/// Docker's pattern match: `*` and `?` within a component, `**` across components.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p, s) {
        ([], []) => true,
        ([b'*', b'*', rest @ ..], _) => {
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        ([b'*', rest @ ..], _) => {
            glob(rest, s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..]))
        }
        ([b'?', rest @ ..], [c, srest @ ..]) if *c != b'/' => glob(rest, srest),
        ([a, rest @ ..], [b, srest @ ..]) if a == b => glob(rest, srest),
        _ => false,
    }
}

fn add_dir<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    ignore: &[(bool, String)],
    keep: &[String],
) -> anyhow::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(root.join(rel))
        .with_context(|| format!("read {}", root.join(rel).display()))?
        .collect::<Result<Vec<_>, _>>()?;
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let r = rel.join(e.file_name());
        let rs = r.to_string_lossy().into_owned();
        let ft = e.file_type()?;
        if ignored(&rs, ignore) && !keep.contains(&rs) && !ft.is_dir() {
            continue;
        }
        if ft.is_dir() {
            let skip = ignored(&rs, ignore);
            if skip && ignore.iter().all(|(exclude, _)| *exclude) {
                continue; // nothing could re-include a child
            }
            if !skip {
                b.append_path_with_name(root.join(&r), &r)?;
            }
            add_dir(b, root, &r, ignore, keep)?;
        } else {
            b.append_path_with_name(root.join(&r), &r)
                .with_context(|| format!("add {} to the context", r.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let pats = vec![
            (true, "*.log".to_string()),
            (true, "build".to_string()),
            (true, "**/*.tmp".to_string()),
            (false, "keep.log".to_string()),
        ];
        assert!(ignored("a.log", &pats));
        assert!(!ignored("keep.log", &pats));
        assert!(ignored("build/x/y", &pats));
        assert!(ignored("src/deep/f.tmp", &pats));
        assert!(!ignored("src/a.rs", &pats));
        assert!(!ignored("sub/a.log", &pats));
    }
}
