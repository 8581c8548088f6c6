//! COPY and ADD: sources from the context (or `--from` a stage or image, flattened from its
//! layers), wildcards in the last component, `--chown`, ADD's auto-extraction of a local tar
//! through the safe unpacker. Sources are cleaned lexically and must stay inside their root;
//! no symlink is ever followed (one inside a source is copied as a symlink).

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};
use skiff_sys::fsroot::RootDir;

use super::instr::Outcome;
use super::parse::{cmd_form, substitute, words, CmdForm, Instruction};
use super::tree::{self, LayerTar, TreeOpts};
use super::{chain, Builder, Stage};
use crate::error::{ImageError, Result};
use crate::store::LayerRecord;
use crate::unpack::unpack_layer;

/// One resolved source.
struct Source {
    rel: PathBuf,
    is_dir: bool,
    /// ADD of a local tar: extracted into the destination.
    extract: bool,
}

impl Builder<'_> {
    pub(crate) fn copy(&mut self, st: &mut Stage, i: &Instruction) -> Result<Outcome> {
        let is_add = i.keyword == "ADD";
        let vars = st.vars();
        let args = substitute(&i.args, &vars).map_err(|e| self.err(i, e))?;
        let mut parts = match cmd_form(&args) {
            CmdForm::Exec(v) => v,
            CmdForm::Shell(s) => words(&s),
        };
        if parts.len() < 2 {
            return Err(self.err(i, format!("{} needs SOURCE... DEST", i.keyword)));
        }
        let dest = parts.pop().unwrap_or_default();
        let mut chown = None;
        let mut from = None;
        for (k, v) in &i.flags {
            match k.as_str() {
                "chown" => {
                    chown = Some(self.owner(
                        st,
                        i,
                        &substitute(v, &vars).map_err(|e| self.err(i, e))?,
                    )?)
                }
                "from" if !is_add => from = Some(v.clone()),
                _ => return Err(self.err(i, format!("{} --{k} is not supported", i.keyword))),
            }
        }
        let guard;
        let root = match &from {
            None => RootDir::open(self.context)?,
            Some(f) => {
                let layers = self.source_layers(i, f)?;
                guard = self.flatten(&layers, &parts, i)?;
                RootDir::open(guard.path())?
            }
        };
        let mut sources = Vec::new();
        let mut wildcard = false;
        for p in &parts {
            if is_add && (p.starts_with("http://") || p.starts_with("https://")) {
                return Err(self.err(
                    i,
                    "ADD from a URL is not supported (builds have no network)",
                ));
            }
            let rel = clean(p).ok_or_else(|| {
                self.err(
                    i,
                    format!("{} failed: {p:?} is outside the build context", i.keyword),
                )
            })?;
            let found = if p.contains(['*', '?', '[']) {
                wildcard = true;
                glob(&root, &rel).map_err(|e| self.err(i, e))?
            } else {
                vec![rel]
            };
            for rel in found {
                sources.push(self.source(&root, rel, is_add && from.is_none(), p, i)?);
            }
        }
        if sources.is_empty() {
            return Err(self.err(
                i,
                format!("{} failed: no source files were specified", i.keyword),
            ));
        }
        let workdir = st.cfg.working_dir.clone().unwrap_or_else(|| "/".into());
        let dest_abs = Path::new(&workdir).join(&dest);
        let into_dir = dest.ends_with('/') || sources.len() > 1 || wildcard;
        let dest_rel: PathBuf = dest_abs
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let target = |s: &Source| -> PathBuf {
            if s.is_dir || s.extract || !into_dir {
                dest_rel.clone()
            } else {
                dest_rel.join(s.rel.file_name().unwrap_or_default())
            }
        };
        let opts = TreeOpts {
            chown,
            whiteouts: false,
        };
        let mut h = Sha256::new();
        h.update(format!("{} {chown:?} {}\n", i.keyword, dest_rel.display()).as_bytes());
        for s in &sources {
            if s.extract {
                h.update(b"extract\n");
                tree::hash_tree(&root, &s.rel, &target(s), TreeOpts::default(), &mut h)?;
            } else {
                tree::hash_tree(&root, &s.rel, &target(s), opts, &mut h)?;
            }
        }
        let key = chain(&st.key, &format!("{} {}", i.keyword, tree::finish(h)));
        self.layer_step(st, i, key, &mut |b, _st| {
            let tmp = b.temp_tar()?;
            let write = || -> Result<()> {
                let f =
                    std::fs::File::create(&tmp).map_err(|e| ImageError::io("create", &tmp, e))?;
                let mut t = LayerTar::new(std::io::BufWriter::new(f));
                for s in &sources {
                    if s.extract {
                        let x = b.extract(&root, &s.rel)?;
                        t.add_tree(&RootDir::open(x.path())?, Path::new(""), &target(s), opts)?;
                    } else {
                        t.add_tree(&root, &s.rel, &target(s), opts)?;
                    }
                }
                let mut w = t.finish()?;
                std::io::Write::flush(&mut w).map_err(|e| ImageError::io("write", &tmp, e))
            };
            if let Err(e) = write() {
                let _ = std::fs::remove_file(&tmp);
                return Err(b.err(i, e.to_string()));
            }
            Ok(tmp)
        })
    }

    fn source(
        &self,
        root: &RootDir,
        rel: PathBuf,
        add: bool,
        as_written: &str,
        i: &Instruction,
    ) -> Result<Source> {
        // No symlink on the way to a source (they could lead out of the root).
        let mut acc = PathBuf::new();
        let comps: Vec<_> = rel.components().collect();
        for (n, c) in comps.iter().enumerate() {
            acc.push(c);
            let md = std::fs::symlink_metadata(root.path().join(&acc)).map_err(|_| {
                self.err(
                    i,
                    format!(
                        "{} failed: {as_written:?}: no such file or directory in the build context",
                        i.keyword
                    ),
                )
            })?;
            if n + 1 < comps.len() && !md.is_dir() {
                return Err(self.err(
                    i,
                    format!(
                        "{} failed: {as_written:?}: a parent is not a directory",
                        i.keyword
                    ),
                ));
            }
        }
        let md = std::fs::symlink_metadata(root.path().join(&rel))
            .map_err(|e| ImageError::io("stat", root.path().join(&rel), e))?;
        let extract = add && md.is_file() && is_tar(root, &rel);
        Ok(Source {
            rel,
            is_dir: md.is_dir(),
            extract,
        })
    }

    /// Unpacks a context tar (ADD) into a temp dir with the safe unpacker.
    fn extract(&self, root: &RootDir, rel: &Path) -> Result<tempfile::TempDir> {
        let dir = self.store.dir().join("tmp");
        let x = tempfile::Builder::new()
            .prefix("add-")
            .tempdir_in(&dir)
            .map_err(|e| ImageError::io("create", &dir, e))?;
        let f = root.open_file(rel)?;
        unpack_layer(
            std::io::BufReader::new(f),
            &RootDir::open(x.path())?,
            self.store.limits(),
        )?;
        Ok(x)
    }

    fn source_layers(&self, i: &Instruction, from: &str) -> Result<Vec<LayerRecord>> {
        let by_name = self
            .stages
            .iter()
            .find(|s| s.name.as_deref() == Some(&from.to_ascii_lowercase()));
        let by_index = from.parse::<usize>().ok().and_then(|n| self.stages.get(n));
        if let Some(s) = by_name.or(by_index) {
            return Ok(s.layers.clone());
        }
        match self.store.record(from) {
            Ok(r) => Ok(r.layers),
            Err(ImageError::NotFound(_)) => {
                Err(self.err(i, format!("COPY --from={from}: no such stage or image")))
            }
            Err(e) => Err(e),
        }
    }

    /// The merged view of `paths` across `layers` (bottom first), whiteouts applied.
    fn flatten(
        &self,
        layers: &[LayerRecord],
        paths: &[String],
        i: &Instruction,
    ) -> Result<tempfile::TempDir> {
        let dir = self.store.dir().join("tmp");
        let tmp = tempfile::Builder::new()
            .prefix("from-")
            .tempdir_in(&dir)
            .map_err(|e| ImageError::io("create", &dir, e))?;
        let dst = RootDir::open(tmp.path())?;
        for l in layers {
            let src = RootDir::open(&self.store.layer_path(&l.diff_id))?;
            for p in paths {
                let rel = clean(p).ok_or_else(|| {
                    self.err(i, format!("COPY failed: {p:?} is outside the stage"))
                })?;
                merge(&src, &rel, &dst)?;
            }
        }
        Ok(tmp)
    }

    /// `--chown=user[:group]`: numbers, or names from the stage's /etc/passwd and /etc/group.
    fn owner(&self, st: &Stage, i: &Instruction, spec: &str) -> Result<(u32, u32)> {
        let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
        let lookup = |file: &str, name: &str, field: usize| -> Option<u32> {
            for l in st.layers.iter().rev() {
                let p = self.store.layer_path(&l.diff_id).join(file);
                let md = std::fs::symlink_metadata(&p).ok()?;
                if !md.is_file() {
                    continue;
                }
                let text = std::fs::read_to_string(&p).ok()?;
                return text
                    .lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() > field && f[0] == name)
                    .and_then(|f| f[field].parse().ok());
            }
            None
        };
        let uid = u
            .parse()
            .ok()
            .or_else(|| lookup("etc/passwd", u, 2))
            .ok_or_else(|| self.err(i, format!("--chown: unknown user {u:?}")))?;
        let gid = if g.is_empty() {
            if u.parse::<u32>().is_ok() {
                uid
            } else {
                lookup("etc/passwd", u, 3).unwrap_or(uid)
            }
        } else {
            g.parse()
                .ok()
                .or_else(|| lookup("etc/group", g, 2))
                .ok_or_else(|| self.err(i, format!("--chown: unknown group {g:?}")))?
        };
        Ok((uid, gid))
    }
}

