//! What `launch_from_spec` checks and translates: fields the keeper cannot honour, the
//! namespaces and id mappings, bundle mounts, and the capability mask.

use super::{invalid, KEEPER_MOUNTS, REQUIRED_NAMESPACES};
use crate::keeper::proto::LaunchMount;
use oci_spec::runtime::{LinuxCapabilities, LinuxIdMapping, LinuxNamespaceType as Ns, Spec};
use skiff_sys::caps::CapSet;
use skiff_types::ApiError;
use std::path::Path;

/// Fields the keeper has no way to honour: an error names the first one set.
pub(super) fn refuse_unsupported(oci: &Spec) -> Result<(), ApiError> {
    let p = oci.process().as_ref();
    let l = oci.linux().as_ref();
    let nonempty = |v: Option<&String>| v.is_some_and(|s| !s.is_empty());
    let propagation = l.and_then(|l| l.rootfs_propagation().as_deref());
    let checks = [
        ("hooks", oci.hooks().is_some()),
        ("domainname", nonempty(oci.domainname().as_ref())),
        (
            "process.user.umask",
            p.is_some_and(|p| p.user().umask().is_some()),
        ),
        (
            "process.apparmorProfile",
            nonempty(p.and_then(|p| p.apparmor_profile().as_ref())),
        ),
        (
            "process.selinuxLabel",
            nonempty(p.and_then(|p| p.selinux_label().as_ref())),
        ),
        (
            "process.oomScoreAdj",
            p.is_some_and(|p| p.oom_score_adj().is_some()),
        ),
        (
            "process.ioPriority",
            p.is_some_and(|p| p.io_priority().is_some()),
        ),
        (
            "process.scheduler",
            p.is_some_and(|p| p.scheduler().is_some()),
        ),
        (
            "process.execCPUAffinity",
            p.is_some_and(|p| p.exec_cpu_affinity().is_some()),
        ),
        (
            "process.capabilities.ambient",
            p.and_then(|p| p.capabilities().as_ref())
                .and_then(|c| c.ambient().as_ref())
                .is_some_and(|a| !a.is_empty()),
        ),
        (
            "linux.seccomp (skiff takes Docker-format profiles)",
            l.is_some_and(|l| l.seccomp().is_some()),
        ),
        (
            "linux.sysctl",
            l.and_then(|l| l.sysctl().as_ref())
                .is_some_and(|s| !s.is_empty()),
        ),
        (
            "linux.devices",
            l.and_then(|l| l.devices().as_ref())
                .is_some_and(|d| !d.is_empty()),
        ),
        ("linux.intelRdt", l.is_some_and(|l| l.intel_rdt().is_some())),
        (
            "linux.personality",
            l.is_some_and(|l| l.personality().is_some()),
        ),
        (
            "linux.timeOffsets",
            l.is_some_and(|l| l.time_offsets().is_some()),
        ),
        (
            "linux.mountLabel",
            nonempty(l.and_then(|l| l.mount_label().as_ref())),
        ),
        (
            "linux.rootfsPropagation (private only)",
            propagation.is_some_and(|s| !matches!(s, "" | "private" | "rprivate")),
        ),
    ];
    if let Some((field, _)) = checks.iter().find(|(_, set)| *set) {
        return Err(invalid(format!(
            "{field} is not supported by skiff's runtime"
        )));
    }
    let defaults = [
        (
            "linux.maskedPaths",
            l.and_then(|l| l.masked_paths().as_ref()),
            skiff_sys::spawn::default_masked_paths(),
        ),
        (
            "linux.readonlyPaths",
            l.and_then(|l| l.readonly_paths().as_ref()),
            skiff_sys::spawn::default_readonly_paths(),
        ),
    ];
    for (field, asked, keeper) in defaults {
        if let Some(extra) = asked.into_iter().flatten().find(|p| !keeper.contains(p)) {
            return Err(invalid(format!(
                "{field}: {extra} is not supported (the keeper applies runc's default list)"
            )));
        }
    }
    Ok(())
}

