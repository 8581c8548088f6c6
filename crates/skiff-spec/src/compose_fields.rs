//! Compose service sub-fields: build, env_file, networks, depends_on,
//! healthcheck, deploy, and file-backed configs/secrets.

use crate::error::{Errors, Pos};
use crate::fields;
use crate::node::{Node, Value};
use crate::skiff::seq;
use crate::walk::{self, Fields};
use skiff_types::{BuildSpec, DependsCondition, FileMount, ServiceSpec};
use std::collections::BTreeMap;

pub(crate) fn build(n: &Node, errs: &mut Errors) -> Option<BuildSpec> {
    if let Value::Str(c) = &n.value {
        return Some(BuildSpec {
            context: c.clone(),
            ..Default::default()
        });
    }
    let mut f = Fields::of(n, "build", errs)?;
    let context = f
        .take("context")
        .and_then(|v| walk::string(v, "context", errs))
        .unwrap_or_else(|| ".".into());
    let file = f
        .take("dockerfile")
        .and_then(|v| walk::string(v, "dockerfile", errs));
    let args = f
        .take("args")
        .map(|v| walk::kv_map(v, "args", errs))
        .unwrap_or_default();
    f.finish(
        errs,
        true,
        &[
            "additional_contexts",
            "cache_from",
            "cache_to",
            "dockerfile_inline",
            "entitlements",
            "extra_hosts",
            "isolation",
            "labels",
            "network",
            "no_cache",
            "platforms",
            "privileged",
            "pull",
            "secrets",
            "shm_size",
            "ssh",
            "tags",
            "target",
            "ulimits",
        ],
    );
    Some(BuildSpec {
        context,
        file,
        args,
    })
}

pub(crate) fn env_files(n: &Node, errs: &mut Errors) -> Vec<(String, Pos, bool)> {
    let items: Vec<&Node> = match &n.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![n],
    };
    let mut out = vec![];
    for i in items {
        if let Value::Map(_) = i.value {
            let Some(mut f) = Fields::of(i, "env_file", errs) else {
                continue;
            };
            let path = f.take("path").and_then(|p| walk::string(p, "path", errs));
            let required = f
                .take("required")
                .and_then(|r| walk::boolean(r, "required", errs))
                .unwrap_or(true);
            f.finish(errs, true, &["format"]);
            if let Some(p) = path {
                out.push((p, i.pos.clone(), required));
            }
        } else if let Some(p) = walk::string(i, "env_file", errs) {
            out.push((p, i.pos.clone(), true));
        }
    }
    out
}

pub(crate) fn service_networks(n: &Node, errs: &mut Errors) -> Vec<(String, Pos)> {
    match n.as_map() {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                if v.value != Value::Null {
                    if let Some(f) = Fields::of(v, format!("network `{}`", k.name), errs) {
                        f.finish(
                            errs,
                            true,
                            &[
                                "aliases",
                                "ipv4_address",
                                "ipv6_address",
                                "link_local_ips",
                                "mac_address",
                                "driver_opts",
                                "gw_priority",
                                "priority",
                                "interface_name",
                            ],
                        );
                    }
                }
                (k.name.clone(), k.pos.clone())
            })
            .collect(),
        None => seq(n, "networks", errs)
            .into_iter()
            .filter_map(|i| walk::string(i, "networks", errs).map(|s| (s, i.pos.clone())))
            .collect(),
    }
}

pub(crate) fn depends(n: &Node, errs: &mut Errors) -> Vec<(String, DependsCondition, Pos)> {
    let Some(m) = n.as_map() else {
        return seq(n, "depends_on", errs)
            .into_iter()
            .filter_map(|i| {
                walk::string(i, "depends_on", errs)
                    .map(|s| (s, DependsCondition::Started, i.pos.clone()))
            })
            .collect();
    };
    let mut out = vec![];
    for (k, v) in m {
        let mut cond = DependsCondition::Started;
        if v.value != Value::Null {
            let Some(mut f) = Fields::of(v, format!("depends_on.{}", k.name), errs) else {
                continue;
            };
            if let Some(c) = f.take("condition") {
                cond = match walk::string(c, "condition", errs).as_deref() {
                    Some("service_started") => DependsCondition::Started,
                    Some("service_healthy") => DependsCondition::Healthy,
                    Some("service_completed_successfully") => DependsCondition::Completed,
                    _ => {
                        errs.push(&c.pos, "condition must be service_started, service_healthy or service_completed_successfully");
                        continue;
                    }
                };
            }
            f.finish(errs, true, &["restart", "required"]);
        }
        out.push((k.name.clone(), cond, k.pos.clone()));
    }
    out
}

