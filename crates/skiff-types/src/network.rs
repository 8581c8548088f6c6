//! Networks as the API carries them: what `skiff network create` asks for
//! (`NetworkCreate`), what `inspect`/`ls` report (`NetworkInfo`), and a
//! container's place on one (`Endpoint`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `skiff network create [--subnet CIDR] [--egress] NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkCreate {
    pub name: String,
    /// `a.b.c.d/len` inside 198.18.0.0/15 or elsewhere; None: the next free /24 of the pool.
    pub subnet: Option<String>,
    /// Masquerade traffic leaving the host (off by default: containers reach each other
    /// and published ports reach them, but nothing is routed out unless asked for).
    pub egress: bool,
    pub labels: BTreeMap<String, String>,
}

/// `skiff network connect NETWORK CONTAINER [--alias A]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConnect {
    pub container: String,
    pub aliases: Vec<String>,
}

/// One container on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_id: String,
    pub name: String,
    pub aliases: Vec<String>,
    /// `198.18.0.2/24`.
    pub address: String,
    /// Host-side veth name while the container runs, else empty.
    pub interface: String,
}

/// `skiff network inspect` / one row of `ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    /// Always "bridge" for now.
    pub driver: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    pub egress: bool,
    /// The daemon's default network (`bridge`): cannot be removed.
    pub default: bool,
    pub labels: BTreeMap<String, String>,
    pub endpoints: Vec<Endpoint>,
}
