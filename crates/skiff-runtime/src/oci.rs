//! skiff's runtime input as an OCI runtime spec (`config.json`, oci-spec's types).
//!
//! `build_spec` turns what the user asked for (`ContainerSpec`) into the OCI spec that
//! runc or crun would run; `launch_from_spec` derives the keeper's `LaunchSpec` from an OCI
//! spec, so `skiff run` and any OCI bundle (a later `skiff oci run --bundle DIR`, via
//! `parse_config`) go through one function. What the keeper cannot honour is refused with the
//! field's name, never dropped silently.
//!
//! Fixed by the keeper whatever the spec says (and so checked, not read): it always creates
//! pid, mount, uts, ipc and cgroup namespaces; mounts /proc, /dev (tmpfs plus the null, zero,
//! full, random, urandom and tty binds), /dev/pts, /dev/shm, /dev/mqueue and a read-only /sys;
//! masks runc's default paths; applies one capability mask to the bounding, effective and
//! permitted sets and clears inheritable and ambient.
//!
//! Seccomp: `linux.seccomp` stays `None` and skiff's choice travels beside the spec as a
//! `SeccompChoice`. The keeper compiles Docker-format profiles itself (resolving their
//! `includes`/`excludes` by capability and architecture at compile time, and caching the BPF
//! per profile); flattening that into OCI's `LinuxSeccomp` would lose those rules and the
//! keeper would have to compile a second format.

mod checks;
mod mounts;

pub(crate) use mounts::add_user_mounts;

use crate::keeper::proto::{LaunchSpec, SeccompChoice, StdioMode};
use crate::launch;
use crate::record::ContainerDir;
use oci_spec::runtime::{
    get_default_mounts, Capabilities, Capability, LinuxBuilder, LinuxCapabilities, LinuxCpuBuilder,
    LinuxIdMappingBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType as Ns,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, PosixRlimitBuilder, PosixRlimitType as Rl,
    ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use skiff_sys::caps::CapSet;
use skiff_sys::cgroup::Resources;
use skiff_types::{ApiError, ContainerSpec, ErrorKind, NetworkMode};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The OCI runtime-spec version `build_spec` writes.
pub const OCI_VERSION: &str = "1.0.2";
/// A label that turns `noNewPrivileges` off.
pub const ALLOW_NEW_PRIVILEGES_LABEL: &str = "skiff.allow-new-privileges";
/// Mount destinations the keeper always sets up itself; `launch_from_spec` skips them.
const KEEPER_MOUNTS: [&str; 7] = [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
    "/sys/fs/cgroup",
];
/// Namespaces the keeper always creates.
const REQUIRED_NAMESPACES: [Ns; 5] = [Ns::Pid, Ns::Mount, Ns::Uts, Ns::Ipc, Ns::Cgroup];
const RLIMITS: [(Rl, i32); 16] = [
    (Rl::RlimitCpu, libc::RLIMIT_CPU as i32),
    (Rl::RlimitFsize, libc::RLIMIT_FSIZE as i32),
    (Rl::RlimitData, libc::RLIMIT_DATA as i32),
    (Rl::RlimitStack, libc::RLIMIT_STACK as i32),
    (Rl::RlimitCore, libc::RLIMIT_CORE as i32),
    (Rl::RlimitRss, libc::RLIMIT_RSS as i32),
    (Rl::RlimitNproc, libc::RLIMIT_NPROC as i32),
    (Rl::RlimitNofile, libc::RLIMIT_NOFILE as i32),
    (Rl::RlimitMemlock, libc::RLIMIT_MEMLOCK as i32),
    (Rl::RlimitAs, libc::RLIMIT_AS as i32),
    (Rl::RlimitLocks, libc::RLIMIT_LOCKS as i32),
    (Rl::RlimitSigpending, libc::RLIMIT_SIGPENDING as i32),
    (Rl::RlimitMsgqueue, libc::RLIMIT_MSGQUEUE as i32),
    (Rl::RlimitNice, libc::RLIMIT_NICE as i32),
    (Rl::RlimitRtprio, libc::RLIMIT_RTPRIO as i32),
    (Rl::RlimitRttime, libc::RLIMIT_RTTIME as i32),
];

/// What `build_spec` needs besides the user's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciContext {
    pub hostname: String,
    /// `linux.cgroupsPath`: the container's cgroup, relative to the hierarchy roots.
    pub cgroup_path: PathBuf,
    /// `--userns=auto`: (host uid/gid base, size) mapped to container id 0.
    pub userns: Option<(u32, u32)>,
}

