//! How a service stops: `stop_signal` and the grace period before SIGKILL,
//! in Compose (`stop_grace_period`) and skiff.toml (`stop_grace`).

mod common;

use common::Project;
use skiff_spec::LoadOptions;

#[test]
fn compose_stop_signal_and_grace_period() {
    let compose = r#"services:
  web:
    image: busybox
    stop_signal: SIGINT
    stop_grace_period: 1m30s
  api:
    image: busybox
    stop_signal: "15"
    stop_grace_period: 500ms
  db:
    image: busybox
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let t = p.ok(&["compose.yaml"]);
    let web = &t.services["web"];
    assert_eq!(web.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(web.stop_grace_ms, Some(90_000));
    let api = &t.services["api"];
    assert_eq!(api.stop_signal.as_deref(), Some("15"));
    assert_eq!(api.stop_grace_ms, Some(500));
    let db = &t.services["db"];
    assert_eq!((db.stop_signal.as_deref(), db.stop_grace_ms), (None, None));
}

#[test]
fn compose_bad_stop_values_point_at_the_value() {
    let compose = r#"services:
  web:
    image: busybox
    stop_signal: SIGNOPE
    stop_grace_period: 10 parsecs
  api:
    image: busybox
    stop_grace_period: "10"
    stop_signal: [TERM]
"#;
    let p = Project::new(&[("compose.yaml", compose)]);
    let e = p.errors(&["compose.yaml"], &LoadOptions::default());
    assert_eq!(
        e,
        vec![
            "compose.yaml:4:18: stop_signal: invalid signal \"SIGNOPE\"",
            "compose.yaml:5:24: stop_grace_period: invalid duration (want e.g. 30s, 1m30s, 500ms)",
            "compose.yaml:8:24: stop_grace_period: invalid duration (want e.g. 30s, 1m30s, 500ms)",
            "compose.yaml:9:18: stop_signal must be a string, not a list",
        ]
    );
}

#[test]
fn skiff_toml_stop_signal_and_grace() {
    let toml = r#"
[services.web]
image = "busybox"
stop_signal = "SIGINT"
stop_grace = "3s"

[services.db]
image = "busybox"
stop_grace = 2
"#;
    let p = Project::new(&[("skiff.toml", toml)]);
    let t = p.ok(&["skiff.toml"]);
    assert_eq!(t.services["web"].stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(t.services["web"].stop_grace_ms, Some(3000));
    assert_eq!(
        t.services["db"].stop_grace_ms,
        Some(2000),
        "a number is seconds"
    );
}

#[test]
fn skiff_toml_bad_stop_values_and_compose_spelling() {
    let toml = r#"
[services.web]
image = "busybox"
stop_signal = "TERMINATE"
stop_grace = "soon"
stop_grace_period = "3s"
"#;
    let p = Project::new(&[("skiff.toml", toml)]);
    let e = p.errors(&["skiff.toml"], &LoadOptions::default());
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(
        e[0].starts_with("skiff.toml:4:15: stop_signal: invalid signal"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("skiff.toml:5:14: stop_grace: invalid duration"),
        "{e:?}"
    );
    assert!(
        e[2].starts_with("skiff.toml:6:1: unknown key `stop_grace_period`"),
        "{e:?}"
    );
}
