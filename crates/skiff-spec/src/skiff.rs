//! The `skiff.toml` schema (YAML accepted with the same schema):
//!
//! ```toml
//! name = "webapp"                      # optional; defaults to the directory name
//! [services.web]
//! image = "busybox"                    # or build = "./web" / { context, file, args }
//! command = ["httpd", "-f"]            # or a string, split like sh
//! env = { GREETING = "hi" }
//! env_file = ["web.env"]
//! replicas = 3
//! resources = { memory = "64m", cpus = 0.25 }
//! ports = ["8080:80"]
//! volumes = ["site:/www:ro"]
//! networks = ["front"]
//! healthcheck = { http = "/", port = 80, interval = "5s" }   # or cmd / shell / tcp
//! depends_on = { db = "healthy" }      # or ["db"] (started)
//! restart = "always"
//! stop_signal = "SIGINT"               # default: the image's STOPSIGNAL, else SIGTERM
//! stop_grace = "3s"                    # wait before SIGKILL; default 10s
//! uses = ["db"]                        # reached through a local ambassador
//! lb = { listen = 8080, mode = "http", port = 80 }
//! class = "service"                    # or "batch"
//! priority = 10
//! spread = 1                           # at most 1 per host
//! [services.monitor]
//! with = "web"                         # one beside each web instance
//! [env.prod.web]                       # overlay, selected with --env prod
//! replicas = 8
//! env = { LEVEL = "warn" }
//! resources = { memory = "256m" }
//! ```

