//! Docker's three mount grammars, parsed into [`MountSpec`]s (pure; the CLI's cwd is passed in):
//!
//! - `-v [SOURCE:]TARGET[:MODE]`: SOURCE `/abs` or `./rel` is a bind, a name is a named volume,
//!   none is an anonymous volume; MODE is a comma list of `ro|rw`, `nocopy`, `z|Z` (SELinux
//!   relabelling: accepted, nothing to do without SELinux), `private|rprivate` and
//!   `consistent|cached|delegated` (macOS hints, ignored as Docker does on Linux).
//! - `--mount type=bind|volume|tmpfs,source=..,target=..,readonly,...` with Docker's keys; an
//!   unknown key is an error (`unexpected key 'x' in 'x=1'`), as is a key of another type.
//! - `--tmpfs TARGET[:OPTIONS]`, OPTIONS as `mount -o` (`size=64m,mode=1777,exec`).
//!
//! tmpfs defaults are Docker's: `noexec,nosuid,nodev`, which later options may override.
//! Propagation other than private is refused: every container mount namespace is rprivate.

use crate::mount::{clean_target, valid_volume_name, volume_name_error, MountSpec, MountType};
use crate::resources::parse_size;
use std::collections::BTreeMap;
use std::path::Path;

/// Docker's tmpfs defaults, before the user's options.
pub const TMPFS_DEFAULTS: [&str; 3] = ["noexec", "nosuid", "nodev"];

const TMPFS_FLAGS: [&str; 14] = [
    "ro",
    "rw",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "strictatime",
];
const TMPFS_KEYS: [&str; 8] = [
    "size",
    "mode",
    "nr_inodes",
    "nr_blocks",
    "uid",
    "gid",
    "huge",
    "mpol",
];

fn host_path(source: &str, cwd: &Path) -> String {
    let joined = if source.starts_with('/') {
        Path::new(source).to_path_buf()
    } else {
        cwd.join(source)
    };
    // Drop `.` components lexically; `..` stays (it means what it means on the host).
    let clean: std::path::PathBuf = joined.components().collect();
    clean.to_string_lossy().into_owned()
}

/// `-v [SOURCE:]TARGET[:MODE]`.
pub fn parse_volume_flag(spec: &str, cwd: &Path) -> Result<MountSpec, String> {
    let bad = |why: &str| format!("invalid volume specification: {spec:?}: {why}");
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(bad("too many colons")),
    };
    if parts.len() >= 2 && source.is_empty() {
        return Err(bad("empty source"));
    }
    let mut m = MountSpec {
        target: clean_target(target).map_err(|e| bad(&e))?,
        ..Default::default()
    };
    if source.starts_with('/') || source.starts_with('.') {
        m.kind = MountType::Bind;
        m.source = host_path(source, cwd);
    } else if !source.is_empty() {
        if !valid_volume_name(source) {
            return Err(volume_name_error(source));
        }
        m.source = source.to_string();
    }
    let mut rw_seen = false;
    for opt in mode.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" | "rw" => {
                if rw_seen {
                    return Err(bad("ro/rw given twice"));
                }
                rw_seen = true;
                m.read_only = opt == "ro";
            }
            "nocopy" if m.kind == MountType::Volume => m.no_copy = true,
            "z" | "Z" | "private" | "rprivate" | "consistent" | "cached" | "delegated" => {}
            "shared" | "rshared" | "slave" | "rslave" => {
                return Err(bad(&format!(
                    "propagation {opt} is not supported (container mounts are private)"
                )))
            }
            other => return Err(bad(&format!("invalid mode: {other}"))),
        }
    }
    Ok(m)
}

fn bool_value(key: &str, value: Option<&str>, field: &str) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("1") | Some("true") => Ok(true),
        Some("0") | Some("false") => Ok(false),
        Some(_) => Err(format!("invalid value for {key}: {field:?}")),
    }
}

