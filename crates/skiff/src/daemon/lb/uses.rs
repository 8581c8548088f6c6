//! `--uses SERVICE[:LOCALPORT]`: ambassadors. While a client container
//! runs, 127.0.0.1:LOCALPORT inside its own network namespace forwards each
//! TCP connection to a healthy instance of SERVICE, wherever it runs;
//! registry changes rewire it at once, and the client never restarts.
//!
//! The listening socket is made by the network hook, before the client's
//! process runs: a throwaway thread enters the container's namespace and
//! binds (`skiff_sys::netns::bind_tcp_in`), then the forwarder (a TCP
//! balancer linked to the registry like a load balancer, and registered as
//! a watcher so drains wait for it) runs in the daemon on that socket. It
//! goes when the container exits (the hook's detach). With `--network host`
//! the port is bound on the host's loopback.

use super::watcher::Link;
use skiff_proxy::Balancer;
use skiff_registry::keys::validate_service;
use skiff_registry::Registry;
use skiff_store::LeaseId;
use skiff_types::{ApiError, ErrorKind, Proto, UsesSpec};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Forwarder {
    serve: JoinHandle<()>,
    link: Option<Link>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.serve.abort();
    }
}

pub struct Ambassadors {
    registry: Registry,
    node: String,
    lease: watch::Receiver<Option<LeaseId>>,
    handle: Handle,
    running: Mutex<HashMap<String, Vec<Forwarder>>>,
}

fn invalid(msg: String) -> ApiError {
    ApiError::new(ErrorKind::Invalid, msg)
}

impl Ambassadors {
    pub fn new(
        registry: Registry,
        node: String,
        lease: watch::Receiver<Option<LeaseId>>,
    ) -> Arc<Self> {
        Arc::new(Ambassadors {
            registry,
            node,
            lease,
            handle: Handle::current(),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Checks `--uses` before anything is made (names only: the registry may
    /// not know the service yet when the port is given).
    pub fn validate(uses: &[UsesSpec]) -> Result<(), ApiError> {
        let mut ports = Vec::new();
        for u in uses {
            validate_service(&u.service)
                .map_err(|e| invalid(format!("--uses {}: {e}", u.service)))?;
            if let Some(p) = u.local_port {
                if ports.contains(&p) {
                    return Err(invalid(format!("--uses: local port {p} given twice")));
                }
                ports.push(p);
            }
        }
        Ok(())
    }

    /// The local port of `u`: given, or the port the service's instances offer.
    async fn local_port(&self, u: &UsesSpec) -> Result<u16, ApiError> {
        if let Some(p) = u.local_port {
            return Ok(p);
        }
        let (instances, _) = self
            .registry
            .instances(&u.service)
            .await
            .map_err(super::registry_error)?;
        instances
            .iter()
            .find(|i| i.proto == Proto::Tcp)
            .map(|i| i.port)
            .ok_or_else(|| {
                invalid(format!(
                    "--uses {0}: service {0} has no healthy instance to take the port from; give it: --uses {0}:PORT",
                    u.service
                ))
            })
    }

    /// Binds every forwarder of container `id` in `netns` (None: the host's)
    /// and starts them; on error nothing is left. Runs on a blocking thread.
    pub fn attach(
        &self,
        id: &str,
        uses: &[UsesSpec],
        netns: Option<BorrowedFd<'_>>,
    ) -> Result<(), ApiError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut bound = Vec::new();
        for u in uses {
            let port = self.handle.block_on(self.local_port(u))?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let l = match netns {
                Some(ns) => skiff_sys::netns::bind_tcp_in(ns, addr),
                None => std::net::TcpListener::bind(addr).and_then(|l| {
                    l.set_nonblocking(true)?;
                    Ok(l)
                }),
            }
            .map_err(|e| {
                ApiError::new(
                    ErrorKind::Conflict,
                    format!("--uses {}: listen on {addr}: {e}", u.service),
                )
            })?;
            bound.push((u.service.clone(), port, l));
        }
        let short = &id[..id.len().min(12)];
        let mut forwarders = Vec::new();
        for (service, port, l) in bound {
            match self.start_one(short, service, port, l) {
                Ok(f) => forwarders.push(f),
                Err(e) => {
                    self.close(forwarders);
                    return Err(e);
                }
            }
        }
        let old = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), forwarders);
        if let Some(old) = old {
            self.close(old);
        }
        Ok(())
    }

    fn start_one(
        &self,
        short: &str,
        service: String,
        port: u16,
        l: std::net::TcpListener,
    ) -> Result<Forwarder, ApiError> {
        self.handle.block_on(async {
            let bal = Balancer::new(service, super::run::config(skiff_types::LbMode::Tcp));
            let name = format!("uses-{short}-{port}@{}", self.node);
            let listener = tokio::net::TcpListener::from_std(l)
                .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?;
            let link = Link::start(
                self.registry.clone(),
                &self.node,
                name,
                None,
                self.lease.clone(),
                bal.clone(),
            )
            .await
            .map_err(|e| ApiError::new(ErrorKind::Unavailable, e))?;
            let serve = tokio::spawn(async move {
                let _ = skiff_proxy::tcp::serve(listener, bal).await;
            });
            Ok(Forwarder {
                serve,
                link: Some(link),
            })
        })
    }

    /// Stops container `id`'s forwarders (it exited).
    pub fn detach(&self, id: &str) {
        let gone = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(f) = gone {
            self.close(f);
        }
    }

    fn close(&self, forwarders: Vec<Forwarder>) {
        for mut f in forwarders {
            f.serve.abort();
            if let Some(link) = f.link.take() {
                self.handle.spawn(link.close());
            }
        }
    }
}

/// After a daemon restart: running containers that use services get their
/// forwarders back (bound through `/proc/PID/ns/net`), since the old ones
/// died with the previous daemon.
pub async fn readopt(rt: &skiff_runtime::Runtime, amb: &Arc<Ambassadors>) {
    let Ok(list) = rt.list(false).await else {
        return;
    };
    for s in list {
        let Ok(info) = rt.inspect(s.id.as_str()).await else {
            continue;
        };
        if info.config.uses.is_empty() || !info.state.status.is_alive() || info.state.pid <= 0 {
            continue;
        }
        let (amb, id, pid) = (amb.clone(), info.id.to_string(), info.state.pid);
        let host = info.config.network == skiff_types::NetworkMode::Host;
        let uses = info.config.uses.clone();
        let done = tokio::task::spawn_blocking(move || {
            let ns = match host {
                true => None,
                false => Some(
                    std::fs::File::open(format!("/proc/{pid}/ns/net"))
                        .map_err(|e| invalid(format!("open the namespace of {id}: {e}")))?,
                ),
            };
            amb.attach(&id, &uses, ns.as_ref().map(std::os::fd::AsFd::as_fd))
        })
        .await;
        if let Ok(Err(e)) = done {
            eprintln!("skiff daemon: --uses of {}: {}", info.id, e.message);
        }
    }
}
