//! What skiff-net persists under `ROOT/net/state.json`: the networks and every
//! container's endpoints (address leases, aliases, published ports). Written
//! atomically (temp file + rename) after every change, before the kernel is
//! touched for an allocation and after it is cleaned for a release, so a crash
//! leaves at worst a lease without a container, which `reconcile` releases.

use crate::subnet::Subnet;
use crate::NetError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// One network (a Linux bridge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRec {
    pub id: String,
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub egress: bool,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl NetworkRec {
    pub fn subnet(&self) -> Result<Subnet, NetError> {
        Subnet::parse(&self.subnet)
    }
}

/// A published port: host side and container side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMap {
    /// None: every host address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    /// "tcp" or "udp".
    pub proto: Proto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A container's place on one network: its address lease and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRec {
    pub network: String,
    pub ip: Ipv4Addr,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Host-side veth while the container runs, else empty.
    #[serde(default)]
    pub veth: String,
}

/// Everything about one container skiff-net keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContainerNet {
    pub endpoints: Vec<EndpointRec>,
    #[serde(default)]
    pub ports: Vec<PortMap>,
    /// `--dns` upstreams for this container.
    #[serde(default)]
    pub dns: Vec<String>,
    /// Whether its port rules are in nftables now.
    #[serde(default)]
    pub ports_applied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetState {
    pub networks: BTreeMap<String, NetworkRec>,
    /// By container id.
    pub containers: BTreeMap<String, ContainerNet>,
}

impl NetState {
    pub fn path(root: &Path) -> PathBuf {
        root.join("net").join("state.json")
    }

    pub fn load(root: &Path) -> Result<NetState, NetError> {
        let path = Self::path(root);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| NetError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NetState::default()),
            Err(e) => Err(NetError::io(format!("read {}", path.display()))(e)),
        }
    }

    pub fn save(&self, root: &Path) -> Result<(), NetError> {
        let path = Self::path(root);
        let dir = root.join("net");
        let io = |e| NetError::io(format!("write {}", path.display()))(e);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let tmp = dir.join(".state.json.tmp");
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| NetError::Invalid(format!("encode state: {e}")))?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }

    /// Addresses leased on `network`.
    pub fn used_ips(&self, network: &str) -> Vec<Ipv4Addr> {
        self.containers
            .values()
            .flat_map(|c| c.endpoints.iter())
            .filter(|e| e.network == network)
            .map(|e| e.ip)
            .collect()
    }
}
