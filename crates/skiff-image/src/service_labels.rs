//! The services an image declares through its labels, so `skiff run IMAGE`
//! registers its instances without `--service` (registrator's idea, as
//! image metadata rather than a sidecar guessing from ports):
//!
//! - `skiff.services=web:8080/tcp,admin:9000` — any number of
//!   `NAME[:PORT[/tcp|udp]]`, comma-separated;
//! - `skiff.service=NAME` with optional `skiff.service.port=PORT[/tcp|udp]`;
//! - `skiff.service.tags=a,b` — tags of every service the image declares.
//!
//! A service that names no port takes the image's one EXPOSE port; with no
//! or several exposed ports that is an error that says what to add (a guess
//! would register the wrong port). `--service` on the command line replaces
//! all of this (the caller skips it then). Pure: labels in, decls out.

use std::collections::BTreeMap;

use skiff_types::{Proto, ServiceDecl};

use crate::error::ImageError;

pub const SERVICES: &str = "skiff.services";
pub const SERVICE: &str = "skiff.service";
pub const SERVICE_PORT: &str = "skiff.service.port";
pub const SERVICE_TAGS: &str = "skiff.service.tags";

/// A declared service before its port is settled: (name, port if given, the label it came from).
type Wanted<'a> = (String, Option<(u16, Proto)>, &'a str);

/// The services `labels` declare, ports filled from `exposed` (`80/tcp`).
pub fn image_services(
    labels: &BTreeMap<String, String>,
    exposed: &[String],
) -> Result<Vec<ServiceDecl>, ImageError> {
    let mut wanted: Vec<Wanted> = Vec::new();
    if let Some(list) = labels.get(SERVICES) {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, port) = match entry.split_once(':') {
                Some((n, p)) => (n, Some(port_proto(SERVICES, p)?)),
                None => (entry, None),
            };
            wanted.push((name.to_owned(), port, SERVICES));
        }
    }
    if let Some(name) = labels.get(SERVICE) {
        let port = labels
            .get(SERVICE_PORT)
            .map(|p| port_proto(SERVICE_PORT, p))
            .transpose()?;
        wanted.push((name.trim().to_owned(), port, SERVICE));
    } else if labels.contains_key(SERVICE_PORT) {
        return Err(invalid(format!("{SERVICE_PORT} needs a {SERVICE} label")));
    }
    let tags: Vec<String> = labels
        .get(SERVICE_TAGS)
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut out: Vec<ServiceDecl> = Vec::new();
    for (name, port, label) in wanted {
        if !skiff_types::is_service_name(&name) {
            return Err(invalid(format!(
                "label {label}: invalid service name {name:?}: use 1-63 lowercase letters, digits and '-' (not at either end)"
            )));
        }
        let (port, proto) = match port {
            Some(p) => p,
            None => exposed_port(&name, label, exposed)?,
        };
        let decl = ServiceDecl {
            name,
            port,
            proto,
            tags: tags.clone(),
        };
        if !out
            .iter()
            .any(|d| d.name == decl.name && d.port == decl.port)
        {
            out.push(decl);
        }
    }
    if out.is_empty() && !tags.is_empty() {
        return Err(invalid(format!(
            "{SERVICE_TAGS} needs a {SERVICE} or {SERVICES} label"
        )));
    }
    Ok(out)
}

/// The one port the image exposes, for a service that named none.
fn exposed_port(name: &str, label: &str, exposed: &[String]) -> Result<(u16, Proto), ImageError> {
    let fix = match label {
        SERVICE => format!("set {SERVICE_PORT}"),
        _ => format!("write {name}:PORT in {label}"),
    };
    let mut ports: Vec<(u16, &String)> = exposed
        .iter()
        .map(|p| {
            (
                p.split('/')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                p,
            )
        })
        .collect();
    ports.sort();
    match ports.as_slice() {
        [(_, one)] => port_proto("EXPOSE", one),
        [] => Err(invalid(format!(
            "label {label}: service {name:?} names no port and the image EXPOSEs none; \
             {fix}, or run with --service NAME:PORT"
        ))),
        many => {
            Err(invalid(format!(
            "label {label}: service {name:?} names no port and the image EXPOSEs several ({}); \
             {fix}, or run with --service NAME:PORT",
            many.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join(", ")
        )))
        }
    }
}