/// The overlay's writable layer, work dir and mount point. The lower dirs are `lowers`
/// (topmost first) when set, else the spec's `root.path` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayDirs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    pub lowers: Vec<PathBuf>,
}

impl OverlayDirs {
    /// The overlay directories of a container's state directory.
    pub fn of(dir: &ContainerDir) -> Self {
        OverlayDirs {
            upper: dir.upper(),
            work: dir.work(),
            merged: dir.merged(),
            lowers: Vec::new(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Invalid, msg)
}

fn built<T>(r: Result<T, oci_spec::OciSpecError>, what: &str) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::new(ErrorKind::Internal, format!("building OCI {what}: {e}")))
}

/// The OCI runtime spec of a container: what runc's `config.json` would say for it.
pub fn build_spec(spec: &ContainerSpec, ctx: &OciContext) -> Result<Spec, ApiError> {
    let dirs = launch::rootfs_dirs(spec);
    // With image layers, root.path names the top layer; the whole stack travels in
    // `OverlayDirs::lowers` (an OCI bundle has one root, skiff's images have many).
    let rootfs = dirs[0].as_path();
    let user = launch::resolve_user_in(&dirs, spec.user.as_deref())?;
    let caps = to_oci_caps(launch::capabilities(spec)?)?;
    let mut capabilities = LinuxCapabilities::default();
    capabilities
        .set_bounding(Some(caps.clone()))
        .set_effective(Some(caps.clone()))
        .set_permitted(Some(caps))
        .set_inheritable(None)
        .set_ambient(None);
    let rlimits = launch::default_rlimits()
        .into_iter()
        .map(|(res, soft, hard)| {
            let (typ, _) = RLIMITS.iter().find(|(_, n)| *n == res).ok_or_else(|| {
                ApiError::new(ErrorKind::Internal, format!("rlimit {res} has no OCI name"))
            })?;
            built(
                PosixRlimitBuilder::default()
                    .typ(*typ)
                    .soft(soft)
                    .hard(hard)
                    .build(),
                "rlimit",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let oci_user = UserBuilder::default()
        .uid(user.uid)
        .gid(user.gid)
        .additional_gids(user.groups)
        .build();
    let process = ProcessBuilder::default()
        .terminal(spec.tty)
        .args(spec.argv())
        .env(launch::environment(
            &spec.env,
            &ctx.hostname,
            &user.home,
            spec.tty,
        ))
        .cwd(spec.working_dir.clone().unwrap_or_else(|| "/".into()))
        .user(built(oci_user, "process.user")?)
        .capabilities(capabilities)
        .no_new_privileges(!spec.labels.contains_key(ALLOW_NEW_PRIVILEGES_LABEL))
        .rlimits(rlimits)
        .build();
    let host_net = spec.network == NetworkMode::Host;
    let mut namespaces = REQUIRED_NAMESPACES.to_vec();
    if !host_net {
        namespaces.push(Ns::Network);
    }
    if ctx.userns.is_some() {
        namespaces.push(Ns::User);
    }
    let namespaces = namespaces
        .into_iter()
        .map(|typ| {
            built(
                LinuxNamespaceBuilder::default().typ(typ).build(),
                "namespace",
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(skiff_sys::spawn::default_masked_paths())
        .readonly_paths(skiff_sys::spawn::default_readonly_paths())
        .resources(resources(&spec.resources)?)
        .cgroups_path(ctx.cgroup_path.clone());
    if let Some((host, size)) = ctx.userns {
        let map = built(
            LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(host)
                .size(size)
                .build(),
            "id mapping",
        )?;
        linux = linux.uid_mappings(vec![map]).gid_mappings(vec![map]);
    }
    let root = RootBuilder::default()
        .path(rootfs)
        .readonly(spec.read_only)
        .build();
    built(
        SpecBuilder::default()
            .version(OCI_VERSION)
            .root(built(root, "root")?)
            .hostname(ctx.hostname.clone())
            .mounts(default_mounts(host_net))
            .process(built(process, "process")?)
            .linux(built(linux.build(), "linux")?)
            .build(),
        "spec",
    )
}

/// runc's default mounts as the keeper makes them: no /sys/fs/cgroup, and with the host's
/// network a read-only bind of the host's /sys (sysfs belongs to the net namespace's owner).
fn default_mounts(host_net: bool) -> Vec<Mount> {
    let mut mounts: Vec<Mount> = get_default_mounts()
        .into_iter()
        .filter(|m| m.destination() != Path::new("/sys/fs/cgroup"))
        .collect();
    if host_net {
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/sys") {
                m.set_typ(Some("bind".into()))
                    .set_source(Some("/sys".into()))
                    .set_options(Some(
                        ["rbind", "nosuid", "noexec", "nodev", "ro"]
                            .map(String::from)
                            .into(),
                    ));
            }
        }
    }
    mounts
}

fn resources(res: &skiff_types::Resources) -> Result<oci_spec::runtime::LinuxResources, ApiError> {
    let mut b = LinuxResourcesBuilder::default();
    if res.memory.is_some() || res.memory_swap.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(limit) = res.memory {
            let limit = i64::try_from(limit)
                .map_err(|_| invalid(format!("memory limit {limit} is too large")))?;
            m = m.limit(limit);
        }
        if let Some(swap) = res.memory_swap {
            m = m.swap(swap);
        }
        b = b.memory(built(m.build(), "linux.resources.memory")?);
    }
    if res.cpu_shares.is_some() || res.nano_cpus.is_some() {
        let mut c = LinuxCpuBuilder::default();
        if let Some(shares) = res.cpu_shares {
            c = c.shares(shares);
        }
        if let Some((quota, period)) = res.cpu_quota() {
            c = c.quota(quota).period(period);
        }
        b = b.cpu(built(c.build(), "linux.resources.cpu")?);
    }
    if let Some(limit) = res.effective_pids_limit() {
        let pids = LinuxPidsBuilder::default().limit(limit).build();
        b = b.pids(built(pids, "linux.resources.pids")?);
    }
    built(b.build(), "linux.resources")
}

fn to_oci_caps(set: CapSet) -> Result<Capabilities, ApiError> {
    set.names()
        .iter()
        .map(|name| {
            let bare = name.strip_prefix("CAP_").unwrap_or(name);
            Capability::from_str(bare)
                .map_err(|_| invalid(format!("capability {name} is unknown to the OCI spec")))
        })
        .collect()
}

/// Reads a `config.json`, naming the offending field for unknown capabilities (oci-spec's
/// own error would not say which set held them).
pub fn parse_config(bytes: &[u8]) -> Result<Spec, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("config.json: {e}")))?;
    if let Some(sets) = value
        .pointer("/process/capabilities")
        .and_then(|v| v.as_object())
    {
        for (set, names) in sets {
            for name in names.as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                CapSet::parse_name(name).map_err(|_| {
                    invalid(format!(
                        "unknown capability {name} in process.capabilities.{set}"
                    ))
                })?;
            }
        }
    }
    serde_json::from_value(value).map_err(|e| invalid(format!("config.json: {e}")))
}

