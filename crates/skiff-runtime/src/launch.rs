//! Turns what the user asked for (`ContainerSpec`, `ExecSpec`) into what the
//! keeper launches: argv, env with Docker's defaults, uid/gid looked up in the
//! rootfs, capabilities, rlimits. Pure apart from reading the rootfs's
//! /etc/passwd and /etc/group.

use crate::keeper::proto::SeccompChoice;
use skiff_sys::caps::CapSet;
use skiff_types::{ApiError, ContainerSpec, ErrorKind, SeccompOption};
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A resolved user: ids plus supplementary groups and home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: String,
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, msg)
}

/// The directories a container's root filesystem is made of, topmost first: the image's
/// layers (top layer first), or the single `--rootfs` directory.
pub fn rootfs_dirs(spec: &ContainerSpec) -> Vec<PathBuf> {
    if spec.rootfs_layers.is_empty() {
        vec![PathBuf::from(&spec.rootfs)]
    } else {
        spec.rootfs_layers.iter().rev().map(PathBuf::from).collect()
    }
}

/// Reads a small file of the rootfs from the topmost directory that has it, refusing
/// symlinks (they could point at the host). A file a higher layer deleted (an overlay
/// whiteout, a character device) reads as empty.
fn read_rootfs_file(dirs: &[PathBuf], rel: &str) -> String {
    for dir in dirs {
        match std::fs::symlink_metadata(dir.join(rel)) {
            Ok(m) if m.file_type().is_file() && m.len() < (4 << 20) => {
                return std::fs::read_to_string(dir.join(rel)).unwrap_or_default()
            }
            Ok(_) => return String::new(),
            Err(_) => {}
        }
    }
    String::new()
}

/// Resolves `user[:group]` (names or numbers) as Docker does, in a single rootfs directory.
pub fn resolve_user(rootfs: &Path, user: Option<&str>) -> Result<User, ApiError> {
    resolve_user_in(&[rootfs.to_path_buf()], user)
}

/// Resolves `user[:group]` in a rootfs made of `dirs` (topmost first, see [`rootfs_dirs`]).
pub fn resolve_user_in(dirs: &[PathBuf], user: Option<&str>) -> Result<User, ApiError> {
    let rootfs = dirs;
    let spec = user.unwrap_or("0");
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_rootfs_file(rootfs, "etc/passwd");
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && (f[0] == u || f[2] == u));
    // A numeric uid without a passwd entry runs with gid 0, as Docker does (`-u 1000` -> gid=0).
    let (uid, mut gid, home, name) = match (u.parse::<u32>(), &entry) {
        (_, Some(f)) => (
            f[2].parse()
                .map_err(|_| invalid(format!("bad uid in /etc/passwd for {u}")))?,
            f[3].parse().unwrap_or(0),
            f[5].to_string(),
            f[0].to_string(),
        ),
        (Ok(n), None) => (n, 0, "/".to_string(), String::new()),
        (Err(_), None) => {
            return Err(invalid(format!(
                "unable to find user {u}: no matching entries in passwd file"
            )))
        }
    };
    let group = read_rootfs_file(rootfs, "etc/group");
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let groups = if name.is_empty() {
        Vec::new()
    } else {
        group
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .collect()
    };
    let home = if home.is_empty() {
        "/".to_string()
    } else {
        home
    };
    Ok(User {
        uid,
        gid,
        groups,
        home,
    })
}

/// The container's environment: Docker's defaults, then the user's values.
pub fn environment(user_env: &[String], hostname: &str, home: &str, tty: bool) -> Vec<String> {
    let mut env: Vec<String> = vec![DEFAULT_PATH.to_string(), format!("HOSTNAME={hostname}")];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    env.push(format!("HOME={home}"));
    for kv in user_env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    env
}

/// The capability set after `--cap-add`/`--cap-drop`.
pub fn capabilities(spec: &ContainerSpec) -> Result<CapSet, ApiError> {
    CapSet::docker_default()
        .apply_changes(&spec.cap_add, &spec.cap_drop)
        .map_err(|e| invalid(e.to_string()))
}

/// Validates a seccomp option and turns it into the keeper's choice.
pub fn seccomp_choice(opt: &SeccompOption) -> Result<SeccompChoice, ApiError> {
    Ok(match opt {
        SeccompOption::Default => SeccompChoice::Default,
        SeccompOption::Unconfined => SeccompChoice::Unconfined,
        SeccompOption::Profile(text) => {
            skiff_sys::seccomp::SeccompProfile::from_docker_json(text)
                .map_err(|e| invalid(format!("invalid seccomp profile: {e}")))?;
            SeccompChoice::Profile(text.clone())
        }
    })
}

/// Open files: as many as the host allows (root here lacks CAP_SYS_RESOURCE,
/// so asking for more than the current hard limit would fail).
pub fn default_rlimits() -> Vec<(i32, u64, u64)> {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((1024, 1024));
    let want = hard.min(1 << 20);
    vec![(libc::RLIMIT_NOFILE as i32, want, want)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nstaff:x:50:www,other\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn users_resolve_by_name_and_number() {
        let r = rootfs();
        assert_eq!(resolve_user(r.path(), None).unwrap().home, "/root");
        let www = resolve_user(r.path(), Some("www")).unwrap();
        assert_eq!((www.uid, www.gid, www.groups.clone()), (33, 33, vec![50]));
        let n = resolve_user(r.path(), Some("1000:staff")).unwrap();
        assert_eq!((n.uid, n.gid), (1000, 50));
        assert!(resolve_user(r.path(), Some("nobody")).is_err());
        assert!(resolve_user(r.path(), Some("www:nogroup")).is_err());
    }

    #[test]
    fn env_defaults_are_overridable() {
        let env = environment(&["PATH=/x".into(), "A=1".into()], "h", "/root", true);
        assert!(env.contains(&"PATH=/x".to_string()));
        assert!(!env.iter().any(|e| e == DEFAULT_PATH));
        assert!(env.contains(&"TERM=xterm".to_string()));
        assert!(env.contains(&"HOSTNAME=h".to_string()));
    }
}
