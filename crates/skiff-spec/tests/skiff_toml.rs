//! skiff.toml (and its YAML twin): services, placement, lb, overlays, errors.

mod common;

use common::Project;
use skiff_spec::LoadOptions;
use skiff_types::{DependsCondition, HealthProbe, JobClass, LbMode};

const WEBAPP: &str = r#"
name = "webapp"

[services.web]
image = "skiff/web"
command = "httpd -f -p 80 -h /www"
env = { GREETING = "hello" }
env_file = "web.env"
replicas = 3
resources = { memory = "64m", cpus = 0.25 }
ports = ["8080:80"]
volumes = ["site:/www:ro"]
networks = ["front"]
healthcheck = { http = "/", port = 80, interval = "2s", retries = 5, start_period = "10s", start_interval = "250ms" }
restart = "always"
spread = 1
lb = { listen = "127.0.0.1:8080", mode = "http", port = 80 }

[services.monitor]
build = { context = "./monitor", file = "Containerfile", args = { V = "2" } }
with = "web"
depends_on = { web = "healthy" }

[services.crunch]
image = "busybox"
command = ["sh", "-c", "i=0; while :; do i=$((i+1)); done"]
class = "batch"
priority = -5
uses = ["web"]
depends_on = ["web"]

[volumes.site]
[networks.front]

[env.prod.web]
replicas = 8
env = { GREETING = "hello from prod", LEVEL = "warn" }
resources = { memory = "256m" }

[env.dev.web]
replicas = 1
"#;

#[test]
fn webapp_topology_with_placement_lb_and_classes() {
    let p = Project::new(&[
        ("skiff.toml", WEBAPP),
        ("web.env", "GREETING=from-file\nTZ=UTC\n"),
    ]);
    let t = p.load(&["skiff.toml"], &LoadOptions::default()).unwrap();
    assert_eq!(t.name, "webapp");
    let web = &t.services["web"];
    assert_eq!(web.replicas, 3);
    assert_eq!(
        web.command.as_deref().unwrap(),
        &["httpd", "-f", "-p", "80", "-h", "/www"]
    );
    assert_eq!(web.env["GREETING"], "hello");
    assert_eq!(web.env["TZ"], "UTC");
    assert_eq!(web.resources.memory, Some(64 << 20));
    assert_eq!(web.resources.cpu_milli, Some(250));
    assert_eq!(web.placement.spread, Some(1));
    let lb = web.lb.as_ref().unwrap();
    assert_eq!(
        (lb.listen.port(), lb.mode, lb.port),
        (8080, LbMode::Http, 80)
    );
    let hc = web.healthcheck.as_ref().unwrap();
    assert_eq!(
        hc.probe,
        HealthProbe::Http {
            path: "/".into(),
            port: 80
        }
    );
    assert_eq!((hc.interval_ms, hc.retries), (2000, 5));
    assert_eq!((hc.start_period_ms, hc.start_interval_ms), (10_000, 250));
    let mon = &t.services["monitor"];
    assert_eq!(mon.placement.with.as_deref(), Some("web"));
    assert_eq!(mon.wanted_replicas(&t), 3);
    assert_eq!(mon.depends_on["web"], DependsCondition::Healthy);
    assert_eq!(mon.build.as_ref().unwrap().args["V"], "2");
    let crunch = &t.services["crunch"];
    assert_eq!((crunch.class, crunch.priority), (JobClass::Batch, -5));
    assert_eq!(crunch.uses, vec!["web"]);
    assert_eq!(crunch.depends_on["web"], DependsCondition::Started);
    assert!(t.volumes.contains_key("site") && t.networks.contains_key("front"));
}

