//! What `skiff run IMAGE` takes from the image: a pure merge of the image's config into the
//! user's [`ContainerSpec`], with Docker's precedence rules:
//! - `Env`: the image's variables, each overridden by a user variable of the same name;
//! - `--entrypoint X` replaces the image's Entrypoint *and* drops its Cmd (`--entrypoint ""`
//!   only clears the Entrypoint); otherwise a user command replaces the image's Cmd, and the
//!   image's Entrypoint stays;
//! - `WorkingDir`, `User`: the user's when given, else the image's;
//! - `ExposedPorts`: recorded (`80/tcp`) for networking to publish;
//! - `Healthcheck`: the image's, unless the user gave one; `NONE` disables it;
//! - `Volumes`: each image volume path the user did not mount becomes a new anonymous
//!   volume (filled from the image at that path, as Docker does).
//!
//! - `skiff.service*` labels: the services the container registers, unless the user gave
//!   `--service` (see [`crate::service_labels`]).
//!
//! Labels are otherwise deliberately not copied: some container labels carry security
//! meaning here, and an image must not be able to set them.

use std::path::PathBuf;

use skiff_types::mount::{MountSpec, MountType};
use skiff_types::{ContainerSpec, HealthCheck, HealthProbe};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::oci::{ContainerConfig, Healthcheck};

const DEFAULT_INTERVAL_MS: u64 = 30_000;
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_RETRIES: u32 = 3;

/// Fills `spec` from the image `id` (layers bottom first, and its config); fails (changing
/// nothing) only on service labels that cannot be honoured.
pub fn apply_image_config(
    spec: &mut ContainerSpec,
    id: &Digest,
    layers: &[PathBuf],
    cfg: &ContainerConfig,
) -> Result<(), ImageError> {
    if spec.services.is_empty() {
        if let Some(labels) = &cfg.labels {
            let exposed: Vec<String> = cfg
                .exposed_ports
                .iter()
                .flat_map(|m| m.keys().cloned())
                .collect();
            spec.services = crate::service_labels::image_services(labels, &exposed)?;
        }
    }
    spec.image_id = Some(id.to_string());
    spec.rootfs_layers = layers
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    spec.env = merge_env(cfg.env.as_deref().unwrap_or_default(), &spec.env);
    // moby's merge: a non-empty --entrypoint drops the image's Cmd; `--entrypoint ""` clears
    // the image's Entrypoint but keeps its Cmd.
    if spec.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if spec.cmd.is_empty() {
            spec.cmd = cfg.cmd.clone().unwrap_or_default();
        }
        if spec.entrypoint.is_none() {
            spec.entrypoint = cfg.entrypoint.clone().filter(|e| !e.is_empty());
        }
    }
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    if spec.working_dir.is_none() {
        spec.working_dir = nonempty(&cfg.working_dir);
    }
    if spec.user.is_none() {
        spec.user = nonempty(&cfg.user);
    }
    let mut ports: Vec<String> = cfg
        .exposed_ports
        .iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    ports.append(&mut spec.exposed_ports);
    ports.sort();
    ports.dedup();
    spec.exposed_ports = ports;
    for target in cfg.volumes.iter().flat_map(|v| v.keys()) {
        let target = normalize_target(target);
        if target != "/"
            && !spec
                .mounts
                .iter()
                .any(|m| normalize_target(&m.target) == target)
        {
            spec.mounts.push(MountSpec {
                kind: MountType::Volume,
                target,
                ..MountSpec::default()
            });
        }
    }
    if spec.health.is_none() && !spec.no_healthcheck {
        spec.health = cfg.healthcheck.as_ref().and_then(health_check);
    }
    Ok(())
}

/// `/data/` and `data` as `/data`: an image's VOLUME paths are compared with mount targets.
fn normalize_target(t: &str) -> String {
    let trimmed = t.trim_end_matches('/');
    match trimmed.starts_with('/') {
        true => trimmed.to_string(),
        false => format!("/{trimmed}"),
    }
}

/// `image` then `user`, a user variable replacing an image variable of the same name.
pub fn merge_env(image: &[String], user: &[String]) -> Vec<String> {
    let key = |s: &str| s.split_once('=').map_or(s, |(k, _)| k).to_string();
    let mut out: Vec<String> = image.to_vec();
    for u in user {
        let k = key(u);
        match out.iter_mut().find(|e| key(e) == k) {
            Some(slot) => *slot = u.clone(),
            None => out.push(u.clone()),
        }
    }
    out
}