/// The cgroup limits an OCI spec asks for (memory, cpu shares and quota, pids).
pub fn cgroup_resources(oci: &Spec) -> Resources {
    let res = oci.linux().as_ref().and_then(|l| l.resources().as_ref());
    let memory = res.and_then(|r| r.memory().as_ref());
    let cpu = res.and_then(|r| r.cpu().as_ref());
    Resources {
        memory_limit: memory
            .and_then(|m| m.limit())
            .and_then(|l| u64::try_from(l).ok()),
        memory_swap_limit: memory.and_then(|m| m.swap()),
        cpu_quota: cpu.and_then(|c| c.quota().map(|q| (q, c.period().unwrap_or(100_000)))),
        cpu_shares: cpu.and_then(|c| c.shares()),
        pids_limit: res.and_then(|r| r.pids().as_ref()).map(|p| p.limit()),
    }
}

/// Everything the keeper needs to start the init an OCI spec describes. The cgroup is the
/// caller's (made from `cgroup_resources`), and so is the seccomp choice (see the module doc).
pub fn launch_from_spec(
    oci: &Spec,
    dirs: &OverlayDirs,
    stdio: StdioMode,
    seccomp: SeccompChoice,
    cgroup_procs: Vec<PathBuf>,
    cgroup_dir_v2: Option<PathBuf>,
) -> Result<LaunchSpec, ApiError> {
    checks::refuse_unsupported(oci)?;
    let process = oci
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process is missing"))?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(invalid("process.args is empty"));
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(invalid(format!(
            "process.cwd must be an absolute path, got {:?}",
            cwd
        )));
    }
    let terminal = process.terminal().unwrap_or(false);
    if terminal != stdio.tty {
        return Err(invalid(format!(
            "process.terminal is {terminal} but the container's stdio has tty={}",
            stdio.tty
        )));
    }
    let root = oci
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root is missing"))?;
    if !root.path().is_absolute() {
        return Err(invalid(format!(
            "root.path must be absolute (resolve it against the bundle), got {:?}",
            root.path()
        )));
    }
    let linux = oci
        .linux()
        .as_ref()
        .ok_or_else(|| invalid("linux is missing"))?;
    let (net_ns, userns) = checks::namespaces(linux)?;
    let user = process.user();
    Ok(LaunchSpec {
        net_ns,
        userns,
        lower_dirs: if dirs.lowers.is_empty() {
            vec![root.path().clone()]
        } else {
            dirs.lowers.clone()
        },
        upper_dir: dirs.upper.clone(),
        work_dir: dirs.work.clone(),
        merged_dir: dirs.merged.clone(),
        read_only: root.readonly().unwrap_or(false),
        mounts: checks::mounts(oci)?,
        hostname: oci
            .hostname()
            .clone()
            .ok_or_else(|| invalid("hostname is missing (skiff always sets one)"))?,
        args,
        env: process.env().clone().unwrap_or_default(),
        cwd: cwd.to_string_lossy().into_owned(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        capabilities: checks::capability_mask(process.capabilities().as_ref())?,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        seccomp,
        rlimits: process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| {
                let (_, res) = RLIMITS
                    .iter()
                    .find(|(t, _)| *t == r.typ())
                    .ok_or_else(|| invalid(format!("process.rlimits: unknown type {}", r.typ())))?;
                Ok((*res, r.soft(), r.hard()))
            })
            .collect::<Result<_, ApiError>>()?,
        stdio,
        cgroup_procs,
        cgroup_dir_v2,
    })
}

#[cfg(test)]
mod tests;

/// Adds read-write bind mounts of single files (networking's /etc/hosts, resolv.conf, hostname).
pub fn add_file_binds(
    config: &mut Spec,
    files: &[(String, std::path::PathBuf)],
) -> Result<(), ApiError> {
    let mut mounts = config.mounts().clone().unwrap_or_default();
    for (dest, src) in files {
        let m = oci_spec::runtime::MountBuilder::default()
            .destination(dest)
            .typ("bind")
            .source(src)
            .options(vec!["rbind".to_string(), "rprivate".to_string()])
            .build();
        mounts.push(built(m, "mount")?);
    }
    config.set_mounts(Some(mounts));
    Ok(())
}