/// (net namespace?, user namespace mapping) after checking the keeper's fixed namespaces.
pub(super) fn namespaces(
    linux: &oci_spec::runtime::Linux,
) -> Result<(bool, Option<(u32, u32)>), ApiError> {
    let list = linux.namespaces().as_deref().unwrap_or_default();
    for ns in list {
        if let Some(path) = ns.path() {
            return Err(invalid(format!(
                "linux.namespaces: joining the {} namespace at {} is not supported",
                ns.typ(),
                path.display()
            )));
        }
        if ns.typ() == Ns::Time {
            return Err(invalid(
                "linux.namespaces: time namespaces are not supported",
            ));
        }
    }
    let has = |t: Ns| list.iter().any(|ns| ns.typ() == t);
    if let Some(missing) = REQUIRED_NAMESPACES.iter().find(|t| !has(**t)) {
        return Err(invalid(format!(
            "linux.namespaces: a {missing} namespace is required (skiff always creates pid, mount, uts, ipc and cgroup namespaces)"
        )));
    }
    let uid = single_mapping(linux.uid_mappings().as_deref(), "linux.uidMappings")?;
    let gid = single_mapping(linux.gid_mappings().as_deref(), "linux.gidMappings")?;
    let userns =
        match (has(Ns::User), uid, gid) {
            (false, None, None) => None,
            (true, Some(u), Some(g)) if u == g => Some(u),
            (true, Some(_), Some(_)) => {
                return Err(invalid(
                    "linux.uidMappings and linux.gidMappings must be equal",
                ))
            }
            (true, _, _) => return Err(invalid(
                "linux.namespaces: a user namespace needs linux.uidMappings and linux.gidMappings",
            )),
            (false, _, _) => {
                return Err(invalid(
                    "linux.uidMappings/gidMappings are set without a user namespace",
                ))
            }
        };
    Ok((has(Ns::Network), userns))
}

fn single_mapping(
    maps: Option<&[LinuxIdMapping]>,
    field: &str,
) -> Result<Option<(u32, u32)>, ApiError> {
    match maps.unwrap_or_default() {
        [] => Ok(None),
        [m] if m.container_id() == 0 => Ok(Some((m.host_id(), m.size()))),
        _ => Err(invalid(format!(
            "{field}: only one mapping starting at container id 0 is supported"
        ))),
    }
}

/// The user's bind and tmpfs mounts; the keeper's own (/proc, /dev, ...) are skipped.
pub(super) fn mounts(oci: &Spec) -> Result<Vec<LaunchMount>, ApiError> {
    let mut out = Vec::new();
    for (i, m) in oci.mounts().iter().flatten().enumerate() {
        let destination = m.destination().clone();
        if KEEPER_MOUNTS.iter().any(|d| Path::new(d) == destination) {
            continue;
        }
        if !destination.is_absolute() {
            return Err(invalid(format!(
                "mounts[{i}].destination must be absolute, got {destination:?}"
            )));
        }
        let options = m.options().clone().unwrap_or_default();
        let typ = m.typ().as_deref().unwrap_or_default();
        if typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind") {
            let source = m.source().clone().ok_or_else(|| {
                invalid(format!("mounts[{i}].source is missing for a bind mount"))
            })?;
            let read_only = options.iter().any(|o| o == "ro");
            let recursive = options.iter().any(|o| o == "rbind");
            out.push(LaunchMount::Bind {
                source,
                destination,
                read_only,
                recursive,
            });
        } else if typ == "tmpfs" {
            let options = options.join(",");
            out.push(LaunchMount::Tmpfs {
                destination,
                options,
            });
        } else {
            return Err(invalid(format!(
                "mounts[{i}]: a {typ:?} mount on {} is not supported (bind and tmpfs only)",
                destination.display()
            )));
        }
    }
    Ok(out)
}

/// One mask for the bounding, effective and permitted sets: their intersection, so the
/// container never holds a capability one of them leaves out. Inheritable is cleared.
pub(super) fn capability_mask(caps: Option<&LinuxCapabilities>) -> Result<u64, ApiError> {
    let Some(caps) = caps else {
        return Ok(0);
    };
    let sets = [
        ("bounding", caps.bounding()),
        ("effective", caps.effective()),
        ("permitted", caps.permitted()),
    ];
    let mut mask = u64::MAX;
    for (field, set) in sets {
        let mut bits = CapSet::empty();
        for cap in set.iter().flatten() {
            let name = format!("CAP_{cap}");
            bits.insert(CapSet::parse_name(&name).map_err(|_| {
                invalid(format!(
                    "unknown capability {name} in process.capabilities.{field}"
                ))
            })?);
        }
        mask &= bits.bits();
    }
    Ok(mask)
}
