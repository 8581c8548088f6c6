//! Independent readers for `docker-compose config` output: scalars, lists,
//! maps, durations, sizes, ports, mounts and file-backed secrets/configs,
//! each in Compose's own normalised forms.

use skiff_spec::node::{Node, Value};
use skiff_types::{DependsCondition, MountKind, Proto};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn text(n: &Node) -> String {
    n.scalar_text().unwrap_or_default()
}

pub fn list(n: Option<&Node>) -> Vec<String> {
    match n.map(|n| &n.value) {
        Some(Value::Seq(items)) => items.iter().map(text).collect(),
        Some(Value::Str(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => vec![],
    }
}

pub fn map(n: Option<&Node>) -> BTreeMap<String, String> {
    n.and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .map(|(k, v)| (k.name.clone(), text(v)))
        .collect()
}

pub fn keys(n: Option<&Node>) -> Vec<String> {
    let mut k: Vec<String> = map(n).into_keys().collect();
    k.sort();
    k
}

/// `1m30s`, `500ms`, `2s` in ms (the forms the projects use).
pub fn ms(s: &str) -> u64 {
    let (mut total, mut num) = (0u64, String::new());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().expect("duration number");
        num.clear();
        total += match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                n
            }
            ('h', _) => n * 3_600_000,
            ('m', _) => n * 60_000,
            ('s', _) => n * 1000,
            _ => panic!("duration {s:?}"),
        };
    }
    total
}

/// `64M`, `1G`, `32M` in bytes.
pub fn bytes(s: &str) -> u64 {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().expect("size");
    n * match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        u => panic!("size unit {u}"),
    }
}

pub fn canon(dir: &Path, p: &str) -> PathBuf {
    let p = dir.join(p);
    std::fs::canonicalize(&p).unwrap_or(p)
}

pub type Port = (Option<String>, Option<u16>, u16, Proto);

pub fn ports(n: Option<&Node>) -> Vec<Port> {
    let mut out = vec![];
    let Some(Value::Seq(items)) = n.map(|n| &n.value) else {
        return out;
    };
    for p in items {
        if p.as_map().is_some() {
            let proto = match p.get("protocol").map(text).as_deref() {
                Some("udp") => Proto::Udp,
                _ => Proto::Tcp,
            };
            let host = p.get("published").map(|h| text(h).parse().unwrap());
            out.push((
                None,
                host,
                text(p.get("target").unwrap()).parse().unwrap(),
                proto,
            ));
            continue;
        }
        let s = text(p);
        let (spec, proto) = s.split_once('/').unwrap_or((&s, "tcp"));
        let proto = if proto == "udp" {
            Proto::Udp
        } else {
            Proto::Tcp
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (ip, host, c) = match parts.as_slice() {
            [c] => (None, None, *c),
            [h, c] => (None, Some(*h), *c),
            [ip, h, c] => (Some(ip.to_string()), Some(*h), *c),
            _ => panic!("port {s}"),
        };
        out.push((
            ip,
            host.map(|h| h.parse().unwrap()),
            c.parse().unwrap(),
            proto,
        ));
    }
    out.sort_by_key(|p| format!("{p:?}"));
    out
}

pub type Mount = (MountKind, String, String, bool);

pub fn mounts(dir: &Path, n: Option<&Node>) -> Vec<Mount> {
    let mut out = vec![];
    let Some(Value::Seq(items)) = n.map(|n| &n.value) else {
        return out;
    };
    for m in items {
        let (kind, source, target, ro) = if m.as_map().is_some() {
            let kind = match m.get("type").map(text).as_deref() {
                Some("bind") => MountKind::Bind,
                Some("tmpfs") => MountKind::Tmpfs,
                _ => MountKind::Volume,
            };
            let ro = m.get("read_only").map(text).as_deref() == Some("true");
            (
                kind,
                m.get("source").map(text).unwrap_or_default(),
                text(m.get("target").unwrap()),
                ro,
            )
        } else {
            let s = text(m);
            let parts: Vec<&str> = s.split(':').collect();
            let kind = if parts[0].starts_with('/') {
                MountKind::Bind
            } else {
                MountKind::Volume
            };
            (
                kind,
                parts[0].to_string(),
                parts[1].to_string(),
                parts.get(2) == Some(&"ro"),
            )
        };
        let source = match kind {
            MountKind::Bind => canon(dir, &source).display().to_string(),
            _ => source,
        };
        out.push((kind, source, target, ro));
    }
    out.sort_by_key(|m| format!("{m:?}"));
    out
}

/// (source file, target) of `secrets:`/`configs:` with Compose's defaults.
pub fn files(doc: &Node, svc: &Node, dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = vec![];
    for (key, default) in [("secrets", "/run/secrets/"), ("configs", "/")] {
        let Some(Value::Seq(items)) = svc.get(key).map(|n| &n.value) else {
            continue;
        };
        for i in items {
            let (source, target) = match i.as_map() {
                Some(_) => (text(i.get("source").unwrap()), i.get("target").map(text)),
                None => (text(i), None),
            };
            let file = text(
                doc.get(key)
                    .and_then(|t| t.get(&source))
                    .and_then(|t| t.get("file"))
                    .unwrap(),
            );
            let target = match target {
                Some(t) if t.starts_with('/') => t,
                Some(t) => format!("{default}{t}"),
                None => format!("{default}{source}"),
            };
            out.push((canon(dir, &file), target));
        }
    }
    out.sort();
    out
}

pub fn condition(c: &str) -> DependsCondition {
    match c {
        "service_healthy" => DependsCondition::Healthy,
        "service_completed_successfully" => DependsCondition::Completed,
        _ => DependsCondition::Started,
    }
}
