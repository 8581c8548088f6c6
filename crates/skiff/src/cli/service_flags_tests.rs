use super::*;
use clap::Parser;

#[derive(Parser)]
struct T {
    #[command(flatten)]
    f: ServiceFlags,
}

fn spec(args: &[&str]) -> anyhow::Result<ContainerSpec> {
    let f = T::try_parse_from(std::iter::once("run").chain(args.iter().copied()))?.f;
    let mut spec = ContainerSpec::default();
    f.apply(&mut spec)?;
    Ok(spec)
}

#[test]
fn services_and_tags() {
    let s = spec(&[
        "--service",
        "web:80",
        "--service",
        "dns:53/udp",
        "--tag",
        "v1",
    ])
    .unwrap();
    assert_eq!(s.services.len(), 2);
    assert_eq!(s.services[0].name, "web");
    assert_eq!(s.services[1].proto, Proto::Udp);
    assert_eq!(s.services[1].tags, ["v1"]);
    assert!(s.health.is_none());
    for bad in [
        &["--service", "web"][..],
        &["--service", "web:0"],
        &["--service", "web:70000"],
        &["--service", "Web:80"],
        &["--service", "web:80/sctp"],
        &["--service", "web:80", "--service", "web:80"],
        &["--tag", "x"],
    ] {
        assert!(spec(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn health_flags_follow_docker() {
    let s = spec(&[
        "--service",
        "web:8080",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-timeout",
        "500ms",
        "--health-retries",
        "1",
        "--health-start-period",
        "1m30s",
    ])
    .unwrap();
    let h = s.health.unwrap();
    assert_eq!(
        h.probe,
        HealthProbe::Cmd {
            argv: vec!["/bin/sh".into(), "-c".into(), "test -f /tmp/ok".into()]
        }
    );
    assert_eq!(
        (h.interval_ms, h.timeout_ms, h.retries, h.start_period_ms),
        (1000, 500, 1, 90_000)
    );
    let d = spec(&["--health-cmd", "true"]).unwrap().health.unwrap();
    assert_eq!(
        (d.interval_ms, d.timeout_ms, d.retries, d.start_period_ms),
        (30_000, 30_000, 3, 0)
    );
    let http = spec(&["--service", "web:8080", "--health-http", "/healthz"]).unwrap();
    assert_eq!(
        http.health.unwrap().probe,
        HealthProbe::Http {
            path: "/healthz".into(),
            port: 8080
        }
    );
    let tcp = spec(&["--service", "web:8080", "--health-tcp"]).unwrap();
    assert_eq!(tcp.health.unwrap().probe, HealthProbe::Tcp { port: 8080 });
    let tcp = spec(&["--health-tcp=9"]).unwrap();
    assert_eq!(tcp.health.unwrap().probe, HealthProbe::Tcp { port: 9 });
    assert!(spec(&["--no-healthcheck", "--service", "a:1"])
        .unwrap()
        .health
        .is_none());
}

#[test]
fn health_flags_refuse_nonsense() {
    for bad in [
        &["--no-healthcheck", "--health-cmd", "true"][..],
        &["--health-cmd", "true", "--health-tcp=80"],
        &["--health-http", "/"],
        &["--health-tcp"],
        &["--health-interval", "1s"],
        &["--health-cmd", " "],
        &["--health-cmd", "true", "--health-interval", "soon"],
        &["--health-cmd", "true", "--health-timeout", "5"],
    ] {
        assert!(spec(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn durations() {
    assert_eq!(parse_duration_ms("30s").unwrap(), 30_000);
    assert_eq!(parse_duration_ms("1m30s").unwrap(), 90_000);
    assert_eq!(parse_duration_ms("1.5s").unwrap(), 1500);
    assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
    assert_eq!(parse_duration_ms("2h").unwrap(), 7_200_000);
    assert_eq!(parse_duration_ms("0").unwrap(), 0);
    for bad in ["", "5", "s", "1x", "-1s", "1s2"] {
        assert!(parse_duration_ms(bad).is_err(), "{bad}");
    }
}
