//! The topology files the repository ships (examples/webapp, bench/compose-up)
//! load from the repo as they are, so a schema change that breaks them fails CI.

use skiff_spec::{load, LoadOptions};
use skiff_types::{
    DependsCondition, HealthProbe, JobClass, LbMode, MountKind, RestartPolicy, Topology,
};
use std::path::PathBuf;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn load_ok(rel: &str, env: Option<&str>) -> Topology {
    let opts = LoadOptions {
        env: env.map(str::to_string),
        ..Default::default()
    };
    load(&[repo(rel)], &opts).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn webapp_skiff_toml() {
    let t = load_ok("examples/webapp/skiff.toml", None);
    assert_eq!(t.name, "webapp");
    let names: Vec<&str> = t.services.keys().map(String::as_str).collect();
    assert_eq!(names, ["count", "monitor", "web"]);
    assert!(t.volumes.contains_key("shared"));

    let web = &t.services["web"];
    assert_eq!(web.replicas, 3);
    assert_eq!(web.image.as_deref(), Some("webapp/web"));
    let build = web.build.as_ref().expect("web is built");
    assert_eq!(
        (build.context.as_str(), build.file.as_deref()),
        ("web", Some("Containerfile"))
    );
    let lb = web.lb.as_ref().expect("web has an lb");
    assert_eq!(lb.listen, "127.0.0.1:18480".parse().unwrap());
    assert_eq!((lb.mode, lb.port), (LbMode::Http, 8080));
    let hc = web.healthcheck.as_ref().expect("web has a health check");
    assert_eq!(
        hc.probe,
        HealthProbe::Http {
            path: "/".into(),
            port: 8080
        }
    );
    assert_eq!(hc.interval_ms, 1000);
    assert_eq!(web.volumes[0].kind, MountKind::Volume);
    assert_eq!(
        (web.volumes[0].source.as_str(), web.volumes[0].read_only),
        ("shared", true)
    );
    assert_eq!(web.restart, RestartPolicy::Always);

    let mon = &t.services["monitor"];
    assert_eq!(mon.placement.with.as_deref(), Some("web"));
    assert_eq!(mon.wanted_replicas(&t), 3);
    assert_eq!(mon.depends_on["web"], DependsCondition::Healthy);
    assert_eq!(mon.env["TARGET"], "web.skiff:8080");

    let count = &t.services["count"];
    assert_eq!(count.class, JobClass::Batch);
    assert!(count.priority < web.priority);
    assert_eq!(count.volumes[0].source, "shared");
    assert!(!count.volumes[0].read_only);
    assert_eq!(count.depends_on["web"], DependsCondition::Healthy);
    assert!(count.healthcheck.is_some());
}

#[test]
fn webapp_prod_overlay() {
    let dev = load_ok("examples/webapp/skiff.toml", None);
    let prod = load_ok("examples/webapp/skiff.toml", Some("prod"));
    let (w0, w1) = (&dev.services["web"], &prod.services["web"]);
    assert_eq!(w1.replicas, 5);
    assert_ne!(w0.env["GREETING"], w1.env["GREETING"]);
    assert!(w1.resources.memory > w0.resources.memory);
    // The monitors follow web's replica count.
    assert_eq!(prod.services["monitor"].wanted_replicas(&prod), 5);
    assert_eq!(prod.services["count"].env["STEP"], "1");
    // What the overlay does not name is untouched.
    assert_eq!(w1.lb, w0.lb);
    assert_eq!(prod.services["monitor"], dev.services["monitor"]);
    // What placement charges: both fit a 2-core host.
    for topo in [&dev, &prod] {
        let cpu: u64 = topo
            .services
            .values()
            .map(|s| s.resources.charge().cpu_milli * u64::from(s.wanted_replicas(topo)))
            .sum();
        assert!(cpu <= 2000, "{} reserves {cpu}m cpu", topo.name);
    }
}

/// compose.yaml says the same application in Compose's words.
#[test]
fn webapp_compose_matches_skiff_toml() {
    let s = load_ok("examples/webapp/skiff.toml", None);
    let c = load_ok("examples/webapp/compose.yaml", None);
    assert_eq!(c.name, "webapp", "the project name is the directory's");
    for name in ["web", "monitor", "count"] {
        let (a, b) = (&s.services[name], &c.services[name]);
        assert_eq!(a.image, b.image, "{name}: image");
        assert_eq!(a.build, b.build, "{name}: build");
        assert_eq!(a.volumes, b.volumes, "{name}: volumes");
        assert_eq!(a.resources, b.resources, "{name}: resources");
        assert_eq!(a.depends_on, b.depends_on, "{name}: depends_on");
        assert_eq!(a.restart, b.restart, "{name}: restart");
        assert_eq!(a.stop_grace_ms, Some(1000), "{name}: a quick down");
        assert_eq!(a.stop_grace_ms, b.stop_grace_ms, "{name}: stop grace");
        assert_eq!(a.wanted_replicas(&s), b.wanted_replicas(&c), "{name}");
        let (ha, hb) = (a.healthcheck.as_ref(), b.healthcheck.as_ref());
        assert_eq!(
            ha.map(|h| h.interval_ms),
            hb.map(|h| h.interval_ms),
            "{name}: health interval"
        );
    }
    assert_eq!(s.services["web"].env, c.services["web"].env);
    // Compose has no lb section: its `lb` service publishes the same address.
    let lb = &c.services["lb"];
    let listen = s.services["web"].lb.as_ref().unwrap().listen;
    assert_eq!(lb.ports[0].host_ip, Some(listen.ip()));
    assert_eq!(lb.ports[0].host, Some(listen.port()));
    assert!(c.volumes.contains_key("shared"));
}

/// The 20-service topology bench/compose-up.sh times on every engine.
#[test]
fn bench_compose_up_topology() {
    let t = load_ok("bench/compose-up/compose.yaml", None);
    assert_eq!(t.services.len(), 20);
    for s in t.services.values() {
        assert_eq!(s.replicas, 1);
        let hc = s
            .healthcheck
            .as_ref()
            .expect("every service has a health check");
        assert!(matches!(hc.probe, HealthProbe::Cmd { .. }));
        assert!(s.image.is_some());
        assert_eq!(s.stop_grace_ms, Some(1000), "httpd ignores SIGTERM");
    }
}
