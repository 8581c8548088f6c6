//! Service fields whose syntax skiff.toml and Compose share: ports, mounts,
//! sizes, cpus, restart policies and health checks.

use crate::error::Errors;
use crate::node::{Node, Value};
use crate::walk::{self, Fields};
use skiff_types::{
    parse_cpus, parse_memory_size, HealthCheck, HealthProbe, MountKind, PortSpec, Proto,
    RestartPolicy, ServiceMount, DEFAULT_START_INTERVAL_MS,
};
use std::net::IpAddr;

/// Docker's health check defaults (ms).
const HC_INTERVAL: u64 = 30_000;
const HC_TIMEOUT: u64 = 30_000;
const HC_RETRIES: u32 = 3;

pub fn memory(n: &Node, errs: &mut Errors) -> Option<u64> {
    let text = match &n.value {
        Value::Int(i) if *i >= 0 => i.to_string(),
        Value::Str(s) => s.clone(),
        _ => String::new(),
    };
    parse_memory_size(&text)
        .map_err(|e| errs.push(&n.pos, format!("memory: {e}")))
        .ok()
}

/// CPUs (`0.5`, `"1.5"`, `2`) in milli-CPUs.
pub fn cpus(n: &Node, errs: &mut Errors) -> Option<u64> {
    let text = n.scalar_text().unwrap_or_default();
    parse_cpus(&text)
        .map(|nano| (nano / 1_000_000).max(1))
        .map_err(|e| errs.push(&n.pos, format!("cpus: {e}")))
        .ok()
}

pub fn restart(n: &Node, errs: &mut Errors) -> Option<RestartPolicy> {
    let s = walk::string(n, "restart", errs)?;
    s.parse()
        .map_err(|e| errs.push(&n.pos, format!("{e}")))
        .ok()
}

fn proto(s: &str, n: &Node, errs: &mut Errors) -> Option<Proto> {
    match s {
        "tcp" | "" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        _ => {
            errs.push(&n.pos, format!("protocol {s:?}: want tcp or udp"));
            None
        }
    }
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a > 0 && a <= b).then_some((a, b))
}

/// Ports: `80`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"[::1]:80:80"`,
/// ranges `"9000-9002:9000-9002"`, or Compose's long form.
pub fn ports(n: &Node, errs: &mut Errors) -> Vec<PortSpec> {
    match &n.value {
        Value::Int(_) | Value::Str(_) => short_port(n, errs),
        Value::Map(_) => long_port(n, errs).into_iter().collect(),
        _ => {
            errs.push(&n.pos, "a port must be a number, a string or a mapping");
            vec![]
        }
    }
}

fn short_port(n: &Node, errs: &mut Errors) -> Vec<PortSpec> {
    let s = n.scalar_text().unwrap_or_default();
    let bad = |errs: &mut Errors| {
        errs.push(
            &n.pos,
            format!("invalid port {s:?}: want [[IP:]HOST:]CONTAINER[/PROTO]"),
        );
        vec![]
    };
    let (spec, proto_s) = s.rsplit_once('/').unwrap_or((&s, "tcp"));
    let Some(proto) = proto(proto_s, n, errs) else {
        return vec![];
    };
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        match r.split_once("]:") {
            Some((ip, rest)) => (ip.parse::<IpAddr>().ok().map(Some), rest),
            None => return bad(errs),
        }
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.len() {
            3 => (
                parts[0].parse::<IpAddr>().ok().map(Some),
                &spec[parts[0].len() + 1..],
            ),
            1 | 2 => (Some(None), spec),
            _ => return bad(errs),
        }
    };
    let Some(host_ip) = host_ip else {
        return bad(errs);
    };
    let (host, container) = match rest.split_once(':') {
        Some(("", c)) => (None, c),
        Some((h, c)) => (Some(h), c),
        None => (None, rest),
    };
    let Some((c0, c1)) = port_range(container) else {
        return bad(errs);
    };
    let hosts = match host.map(port_range) {
        None => None,
        Some(Some((h0, h1))) if h1 - h0 == c1 - c0 || h0 == h1 => Some((h0, h1)),
        Some(_) => return bad(errs),
    };
    (c0..=c1)
        .enumerate()
        .map(|(i, c)| PortSpec {
            host_ip,
            host: hosts.map(|(h0, h1)| if h0 == h1 { h0 } else { h0 + i as u16 }),
            container: c,
            proto,
        })
        .collect()
}

fn long_port(n: &Node, errs: &mut Errors) -> Option<PortSpec> {
    let mut f = Fields::of(n, "a port", errs)?;
    let container = f
        .take("target")
        .and_then(|t| walk::int(t, "target", 1, 65535, errs))
        .map(|p| p as u16);
    let host = f.take("published").and_then(|p| {
        let s = p.scalar_text().unwrap_or_default();
        match port_range(&s) {
            Some((a, _)) => Some(a),
            None => {
                errs.push(&p.pos, format!("published port {s:?} is not a port"));
                None
            }
        }
    });
    let host_ip = f.take("host_ip").and_then(|h| {
        let s = walk::string(h, "host_ip", errs)?;
        s.parse::<IpAddr>()
            .map_err(|_| errs.push(&h.pos, format!("host_ip {s:?} is not an IP address")))
            .ok()
    });
    let proto = match f.take("protocol") {
        Some(p) => walk::string(p, "protocol", errs).and_then(|s| proto(&s, p, errs)),
        None => Some(Proto::Tcp),
    };
    if let Some(m) = f.take("mode") {
        if !matches!(
            walk::string(m, "mode", errs).as_deref(),
            Some("host" | "ingress")
        ) {
            errs.push(&m.pos, "mode must be host or ingress");
        }
    }
    f.take("name");
    f.finish(errs, true, &["app_protocol"]);
    if container.is_none() && n.get("target").is_none() {
        errs.push(&n.pos, "a port needs a target");
    }
    Some(PortSpec {
        host_ip,
        host,
        container: container?,
        proto: proto?,
    })
}

