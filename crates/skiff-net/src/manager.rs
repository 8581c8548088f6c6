//! `NetManager`: the networks of one daemon (the default bridge plus
//! user-defined ones): their records, Linux bridges, nftables elements and DNS
//! servers. Container attach/detach lives in `attach.rs`.
//!
//! Order of effects on create: record saved, then bridge + address, then nft,
//! then DNS; any failure undoes what was done. Remove refuses while containers
//! hold leases on the network.

use crate::dns::{self, Sources};
use crate::names::ContainerNames;
use crate::state::{NetState, NetworkRec};
use crate::subnet::{self, Subnet};
use crate::{nft, NetError};
use skiff_sys::netlink::Rtnl;
use skiff_types::{Endpoint, NetworkCreate, NetworkInfo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// The default network's name, as Docker calls it.
pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, Clone)]
pub struct NetConfig {
    /// skiff's state root (state goes to ROOT/net).
    pub root: PathBuf,
    /// The default bridge's interface name (`skiff0`).
    pub bridge: String,
    /// The default bridge's subnet; None: the first free /24 of 198.18.0.0/15.
    pub bridge_subnet: Option<String>,
    /// Whether the default bridge masquerades outbound traffic.
    pub default_egress: bool,
    /// DNS upstreams; empty: the host's /etc/resolv.conf nameservers.
    pub upstreams: Vec<SocketAddr>,
}

pub(crate) struct Inner {
    pub cfg: NetConfig,
    pub state: Arc<Mutex<NetState>>,
    pub servers: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    pub sources: Sources,
    pub upstreams: Vec<SocketAddr>,
    pub host_resolv: String,
    pub rt: tokio::runtime::Handle,
    /// Host veths to delete off the start/exit path (see `reaper`).
    pub reaper: Mutex<Option<std::sync::mpsc::Sender<String>>>,
    pub reaper_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Names queued for deletion: a restart waits for its own name to be gone.
    pub pending: Arc<(Mutex<std::collections::HashSet<String>>, std::sync::Condvar)>,
}

type Pending = Arc<(Mutex<std::collections::HashSet<String>>, std::sync::Condvar)>;

/// Deleting a veth costs the kernel an RCU grace period (20-50 ms measured here), which
/// would sit between a container's exit and `run --rm` returning: one thread does it.
fn reaper(pending: Pending) -> (std::sync::mpsc::Sender<String>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let t = std::thread::spawn(move || {
        let mut rt = Rtnl::open().ok();
        for name in rx {
            if let Some(rt) = rt.as_mut() {
                let _ = rt.del_link(&name);
            }
            let (set, cv) = &*pending;
            set.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
            cv.notify_all();
        }
    });
    (tx, t)
}

/// Cheap to clone.
#[derive(Clone)]
pub struct NetManager {
    pub(crate) inner: Arc<Inner>,
}

/// Serialises network changes across every skiff daemon on the host (subnet choice,
/// bridge creation, the shared nft table's base chains, host ports).
pub(crate) fn host_lock() -> Result<nix::fcntl::Flock<std::fs::File>, NetError> {
    let dir = std::path::Path::new("/run/skiff");
    std::fs::create_dir_all(dir).map_err(NetError::io("create /run/skiff"))?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("net.lock"))
        .map_err(NetError::io("open /run/skiff/net.lock"))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| NetError::io("lock /run/skiff/net.lock")(e.into()))
}