/// Docker's HEALTHCHECK as skiff's probe (durations: nanoseconds to milliseconds).
pub fn health_check(h: &Healthcheck) -> Option<HealthCheck> {
    let test = h.test.as_ref()?;
    let argv = match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
        _ => return None, // NONE, or empty: inherit nothing
    };
    if argv.is_empty() {
        return None;
    }
    let ms =
        |ns: Option<u64>, default: u64| ns.filter(|n| *n > 0).map_or(default, |n| n / 1_000_000);
    Some(HealthCheck {
        probe: HealthProbe::Cmd { argv },
        interval_ms: ms(h.interval, DEFAULT_INTERVAL_MS),
        timeout_ms: ms(h.timeout, DEFAULT_TIMEOUT_MS),
        retries: h
            .retries
            .filter(|r| *r > 0)
            .map_or(DEFAULT_RETRIES, |r| r.min(u32::MAX.into()) as u32),
        start_period_ms: ms(h.start_period, 0),
        start_interval_ms: ms(h.start_interval, skiff_types::DEFAULT_START_INTERVAL_MS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ContainerConfig {
        ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            working_dir: Some("/app".into()),
            user: Some("1000".into()),
            exposed_ports: Some([("80/tcp".to_string(), serde_json::json!({}))].into()),
            healthcheck: Some(Healthcheck {
                test: Some(vec!["CMD-SHELL".into(), "test -f /ok".into()]),
                interval: Some(5_000_000_000),
                start_interval: Some(200_000_000),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn id() -> Digest {
        Digest::of(b"x")
    }

    #[test]
    fn image_defaults_fill_an_empty_spec() {
        let mut s = ContainerSpec::default();
        apply_image_config(&mut s, &id(), &[PathBuf::from("/l0")], &cfg()).unwrap();
        assert_eq!(s.argv(), ["/entry", "default"]);
        assert_eq!(s.env, ["PATH=/bin", "A=image"]);
        assert_eq!(s.working_dir.as_deref(), Some("/app"));
        assert_eq!(s.user.as_deref(), Some("1000"));
        assert_eq!(s.exposed_ports, ["80/tcp"]);
        assert_eq!(s.rootfs_layers, ["/l0"]);
        let h = s.health.unwrap();
        assert_eq!(h.interval_ms, 5000);
        assert_eq!(h.start_interval_ms, 200);
        assert_eq!(h.retries, 3);
        assert_eq!(
            h.probe,
            HealthProbe::Cmd {
                argv: vec!["/bin/sh".into(), "-c".into(), "test -f /ok".into()]
            }
        );
    }

    #[test]
    fn user_wins_with_dockers_rules() {
        let mut s = ContainerSpec {
            cmd: vec!["mine".into()],
            env: vec!["A=user".into(), "B=new".into()],
            working_dir: Some("/w".into()),
            ..Default::default()
        };
        apply_image_config(&mut s, &id(), &[], &cfg()).unwrap();
        assert_eq!(s.argv(), ["/entry", "mine"]);
        assert_eq!(s.env, ["PATH=/bin", "A=user", "B=new"]);
        assert_eq!(s.working_dir.as_deref(), Some("/w"));
        // --entrypoint drops the image's Cmd.
        let mut s = ContainerSpec {
            entrypoint: Some(vec!["/bin/sh".into()]),
            ..Default::default()
        };
        apply_image_config(&mut s, &id(), &[], &cfg()).unwrap();
        assert_eq!(s.argv(), ["/bin/sh"]);
        let mut s = ContainerSpec {
            entrypoint: Some(Vec::new()),
            ..Default::default()
        };
        apply_image_config(&mut s, &id(), &[], &cfg()).unwrap();
        assert_eq!(s.argv(), ["default"]);
    }

    #[test]
    fn image_volumes_become_anonymous_volumes_unless_mounted() {
        let mut c = cfg();
        c.volumes = Some(
            [
                ("/data".to_string(), serde_json::json!({})),
                ("/cache/".to_string(), serde_json::json!({})),
            ]
            .into(),
        );
        let mut s = ContainerSpec::default();
        s.mounts.push(MountSpec {
            kind: MountType::Volume,
            source: "mine".into(),
            target: "/cache".into(),
            ..MountSpec::default()
        });
        apply_image_config(&mut s, &id(), &[PathBuf::from("/l0")], &c).unwrap();
        assert_eq!(s.mounts.len(), 2, "{:?}", s.mounts);
        assert_eq!(s.mounts[0].source, "mine");
        assert_eq!(s.mounts[1].target, "/data");
        assert!(s.mounts[1].source.is_empty(), "anonymous");
    }

    #[test]
    fn label_services_unless_the_user_declared_some() {
        let mut c = cfg();
        c.labels = Some([("skiff.service".to_string(), "web".to_string())].into());
        let mut s = ContainerSpec::default();
        apply_image_config(&mut s, &id(), &[], &c).unwrap();
        assert_eq!(
            (s.services[0].name.as_str(), s.services[0].port),
            ("web", 80)
        );
        // --service replaces the labels, even ones that could not be honoured.
        c.labels = Some([("skiff.service".to_string(), "Bad".to_string())].into());
        let mut s = ContainerSpec {
            services: vec![skiff_types::ServiceDecl {
                name: "mine".into(),
                port: 9,
                ..Default::default()
            }],
            ..Default::default()
        };
        apply_image_config(&mut s, &id(), &[], &c).unwrap();
        assert_eq!(s.services.len(), 1);
        assert_eq!(s.services[0].name, "mine");
        let mut s = ContainerSpec::default();
        assert!(apply_image_config(&mut s, &id(), &[], &c).is_err());
        assert!(s.image_id.is_none(), "nothing applied on error");
    }

    #[test]
    fn healthcheck_none_and_cmd_forms() {
        let h = |t: &[&str]| Healthcheck {
            test: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert_eq!(health_check(&h(&["NONE"])), None);
        let c = health_check(&h(&["CMD", "/bin/true", "x"])).unwrap();
        assert_eq!(
            c.probe,
            HealthProbe::Cmd {
                argv: vec!["/bin/true".into(), "x".into()]
            }
        );
        assert_eq!((c.interval_ms, c.timeout_ms), (30_000, 30_000));
    }
}
