//! Containers on networks: `validate` (at create), `attach` (before the init
//! starts, into the namespace it will join), `detach` (after it exits),
//! `release` (at `rm`: the lease goes) and `reconcile` (daemon start: whatever a
//! crash left — veths, port rules, leases of removed containers — is undone).
//!
//! Start path: host veth `skv<id10><n>` enslaved to the bridge, its peer `eth0`
//! born inside the container's namespace; one netlink socket opened in that
//! namespace gives it an address and a default route via the gateway.

use crate::files::{self, FilesSpec};
use crate::manager::{host_lock, NetManager, DEFAULT_NETWORK};
use crate::state::{ContainerNet, EndpointRec, PortMap};
use crate::{nft, ports, NetError};
use skiff_sys::netlink::Rtnl;
use skiff_types::{ContainerSpec, NetworkMode};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

/// What `attach` needs to know about a container.
#[derive(Debug, Clone)]
pub struct AttachRequest<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hostname: &'a str,
    pub spec: &'a ContainerSpec,
    /// Ports the image exposes (`80/tcp`), for `-P`.
    pub exposed: &'a [String],
    /// The container's directory (the three /etc files are written there).
    pub dir: &'a Path,
}

/// Host veth name of a container's `n`th interface.
pub fn veth_name(id: &str, n: usize) -> String {
    format!("skv{}{n}", &id[..id.len().min(10)])
}