use crate::error::{Errors, Pos};
use crate::fields;
use crate::node::Node;
use crate::validate::{Ref, RefKind};
use crate::walk::{self, Fields};
use crate::Reader;
use skiff_types::{
    BuildSpec, DependsCondition, FileMount, HealthProbe, JobClass, LbMode, LbSpec, NetworkSpec,
    ServiceSpec, Topology, VolumeSpec,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

/// Lowers a parsed skiff.toml (or skiff.yaml) into a topology, applying the
/// overlay named `env` if any. Errors go to `errs`; refs to `refs`.
pub fn lower(
    root: &Node,
    default_name: &str,
    env: Option<&str>,
    dir: &Path,
    read: Reader<'_>,
    errs: &mut Errors,
    refs: &mut Vec<Ref>,
) -> Topology {
    let mut topo = Topology {
        name: default_name.to_string(),
        ..Default::default()
    };
    let Some(mut f) = Fields::of(root, "the topology", errs) else {
        return topo;
    };
    if let Some(n) = f.take("name").and_then(|n| walk::string(n, "name", errs)) {
        topo.name = n;
    }
    if let Some(services) = f.take("services") {
        if let Some(sf) = Fields::of(services, "services", errs) {
            for (k, v) in services.as_map().unwrap_or(&[]) {
                let s = service(&k.name, v, dir, read, errs, refs);
                topo.services.insert(k.name.clone(), s);
            }
            drop(sf);
        }
    }
    if let Some(v) = f.take("volumes") {
        for name in names(v, "volumes", errs) {
            topo.volumes.insert(name, VolumeSpec::default());
        }
    }
    if let Some(v) = f.take("networks") {
        for name in names(v, "networks", errs) {
            topo.networks.insert(name, NetworkSpec::default());
        }
    }
    let envs = f.take("env");
    f.finish(errs, false, &[]);
    overlays(&mut topo, envs, env, &root.pos, errs);
    topo
}

/// `volumes`/`networks`: a list of names or a table of (empty) tables.
fn names(n: &Node, what: &str, errs: &mut Errors) -> Vec<String> {
    match n.as_map() {
        Some(m) => {
            for (k, v) in m {
                if let Some(f) = Fields::of(v, format!("{what}.{}", k.name), errs) {
                    f.finish(errs, false, &["driver", "labels"]);
                }
            }
            m.iter().map(|(k, _)| k.name.clone()).collect()
        }
        None => walk::list(n, what, errs),
    }
}

fn service(
    name: &str,
    n: &Node,
    dir: &Path,
    read: Reader<'_>,
    errs: &mut Errors,
    refs: &mut Vec<Ref>,
) -> ServiceSpec {
    let mut s = ServiceSpec {
        name: name.to_string(),
        replicas: 1,
        ..Default::default()
    };
    let Some(mut f) = Fields::of(n, format!("service `{name}`"), errs) else {
        return s;
    };
    let mut r = |to: String, kind, pos: &Pos| {
        refs.push(Ref {
            from: name.to_string(),
            to,
            kind,
            pos: pos.clone(),
        })
    };
    s.image = f.take("image").and_then(|v| walk::string(v, "image", errs));
    s.build = f.take("build").and_then(|v| build(v, errs));
    s.command = f
        .take("command")
        .and_then(|v| walk::command(v, "command", errs));
    s.entrypoint = f
        .take("entrypoint")
        .and_then(|v| walk::command(v, "entrypoint", errs));
    let files: Vec<(String, Pos, bool)> = f
        .take("env_file")
        .map(|v| {
            walk::strings(v, "env_file", errs)
                .into_iter()
                .map(|p| (p, v.pos.clone(), true))
                .collect()
        })
        .unwrap_or_default();
    s.env = crate::dotenv::read_files(&files, dir, read, errs);
    if let Some(v) = f.take("env") {
        s.env.extend(walk::kv_map(v, "env", errs));
    }
    if let Some(v) = f.take("replicas") {
        s.replicas = walk::int(v, "replicas", 0, 100_000, errs).unwrap_or(1) as u32;
    }
    if let Some(v) = f.take("resources") {
        resources(&mut s, v, errs);
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
        s.expose
            .extend(walk::int(p, "expose", 1, 65535, errs).map(|p| p as u16));
    }
    for v in f
        .take("volumes")
        .map(|v| seq(v, "volumes", errs))
        .unwrap_or_default()
    {
        s.volumes.extend(fields::mount(v, errs));
    }
    s.networks = f
        .take("networks")
        .map(|v| walk::list(v, "networks", errs))
        .unwrap_or_default();
    s.healthcheck = f.take("healthcheck").and_then(|v| health(v, errs));
    if let Some(v) = f.take("depends_on") {
        for (to, cond, pos) in depends(v, errs) {
            r(to.clone(), RefKind::DependsOn, &pos);
            s.depends_on.insert(to, cond);
        }
    }
    s.restart = f
        .take("restart")
        .and_then(|v| fields::restart(v, errs))
        .unwrap_or_default();
    fields::stop(&mut f, "stop_grace", &mut s, errs);
    if let Some(v) = f.take("uses") {
        for u in seq(v, "uses", errs) {
            if let Some(to) = walk::string(u, "uses", errs) {
                r(to.clone(), RefKind::Uses, &u.pos);
                s.uses.push(to);
            }
        }
    }
    s.lb = f.take("lb").and_then(|v| lb(v, errs));
    s.class = match f.take("class") {
        None => JobClass::Service,
        Some(v) => match walk::string(v, "class", errs).as_deref() {
            Some("service") | None => JobClass::Service,
            Some("batch") => JobClass::Batch,
            Some(_) => {
                errs.push(&v.pos, "class must be service or batch");
                JobClass::Service
            }
        },
    };
    s.priority = f
        .take("priority")
        .and_then(|v| walk::int(v, "priority", -1000, 1000, errs))
        .unwrap_or(0) as i32;
    s.placement.spread = f
        .take("spread")
        .and_then(|v| walk::int(v, "spread", 1, 100_000, errs))
        .map(|v| v as u32);
    if let Some(v) = f.take("with") {
        if let Some(to) = walk::string(v, "with", errs) {
            r(to.clone(), RefKind::With, &v.pos);
            s.placement.with = Some(to);
        }
        if let Some(rep) = n.get("replicas") {
            errs.push(&rep.pos, "replicas and with exclude each other: a `with` service runs one instance beside each instance of its partner");
        }
    }
    if let Some(v) = f.take("labels") {
        s.labels = walk::kv_map(v, "labels", errs);
    }
    for v in f
        .take("files")
        .map(|v| seq(v, "files", errs))
        .unwrap_or_default()
    {
        if let Some(mut ff) = Fields::of(v, "a file", errs) {
            let source = ff
                .take("source")
                .and_then(|x| walk::string(x, "source", errs));
            let target = ff
                .take("target")
                .and_then(|x| walk::string(x, "target", errs));
            ff.finish(errs, false, &[]);
            match (source, target) {
                (Some(source), Some(target)) => s.files.push(FileMount { source, target }),
                _ => errs.push(&v.pos, "a file needs source and target"),
            }
        }
    }
    f.finish(errs, false, &[]);
    if s.image.is_none() && s.build.is_none() {
        errs.push(
            &n.pos,
            format!("service `{name}` needs an image or a build"),
        );
    }
    s
}

pub fn seq<'a>(n: &'a Node, what: &str, errs: &mut Errors) -> Vec<&'a Node> {
    match &n.value {
        crate::node::Value::Seq(items) => items.iter().collect(),
        _ => {
            errs.push(&n.pos, format!("{what} must be a list, not {}", n.kind()));
            vec![]
        }
    }
}

