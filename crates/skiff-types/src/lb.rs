//! Load balancers and ambassadors as records: `LbDef` is what
//! `/skiff/lbs/<name>` holds (a proxy every daemon runs in front of one
//! service), `LbStatus` is how the daemon reports one, and `UsesSpec` is a
//! container's `--uses SERVICE[:LOCALPORT]` (a local forwarder in its network
//! namespace). Plain data; the registry stores them, the daemon runs them.

use crate::topology::LbMode;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One load balancer: listen on `listen`, forward to `service`'s healthy
/// instances. Created by `skiff lb` (owner `None`) or by a topology job
/// from a `[services.X.lb]` section (owner `Some(job)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbDef {
    /// 1-63 of `[a-z0-9-]` (a store key segment and a metrics label).
    pub name: String,
    pub service: String,
    pub listen: SocketAddr,
    #[serde(default)]
    pub mode: LbMode,
    /// Forward only to instances offering this port (when an instance has
    /// several); `None`: every instance of the service.
    #[serde(default)]
    pub port: Option<u16>,
    /// The topology job that created it; `None` when made by the CLI.
    #[serde(default)]
    pub owner: Option<String>,
}

/// `GET /v1/lbs[/NAME]`: a record and how this daemon runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LbStatus {
    pub def: LbDef,
    /// Listening on this daemon now.
    pub running: bool,
    /// Why it is not running (e.g. the address is in use).
    #[serde(default)]
    pub error: Option<String>,
    /// Healthy backends it forwards to now.
    #[serde(default)]
    pub backends: Vec<SocketAddr>,
    /// The last registry revision it applied.
    #[serde(default)]
    pub applied: u64,
}

/// `--uses SERVICE[:LOCALPORT]`: 127.0.0.1:LOCALPORT inside the container
/// forwards (TCP) to the service's healthy instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsesSpec {
    pub service: String,
    /// `None`: the port the service's instances offer.
    #[serde(default)]
    pub local_port: Option<u16>,
}

impl std::str::FromStr for UsesSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (service, port) = match s.split_once(':') {
            Some((svc, p)) => {
                let port =
                    p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                        format!("invalid --uses {s:?}: port {p:?} is not 1-65535")
                    })?;
                (svc, Some(port))
            }
            None => (s, None),
        };
        if service.is_empty() {
            return Err(format!(
                "invalid --uses {s:?}: expected SERVICE[:LOCALPORT]"
            ));
        }
        Ok(UsesSpec {
            service: service.to_owned(),
            local_port: port,
        })
    }
}

impl std::str::FromStr for LbMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http" => Ok(LbMode::Http),
            "tcp" => Ok(LbMode::Tcp),
            other => Err(format!("unknown mode {other:?} (expected http or tcp)")),
        }
    }
}

impl std::fmt::Display for LbMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LbMode::Http => "http",
            LbMode::Tcp => "tcp",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_parses_service_and_optional_port() {
        let u: UsesSpec = "web:8080".parse().unwrap();
        assert_eq!((u.service.as_str(), u.local_port), ("web", Some(8080)));
        let u: UsesSpec = "db".parse().unwrap();
        assert_eq!(u.local_port, None);
        for bad in ["", ":80", "web:", "web:0", "web:x", "web:70000"] {
            assert!(bad.parse::<UsesSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lb_def_round_trips_with_defaults() {
        let d: LbDef =
            serde_json::from_str(r#"{"name":"w","service":"web","listen":"127.0.0.1:80"}"#)
                .unwrap();
        assert_eq!((d.mode, d.port, d.owner), (LbMode::Http, None, None));
        assert_eq!("tcp".parse::<LbMode>().unwrap().to_string(), "tcp");
        assert!("udp".parse::<LbMode>().is_err());
    }
}