/// `healthcheck:` onto `s`: a check, or (`disable: true`, `test: ["NONE"]`)
/// none at all, not even the image's HEALTHCHECK.
pub(crate) fn healthcheck(s: &mut ServiceSpec, n: &Node, errs: &mut Errors) {
    let Some(mut f) = Fields::of(n, "healthcheck", errs) else {
        return;
    };
    let disabled = f
        .take("disable")
        .and_then(|d| walk::boolean(d, "disable", errs))
        .unwrap_or(false);
    let test = f.take("test").and_then(|t| fields::health_test(t, errs));
    s.no_healthcheck = disabled || matches!(test, Some(None));
    let probe = match test {
        Some(Some(argv)) if !disabled => Some(skiff_types::HealthProbe::Cmd { argv }),
        Some(_) => None,
        None if disabled => None,
        None => {
            if n.get("test").is_none() {
                errs.push(
                    &n.pos,
                    "healthcheck needs a test (the image's own HEALTHCHECK is not read)",
                );
            }
            None
        }
    };
    let hc = probe.map(|p| fields::health_timing(&mut f, p, errs));
    for k in [
        "interval",
        "timeout",
        "start_period",
        "start_interval",
        "retries",
    ] {
        f.take(k);
    }
    f.finish(errs, true, &[]);
    s.healthcheck = hc;
}

pub(crate) fn deploy(s: &mut ServiceSpec, n: &Node, errs: &mut Errors) {
    let Some(mut f) = Fields::of(n, "deploy", errs) else {
        return;
    };
    if let Some(r) = f.take("replicas") {
        s.replicas = walk::int(r, "replicas", 0, 100_000, errs).unwrap_or(1) as u32;
    }
    if let Some(r) = f.take("resources") {
        if let Some(mut rf) = Fields::of(r, "deploy.resources", errs) {
            if let Some(l) = rf.take("limits") {
                if let Some(mut lf) = Fields::of(l, "deploy.resources.limits", errs) {
                    if let Some(c) = lf.take("cpus") {
                        s.resources.cpu_milli = fields::cpus(c, errs);
                    }
                    if let Some(m) = lf.take("memory") {
                        s.resources.memory = fields::memory(m, errs);
                    }
                    lf.finish(errs, true, &["pids", "devices"]);
                }
            }
            // What the scheduler charges the node (limits when absent).
            if let Some(r) = rf.take("reservations") {
                if let Some(mut lf) = Fields::of(r, "deploy.resources.reservations", errs) {
                    if let Some(c) = lf.take("cpus") {
                        s.resources.reserve_cpu_milli = fields::cpus(c, errs);
                    }
                    if let Some(m) = lf.take("memory") {
                        s.resources.reserve_memory = fields::memory(m, errs);
                    }
                    lf.finish(errs, true, &["devices", "generic_resources"]);
                }
                reservation_within_limits(s, r, errs);
            }
            rf.finish(errs, true, &[]);
        }
    }
    if let Some(l) = f.take("labels") {
        s.labels.extend(walk::kv_map(l, "deploy.labels", errs));
    }
    f.finish(
        errs,
        true,
        &[
            "endpoint_mode",
            "mode",
            "placement",
            "restart_policy",
            "rollback_config",
            "update_config",
        ],
    );
}

/// A reservation above its limit could never be used (Docker and
/// Kubernetes refuse it too).
fn reservation_within_limits(s: &ServiceSpec, r: &Node, errs: &mut Errors) {
    let res = &s.resources;
    if res
        .reserve_cpu_milli
        .zip(res.cpu_milli)
        .is_some_and(|(r, l)| r > l)
    {
        errs.push(
            &r.pos,
            "deploy.resources.reservations.cpus is above limits.cpus",
        );
    }
    if res
        .reserve_memory
        .zip(res.memory)
        .is_some_and(|(r, l)| r > l)
    {
        errs.push(
            &r.pos,
            "deploy.resources.reservations.memory is above limits.memory",
        );
    }
}

pub(crate) fn file_mount(
    n: &Node,
    key: &str,
    dflt: &str,
    known: &BTreeMap<String, String>,
    errs: &mut Errors,
) -> Option<FileMount> {
    let (source, target, pos) = match &n.value {
        Value::Map(_) => {
            let mut f = Fields::of(n, key, errs)?;
            let source = f
                .take("source")
                .and_then(|s| walk::string(s, "source", errs))?;
            let target = f
                .take("target")
                .and_then(|t| walk::string(t, "target", errs));
            f.finish(errs, true, &["uid", "gid", "mode"]);
            (source, target, n.pos.clone())
        }
        _ => (walk::string(n, key, errs)?, None, n.pos.clone()),
    };
    let Some(file) = known.get(&source) else {
        errs.push(
            &pos,
            format!("{key}: `{source}` is not declared in the top-level {key}"),
        );
        return None;
    };
    let target = target.unwrap_or_else(|| format!("{dflt}{source}"));
    let target = if target.starts_with('/') {
        target
    } else {
        format!("{dflt}{target}")
    };
    Some(FileMount {
        source: file.clone(),
        target,
    })
}