fn random_hex() -> Result<String, NetError> {
    use std::io::Read;
    let mut b = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(NetError::io("read /dev/urandom"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && n.len() <= 64
}

impl NetManager {
    /// Loads state, sets up the nft base and every network's bridge and DNS server
    /// (creating the default network on first start). Call inside a tokio runtime.
    pub fn open(cfg: NetConfig) -> Result<NetManager, NetError> {
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let upstreams = if cfg.upstreams.is_empty() {
            dns::resolv_upstreams(&host_resolv)
        } else {
            cfg.upstreams.clone()
        };
        let state = Arc::new(Mutex::new(NetState::load(&cfg.root)?));
        let sources: Sources = Arc::new(RwLock::new(vec![
            Arc::new(ContainerNames(state.clone())) as Arc<dyn dns::NameSource>
        ]));
        let pending: Pending = Arc::default();
        let (reap_tx, reap_thread) = reaper(pending.clone());
        let m = NetManager {
            inner: Arc::new(Inner {
                cfg,
                state,
                servers: Mutex::new(HashMap::new()),
                sources,
                upstreams,
                host_resolv,
                rt: tokio::runtime::Handle::current(),
                reaper: Mutex::new(Some(reap_tx)),
                reaper_thread: Mutex::new(Some(reap_thread)),
                pending,
            }),
        };
        let _lock = host_lock()?;
        nft::apply(nft::base())?;
        m.ensure_default()?;
        let nets: Vec<NetworkRec> = m.state().networks.values().cloned().collect();
        for n in nets {
            m.bring_up(&n)?;
        }
        Ok(m)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, NetState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn save(&self, st: &NetState) -> Result<(), NetError> {
        st.save(&self.inner.cfg.root)
    }

    /// Deletes host veth `name` in the background (synchronously if the reaper is gone).
    pub(crate) fn reap(&self, name: String) {
        let (set, _) = &*self.inner.pending;
        set.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        let sent = match self
            .inner
            .reaper
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(tx) => tx.send(name.clone()).is_ok(),
            None => false,
        };
        if !sent {
            if let Ok(mut rt) = Rtnl::open() {
                let _ = rt.del_link(&name);
            }
            set.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
        }
    }

    /// Waits (up to 10 s) until no deletion of `name` is queued.
    pub(crate) fn wait_reaped(&self, name: &str) {
        let (set, cv) = &*self.inner.pending;
        let guard = set.lock().unwrap_or_else(|p| p.into_inner());
        let _ = cv.wait_timeout_while(guard, std::time::Duration::from_secs(10), |s| {
            s.contains(name)
        });
    }

    /// Adds a name source the DNS servers consult after the containers (e.g. services).
    pub fn add_name_source(&self, s: Arc<dyn dns::NameSource>) {
        if let Ok(mut v) = self.inner.sources.write() {
            v.push(s);
        }
    }

    /// The host's view of which subnets are taken: ours plus the host's routes.
    fn taken_subnets(st: &NetState) -> Vec<Subnet> {
        let mut taken: Vec<Subnet> = st
            .networks
            .values()
            .filter_map(|n| n.subnet().ok())
            .collect();
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        taken.extend(subnet::parse_proc_routes(&routes));
        taken
    }

    fn ensure_default(&self) -> Result<(), NetError> {
        let mut st = self.state();
        if st.networks.contains_key(DEFAULT_NETWORK) {
            return Ok(());
        }
        let cfg = &self.inner.cfg;
        let subnet = match &cfg.bridge_subnet {
            Some(s) => Subnet::parse(s)?,
            None => subnet::next_pool_subnet(&Self::taken_subnets(&st))
                .ok_or_else(|| NetError::Conflict("no free /24 left in 198.18.0.0/15".into()))?,
        };
        st.networks.insert(
            DEFAULT_NETWORK.into(),
            NetworkRec {
                id: random_hex()?,
                name: DEFAULT_NETWORK.into(),
                bridge: cfg.bridge.clone(),
                subnet: subnet.to_string(),
                egress: cfg.default_egress,
                default: true,
                labels: Default::default(),
            },
        );
        self.save(&st)
    }

    /// Bridge (created if missing), gateway address, route_localnet, nft elements, DNS.
    fn bring_up(&self, n: &NetworkRec) -> Result<(), NetError> {
        let subnet = n.subnet()?;
        let mut rt = Rtnl::open().map_err(NetError::io("open netlink"))?;
        match rt.add_bridge(&n.bridge, 1500) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                rt.set_up(&n.bridge).map_err(NetError::io("bridge up"))?;
            }
            Err(e) => return Err(NetError::io(format!("network {}", n.name))(e)),
        }
        rt.add_addr(&n.bridge, subnet.gateway(), subnet.prefix)
            .map_err(NetError::io(format!("network {}", n.name)))?;
        let localnet = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", n.bridge);
        std::fs::write(&localnet, "1").map_err(NetError::io(format!("write {localnet}")))?;
        nft::apply(nft::add_network(&n.bridge, n.egress))?;
        self.start_dns(n)
    }

    fn start_dns(&self, n: &NetworkRec) -> Result<(), NetError> {
        let gw = n.subnet()?.gateway();
        let std_sock = std::net::UdpSocket::bind((gw, 53))
            .and_then(|s| s.set_nonblocking(true).map(|_| s))
            .map_err(NetError::io(format!("DNS server on {gw}:53")))?;
        let _guard = self.inner.rt.enter();
        let sock = tokio::net::UdpSocket::from_std(std_sock)
            .map_err(NetError::io(format!("DNS server on {gw}:53")))?;
        let task = self.inner.rt.spawn(dns::serve(
            sock,
            n.name.clone(),
            self.inner.sources.clone(),
            self.inner.upstreams.clone(),
        ));
        let mut servers = self.inner.servers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = servers.insert(n.name.clone(), task) {
            old.abort();
        }
        Ok(())
    }

    fn tear_down(&self, n: &NetworkRec) {
        if let Some(t) = self
            .inner
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n.name)
        {
            t.abort();
        }
        if let Ok(listing) = nft::list() {
            let _ = nft::apply(nft::remove_network(&n.bridge, &listing));
        }
        if let Ok(mut rt) = Rtnl::open() {
            let _ = rt.del_link(&n.bridge);
        }
    }

    pub fn create(&self, req: NetworkCreate) -> Result<NetworkInfo, NetError> {
        if !valid_name(&req.name)
            || ["none", "host", DEFAULT_NETWORK, "default"].contains(&req.name.as_str())
        {
            return Err(NetError::Invalid(format!(
                "invalid network name {:?}: [a-zA-Z0-9][a-zA-Z0-9_.-]* (not none, host, bridge)",
                req.name
            )));
        }
        let _lock = host_lock()?;
        let rec = {
            let mut st = self.state();
            if st.networks.contains_key(&req.name) {
                return Err(NetError::Conflict(format!(
                    "network with name {} already exists",
                    req.name
                )));
            }
            let taken = Self::taken_subnets(&st);
            let subnet = match &req.subnet {
                Some(s) => {
                    let s = Subnet::parse(s)?;
                    if let Some(t) = taken.iter().find(|t| t.overlaps(&s)) {
                        return Err(NetError::Conflict(format!(
                            "subnet {s} overlaps {t}, already in use on this host"
                        )));
                    }
                    s
                }
                None => subnet::next_pool_subnet(&taken).ok_or_else(|| {
                    NetError::Conflict("no free /24 left in 198.18.0.0/15".into())
                })?,
            };
            let id = random_hex()?;
            let rec = NetworkRec {
                bridge: format!("skbr-{}", &id[..8]),
                id,
                name: req.name.clone(),
                subnet: subnet.to_string(),
                egress: req.egress,
                default: false,
                labels: req.labels,
            };
            st.networks.insert(rec.name.clone(), rec.clone());
            self.save(&st)?;
            rec
        };
        if let Err(e) = self.bring_up(&rec) {
            self.tear_down(&rec);
            let mut st = self.state();
            st.networks.remove(&rec.name);
            let _ = self.save(&st);
            return Err(e);
        }
        self.inspect(&rec.name)
    }

    pub fn remove(&self, name: &str) -> Result<(), NetError> {
        let rec = self.find(name)?;
        if rec.default {
            return Err(NetError::Invalid(format!(
                "{name} is a pre-defined network and cannot be removed"
            )));
        }
        let users: Vec<String> = {
            let st = self.state();
            st.containers
                .iter()
                .filter(|(_, c)| c.endpoints.iter().any(|e| e.network == rec.name))
                .map(|(id, _)| id[..12.min(id.len())].to_string())
                .collect()
        };
        if !users.is_empty() {
            return Err(NetError::Conflict(format!(
                "network {name} has containers attached ({}): remove or disconnect them first",
                users.join(", ")
            )));
        }
        let _lock = host_lock()?;
        self.tear_down(&rec);
        let mut st = self.state();
        st.networks.remove(&rec.name);
        self.save(&st)
    }

    /// A network by name, id or id prefix.
    pub fn find(&self, r: &str) -> Result<NetworkRec, NetError> {
        let st = self.state();
        st.networks
            .get(r)
            .or_else(|| {
                st.networks
                    .values()
                    .find(|n| !r.is_empty() && n.id.starts_with(r))
            })
            .cloned()
            .ok_or_else(|| NetError::NotFound(format!("network {r} not found")))
    }

    pub fn list(&self) -> Vec<NetworkInfo> {
        let names: Vec<String> = self.state().networks.keys().cloned().collect();
        names.iter().filter_map(|n| self.inspect(n).ok()).collect()
    }

    pub fn inspect(&self, r: &str) -> Result<NetworkInfo, NetError> {
        let n = self.find(r)?;
        let subnet = n.subnet()?;
        let st = self.state();
        let endpoints = st
            .containers
            .iter()
            .flat_map(|(id, c)| c.endpoints.iter().map(move |e| (id, e)))
            .filter(|(_, e)| e.network == n.name)
            .map(|(id, e)| Endpoint {
                container_id: id.clone(),
                name: e.name.clone(),
                aliases: e.aliases.clone(),
                address: format!("{}/{}", e.ip, subnet.prefix),
                interface: e.veth.clone(),
            })
            .collect();
        Ok(NetworkInfo {
            id: n.id.clone(),
            name: n.name.clone(),
            driver: "bridge".into(),
            bridge: n.bridge.clone(),
            subnet: n.subnet.clone(),
            gateway: subnet.gateway().to_string(),
            egress: n.egress,
            default: n.default,
            labels: n.labels.clone(),
            endpoints,
        })
    }

    /// Daemon shutdown: stops the DNS servers; when no container of this daemon runs
    /// (`idle`), also removes the bridges and their nft elements (the records stay and
    /// the next start brings them back), so a stopped daemon leaves nothing on the host.
    pub fn shutdown(&self, idle: bool) {
        // Finish the veth deletions in flight.
        drop(
            self.inner
                .reaper
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        if let Some(t) = self
            .inner
            .reaper_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = t.join();
        }
        let servers: Vec<_> = self
            .inner
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (_, t) in servers {
            t.abort();
        }
        if idle {
            let nets: Vec<NetworkRec> = self.state().networks.values().cloned().collect();
            if let Ok(_lock) = host_lock() {
                for n in nets {
                    self.tear_down(&n);
                }
                // The last skiff daemon to go takes the shared table with it.
                if let Ok(l) = nft::list() {
                    if l.bridges.is_empty() && l.ports.is_empty() && !l.chains.is_empty() {
                        let _ = nft::apply(vec![nft::delete_table()]);
                    }
                }
            }
        }
    }
}
