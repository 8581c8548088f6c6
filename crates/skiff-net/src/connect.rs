//! `skiff network connect` / `disconnect`: a container joins or leaves a
//! further network. A running container gets (or loses) interface `ethN` at
//! once, in its own namespace; a stopped one keeps the lease and is plugged in
//! at its next start (see `attach.rs`).

use crate::attach::veth_name;
use crate::manager::NetManager;
use crate::state::EndpointRec;
use crate::NetError;
use skiff_sys::netlink::Rtnl;
use std::os::fd::BorrowedFd;

/// Who joins: a container's id and name, its aliases there, and (if it runs) its namespace.
pub struct ConnectRequest<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub aliases: Vec<String>,
    pub netns: Option<BorrowedFd<'a>>,
}

impl NetManager {
    pub fn connect(&self, network: &str, req: ConnectRequest<'_>) -> Result<(), NetError> {
        let net = self.find(network)?;
        let subnet = net.subnet()?;
        let n = {
            let mut st = self.state();
            let c = st.containers.get(req.id);
            if c.is_some_and(|c| c.endpoints.iter().any(|e| e.network == net.name)) {
                return Err(NetError::Conflict(format!(
                    "container {} is already connected to network {}",
                    req.name, net.name
                )));
            }
            if req.netns.is_some() && c.is_none_or(|c| c.endpoints.is_empty()) {
                return Err(NetError::Invalid(format!(
                    "container {} runs without a skiff network (--network none/host): it cannot be connected while running",
                    req.name
                )));
            }
            // The first interface slot no running endpoint uses (ethN <-> skv<id>N).
            let used: Vec<&str> = c
                .map(|c| c.endpoints.iter().map(|e| e.veth.as_str()).collect())
                .unwrap_or_default();
            let n = (0..10)
                .find(|k| !used.contains(&veth_name(req.id, *k).as_str()))
                .filter(|_| used.len() < 10)
                .ok_or_else(|| NetError::Invalid("a container joins at most 10 networks".into()))?;
            let ip = subnet.next_free(&st.used_ips(&net.name)).ok_or_else(|| {
                NetError::Conflict(format!("network {} has no free address left", net.name))
            })?;
            st.containers
                .entry(req.id.to_string())
                .or_default()
                .endpoints
                .push(EndpointRec {
                    network: net.name.clone(),
                    ip,
                    name: req.name.to_string(),
                    aliases: req.aliases.clone(),
                    veth: String::new(),
                });
            self.save(&st)?;
            n
        };
        let Some(ns) = req.netns else { return Ok(()) };
        let ip = self
            .state()
            .containers
            .get(req.id)
            .and_then(|c| c.endpoints.last().map(|e| e.ip))
            .ok_or_else(|| NetError::NotFound(format!("container {} left", req.name)))?;
        let plugged = Rtnl::open_in(ns)
            .map_err(NetError::io("netlink in the container's namespace"))
            .and_then(|mut inside| self.plug(req.id, n, &net, ip, ns, &mut inside));
        if let Err(e) = plugged {
            let _ = self.disconnect(&net.name, req.id);
            return Err(e);
        }
        Ok(())
    }

    /// Leaves `network`: its veth goes now (if the container runs), its lease with it.
    pub fn disconnect(&self, network: &str, id: &str) -> Result<(), NetError> {
        let net = self.find(network)?;
        let mut st = self.state();
        let c = st.containers.get_mut(id).ok_or_else(|| {
            NetError::NotFound(format!(
                "container {id} is not connected to network {}",
                net.name
            ))
        })?;
        let at = c
            .endpoints
            .iter()
            .position(|e| e.network == net.name)
            .ok_or_else(|| {
                NetError::NotFound(format!(
                    "container {id} is not connected to network {}",
                    net.name
                ))
            })?;
        if at == 0 && !c.endpoints[0].veth.is_empty() {
            return Err(NetError::Invalid(format!(
                "network {} is the running container's primary network: stop it first",
                net.name
            )));
        }
        let e = c.endpoints.remove(at);
        if !e.veth.is_empty() {
            let mut rt = Rtnl::open().map_err(NetError::io("open netlink"))?;
            match rt.del_link(&e.veth) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(NetError::io("remove interface")(err))
                }
                _ => {}
            }
        }
        self.save(&st)
    }
}