/// `--mount KEY=VALUE,...`.
pub fn parse_mount_flag(spec: &str, cwd: &Path) -> Result<MountSpec, String> {
    let mut kind = None;
    let (mut source, mut target) = (None, None);
    let mut m = MountSpec::default();
    // Options only some types take, remembered to refuse them on the others.
    let mut typed: Vec<(MountType, String)> = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need =
            || value.ok_or_else(|| format!("invalid field {field:?} must be a key=value pair"));
        match key.as_str() {
            "type" => {
                kind = Some(match need()? {
                    "bind" => MountType::Bind,
                    "volume" => MountType::Volume,
                    "tmpfs" => MountType::Tmpfs,
                    other => {
                        return Err(format!(
                            "invalid mount type {other:?}: want bind, volume or tmpfs"
                        ))
                    }
                })
            }
            "source" | "src" => source = Some(need()?.to_string()),
            "target" | "destination" | "dst" => target = Some(need()?.to_string()),
            "readonly" | "ro" => m.read_only = bool_value(&key, value, field)?,
            "consistency" => {
                need()?;
            }
            "bind-propagation" => {
                let v = need()?;
                if !matches!(v, "private" | "rprivate") {
                    return Err(format!(
                        "bind-propagation={v} is not supported (container mounts are private)"
                    ));
                }
                typed.push((MountType::Bind, key.clone()));
            }
            "bind-recursive" => {
                m.non_recursive = match need()? {
                    "enabled" | "readonly" => false,
                    "disabled" => true,
                    v => {
                        return Err(format!(
                        "invalid value for bind-recursive: {v:?} (enabled, disabled or readonly)"
                    ))
                    }
                };
                typed.push((MountType::Bind, key.clone()));
            }
            "bind-nonrecursive" => {
                m.non_recursive = bool_value(&key, value, field)?;
                typed.push((MountType::Bind, key.clone()));
            }
            "volume-nocopy" => {
                m.no_copy = bool_value(&key, value, field)?;
                typed.push((MountType::Volume, key.clone()));
            }
            "volume-label" => {
                let v = need()?;
                let (k, lv) = v.split_once('=').unwrap_or((v, ""));
                if k.is_empty() {
                    return Err(format!("invalid volume-label {v:?}: empty key"));
                }
                m.labels.insert(k.to_string(), lv.to_string());
                typed.push((MountType::Volume, key.clone()));
            }
            "volume-driver" => {
                let v = need()?;
                if v != "local" {
                    return Err(format!("volume driver {v:?} is not supported (local only)"));
                }
                typed.push((MountType::Volume, key.clone()));
            }
            "volume-opt" | "volume-subpath" => {
                return Err(format!("{key} is not supported by skiff's local volumes"))
            }
            "tmpfs-size" => {
                let v = need()?;
                let bytes = parse_size(v).map_err(|e| format!("invalid tmpfs-size {v:?}: {e}"))?;
                m.tmpfs_options.push(format!("size={bytes}"));
                typed.push((MountType::Tmpfs, key.clone()));
            }
            "tmpfs-mode" => {
                let v = need()?;
                let mode = u32::from_str_radix(v.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("invalid tmpfs-mode {v:?}: want octal permissions"))?;
                m.tmpfs_options.push(format!("mode={mode:o}"));
                typed.push((MountType::Tmpfs, key.clone()));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    m.kind = kind.unwrap_or_default();
    if let Some((t, key)) = typed.iter().find(|(t, _)| *t != m.kind) {
        return Err(format!(
            "cannot use {key} (a {t} option) with mount type '{}'",
            m.kind
        ));
    }
    let target = target.ok_or("target is required")?;
    m.target = clean_target(&target)?;
    let source = source.unwrap_or_default();
    match m.kind {
        MountType::Bind if source.is_empty() => {
            return Err("source is required when specifying bind mount".into())
        }
        MountType::Bind => m.source = host_path(&source, cwd),
        MountType::Volume if !source.is_empty() && !valid_volume_name(&source) => {
            return Err(volume_name_error(&source))
        }
        MountType::Volume => m.source = source,
        MountType::Tmpfs if !source.is_empty() => {
            return Err("source is not allowed for tmpfs mounts".into())
        }
        MountType::Tmpfs => {
            let mut opts: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
            opts.append(&mut m.tmpfs_options);
            m.tmpfs_options = opts;
        }
    }
    Ok(m)
}

/// `--tmpfs TARGET[:OPTIONS]`.
pub fn parse_tmpfs_flag(spec: &str) -> Result<MountSpec, String> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    let mut opts: Vec<String> = TMPFS_DEFAULTS.iter().map(|s| s.to_string()).collect();
    for o in options.split(',').filter(|o| !o.is_empty()) {
        let key = o.split('=').next().unwrap_or(o);
        let ok = if o.contains('=') {
            TMPFS_KEYS.contains(&key)
        } else {
            TMPFS_FLAGS.contains(&o)
        };
        if !ok {
            return Err(format!("invalid tmpfs option {o:?} in --tmpfs {spec:?}"));
        }
        opts.push(o.to_string());
    }
    Ok(MountSpec {
        kind: MountType::Tmpfs,
        target: clean_target(target).map_err(|e| format!("invalid --tmpfs {spec:?}: {e}"))?,
        read_only: opts
            .iter()
            .rev()
            .find(|o| *o == "ro" || *o == "rw")
            .is_some_and(|o| o == "ro"),
        tmpfs_options: opts,
        labels: BTreeMap::new(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cwd() -> &'static Path {
        Path::new("/work")
    }

    #[test]
    fn volume_flag_forms() {
        let m = parse_volume_flag("/data", cwd()).unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str()),
            (MountType::Volume, "", "/data")
        );
        let m = parse_volume_flag("db:/var/lib/db:ro,nocopy", cwd()).unwrap();
        assert_eq!(m.source, "db");
        assert!(m.read_only && m.no_copy);
        let m = parse_volume_flag("/srv:/srv:rw,z", cwd()).unwrap();
        assert_eq!((m.kind, m.read_only), (MountType::Bind, false));
        let m = parse_volume_flag("./conf:/etc/app", cwd()).unwrap();
        assert_eq!(m.source, "/work/conf");
        assert!(parse_volume_flag("a:b:c:d", cwd()).is_err());
        assert!(parse_volume_flag("db:relative", cwd()).is_err());
        assert!(parse_volume_flag("db:/", cwd())
            .unwrap_err()
            .contains("can't be '/'"));
        assert!(parse_volume_flag("bad*name:/x", cwd())
            .unwrap_err()
            .contains("invalid characters"));
        assert!(parse_volume_flag("db:/x:bogus", cwd())
            .unwrap_err()
            .contains("invalid mode: bogus"));
        assert!(parse_volume_flag("db:/x:ro,rw", cwd()).is_err());
        assert!(parse_volume_flag("/h:/x:nocopy", cwd()).is_err());
        assert!(parse_volume_flag("db:/x:shared", cwd()).is_err());
    }

    #[test]
    fn mount_flag_keys() {
        let m = parse_mount_flag("type=bind,source=/srv,target=/data,readonly", cwd()).unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.read_only),
            (MountType::Bind, "/srv", "/data", true)
        );
        let m = parse_mount_flag("src=db,dst=/d,volume-label=a=b,volume-nocopy", cwd()).unwrap();
        assert_eq!(m.kind, MountType::Volume);
        assert_eq!(m.labels.get("a").map(String::as_str), Some("b"));
        assert!(m.no_copy);
        let m =
            parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777", cwd()).unwrap();
        assert_eq!(
            m.tmpfs_options,
            ["noexec", "nosuid", "nodev", "size=1048576", "mode=1777"]
        );
        let e = parse_mount_flag("type=bind,source=/s,target=/t,bogus=1", cwd()).unwrap_err();
        assert_eq!(e, "unexpected key 'bogus' in 'bogus=1'");
        assert_eq!(
            parse_mount_flag("type=volume,src=v1", cwd()).unwrap_err(),
            "target is required"
        );
        assert!(parse_mount_flag("type=bind,target=/t", cwd())
            .unwrap_err()
            .contains("source is required"));
        assert!(
            parse_mount_flag("type=bind,src=/s,dst=/t,volume-nocopy", cwd())
                .unwrap_err()
                .contains("cannot use volume-nocopy")
        );
        assert!(parse_mount_flag("type=nfs,dst=/t", cwd()).is_err());
        assert!(parse_mount_flag("type=bind,src=/s,dst=/t,readonly=maybe", cwd()).is_err());
        assert!(parse_mount_flag("type=tmpfs,src=x,dst=/t", cwd()).is_err());
    }

    #[test]
    fn tmpfs_flag() {
        let m = parse_tmpfs_flag("/run:size=64m,mode=1777,exec").unwrap();
        assert_eq!(m.target, "/run");
        assert_eq!(
            m.tmpfs_options,
            ["noexec", "nosuid", "nodev", "size=64m", "mode=1777", "exec"]
        );
        assert!(!m.read_only);
        assert!(parse_tmpfs_flag("/run:ro").unwrap().read_only);
        assert!(parse_tmpfs_flag("/run:bogus").is_err());
        assert!(parse_tmpfs_flag("run").is_err());
    }
}
