//! Parent-side preparation of the rootfs: turns an [`InitSpec`] into a [`RootfsPlan`] of
//! ready C strings, plus one human description per mount op for error messages.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use super::resolve::{Create, RelPath};
use super::{MountOp, OpKind, RootfsPlan};
use crate::spawn::{InitSpec, MountKind, SpawnError};

/// mount(2) copies at most one page of options.
const MAX_MOUNT_DATA: usize = 4095;

fn cstr(s: impl Into<Vec<u8>>, what: &str) -> Result<CString, SpawnError> {
    CString::new(s).map_err(|_| SpawnError::Invalid(format!("{what} contains a NUL byte")))
}

fn path_cstr(p: &Path, what: &str) -> Result<CString, SpawnError> {
    cstr(p.as_os_str().as_encoded_bytes().to_vec(), what)
}

/// Where the pty's own devpts instance comes from, for `Stdio::Tty`.
pub(crate) struct TtyMounts {
    pub slave: RawFd,
    /// The detached devpts mount the slave lives on (from [`crate::pty::open_pty`]).
    pub devpts: Option<RawFd>,
}

struct Builder {
    ops: Vec<MountOp>,
    desc: Vec<String>,
    held: Vec<std::os::fd::OwnedFd>,
}

impl Builder {
    fn push(
        &mut self,
        dest: &str,
        create: Create,
        kind: OpKind,
        ro: Option<bool>,
        desc: String,
    ) -> Result<(), SpawnError> {
        let dest_rel = RelPath::new(dest).ok_or_else(|| {
            SpawnError::Invalid(format!("mount destination {dest:?} contains NUL"))
        })?;
        self.ops.push(MountOp {
            dest: dest_rel,
            create,
            kind,
            remount_ro: ro,
        });
        self.desc.push(desc);
        Ok(())
    }

    fn fs(
        &mut self,
        dest: &str,
        fstype: &str,
        flags: libc::c_ulong,
        data: &str,
    ) -> Result<(), SpawnError> {
        let kind = OpKind::Mount {
            source: Some(cstr(fstype, "fstype")?),
            fstype: Some(cstr(fstype, "fstype")?),
            flags,
            data: if data.is_empty() {
                None
            } else {
                Some(cstr(data, "mount options")?)
            },
        };
        self.push(
            dest,
            Create::Dir,
            kind,
            None,
            format!("mount {fstype} on {dest}"),
        )
    }

    fn bind(
        &mut self,
        src: &str,
        dest: &str,
        create: Create,
        flags: libc::c_ulong,
        ro: Option<bool>,
    ) -> Result<(), SpawnError> {
        let kind = OpKind::Mount {
            source: Some(cstr(src, "bind source")?),
            fstype: None,
            flags: libc::MS_BIND | flags,
            data: None,
        };
        self.push(
            dest,
            create,
            kind,
            ro,
            format!("bind mount {src} on {dest}"),
        )
    }

    fn symlink(&mut self, target: &str, dest: &str) -> Result<(), SpawnError> {
        let create = Create::Symlink(cstr(target, "symlink target")?);
        self.push(
            dest,
            create,
            OpKind::CreateOnly,
            None,
            format!("symlink {dest} -> {target}"),
        )
    }
}

const NOSUID: libc::c_ulong = libc::MS_NOSUID;
const NSN: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