#[test]
fn env_overlays_are_selected_by_name() {
    let p = Project::new(&[("skiff.toml", WEBAPP), ("web.env", "")]);
    let prod = LoadOptions {
        env: Some("prod".into()),
        ..Default::default()
    };
    let t = p.load(&["skiff.toml"], &prod).unwrap();
    let web = &t.services["web"];
    assert_eq!(web.replicas, 8);
    assert_eq!(web.env["GREETING"], "hello from prod");
    assert_eq!(web.env["LEVEL"], "warn");
    assert_eq!(web.resources.memory, Some(256 << 20));
    assert_eq!(
        web.resources.cpu_milli,
        Some(250),
        "fields not overridden stay"
    );
    assert_eq!(t.services["monitor"].wanted_replicas(&t), 8);
    let dev = LoadOptions {
        env: Some("dev".into()),
        ..Default::default()
    };
    assert_eq!(
        p.load(&["skiff.toml"], &dev).unwrap().services["web"].replicas,
        1
    );
    let e = p.errors(
        &["skiff.toml"],
        &LoadOptions {
            env: Some("staging".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        e,
        vec!["skiff.toml:1:1: no environment `staging` in this file (define [env.staging])"]
    );
}

#[test]
fn yaml_uses_the_same_schema() {
    let yaml = "name: y\nservices:\n  web:\n    image: busybox\n    replicas: 2\n    spread: 1\n  side:\n    image: busybox\n    with: web\nenv:\n  prod:\n    web:\n      replicas: 4\n";
    let p = Project::new(&[("skiff.yaml", yaml)]);
    let opts = LoadOptions {
        env: Some("prod".into()),
        ..Default::default()
    };
    let t = p.load(&["skiff.yaml"], &opts).unwrap();
    assert_eq!(t.services["web"].replicas, 4);
    assert_eq!(t.services["side"].placement.with.as_deref(), Some("web"));
}

#[test]
fn errors_carry_positions_and_nothing_is_returned() {
    let text = r#"[services.web]
image = "busybox"
replicaz = 3
depends_on = ["db"]
resources = { memory = "1k" }

[services.a]
image = "x"
depends_on = ["b"]

[services.b]
image = "x"
depends_on = { a = "healthy" }

[services.m]
image = "x"
with = "ghost"
lb = { listen = "nope", port = 80 }

[env.prod.nobody]
replicas = 2
"#;
    let p = Project::new(&[("skiff.toml", text)]);
    let e = p.errors(&["skiff.toml"], &LoadOptions::default());
    assert_eq!(
        e,
        vec![
            "skiff.toml:3:1: unknown key `replicaz` in service `web`",
            "skiff.toml:4:15: depends_on: unknown service `db` (in service `web`)",
            "skiff.toml:5:24: memory: minimum memory limit allowed is 6MB, got \"1k\"",
            "skiff.toml:13:16: depends_on cycle: a -> b -> a",
            "skiff.toml:17:8: with: unknown service `ghost` (in service `m`)",
            "skiff.toml:18:17: listen \"nope\": want PORT or IP:PORT",
            "skiff.toml:20:11: env.prod: unknown service `nobody`",
        ]
    );
}

#[test]
fn with_cycles_and_syntax_errors() {
    let p = Project::new(&[(
        "skiff.toml",
        "[services.a]\nimage = \"x\"\nwith = \"b\"\n[services.b]\nimage = \"x\"\nwith = \"a\"\n",
    )]);
    let e = p.errors(&["skiff.toml"], &LoadOptions::default());
    assert_eq!(e, vec!["skiff.toml:6:8: with cycle: a -> b -> a"]);
    let p = Project::new(&[("skiff.toml", "[services.a]\nimage = \n")]);
    let e = p.errors(&["skiff.toml"], &LoadOptions::default());
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("skiff.toml:2:"), "{e:?}");
    assert!(e[0].contains("invalid TOML"), "{e:?}");
    let p = Project::new(&[(
        "skiff.yaml",
        "services:\n  a:\n    image: x\n    with: [1\n",
    )]);
    let e = p.errors(&["skiff.yaml"], &LoadOptions::default());
    assert!(
        e[0].starts_with("skiff.yaml:") && e[0].contains("invalid YAML"),
        "{e:?}"
    );
}

#[test]
fn missing_files_are_errors() {
    let p = Project::new(&[(
        "skiff.toml",
        "[services.a]\nimage = \"x\"\nenv_file = \"gone.env\"\n",
    )]);
    let e = p.errors(&["skiff.toml"], &LoadOptions::default());
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("skiff.toml:3:12: env_file "), "{e:?}");
    let e = p.errors(&["nothere.toml"], &LoadOptions::default());
    assert!(e[0].starts_with("nothere.toml: cannot read"), "{e:?}");
}