/// A source path relative to its root; None if it climbs out.
fn clean(p: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if !out.pop() => return None,
            _ => {}
        }
    }
    Some(out)
}

/// Expands `*`, `?` in the last component.
fn glob(root: &RootDir, rel: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let parent = rel.parent().unwrap_or(Path::new(""));
    let pat = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let host = root.path().join(parent);
    let mut out = Vec::new();
    let rd = std::fs::read_dir(&host).map_err(|e| format!("{}: {e}", parent.display()))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if wild_match(pat.as_bytes(), name.as_bytes()) {
            out.push(parent.join(name));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(format!("no source files match {}", rel.display()));
    }
    Ok(out)
}

/// `*` and `?` glob match (no `/` inside one name).
pub(crate) fn wild_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wild_match(&p[1..], s) || (!s.is_empty() && wild_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => wild_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wild_match(&p[1..], &s[1..]),
        _ => false,
    }
}

fn is_tar(root: &RootDir, rel: &Path) -> bool {
    let Ok(f) = root.open_file(rel) else {
        return false;
    };
    let Ok((_, mut dec)) = crate::compress::decoder(std::io::BufReader::new(f)) else {
        return false;
    };
    let mut buf = [0u8; 512];
    dec.read_exact(&mut buf).is_ok() && &buf[257..262] == b"ustar"
}