/// Builds the plan; returns it with the op descriptions (same indexes as `plan.ops`).
pub(crate) fn build(
    spec: &InitSpec,
    tty: Option<&TtyMounts>,
) -> Result<(RootfsPlan, Vec<String>), SpawnError> {
    let mut b = Builder {
        ops: Vec::new(),
        desc: Vec::new(),
        held: Vec::new(),
    };
    b.fs("/proc", "proc", NSN, "")?;
    b.fs(
        "/dev",
        "tmpfs",
        NOSUID | libc::MS_STRICTATIME,
        "mode=755,size=65536k",
    )?;
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        b.bind(
            &format!("/dev/{dev}"),
            &format!("/dev/{dev}"),
            Create::File,
            0,
            None,
        )?;
    }
    match tty.and_then(|t| t.devpts) {
        Some(mnt) => b.push(
            "/dev/pts",
            Create::Dir,
            OpKind::Attach(mnt),
            None,
            "attach the pty's devpts on /dev/pts".into(),
        )?,
        None => b.fs(
            "/dev/pts",
            "devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            &devpts_options(spec),
        )?,
    }
    b.symlink("pts/ptmx", "/dev/ptmx")?;
    b.fs("/dev/shm", "tmpfs", NSN, "mode=1777,size=65536k")?;
    b.fs("/dev/mqueue", "mqueue", NSN, "")?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        b.symlink(target, &format!("/dev/{name}"))?;
    }
    if let Some(t) = tty {
        b.push(
            "/dev/console",
            Create::File,
            OpKind::BindFd(t.slave),
            None,
            "bind the pty on /dev/console".into(),
        )?;
    }
    if spec.namespaces.net {
        b.fs("/sys", "sysfs", NSN | libc::MS_RDONLY, "")?;
    } else {
        // sysfs can only be mounted by the owner of the net namespace: bind the host's.
        b.bind("/sys", "/sys", Create::Dir, libc::MS_REC, Some(true))?;
    }
    user_mounts(&mut b, spec)?;
    b.push(
        &spec.cwd,
        Create::Dir,
        OpKind::CreateOnly,
        None,
        format!("create working directory {}", spec.cwd),
    )?;
    let (overlay_opts, overlay_cwd) = overlay_options(spec)?;
    let plan = RootfsPlan {
        merged: path_cstr(&spec.merged_dir, "merged_dir")?,
        overlay_opts,
        overlay_cwd,
        ops: b.ops,
        masked: spec
            .masked_paths
            .iter()
            .map(|p| cstr(p.as_str(), "masked path"))
            .collect::<Result<_, _>>()?,
        readonly: spec
            .readonly_paths
            .iter()
            .map(|p| cstr(p.as_str(), "read-only path"))
            .collect::<Result<_, _>>()?,
        read_only_root: spec.read_only,
        _held: b.held,
    };
    Ok((plan, b.desc))
}

/// `gid=5` (tty) only when that gid exists in the container's user namespace.
fn devpts_options(spec: &InitSpec) -> String {
    let tty_gid_mapped = match &spec.namespaces.user {
        None => true,
        Some(m) => m.container_id <= 5 && 5 < m.container_id.saturating_add(m.size),
    };
    let mut o = String::from("newinstance,ptmxmode=0666,mode=0620");
    if tty_gid_mapped {
        o.push_str(",gid=5");
    }
    o
}

fn user_mounts(b: &mut Builder, spec: &InitSpec) -> Result<(), SpawnError> {
    for m in &spec.mounts {
        let dest = m.destination.to_str().ok_or_else(|| {
            SpawnError::Invalid(format!(
                "mount destination {:?} is not UTF-8",
                m.destination
            ))
        })?;
        if !m.destination.is_absolute() {
            return Err(SpawnError::Invalid(format!(
                "mount destination {dest:?} is not absolute"
            )));
        }
        match &m.kind {
            MountKind::Bind { source, recursive } => {
                let (tree, is_dir) = super::bindsrc::open(source, *recursive, m.read_only)?;
                let create = if is_dir { Create::Dir } else { Create::File };
                let ro = if m.read_only { " (read-only)" } else { "" };
                b.push(
                    dest,
                    create,
                    OpKind::Attach(std::os::fd::AsRawFd::as_raw_fd(&tree)),
                    None,
                    format!("bind mount {} on {dest}{ro}", source.display()),
                )?;
                b.held.push(tree);
            }
            MountKind::Tmpfs { options } => {
                let (flags, data) = tmpfs_options(options, m.read_only);
                b.fs(dest, "tmpfs", flags, &data)?;
            }
        }
    }
    Ok(())
}

