//! Compose conformance: each project under tests/compose_projects is read by
//! skiff (parse, `-f` merge, `.env` interpolation, profiles) and by
//! `docker-compose config` (Compose 1.29 from Debian, scripts/deps.sh), and
//! the two models must agree on every key both understand. Also: the keys
//! skiff does not run are errors naming the key at its file:line:col. Pure:
//! no root, no daemon; skips (saying so) when docker-compose is missing.

mod compose_model;

use compose_model::{compare, Case};
use skiff_spec::LoadOptions;
use std::path::PathBuf;

fn project(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compose_projects")
        .join(name)
}

fn check(case: Case) {
    let Some(theirs) = case.docker_compose_config() else {
        eprintln!("SKIP: docker-compose not installed (scripts/deps.sh installs it)");
        return;
    };
    let ours = case.skiff_model();
    let diffs = compare(&case, &ours, &theirs);
    assert!(
        diffs.is_empty(),
        "skiff and docker-compose disagree:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn shop_two_networks_secrets_env_interpolation() {
    check(Case::new(project("shop"), &["compose.yaml"], &[]));
}

#[test]
fn blog_base_plus_override_with_a_profile() {
    check(Case::new(
        project("blog"),
        &["compose.yaml", "compose.prod.yaml"],
        &["debug"],
    ));
}

#[test]
fn blog_base_alone_without_profiles() {
    check(Case::new(project("blog"), &["compose.yaml"], &[]));
}

#[test]
fn metrics_ports_volumes_healthchecks_anchors() {
    check(Case::new(project("metrics"), &["compose.yaml"], &[]));
}

#[test]
fn shop_required_variable_missing_is_an_error_at_its_use() {
    // Without .env, ${DB_USER:?...} fails where it is used, as Compose fails.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(project("shop").join("compose.yaml")).unwrap();
    std::fs::write(dir.path().join("compose.yaml"), &text).unwrap();
    std::fs::write(dir.path().join("api.env"), "A=1\n").unwrap();
    let e = skiff_spec::load(&[dir.path().join("compose.yaml")], &LoadOptions::default())
        .expect_err("DB_USER is required");
    let lines: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
    let line = text
        .lines()
        .position(|l| l.contains("DB_USER: ${DB_USER:?"))
        .unwrap()
        + 1;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("compose.yaml:{line}:"))
                && l.contains("DB_USER must be set in .env")),
        "{lines:?}"
    );
}

#[test]
fn unsupported_keys_in_a_real_file_are_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let admin = "services:\n  admin:\n    image: bb\n    privileged: true\n    cap_add: [NET_ADMIN]\n    tmpfs: /run\n";
    let text = std::fs::read_to_string(project("shop").join("compose.yaml"))
        .unwrap()
        .replacen("services:\n", admin, 1);
    std::fs::write(dir.path().join("compose.yaml"), &text).unwrap();
    std::fs::write(dir.path().join("api.env"), "A=1\n").unwrap();
    std::fs::write(dir.path().join(".env"), "DB_USER=u\n").unwrap();
    let e = skiff_spec::load(&[dir.path().join("compose.yaml")], &LoadOptions::default())
        .expect_err("unsupported keys");
    let got: Vec<String> =
        e.0.iter()
            .map(|e| {
                e.to_string()
                    .replace(&format!("{}/", dir.path().display()), "")
            })
            .collect();
    let at = text
        .lines()
        .position(|l| l.contains("privileged: true"))
        .unwrap()
        + 1;
    assert_eq!(
        got,
        vec![
            format!(
                "compose.yaml:{at}:5: `privileged` in service `admin` is not supported by skiff"
            ),
            format!(
                "compose.yaml:{}:5: `cap_add` in service `admin` is not supported by skiff",
                at + 1
            ),
            format!(
                "compose.yaml:{}:5: `tmpfs` in service `admin` is not supported by skiff",
                at + 2
            ),
        ]
    );
}

#[test]
fn the_comparison_notices_differences() {
    let case = Case::new(project("shop"), &["compose.yaml"], &[]);
    let Some(theirs) = case.docker_compose_config() else {
        eprintln!("SKIP: docker-compose not installed (scripts/deps.sh installs it)");
        return;
    };
    let mut ours = case.skiff_model();
    let svc = |n: &str, t: &mut skiff_types::Topology| t.services.get_mut(n).unwrap().clone();
    let mut api = svc("api", &mut ours);
    api.env.insert("EXTRA".into(), "1".into());
    api.replicas = 1;
    let mut db = svc("db", &mut ours);
    db.files.clear();
    db.stop_grace_ms = None;
    let mut web = svc("web", &mut ours);
    web.networks.push("back".into());
    for s in [api, db, web] {
        ours.services.insert(s.name.clone(), s);
    }
    let diffs = compare(&case, &ours, &theirs);
    let keys: Vec<&str> = diffs.iter().map(|d| d.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "api.environment",
            "api.replicas",
            "db.stop_grace_period",
            "db.secrets+configs",
            "web.networks"
        ],
        "{diffs:#?}"
    );
}