fn resources(s: &mut ServiceSpec, n: &Node, errs: &mut Errors) {
    let Some(mut f) = Fields::of(n, "resources", errs) else {
        return;
    };
    if let Some(m) = f.take("memory") {
        s.resources.memory = fields::memory(m, errs);
    }
    if let Some(c) = f.take("cpus") {
        s.resources.cpu_milli = fields::cpus(c, errs);
    }
    f.finish(errs, false, &[]);
}

fn build(n: &Node, errs: &mut Errors) -> Option<BuildSpec> {
    if let crate::node::Value::Str(c) = &n.value {
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
    let file = f.take("file").and_then(|v| walk::string(v, "file", errs));
    let args = f
        .take("args")
        .map(|v| walk::kv_map(v, "args", errs))
        .unwrap_or_default();
    f.finish(errs, false, &[]);
    Some(BuildSpec {
        context,
        file,
        args,
    })
}

fn health(n: &Node, errs: &mut Errors) -> Option<skiff_types::HealthCheck> {
    let mut f = Fields::of(n, "healthcheck", errs)?;
    let port = f
        .take("port")
        .and_then(|p| walk::int(p, "port", 1, 65535, errs))
        .map(|p| p as u16);
    let probe = if let Some(c) = f.take("cmd") {
        walk::command(c, "cmd", errs).map(|argv| HealthProbe::Cmd { argv })
    } else if let Some(c) = f.take("shell") {
        walk::string(c, "shell", errs).map(|s| HealthProbe::Cmd {
            argv: vec!["/bin/sh".into(), "-c".into(), s],
        })
    } else if let Some(h) = f.take("http") {
        let path = walk::string(h, "http", errs);
        if port.is_none() {
            errs.push(&n.pos, "an http health check needs a port");
        }
        path.zip(port)
            .map(|(path, port)| HealthProbe::Http { path, port })
    } else if let Some(t) = f.take("tcp") {
        walk::int(t, "tcp", 1, 65535, errs).map(|p| HealthProbe::Tcp { port: p as u16 })
    } else {
        errs.push(&n.pos, "healthcheck needs one of cmd, shell, http or tcp");
        None
    };
    let hc = probe.map(|p| fields::health_timing(&mut f, p, errs));
    f.finish(errs, false, &[]);
    hc
}

/// `["db"]` (started) or `{ db = "healthy" }`.
fn depends(n: &Node, errs: &mut Errors) -> Vec<(String, DependsCondition, Pos)> {
    if let Some(m) = n.as_map() {
        return m
            .iter()
            .filter_map(|(k, v)| {
                let c = match walk::string(v, "condition", errs)?.as_str() {
                    "started" => DependsCondition::Started,
                    "healthy" => DependsCondition::Healthy,
                    "completed" => DependsCondition::Completed,
                    other => {
                        errs.push(
                            &v.pos,
                            format!("condition {other:?}: want started, healthy or completed"),
                        );
                        return None;
                    }
                };
                Some((k.name.clone(), c, k.pos.clone()))
            })
            .collect();
    }
    seq(n, "depends_on", errs)
        .into_iter()
        .filter_map(|d| {
            walk::string(d, "depends_on", errs)
                .map(|s| (s, DependsCondition::Started, d.pos.clone()))
        })
        .collect()
}

fn lb(n: &Node, errs: &mut Errors) -> Option<LbSpec> {
    let mut f = Fields::of(n, "lb", errs)?;
    let listen = match f.take("listen") {
        Some(l) => match &l.value {
            crate::node::Value::Int(_) => walk::int(l, "listen", 1, 65535, errs)
                .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), p as u16)),
            _ => walk::string(l, "listen", errs).and_then(|s| {
                s.parse::<SocketAddr>()
                    .map_err(|_| errs.push(&l.pos, format!("listen {s:?}: want PORT or IP:PORT")))
                    .ok()
            }),
        },
        None => {
            errs.push(&n.pos, "lb needs listen");
            None
        }
    };
    let mode = match f.take("mode") {
        None => Some(LbMode::Http),
        Some(m) => match walk::string(m, "mode", errs).as_deref() {
            Some("http") => Some(LbMode::Http),
            Some("tcp") => Some(LbMode::Tcp),
            _ => {
                errs.push(&m.pos, "mode must be http or tcp");
                None
            }
        },
    };
    let port = match f.take("port") {
        Some(p) => walk::int(p, "port", 1, 65535, errs).map(|p| p as u16),
        None => {
            errs.push(&n.pos, "lb needs the service port to forward to (port)");
            None
        }
    };
    f.finish(errs, false, &[]);
    Some(LbSpec {
        listen: listen?,
        mode: mode?,
        port: port?,
    })
}

