//! The Compose specification, lowered into a skiff `Topology`.
//!
//! Read: services with image, build, command, entrypoint, environment (list
//! or map), env_file (string, list, or `{path, required}`), ports (short and
//! long), expose, volumes (short and long), networks (list or map),
//! depends_on (list, or map with `condition`), healthcheck (every `test`
//! form, durations like `1m30s`, `disable` and `["NONE"]`, which also turn
//! off the image's HEALTHCHECK), restart, deploy.replicas (and
//! the older `scale`), deploy.resources.limits (and `cpus`, `mem_limit`)
//! and deploy.resources.reservations (and `mem_reservation`; what the
//! scheduler charges a node, the limits when absent), labels, configs and
//! secrets backed by files, profiles, stop_signal and stop_grace_period;
//! top-level name,
//! volumes, networks, configs, secrets and `x-` extensions. Any other key is
//! an error naming the key and its file:line:col: a Compose file either runs
//! as written or says what it would lose.

use crate::compose_fields::{
    build, depends, deploy, env_files, file_mount, healthcheck, service_networks,
};
use crate::error::Errors;
use crate::fields;
use crate::node::{Node, Value};
use crate::skiff::seq;
use crate::validate::{Ref, RefKind};
use crate::walk::{self, Fields};
use crate::Reader;
use skiff_types::{MountKind, NetworkSpec, ServiceSpec, Topology, VolumeSpec};
use std::collections::BTreeMap;
use std::path::Path;

const UNSUPPORTED_SERVICE: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_runtime",
    "cpu_rt_period",
    "cpuset",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "hostname",
    "init",
    "ipc",
    "isolation",
    "links",
    "logging",
    "mac_address",
    "mem_swappiness",
    "memswap_limit",
    "network_mode",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "post_start",
    "pre_stop",
    "privileged",
    "provider",
    "pull_policy",
    "read_only",
    "security_opt",
    "shm_size",
    "stdin_open",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "userns_mode",
    "uts",
    "volumes_from",
    "working_dir",
];

/// Lowers one (already merged and interpolated) Compose document.
pub struct Lowered {
    pub topo: Topology,
    pub refs: Vec<Ref>,
    /// Services the active profiles leave out.
    pub disabled: Vec<String>,
}

pub fn lower(
    root: &Node,
    project: &str,
    profiles: &[String],
    dir: &Path,
    read: Reader<'_>,
    errs: &mut Errors,
) -> Lowered {
    let mut out = Lowered {
        topo: Topology {
            name: project.to_string(),
            ..Default::default()
        },
        refs: vec![],
        disabled: vec![],
    };
    let Some(mut f) = Fields::of(root, "the Compose file", errs) else {
        return out;
    };
    f.take("version"); // obsolete in the spec; accepted and unused, as Compose does
    if let Some(n) = f.take("name").and_then(|n| walk::string(n, "name", errs)) {
        out.topo.name = n;
    }
    let files = FileSources {
        configs: file_sources(f.take("configs"), "configs", errs),
        secrets: file_sources(f.take("secrets"), "secrets", errs),
    };
    if let Some(v) = f.take("volumes") {
        out.topo.volumes = volumes(v, errs);
    }
    if let Some(v) = f.take("networks") {
        out.topo.networks = networks(v, errs);
    }
    let services = f.take("services");
    f.finish(errs, true, &["include", "models"]);
    let Some(services) = services else {
        errs.push(&root.pos, "no services");
        return out;
    };
    if Fields::of(services, "services", errs).is_none() {
        return out;
    }
    for (k, v) in services.as_map().unwrap_or(&[]) {
        let mut ctx = Ctx {
            name: &k.name,
            dir,
            read,
            errs,
            refs: &mut out.refs,
            files: &files,
            topo: &out.topo,
        };
        let Some(s) = ctx.service(v) else { continue };
        let enabled = s.profiles.is_empty() || s.profiles.iter().any(|p| profiles.contains(p));
        if enabled {
            out.topo.services.insert(k.name.clone(), s);
        } else {
            out.disabled.push(k.name.clone());
        }
    }
    out
}