fn mount_kind(source: &str) -> MountKind {
    if source.starts_with(['/', '.', '~']) {
        MountKind::Bind
    } else {
        MountKind::Volume
    }
}

/// A mount: `"data:/data"`, `"./site:/www:ro"`, `"/cache"` (anonymous), or
/// the long form with `type`, `source`, `target`, `read_only`.
pub fn mount(n: &Node, errs: &mut Errors) -> Option<ServiceMount> {
    if let Value::Map(_) = n.value {
        return long_mount(n, errs);
    }
    let s = walk::string(n, "a volume", errs)?;
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => {
            errs.push(
                &n.pos,
                format!("invalid volume {s:?}: want [SOURCE:]TARGET[:ro|rw]"),
            );
            return None;
        }
    };
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        m => {
            errs.push(
                &n.pos,
                format!("volume mode {m:?} is not supported by skiff (ro or rw)"),
            );
            return None;
        }
    };
    if !target.starts_with('/') {
        errs.push(
            &n.pos,
            format!("volume target {target:?} must be an absolute path"),
        );
        return None;
    }
    Some(ServiceMount {
        kind: mount_kind(source),
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    })
}

fn long_mount(n: &Node, errs: &mut Errors) -> Option<ServiceMount> {
    let mut f = Fields::of(n, "a volume", errs)?;
    let kind = match f
        .take("type")
        .and_then(|t| walk::string(t, "type", errs))
        .as_deref()
    {
        Some("volume") => MountKind::Volume,
        Some("bind") => MountKind::Bind,
        Some("tmpfs") => MountKind::Tmpfs,
        other => {
            let pos = n.get("type").map_or(&n.pos, |t| &t.pos);
            errs.push(
                pos,
                format!("volume type {other:?}: want volume, bind or tmpfs"),
            );
            MountKind::Volume
        }
    };
    let source = f
        .take("source")
        .and_then(|s| walk::string(s, "source", errs))
        .unwrap_or_default();
    let target = f
        .take("target")
        .and_then(|t| walk::string(t, "target", errs));
    let read_only = f
        .take("read_only")
        .and_then(|r| walk::boolean(r, "read_only", errs))
        .unwrap_or(false);
    f.finish(
        errs,
        true,
        &["bind", "volume", "tmpfs", "consistency", "image"],
    );
    match target {
        Some(t) if t.starts_with('/') => Some(ServiceMount {
            kind,
            source,
            target: t,
            read_only,
        }),
        _ => {
            errs.push(&n.pos, "a volume needs an absolute target");
            None
        }
    }
}

/// What a health `test` asks for: `None` = disabled (`["NONE"]`).
pub fn health_test(n: &Node, errs: &mut Errors) -> Option<Option<Vec<String>>> {
    match &n.value {
        Value::Str(s) => Some(Some(vec!["/bin/sh".into(), "-c".into(), s.clone()])),
        Value::Seq(_) => {
            let words = walk::list(n, "test", errs);
            match words.first().map(String::as_str) {
                Some("NONE") => Some(None),
                Some("CMD") if words.len() > 1 => Some(Some(words[1..].to_vec())),
                Some("CMD-SHELL") if words.len() == 2 => {
                    Some(Some(vec!["/bin/sh".into(), "-c".into(), words[1].clone()]))
                }
                _ => {
                    errs.push(&n.pos, "test must be a string, [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or [\"NONE\"]");
                    None
                }
            }
        }
        _ => {
            errs.push(&n.pos, "test must be a string or a list");
            None
        }
    }
}

/// Timing fields shared by both formats, applied onto a probe.
pub fn health_timing(f: &mut Fields<'_>, probe: HealthProbe, errs: &mut Errors) -> HealthCheck {
    let mut ms = |key: &str, default: u64| {
        f.take(key)
            .and_then(|d| walk::duration(d, key, errs))
            .unwrap_or(default)
    };
    let interval_ms = ms("interval", HC_INTERVAL);
    let timeout_ms = ms("timeout", HC_TIMEOUT);
    let start_period_ms = ms("start_period", 0);
    let start_interval_ms = ms("start_interval", DEFAULT_START_INTERVAL_MS);
    let retries = f
        .take("retries")
        .and_then(|r| walk::int(r, "retries", 0, 1000, errs))
        .map_or(HC_RETRIES, |r| r as u32);
    HealthCheck {
        probe,
        interval_ms,
        timeout_ms,
        retries,
        start_period_ms,
        start_interval_ms,
    }
}