/// Checks every overlay and applies the selected one.
fn overlays(
    topo: &mut Topology,
    envs: Option<&Node>,
    selected: Option<&str>,
    at: &Pos,
    errs: &mut Errors,
) {
    let mut found = false;
    if let Some(envs) = envs {
        let Some(ef) = Fields::of(envs, "env", errs) else {
            return;
        };
        drop(ef);
        for (ek, ev) in envs.as_map().unwrap_or(&[]) {
            let apply = selected == Some(ek.name.as_str());
            found |= apply;
            let Some(sf) = Fields::of(ev, format!("env.{}", ek.name), errs) else {
                continue;
            };
            drop(sf);
            for (sk, sv) in ev.as_map().unwrap_or(&[]) {
                let Some(s) = topo.services.get(&sk.name).cloned() else {
                    errs.push(
                        &sk.pos,
                        format!("env.{}: unknown service `{}`", ek.name, sk.name),
                    );
                    continue;
                };
                let mut s2 = s;
                overlay(&mut s2, sv, &format!("env.{}.{}", ek.name, sk.name), errs);
                if apply {
                    topo.services.insert(sk.name.clone(), s2);
                }
            }
        }
    }
    if let (Some(name), false) = (selected, found) {
        errs.push(
            at,
            format!("no environment `{name}` in this file (define [env.{name}])"),
        );
    }
}

fn overlay(s: &mut ServiceSpec, n: &Node, what: &str, errs: &mut Errors) {
    let Some(mut f) = Fields::of(n, what.to_string(), errs) else {
        return;
    };
    if let Some(v) = f.take("replicas") {
        s.replicas = walk::int(v, "replicas", 0, 100_000, errs).unwrap_or(s.replicas as i64) as u32;
    }
    if let Some(v) = f.take("env") {
        s.env.extend(walk::kv_map(v, "env", errs));
    }
    if let Some(v) = f.take("resources") {
        resources(s, v, errs);
    }
    f.finish(errs, false, &[]);
}
