//! Directory trees into layer tars: a walker that never follows a symlink, reads files
//! through [`RootDir`] (so nothing outside the tree is reachable), and two visitors of it: a
//! content hasher (COPY/ADD cache keys, mtimes excluded as Docker's are) and a tar writer.
//! With `whiteouts`, overlay upper-dir markers become OCI whiteouts: a 0/0 character device
//! is `.wh.NAME`, a `trusted.overlay.opaque=y` directory gets `.wh..wh..opq`.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use skiff_sys::fsroot::RootDir;

use crate::digest::Digest;
use crate::error::{ImageError, Result};

/// How entries are rewritten on the way into the layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeOpts {
    /// `--chown`: owner of every entry.
    pub chown: Option<(u32, u32)>,
    /// Convert overlay whiteouts and opaque dirs (RUN upper dirs).
    pub whiteouts: bool,
}

/// One entry as it goes into a layer.
enum Node {
    Dir,
    File {
        src: PathBuf,
        size: u64,
    },
    Symlink(PathBuf),
    /// An empty regular file named `.wh.*` (whiteout or opaque marker).
    Marker,
}

struct Item {
    dest: PathBuf,
    node: Node,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
}

fn io_err(p: &Path) -> impl Fn(io::Error) -> ImageError + '_ {
    move |e| ImageError::io("read", p, e)
}

/// Walks `rel` of `root` (a file, symlink or directory), naming entries under `dest`.
fn walk(
    root: &RootDir,
    rel: &Path,
    dest: &Path,
    opts: TreeOpts,
    visit: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let host = root.path().join(rel);
    let md = std::fs::symlink_metadata(&host).map_err(io_err(&host))?;
    let (uid, gid) = opts.chown.unwrap_or((md.uid(), md.gid()));
    let item = |node, dest: PathBuf| Item {
        dest,
        node,
        mode: md.mode() & 0o7777,
        uid,
        gid,
        mtime: u64::try_from(md.mtime()).unwrap_or(0),
    };
    let ft = md.file_type();
    if ft.is_char_device() && md.rdev() == 0 && opts.whiteouts {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let wh = dest.with_file_name(format!(".wh.{name}"));
        return visit(item(Node::Marker, wh));
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(&host).map_err(io_err(&host))?;
        return visit(item(Node::Symlink(target), dest.to_path_buf()));
    }
    if ft.is_file() {
        let node = Node::File {
            src: rel.to_path_buf(),
            size: md.len(),
        };
        return visit(item(node, dest.to_path_buf()));
    }
    if !ft.is_dir() {
        return Ok(()); // devices, sockets, fifos: not carried into layers
    }
    if !dest.as_os_str().is_empty() {
        visit(item(Node::Dir, dest.to_path_buf()))?;
    }
    if opts.whiteouts && root.get_xattr(rel, "trusted.overlay.opaque")?.as_deref() == Some(b"y") {
        visit(item(Node::Marker, dest.join(".wh..wh..opq")))?;
    }
    let mut names: Vec<_> = std::fs::read_dir(&host)
        .map_err(io_err(&host))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(io_err(&host))?;
    names.sort();
    for n in names {
        walk(root, &rel.join(&n), &dest.join(&n), opts, visit)?;
    }
    Ok(())
}

/// The content hash of a tree: paths, modes, owners, link targets and file bytes.
pub fn hash_tree(
    root: &RootDir,
    rel: &Path,
    dest: &Path,
    opts: TreeOpts,
    h: &mut Sha256,
) -> Result<()> {
    walk(root, rel, dest, opts, &mut |it| {
        h.update(it.dest.as_os_str().as_encoded_bytes());
        h.update(format!("\0{:o}\0{}\0{}\0", it.mode, it.uid, it.gid).as_bytes());
        match it.node {
            Node::Dir => h.update(b"d"),
            Node::Marker => h.update(b"w"),
            Node::Symlink(t) => {
                h.update(b"l");
                h.update(t.as_os_str().as_encoded_bytes());
            }
            Node::File { src, .. } => {
                h.update(b"f");
                let mut f = root.open_file(&src)?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = f.read(&mut buf).map_err(io_err(&src))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
        }
        h.update(b"\n");
        Ok(())
    })
}

/// Finishes a hasher into a digest.
pub fn finish(h: Sha256) -> Digest {
    Digest::from_hex(
        &h.finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    )
    .expect("sha256 is 64 hex")
}

/// Writes layer entries into a tar.
pub struct LayerTar<W: Write> {
    b: tar::Builder<W>,
}

impl<W: Write> LayerTar<W> {
    pub fn new(w: W) -> Self {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Complete);
        LayerTar { b }
    }

    /// Adds the tree at `rel` of `root` as `dest`.
    pub fn add_tree(
        &mut self,
        root: &RootDir,
        rel: &Path,
        dest: &Path,
        opts: TreeOpts,
    ) -> Result<()> {
        walk(root, rel, dest, opts, &mut |it| {
            self.append(&it, Some(root))
        })
    }

    fn append(&mut self, it: &Item, root: Option<&RootDir>) -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(it.mode);
        h.set_uid(it.uid.into());
        h.set_gid(it.gid.into());
        h.set_mtime(it.mtime);
        let path = &it.dest;
        let werr = |e: io::Error| ImageError::io("write layer entry", path.clone(), e);
        match &it.node {
            Node::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                self.b.append_data(&mut h, path, io::empty()).map_err(werr)
            }
            Node::Marker => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                self.b.append_data(&mut h, path, io::empty()).map_err(werr)
            }
            Node::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                self.b.append_link(&mut h, path, t).map_err(werr)
            }
            Node::File { src, size } => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*size);
                let root =
                    root.ok_or_else(|| ImageError::invalid("layer", "file without a source"))?;
                let f = root.open_file(src)?;
                // A file that changed size under us would corrupt the tar: read exactly size.
                let mut r = f.take(*size);
                self.b.append_data(&mut h, path, &mut r).map_err(werr)
            }
        }
    }

    pub fn finish(self) -> Result<W> {
        self.b
            .into_inner()
            .map_err(|e| ImageError::io("finish layer", "tar", e))
    }
}