struct FileSources {
    configs: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

/// Top-level `configs:`/`secrets:` entries backed by `file:`; the path stays
/// as written (relative to the project directory, like a bind mount's
/// source), for the caller to make absolute once.
fn file_sources(n: Option<&Node>, what: &str, errs: &mut Errors) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(n) = n else { return out };
    if Fields::of(n, what, errs).is_none() {
        return out;
    }
    for (k, v) in n.as_map().unwrap_or(&[]) {
        let Some(mut f) = Fields::of(v, format!("{what}.{}", k.name), errs) else {
            continue;
        };
        match f.take("file").and_then(|p| walk::string(p, "file", errs)) {
            Some(p) => {
                out.insert(k.name.clone(), p);
            }
            None => errs.push(
                &k.pos,
                format!(
                    "{what}.{}: skiff supports file-backed {what} only (file:)",
                    k.name
                ),
            ),
        }
        f.finish(
            errs,
            true,
            &[
                "external",
                "environment",
                "content",
                "name",
                "template_driver",
            ],
        );
    }
    out
}

fn volumes(n: &Node, errs: &mut Errors) -> BTreeMap<String, VolumeSpec> {
    let mut out = BTreeMap::new();
    if Fields::of(n, "volumes", errs).is_none() {
        return out;
    }
    for (k, v) in n.as_map().unwrap_or(&[]) {
        let mut spec = VolumeSpec::default();
        if v.value != Value::Null {
            if let Some(mut f) = Fields::of(v, format!("volume `{}`", k.name), errs) {
                spec.driver = f
                    .take("driver")
                    .and_then(|d| walk::string(d, "driver", errs));
                spec.labels = f
                    .take("labels")
                    .map(|l| walk::kv_map(l, "labels", errs))
                    .unwrap_or_default();
                f.finish(errs, true, &["driver_opts", "external", "name"]);
            }
        }
        out.insert(k.name.clone(), spec);
    }
    out
}

fn networks(n: &Node, errs: &mut Errors) -> BTreeMap<String, NetworkSpec> {
    let mut out = BTreeMap::new();
    if Fields::of(n, "networks", errs).is_none() {
        return out;
    }
    for (k, v) in n.as_map().unwrap_or(&[]) {
        let mut spec = NetworkSpec::default();
        if v.value != Value::Null {
            if let Some(mut f) = Fields::of(v, format!("network `{}`", k.name), errs) {
                spec.driver = f
                    .take("driver")
                    .and_then(|d| walk::string(d, "driver", errs));
                spec.internal = f
                    .take("internal")
                    .and_then(|i| walk::boolean(i, "internal", errs))
                    .unwrap_or(false);
                spec.labels = f
                    .take("labels")
                    .map(|l| walk::kv_map(l, "labels", errs))
                    .unwrap_or_default();
                f.finish(
                    errs,
                    true,
                    &[
                        "attachable",
                        "driver_opts",
                        "enable_ipv4",
                        "enable_ipv6",
                        "external",
                        "ipam",
                        "name",
                    ],
                );
            }
        }
        out.insert(k.name.clone(), spec);
    }
    out
}

struct Ctx<'a, 'e> {
    name: &'a str,
    dir: &'a Path,
    read: Reader<'a>,
    errs: &'e mut Errors,
    refs: &'e mut Vec<Ref>,
    files: &'a FileSources,
    topo: &'a Topology,
}

