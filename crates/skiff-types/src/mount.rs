//! Mounts a container asks for (`MountSpec`: a named or anonymous volume, a bind of a host
//! path, a tmpfs) and the named volumes they refer to (`Volume`, and the API bodies around it).
//!
//! The `-v`, `--mount` and `--tmpfs` flag grammars (Docker's) are parsed in [`crate::mount_parse`];
//! [`validate_mounts`] is the check the daemon repeats on whatever arrives over the API.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A skiff-managed volume (`ROOT/volumes/<name>/_data`).
    #[default]
    Volume,
    /// A host path.
    Bind,
    /// A fresh tmpfs.
    Tmpfs,
}

impl std::fmt::Display for MountType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MountType::Volume => "volume",
            MountType::Bind => "bind",
            MountType::Tmpfs => "tmpfs",
        })
    }
}

/// One mount of `skiff run -v/--mount/--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MountSpec {
    #[serde(rename = "type")]
    pub kind: MountType,
    /// bind: an absolute host path; volume: the volume's name, empty for a new anonymous
    /// volume (the daemon fills in the name it generated); tmpfs: empty.
    pub source: String,
    /// Absolute path inside the container (resolved inside its rootfs).
    pub target: String,
    pub read_only: bool,
    /// bind: only the source mount itself, not the mounts below it (`bind-recursive=disabled`).
    pub non_recursive: bool,
    /// volume: do not copy the image's content at `target` into a new, empty volume.
    pub no_copy: bool,
    /// volume: labels of the volume if this mount creates it.
    pub labels: BTreeMap<String, String>,
    /// tmpfs: mount options (`size=64m`, `mode=1777`, `exec`, ...), Docker's defaults first.
    pub tmpfs_options: Vec<String>,
    /// volume: set by the daemon when it generated the name (removed by `rm -v` and `--rm`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
}

/// A named volume (`skiff volume inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    /// Always `local`: a directory on this host.
    pub driver: String,
    /// The host directory containers see (`ROOT/volumes/<name>/_data`).
    pub mountpoint: String,
    /// Nanoseconds since the epoch.
    pub created_at: u64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Made for one container (`-v /path`), without a name the user chose.
    #[serde(default)]
    pub anonymous: bool,
}

/// `POST /v1/volumes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeCreateRequest {
    /// Empty: a generated (anonymous-style, 64 hex) name.
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// `POST /v1/volumes/prune`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VolumePruneResponse {
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() >= 2
        && name.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The error for a bad volume name, worded as Docker's.
pub fn volume_name_error(name: &str) -> String {
    format!(
        "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )
}

/// Checks a container's mounts as a whole: absolute targets other than `/`, no target twice,
/// sources that fit their type. The daemon runs it on every spec it receives.
pub fn validate_mounts(mounts: &[MountSpec]) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    for m in mounts {
        let target = clean_target(&m.target)?;
        if seen.contains(&target) {
            return Err(format!("Duplicate mount point: {target}"));
        }
        seen.push(target);
        match m.kind {
            MountType::Bind => {
                if m.source.is_empty() {
                    return Err(format!(
                        "invalid mount config for type \"bind\": field Source must not be empty (target {})",
                        m.target
                    ));
                }
                if !m.source.starts_with('/') {
                    return Err(format!(
                        "invalid mount config for type \"bind\": invalid mount path: {:?} mount path must be absolute",
                        m.source
                    ));
                }
            }
            MountType::Volume => {
                if !m.source.is_empty() && !valid_volume_name(&m.source) {
                    return Err(volume_name_error(&m.source));
                }
            }
            MountType::Tmpfs => {
                if !m.source.is_empty() {
                    return Err(
                        "invalid mount config for type \"tmpfs\": field Source must be empty"
                            .into(),
                    );
                }
            }
        }
        if [&m.source, &m.target]
            .iter()
            .any(|s| s.contains('\0') || s.contains(','))
        {
            return Err(format!(
                "invalid mount {}:{}: paths must not contain NUL or ','",
                m.source, m.target
            ));
        }
    }
    Ok(())
}

/// `target` made canonical (`//a/./b/` -> `/a/b`); an error unless absolute and not `/`.
pub fn clean_target(target: &str) -> Result<String, String> {
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount config: invalid mount path: {target:?} mount path must be absolute"
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err("invalid mount config: destination can't be '/'".into());
    }
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_follow_docker() {
        assert!(valid_volume_name("data"));
        assert!(valid_volume_name("a.b-c_d9"));
        assert!(!valid_volume_name("x"));
        assert!(!valid_volume_name("-x"));
        assert!(!valid_volume_name(".hidden"));
        assert!(!valid_volume_name("a/b"));
        assert!(!valid_volume_name(""));
    }

    #[test]
    fn targets_are_cleaned_and_checked() {
        assert_eq!(clean_target("//a/./b/").unwrap(), "/a/b");
        assert_eq!(clean_target("/a/../b").unwrap(), "/b");
        assert!(clean_target("/").is_err());
        assert!(clean_target("/..").is_err());
        assert!(clean_target("rel").is_err());
    }

    #[test]
    fn validation_catches_duplicates_and_bad_sources() {
        let vol = |s: &str, t: &str| MountSpec {
            source: s.into(),
            target: t.into(),
            ..Default::default()
        };
        assert!(validate_mounts(&[vol("a1", "/x"), vol("", "/y")]).is_ok());
        let dup = validate_mounts(&[vol("a1", "/x"), vol("b1", "/x/")]).unwrap_err();
        assert!(dup.contains("Duplicate mount point: /x"), "{dup}");
        assert!(validate_mounts(&[vol("bad/name", "/x")]).is_err());
        let bind = MountSpec {
            kind: MountType::Bind,
            source: "rel".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert!(validate_mounts(&[bind]).unwrap_err().contains("absolute"));
        let tmpfs = MountSpec {
            kind: MountType::Tmpfs,
            source: "x".into(),
            target: "/t".into(),
            ..Default::default()
        };
        assert!(validate_mounts(&[tmpfs]).is_err());
    }
}
