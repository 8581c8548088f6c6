//! The user's mounts (volumes, binds, tmpfs) as OCI `mounts` entries, appended after the
//! defaults, so `config.json` says what runc would need to run the same container:
//! a volume is a bind of its `_data` directory; binds are `rbind` (or `bind` when
//! non-recursive) and `rprivate`, plus `ro` when read-only; a tmpfs carries its options
//! (Docker's `noexec,nosuid,nodev` first). `checks::mounts` reads them back for the keeper.

use crate::engine::HostMount;
use oci_spec::runtime::{Mount, MountBuilder, Spec};
use skiff_types::MountType;

fn to_oci(m: &HostMount) -> Option<Mount> {
    let (typ, source, options) = match m.spec.kind {
        MountType::Bind | MountType::Volume => {
            let mut o = vec![
                if m.spec.non_recursive {
                    "bind"
                } else {
                    "rbind"
                }
                .to_string(),
                "rprivate".to_string(),
            ];
            if m.spec.read_only {
                o.push("ro".into());
            }
            ("bind", m.source.clone(), o)
        }
        MountType::Tmpfs => {
            let mut o = m.spec.tmpfs_options.clone();
            if m.spec.read_only && !o.iter().any(|x| x == "ro") {
                o.push("ro".into());
            }
            ("tmpfs", "tmpfs".to_string(), o)
        }
    };
    MountBuilder::default()
        .destination(&m.spec.target)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .ok()
}

/// Appends the user's mounts to `spec.mounts`.
pub(crate) fn add_user_mounts(spec: &mut Spec, mounts: &[HostMount]) {
    let mut all = spec.mounts().clone().unwrap_or_default();
    all.extend(mounts.iter().filter_map(to_oci));
    spec.set_mounts(Some(all));
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::mount::MountSpec;

    #[test]
    fn volumes_binds_and_tmpfs_become_oci_mounts() {
        let vol = HostMount {
            source: "/var/lib/skiff/volumes/v1/_data".into(),
            spec: MountSpec {
                source: "v1".into(),
                target: "/data".into(),
                read_only: true,
                ..Default::default()
            },
        };
        let tmp = HostMount {
            source: String::new(),
            spec: MountSpec {
                kind: MountType::Tmpfs,
                target: "/t".into(),
                tmpfs_options: vec!["noexec".into(), "size=1m".into()],
                ..Default::default()
            },
        };
        let mut spec = Spec::default();
        spec.set_mounts(None);
        add_user_mounts(&mut spec, &[vol, tmp]);
        let m = spec.mounts().clone().unwrap();
        assert_eq!(m[0].typ().as_deref(), Some("bind"));
        assert_eq!(m[0].options().clone().unwrap(), ["rbind", "rprivate", "ro"]);
        assert_eq!(
            m[1].source().as_deref(),
            Some(std::path::Path::new("tmpfs"))
        );
        assert_eq!(m[1].options().clone().unwrap(), ["noexec", "size=1m"]);
    }
}
