//! `docker-compose config` next to skiff's model of the same project: runs
//! Compose 1.29 on the files, reads its normalised YAML (through skiff-spec's
//! positioned YAML reader, only as a tree) and lists every difference on the
//! keys both understand. The expectations are derived from Compose's output
//! with small, independent parsers here (not skiff's), so a skiff parsing bug
//! shows up as a difference.
#![allow(dead_code)]

mod parse;

use parse::{
    bytes, canon, condition, files, keys, list, map, mounts, ms, ports, text, Mount, Port,
};
use skiff_spec::node::{Node, Value};
use skiff_spec::LoadOptions;
use skiff_types::{DependsCondition, HealthProbe, MountKind, ServiceSpec, Topology};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

pub struct Case {
    pub dir: PathBuf,
    pub files: Vec<String>,
    pub profiles: Vec<String>,
}

impl Case {
    pub fn new(dir: PathBuf, files: &[&str], profiles: &[&str]) -> Case {
        Case {
            dir,
            files: files.iter().map(|s| s.to_string()).collect(),
            profiles: profiles.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// `docker-compose config` in the project directory, with a clean
    /// environment (only `.env` feeds interpolation); None if not installed.
    pub fn docker_compose_config(&self) -> Option<Node> {
        let mut cmd = Command::new("docker-compose");
        cmd.current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .args(["-p", "conformance"]);
        for f in &self.files {
            cmd.args(["-f", f]);
        }
        for p in &self.profiles {
            cmd.args(["--profile", p]);
        }
        let out = match cmd.arg("config").output() {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("docker-compose: {e}"),
        };
        assert!(
            out.status.success(),
            "docker-compose config failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        Some(skiff_spec::yaml_src::parse(&text, &"docker-compose-config".into()).expect("YAML"))
    }

    pub fn skiff_model(&self) -> Topology {
        let paths: Vec<PathBuf> = self.files.iter().map(|f| self.dir.join(f)).collect();
        let opts = LoadOptions {
            profiles: self.profiles.clone(),
            project: Some("conformance".into()),
            ..Default::default()
        };
        skiff_spec::load(&paths, &opts).unwrap_or_else(|e| panic!("skiff: {e}"))
    }
}

/// Every difference between skiff's topology and Compose's model.
pub fn compare(case: &Case, ours: &Topology, theirs: &Node) -> Vec<String> {
    let mut d = vec![];
    let services = theirs.get("services").and_then(Node::as_map).unwrap_or(&[]);
    // Compose 1.29 prints every service; the active profiles pick.
    let active: Vec<(&str, &Node)> = services
        .iter()
        .filter(|(_, s)| {
            let p = list(s.get("profiles"));
            p.is_empty() || p.iter().any(|p| case.profiles.contains(p))
        })
        .map(|(k, s)| (k.name.as_str(), s))
        .collect();
    let names: Vec<&str> = active.iter().map(|(k, _)| *k).collect();
    let mine: Vec<&str> = ours.services.keys().map(String::as_str).collect();
    if names != mine {
        d.push(format!("services: compose {names:?}, skiff {mine:?}"));
    }
    for (name, c) in active {
        let Some(s) = ours.services.get(name) else {
            continue;
        };
        service(case, theirs, name, c, s, &mut d);
    }
    let nets: Vec<String> = keys(theirs.get("networks"));
    let my_nets: Vec<String> = ours.networks.keys().cloned().collect();
    if nets != my_nets {
        d.push(format!("networks: compose {nets:?}, skiff {my_nets:?}"));
    }
    for (k, spec) in &ours.networks {
        let labels = map(theirs
            .get("networks")
            .and_then(|n| n.get(k))
            .and_then(|n| n.get("labels")));
        if labels != spec.labels {
            d.push(format!(
                "network {k} labels: compose {labels:?}, skiff {:?}",
                spec.labels
            ));
        }
    }
    let vols = keys(theirs.get("volumes"));
    let my_vols: Vec<String> = ours.volumes.keys().cloned().collect();
    if vols != my_vols {
        d.push(format!("volumes: compose {vols:?}, skiff {my_vols:?}"));
    }
    d
}

fn service(case: &Case, doc: &Node, name: &str, c: &Node, s: &ServiceSpec, d: &mut Vec<String>) {
    let mut eq = |what: &str, a: String, b: String| {
        if a != b {
            d.push(format!("{name}.{what}: compose {a}, skiff {b}"));
        }
    };
    eq(
        "image",
        format!("{:?}", c.get("image").map(text)),
        format!("{:?}", s.image),
    );
    let opt = |n: Option<&Node>| n.map(|n| list(Some(n)));
    eq(
        "command",
        format!("{:?}", opt(c.get("command"))),
        format!("{:?}", s.command),
    );
    eq(
        "entrypoint",
        format!("{:?}", opt(c.get("entrypoint"))),
        format!("{:?}", s.entrypoint),
    );
    eq(
        "environment",
        format!("{:?}", map(c.get("environment"))),
        format!("{:?}", s.env),
    );
    let expose: Vec<u16> = list(c.get("expose"))
        .iter()
        .map(|p| p.split('/').next().unwrap().parse().unwrap())
        .collect();
    eq("expose", format!("{expose:?}"), format!("{:?}", s.expose));
    let mut my_nets = s.networks.clone();
    my_nets.sort();
    eq(
        "networks",
        format!("{:?}", keys(c.get("networks"))),
        format!("{my_nets:?}"),
    );
    let deps: BTreeMap<String, DependsCondition> = c
        .get("depends_on")
        .and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .map(|(k, v)| {
            (
                k.name.clone(),
                condition(&v.get("condition").map(text).unwrap_or_default()),
            )
        })
        .collect();
    eq(
        "depends_on",
        format!("{deps:?}"),
        format!("{:?}", s.depends_on),
    );
    let deploy = c.get("deploy");
    let replicas = deploy
        .and_then(|d| d.get("replicas"))
        .or(c.get("scale"))
        .map_or(1, |r| text(r).parse::<u32>().unwrap());
    eq("replicas", replicas.to_string(), s.replicas.to_string());
    let limits = deploy
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.get("limits"));
    let cpus = limits
        .and_then(|l| l.get("cpus"))
        .map(|c| (text(c).parse::<f64>().unwrap() * 1000.0) as u64);
    eq(
        "cpus",
        format!("{cpus:?}"),
        format!("{:?}", s.resources.cpu_milli),
    );
    let mem = limits
        .and_then(|l| l.get("memory"))
        .map(|m| bytes(&text(m)));
    eq(
        "memory",
        format!("{mem:?}"),
        format!("{:?}", s.resources.memory),
    );
    eq(
        "labels",
        format!("{:?}", map(c.get("labels"))),
        format!("{:?}", s.labels),
    );
    let restart = c.get("restart").map_or("no".to_string(), text);
    eq("restart", restart, s.restart.to_string());
    eq(
        "profiles",
        format!("{:?}", list(c.get("profiles"))),
        format!("{:?}", s.profiles),
    );
    eq(
        "stop_signal",
        format!("{:?}", c.get("stop_signal").map(text)),
        format!("{:?}", s.stop_signal),
    );
    let grace = c.get("stop_grace_period").map(|g| ms(&text(g)));
    eq(
        "stop_grace_period",
        format!("{grace:?}"),
        format!("{:?}", s.stop_grace_ms),
    );
    let my_ports: Vec<Port> = {
        let mut v: Vec<Port> = s
            .ports
            .iter()
            .map(|p| {
                (
                    p.host_ip.map(|i| i.to_string()),
                    p.host,
                    p.container,
                    p.proto,
                )
            })
            .collect();
        v.sort_by_key(|p| format!("{p:?}"));
        v
    };
    eq(
        "ports",
        format!("{:?}", ports(c.get("ports"))),
        format!("{my_ports:?}"),
    );
    let my_mounts: Vec<Mount> = {
        let mut v: Vec<Mount> = s
            .volumes
            .iter()
            .map(|m| {
                let src = match m.kind {
                    MountKind::Bind => canon(&case.dir, &m.source).display().to_string(),
                    _ => m.source.clone(),
                };
                (m.kind, src, m.target.clone(), m.read_only)
            })
            .collect();
        v.sort_by_key(|m| format!("{m:?}"));
        v
    };
    eq(
        "volumes",
        format!("{:?}", mounts(&case.dir, c.get("volumes"))),
        format!("{my_mounts:?}"),
    );
    let mut my_files: Vec<(PathBuf, String)> = s
        .files
        .iter()
        .map(|f| (canon(&case.dir, &f.source), f.target.clone()))
        .collect();
    my_files.sort();
    eq(
        "secrets+configs",
        format!("{:?}", files(doc, c, &case.dir)),
        format!("{my_files:?}"),
    );
    health(name, c.get("healthcheck"), s, d);
}

fn health(name: &str, h: Option<&Node>, s: &ServiceSpec, d: &mut Vec<String>) {
    let test = h.and_then(|h| h.get("test"));
    let disabled = h.and_then(|h| h.get("disable")).map(text).as_deref() == Some("true")
        || list(test).first().map(String::as_str) == Some("NONE");
    let want_argv = match test.map(|t| &t.value) {
        _ if disabled => None,
        None => None,
        Some(Value::Str(sh)) => Some(vec!["/bin/sh".to_string(), "-c".into(), sh.clone()]),
        Some(_) => {
            let t = list(test);
            match t[0].as_str() {
                "CMD-SHELL" => Some(vec!["/bin/sh".to_string(), "-c".into(), t[1].clone()]),
                _ => Some(t[1..].to_vec()),
            }
        }
    };
    let got_argv = s.healthcheck.as_ref().map(|hc| match &hc.probe {
        HealthProbe::Cmd { argv } => argv.clone(),
        other => vec![format!("{other:?}")],
    });
    if disabled != s.no_healthcheck {
        d.push(format!(
            "{name}.healthcheck disabled: compose {disabled}, skiff {}",
            s.no_healthcheck
        ));
    }
    if want_argv != got_argv {
        d.push(format!(
            "{name}.healthcheck.test: compose {want_argv:?}, skiff {got_argv:?}"
        ));
    }
    let (Some(h), Some(hc)) = (h, s.healthcheck.as_ref()) else {
        return;
    };
    for (key, got, default) in [
        ("interval", hc.interval_ms, 30_000),
        ("timeout", hc.timeout_ms, 30_000),
        ("start_period", hc.start_period_ms, 0),
    ] {
        let want = h.get(key).map_or(default, |v| ms(&text(v)));
        if want != got {
            d.push(format!(
                "{name}.healthcheck.{key}: compose {want} ms, skiff {got} ms"
            ));
        }
    }
    let retries = h.get("retries").map_or(3, |r| text(r).parse().unwrap());
    if retries != hc.retries {
        d.push(format!(
            "{name}.healthcheck.retries: compose {retries}, skiff {}",
            hc.retries
        ));
    }
}