/// `PORT[/tcp|udp]`.
fn port_proto(what: &str, s: &str) -> Result<(u16, Proto), ImageError> {
    let s = s.trim();
    let (port, proto) = match s.split_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, other)) => {
            return Err(invalid(format!(
                "{what} {s:?}: unknown protocol {other:?} (tcp or udp)"
            )))
        }
        None => (s, Proto::Tcp),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| invalid(format!("{what} {s:?}: port must be 1-65535")))?;
    Ok((port, proto))
}

fn invalid(reason: String) -> ImageError {
    ImageError::Invalid {
        what: "image service labels".into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn decl(name: &str, port: u16, proto: Proto, tags: &[&str]) -> ServiceDecl {
        ServiceDecl {
            name: name.into(),
            port,
            proto,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn list_label_with_ports_and_protocols() {
        let l = labels(&[("skiff.services", "web:8080/tcp, dns:53/udp,admin:9000")]);
        let got = image_services(&l, &[]).unwrap();
        assert_eq!(
            got,
            [
                decl("web", 8080, Proto::Tcp, &[]),
                decl("dns", 53, Proto::Udp, &[]),
                decl("admin", 9000, Proto::Tcp, &[])
            ]
        );
    }

    #[test]
    fn single_label_takes_its_port_or_the_one_exposed_port() {
        let l = labels(&[
            ("skiff.service", "web"),
            ("skiff.service.port", "8080"),
            ("skiff.service.tags", "v1, blue"),
        ]);
        assert_eq!(
            image_services(&l, &["80/tcp".into()]).unwrap(),
            [decl("web", 8080, Proto::Tcp, &["v1", "blue"])]
        );
        let l = labels(&[("skiff.service", "web")]);
        assert_eq!(
            image_services(&l, &["5353/udp".into()]).unwrap(),
            [decl("web", 5353, Proto::Udp, &[])]
        );
        let l = labels(&[("skiff.services", "web,admin:9000")]);
        assert_eq!(
            image_services(&l, &["80/tcp".into()]).unwrap(),
            [
                decl("web", 80, Proto::Tcp, &[]),
                decl("admin", 9000, Proto::Tcp, &[])
            ]
        );
    }

    #[test]
    fn no_labels_no_services() {
        assert!(image_services(&labels(&[("a", "b")]), &["80/tcp".into()])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_labels_say_which_and_why() {
        let err = |kv: &[(&str, &str)], exposed: &[&str]| {
            let exposed: Vec<String> = exposed.iter().map(|s| s.to_string()).collect();
            image_services(&labels(kv), &exposed)
                .unwrap_err()
                .to_string()
        };
        let e = err(&[("skiff.service", "web")], &[]);
        assert!(
            e.contains("names no port") && e.contains("EXPOSEs none"),
            "{e}"
        );
        let e = err(&[("skiff.service", "web")], &["443/tcp", "80/tcp"]);
        assert!(
            e.contains("(80/tcp, 443/tcp); set skiff.service.port"),
            "{e}"
        );
        let e = err(&[("skiff.services", "a:1,web")], &[]);
        assert!(e.contains("write web:PORT in skiff.services"), "{e}");
        let e = err(&[("skiff.service", "Web")], &["80/tcp"]);
        assert!(e.contains("invalid service name \"Web\""), "{e}");
        let e = err(&[("skiff.services", "web:0")], &[]);
        assert!(e.contains("port must be 1-65535"), "{e}");
        let e = err(&[("skiff.services", "web:80/sctp")], &[]);
        assert!(e.contains("unknown protocol \"sctp\""), "{e}");
        let e = err(&[("skiff.service.port", "80")], &[]);
        assert!(e.contains("needs a skiff.service label"), "{e}");
        let e = err(&[("skiff.service.tags", "a")], &[]);
        assert!(e.contains("needs a skiff.service"), "{e}");
    }
}