impl Ctx<'_, '_> {
    fn service(&mut self, n: &Node) -> Option<ServiceSpec> {
        let errs = &mut *self.errs;
        let mut f = Fields::of(n, format!("service `{}`", self.name), errs)?;
        let mut s = ServiceSpec {
            name: self.name.to_string(),
            replicas: 1,
            ..Default::default()
        };
        s.image = f.take("image").and_then(|v| walk::string(v, "image", errs));
        s.build = f.take("build").and_then(|v| build(v, errs));
        s.command = f
            .take("command")
            .and_then(|v| walk::command(v, "command", errs));
        s.entrypoint = f
            .take("entrypoint")
            .and_then(|v| walk::command(v, "entrypoint", errs));
        let env_files = f
            .take("env_file")
            .map(|v| env_files(v, errs))
            .unwrap_or_default();
        s.env = crate::dotenv::read_files(&env_files, self.dir, self.read, errs);
        if let Some(v) = f.take("environment") {
            s.env.extend(walk::kv_map(v, "environment", errs));
        }
        for p in f
            .take("ports")
            .map(|v| seq(v, "ports", errs))
            .unwrap_or_default()
        {
            s.ports.extend(fields::ports(p, errs));
        }
        for p in f
            .take("expose")
            .map(|v| seq(v, "expose", errs))
            .unwrap_or_default()
        {
            let text = p.scalar_text().unwrap_or_default();
            let port = text.split('/').next().and_then(|t| t.parse::<u16>().ok());
            match port {
                Some(port) if port > 0 => s.expose.push(port),
                _ => errs.push(&p.pos, format!("invalid expose port {text:?}")),
            }
        }
        for v in f
            .take("volumes")
            .map(|v| seq(v, "volumes", errs))
            .unwrap_or_default()
        {
            let Some(m) = fields::mount(v, errs) else {
                continue;
            };
            if m.kind == MountKind::Volume
                && !m.source.is_empty()
                && !self.topo.volumes.contains_key(&m.source)
            {
                errs.push(&v.pos, format!("service `{}` uses volume `{}`, which is not declared in the top-level volumes", self.name, m.source));
            }
            s.volumes.push(m);
        }
        if let Some(v) = f.take("networks") {
            for (net, pos) in service_networks(v, errs) {
                if net != "default" && !self.topo.networks.contains_key(&net) {
                    errs.push(&pos, format!("service `{}` uses network `{net}`, which is not declared in the top-level networks", self.name));
                }
                s.networks.push(net);
            }
        }
        if let Some(v) = f.take("depends_on") {
            for (to, cond, pos) in depends(v, errs) {
                self.refs.push(Ref {
                    from: self.name.to_string(),
                    to: to.clone(),
                    kind: RefKind::DependsOn,
                    pos,
                });
                s.depends_on.insert(to, cond);
            }
        }
        if let Some(v) = f.take("healthcheck") {
            healthcheck(&mut s, v, errs);
        }
        s.restart = f
            .take("restart")
            .and_then(|v| fields::restart(v, errs))
            .unwrap_or_default();
        if let Some(v) = f.take("scale") {
            s.replicas = walk::int(v, "scale", 0, 100_000, errs).unwrap_or(1) as u32;
        }
        if let Some(v) = f.take("cpus") {
            s.resources.cpu_milli = fields::cpus(v, errs);
        }
        if let Some(v) = f.take("mem_limit") {
            s.resources.memory = fields::memory(v, errs);
        }
        if let Some(v) = f.take("mem_reservation") {
            s.resources.reserve_memory = fields::memory(v, errs);
        }
        if let Some(v) = f.take("deploy") {
            deploy(&mut s, v, errs);
        }
        if let Some(v) = f.take("labels") {
            s.labels = walk::kv_map(v, "labels", errs);
        }
        for (key, dflt) in [("configs", "/"), ("secrets", "/run/secrets/")] {
            let Some(v) = f.take(key) else { continue };
            let known = if key == "configs" {
                &self.files.configs
            } else {
                &self.files.secrets
            };
            for item in seq(v, key, errs) {
                if let Some(m) = file_mount(item, key, dflt, known, errs) {
                    s.files.push(m);
                }
            }
        }
        fields::stop(&mut f, "stop_grace_period", &mut s, errs);
        s.profiles = f
            .take("profiles")
            .map(|v| walk::list(v, "profiles", errs))
            .unwrap_or_default();
        f.finish(errs, true, UNSUPPORTED_SERVICE);
        if s.image.is_none() && s.build.is_none() {
            errs.push(
                &n.pos,
                format!("service `{}` has neither an image nor a build", self.name),
            );
        }
        Some(s)
    }
}