/// Splits `-o`-style options into mount flags and filesystem data. Default: nosuid,nodev.
pub(crate) fn tmpfs_options(options: &str, read_only: bool) -> (libc::c_ulong, String) {
    let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
    let mut data = Vec::new();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => flags |= libc::MS_RDONLY,
            "rw" => flags &= !libc::MS_RDONLY,
            "nosuid" => flags |= libc::MS_NOSUID,
            "suid" => flags &= !libc::MS_NOSUID,
            "nodev" => flags |= libc::MS_NODEV,
            "dev" => flags &= !libc::MS_NODEV,
            "noexec" => flags |= libc::MS_NOEXEC,
            "exec" => flags &= !libc::MS_NOEXEC,
            "noatime" => flags |= libc::MS_NOATIME,
            "strictatime" => flags |= libc::MS_STRICTATIME,
            o => data.push(o),
        }
    }
    if read_only {
        flags |= libc::MS_RDONLY;
    }
    (flags, data.join(","))
}

fn escape_layer(p: &Path) -> Result<String, SpawnError> {
    let s = p
        .to_str()
        .ok_or_else(|| SpawnError::Invalid(format!("layer path {p:?} is not UTF-8")))?;
    if s.contains(',') {
        return Err(SpawnError::Invalid(format!(
            "layer path {s:?} contains a comma"
        )));
    }
    Ok(s.replace(':', "\\:"))
}

fn overlay_string(spec: &InitSpec, base: Option<&Path>) -> Result<String, SpawnError> {
    let rel = |p: &Path| -> PathBuf {
        match base.and_then(|b| p.strip_prefix(b).ok()) {
            Some(r) => r.to_path_buf(),
            None => p.to_path_buf(),
        }
    };
    let lowers = spec
        .lower_dirs
        .iter()
        .map(|l| escape_layer(&rel(l)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut o = format!("lowerdir={}", lowers.join(":"));
    o.push_str(&format!(
        ",upperdir={}",
        escape_layer(&rel(&spec.upper_dir))?
    ));
    o.push_str(&format!(",workdir={}", escape_layer(&rel(&spec.work_dir))?));
    if spec.namespaces.user.is_some() {
        // Inside a user namespace overlayfs may only use user.* xattrs.
        o.push_str(",userxattr");
    }
    Ok(o)
}

fn common_parent(spec: &InitSpec) -> Option<PathBuf> {
    let mut all = spec
        .lower_dirs
        .iter()
        .chain([&spec.upper_dir, &spec.work_dir]);
    let mut common = all.next()?.parent()?.to_path_buf();
    for p in all {
        while !p.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    Some(common)
}

fn overlay_options(spec: &InitSpec) -> Result<(CString, Option<CString>), SpawnError> {
    if spec.lower_dirs.is_empty() {
        return Err(SpawnError::Invalid(
            "no rootfs layers (lower_dirs is empty)".into(),
        ));
    }
    let abs = overlay_string(spec, None)?;
    if abs.len() <= MAX_MOUNT_DATA {
        return Ok((cstr(abs, "overlay options")?, None));
    }
    let base = common_parent(spec).filter(|b| b != Path::new("/"));
    let rel = match &base {
        Some(b) => overlay_string(spec, Some(b))?,
        None => abs,
    };
    if rel.len() > MAX_MOUNT_DATA {
        return Err(SpawnError::Invalid(format!(
            "overlay options are {} bytes even with relative paths (limit {MAX_MOUNT_DATA}): too many layers",
            rel.len()
        )));
    }
    let cwd = base.map(|b| path_cstr(&b, "layer directory")).transpose()?;
    Ok((cstr(rel, "overlay options")?, cwd))
}

#[cfg(test)]
mod tests {
    use super::tmpfs_options;

    #[test]
    fn tmpfs_flags_split_from_data() {
        let (flags, data) = tmpfs_options("size=64m,noexec,mode=1777", false);
        assert_eq!(data, "size=64m,mode=1777");
        assert_ne!(flags & libc::MS_NOEXEC, 0);
        assert_ne!(flags & libc::MS_NODEV, 0);
        let (flags, _) = tmpfs_options("", true);
        assert_ne!(flags & libc::MS_RDONLY, 0);
    }
}