fn mac_for(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

impl NetManager {
    fn network_of(&self, mode: &NetworkMode) -> Result<Option<crate::state::NetworkRec>, NetError> {
        match mode {
            NetworkMode::None | NetworkMode::Host => Ok(None),
            NetworkMode::Bridge => self.find(DEFAULT_NETWORK).map(Some),
            NetworkMode::Named(n) => self.find(n).map(Some),
        }
    }

    /// Checks the network side of a spec (names, ports, hosts) without changing anything.
    pub fn validate(&self, spec: &ContainerSpec) -> Result<(), NetError> {
        self.network_of(&spec.network)?;
        if spec.network.is_bridged() && spec.userns_auto {
            return Err(NetError::Invalid(
                "--userns=auto works with --network none or host only (bridge networking in a user namespace is not supported yet)".into(),
            ));
        }
        if !spec.network.is_bridged() && (!spec.publish.is_empty() || spec.publish_all) {
            return Err(NetError::Invalid(format!(
                "ports cannot be published with --network {}",
                spec.network
            )));
        }
        for p in &spec.publish {
            ports::parse_publish(p)?;
        }
        for h in &spec.add_hosts {
            files::parse_add_host(h)?;
        }
        for d in &spec.dns {
            if d.parse::<std::net::IpAddr>().is_err() {
                return Err(NetError::Invalid(format!(
                    "invalid --dns {d:?}: not an IP address"
                )));
            }
        }
        if spec
            .network_aliases
            .iter()
            .any(|a| a.is_empty() || a.contains(char::is_whitespace))
        {
            return Err(NetError::Invalid("invalid --network-alias".into()));
        }
        Ok(())
    }

    /// Wires the container into `netns` (bridged modes) and writes its /etc files;
    /// returns (container path, host file) pairs to bind-mount. On error nothing is left
    /// applied except the address lease, which stays with the container until `rm`.
    pub fn attach(
        &self,
        req: &AttachRequest<'_>,
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<Vec<(String, PathBuf)>, NetError> {
        let net = self.network_of(&req.spec.network)?;
        let mut files = FilesSpec {
            hostname: req.hostname.to_string(),
            add_hosts: req
                .spec
                .add_hosts
                .iter()
                .map(|h| files::parse_add_host(h))
                .collect::<Result<_, _>>()?,
            nameservers: req.spec.dns.clone(),
            host_resolv: self.inner.host_resolv.clone(),
            own: None,
        };
        if let (Some(net), Some(ns)) = (net, netns) {
            match self.wire(req, &net, ns) {
                Ok(ip) => {
                    let mut names = vec![req.name.to_string()];
                    names.extend(req.spec.network_aliases.iter().cloned());
                    files.own = Some((ip, names));
                    files.nameservers = vec![net.subnet()?.gateway().to_string()];
                }
                Err(e) => {
                    self.detach(req.id);
                    return Err(e);
                }
            }
        }
        files::write(req.dir, &files)
    }

    /// Lease (kept across restarts), veth, address, route, ports.
    fn wire(
        &self,
        req: &AttachRequest<'_>,
        net: &crate::state::NetworkRec,
        ns: BorrowedFd<'_>,
    ) -> Result<std::net::Ipv4Addr, NetError> {
        let subnet = net.subnet()?;
        let (ip, ports) = {
            let mut st = self.state();
            let existing = st
                .containers
                .get(req.id)
                .and_then(|c| c.endpoints.iter().find(|e| e.network == net.name))
                .map(|e| e.ip);
            let ip = match existing {
                Some(ip) => ip,
                None => subnet.next_free(&st.used_ips(&net.name)).ok_or_else(|| {
                    NetError::Conflict(format!("network {} has no free address left", net.name))
                })?,
            };
            // Ports of containers that run now (a stopped one's ports are free to take).
            let taken: Vec<PortMap> = st
                .containers
                .iter()
                .filter(|(id, c)| *id != req.id && c.ports_applied)
                .flat_map(|(_, c)| c.ports.iter().copied())
                .collect();
            let ports = wanted_ports(req, st.containers.get(req.id), &taken)?;
            let c = st.containers.entry(req.id.to_string()).or_default();
            c.endpoints.retain(|e| e.network != net.name);
            c.endpoints.insert(
                0,
                EndpointRec {
                    network: net.name.clone(),
                    ip,
                    name: req.name.to_string(),
                    aliases: req.spec.network_aliases.clone(),
                    veth: String::new(),
                },
            );
            c.dns = req.spec.dns.clone();
            c.ports = ports.clone();
            // Intent first: a crash after this point is cleaned by `reconcile`.
            c.ports_applied = !ports.is_empty();
            self.save(&st)?;
            (ip, ports)
        };
        let mut inside =
            Rtnl::open_in(ns).map_err(NetError::io("netlink in the container's namespace"))?;
        self.plug(req.id, 0, net, ip, ns, &mut inside)?;
        // Networks joined with `network connect`: eth1, eth2, ... without a default route.
        let others: Vec<EndpointRec> = self
            .state()
            .containers
            .get(req.id)
            .map(|c| c.endpoints.iter().skip(1).cloned().collect())
            .unwrap_or_default();
        for (i, e) in others.iter().enumerate() {
            let other = self.find(&e.network)?;
            self.plug(req.id, i + 1, &other, e.ip, ns, &mut inside)?;
        }
        if !ports.is_empty() {
            let _lock = host_lock()?;
            nft::apply(nft::publish(req.id, ip, &ports)).map_err(|e| match e {
                NetError::Conflict(_) => NetError::Conflict(format!(
                    "a published host port is already used by another container ({})",
                    ports
                        .iter()
                        .map(|p| format!("{}/{}", p.host_port, p.proto.as_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                e => e,
            })?;
        }
        Ok(ip)
    }

    /// Interface `n` of container `id` on `net`: host veth `skv<id><n>` on the bridge, peer
    /// `eth<n>` born in `ns`, address `ip`; the default route goes through interface 0 only.
    pub(crate) fn plug(
        &self,
        id: &str,
        n: usize,
        net: &crate::state::NetworkRec,
        ip: std::net::Ipv4Addr,
        ns: BorrowedFd<'_>,
        inside: &mut Rtnl,
    ) -> Result<(), NetError> {
        let subnet = net.subnet()?;
        let veth = veth_name(id, n);
        let peer = format!("eth{n}");
        let mut host = Rtnl::open().map_err(NetError::io("open netlink"))?;
        let master = host
            .index(&net.bridge)
            .map_err(NetError::io(format!("bridge of network {}", net.name)))?;
        self.wait_reaped(&veth); // this slot's previous veth, from the last exit
        let _ = host.del_link(&veth); // a leftover of an interrupted start
        host.add_veth(&veth, master, &peer, ns, mac_for(ip))
            .map_err(NetError::io("container network"))?;
        {
            let mut st = self.state();
            if let Some(e) = st
                .containers
                .get_mut(id)
                .and_then(|c| c.endpoints.iter_mut().find(|e| e.network == net.name))
            {
                e.veth = veth.clone();
            }
            self.save(&st)?;
        }
        let configured = if n == 0 {
            inside.configure_peer(&peer, ip, subnet.prefix, subnet.gateway())
        } else {
            inside
                .add_addr(&peer, ip, subnet.prefix)
                .and_then(|_| inside.set_up(&peer))
        };
        configured.map_err(NetError::io("container network"))
    }

    /// Undoes `attach` after the container exited: veths, port rules. The lease stays.
    pub fn detach(&self, id: &str) {
        let (veths, ports) = {
            let st = self.state();
            match st.containers.get(id) {
                Some(c) => (
                    c.endpoints
                        .iter()
                        .map(|e| e.veth.clone())
                        .filter(|v| !v.is_empty())
                        .collect::<Vec<_>>(),
                    c.ports_applied,
                ),
                None => return,
            }
        };
        for v in veths {
            self.reap(v);
        }
        if ports {
            if let Ok(_lock) = host_lock() {
                if let Ok(listing) = nft::list() {
                    let _ = nft::apply(nft::unpublish(id, &listing));
                }
            }
        }
        let mut st = self.state();
        if let Some(c) = st.containers.get_mut(id) {
            for e in c.endpoints.iter_mut() {
                e.veth.clear();
            }
            c.ports_applied = false;
        }
        let _ = self.save(&st);
    }

    /// `rm`: detach and give the addresses back.
    /// The container's addresses, in the order its networks were joined.
    pub fn addresses(&self, id: &str) -> Vec<std::net::IpAddr> {
        self.state()
            .containers
            .get(id)
            .map(|c| {
                c.endpoints
                    .iter()
                    .map(|e| std::net::IpAddr::V4(e.ip))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn release(&self, id: &str) {
        self.detach(id);
        let mut st = self.state();
        if st.containers.remove(id).is_some() {
            let _ = self.save(&st);
        }
    }

    /// Daemon start: `known` are the ids of every container record, `alive` those running.
    pub fn reconcile(&self, known: &[String], alive: &[String]) {
        let ids: Vec<String> = self.state().containers.keys().cloned().collect();
        for id in ids {
            if !known.contains(&id) {
                self.release(&id);
            } else if !alive.contains(&id) {
                self.detach(&id);
            }
        }
        // Veths of an interrupted start that never reached the state file.
        let bridges: Vec<String> = self
            .state()
            .networks
            .values()
            .map(|n| n.bridge.clone())
            .collect();
        let Ok(links) = skiff_sys::netlink::link_names() else {
            return;
        };
        let mut rt = match Rtnl::open() {
            Ok(r) => r,
            Err(_) => return,
        };
        for l in links.iter().filter(|l| l.starts_with("skv")) {
            let master = std::fs::read_link(format!("/sys/class/net/{l}/master"))
                .ok()
                .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
            let ours = master.is_some_and(|m| bridges.contains(&m));
            let live = alive
                .iter()
                .any(|id| (0..4).any(|n| veth_name(id, n) == *l));
            if ours && !live {
                let _ = rt.del_link(l);
            }
        }
    }
}

/// The ports to publish: reused from a previous start, else parsed and claimed
/// (clashes with `taken`, another container's, or a bound host port are errors).
fn wanted_ports(
    req: &AttachRequest<'_>,
    prev: Option<&ContainerNet>,
    taken: &[PortMap],
) -> Result<Vec<PortMap>, NetError> {
    if let Some(prev) = prev.filter(|p| !p.ports.is_empty()) {
        return Ok(prev.ports.clone());
    }
    let mut out = Vec::new();
    for p in &req.spec.publish {
        out.push(ports::parse_publish(p)?);
    }
    if req.spec.publish_all {
        for e in req.exposed {
            out.push(ports::parse_exposed(e)?);
        }
    }
    for p in out.iter_mut() {
        if p.host_port != 0
            && taken
                .iter()
                .any(|q| q.host_port == p.host_port && q.proto == p.proto)
        {
            return Err(NetError::Conflict(format!(
                "host port {}/{} is already published by another container",
                p.host_port,
                p.proto.as_str()
            )));
        }
        ports::claim_host_port(p)?;
    }
    Ok(out)
}