/// Copies `rel` of one layer over `dst`, applying its whiteouts and opaque dirs.
fn merge(src: &RootDir, rel: &Path, dst: &RootDir) -> Result<()> {
    let host = src.path().join(rel);
    let Ok(md) = std::fs::symlink_metadata(&host) else {
        return Ok(());
    };
    let ft = md.file_type();
    let parent = rel.parent().unwrap_or(Path::new(""));
    if ft.is_char_device() && md.rdev() == 0 {
        dst.remove_all(rel)?;
        return Ok(());
    }
    if !ft.is_dir() {
        dst.remove_all(rel)?;
        dst.create_dir_all(parent, 0o755)?;
    }
    if ft.is_symlink() {
        let t = std::fs::read_link(&host).map_err(|e| ImageError::io("readlink", &host, e))?;
        dst.symlink(&t, rel)?;
    } else if ft.is_file() {
        let mut out = dst.create_file(rel, md.mode() & 0o7777)?;
        let mut input = src.open_file(rel)?;
        std::io::copy(&mut input, &mut out).map_err(|e| ImageError::io("copy", &host, e))?;
        dst.set_mode(rel, md.mode() & 0o7777)?;
    } else if ft.is_dir() {
        let opaque = src.get_xattr(rel, "trusted.overlay.opaque")?.as_deref() == Some(b"y");
        if opaque
            || dst
                .stat(rel)?
                .is_some_and(|s| s.kind != skiff_sys::fsroot::EntryKind::Dir)
        {
            dst.remove_all(rel)?;
        }
        dst.create_dir_all(rel, md.mode() & 0o7777)?;
        dst.set_mode(rel, md.mode() & 0o7777)?;
        for e in std::fs::read_dir(&host).map_err(|e| ImageError::io("list", &host, e))? {
            let e = e.map_err(|e| ImageError::io("list", &host, e))?;
            merge(src, &rel.join(e.file_name()), dst)?;
        }
    } else {
        return Ok(());
    }
    Ok(dst.set_owner(rel, md.uid(), md.gid())?)
}
