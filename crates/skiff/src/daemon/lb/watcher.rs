//! What every proxy of the daemon (load balancer or ambassador) does around
//! its `Balancer`: announce itself as a watcher of its service, feed the
//! registry's watch of the service into the balancer, and write its acks.
//!
//! ```text
//!  announce(applied 0) -> open ServiceWatch -> feed: filter(port, tcp) -> Balancer::apply
//!  Balancer::applied + subscribe_removed -> ack loop -> /skiff/watchers/<svc>/<name>
//! ```
//!
//! The record is written before the watch opens, so a stopper that reads
//! the watchers after deregistering can never miss a proxy that still saw
//! the instance. `drained` trails `applied` while a removed backend still
//! has requests in flight.

use skiff_proxy::{Balancer, Removed};
use skiff_registry::watchers::{self, WatcherRecord};
use skiff_registry::Registry;
use skiff_store::LeaseId;
use skiff_types::{Proto, ServiceUpdate};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// One proxy's link to the registry; dropping it stops the feed and acks
/// (call [`Link::close`] to also remove the record at once).
pub struct Link {
    registry: Registry,
    service: String,
    name: String,
    tasks: Vec<JoinHandle<()>>,
}

/// Only instances this proxy can forward to: TCP, and on `port` if given.
pub fn filter(u: ServiceUpdate, port: Option<u16>) -> ServiceUpdate {
    let fits =
        |i: &skiff_types::Instance| i.proto == Proto::Tcp && port.is_none_or(|p| i.port == p);
    match u {
        ServiceUpdate::Reset {
            revision,
            mut instances,
        } => {
            instances.retain(fits);
            ServiceUpdate::Reset {
                revision,
                instances,
            }
        }
        ServiceUpdate::Add { revision, instance } if !fits(&instance) => ServiceUpdate::Remove {
            revision,
            id: instance.id,
        },
        other => other,
    }
}

impl Link {
    /// Announces `name` as a watcher of the balancer's service, then starts
    /// feeding it and acking. Fails if the store cannot be reached.
    pub async fn start(
        registry: Registry,
        node: &str,
        name: String,
        port: Option<u16>,
        lease: watch::Receiver<Option<LeaseId>>,
        bal: Arc<Balancer>,
    ) -> Result<Link, String> {
        let service = bal.name().to_owned();
        let rec = WatcherRecord {
            watcher: name.clone(),
            node: node.to_owned(),
            applied: 0,
            drained: 0,
        };
        let current = *lease.borrow();
        watchers::announce(&**registry.store(), &service, &rec, current)
            .await
            .map_err(|e| format!("announce watcher {name} of {service}: {e}"))?;
        let removed = bal.subscribe_removed();
        let applied = bal.applied();
        let watch = match registry.watch(&service, None).await {
            Ok(w) => w,
            Err(e) => {
                let _ = watchers::retract(&**registry.store(), &service, &name).await;
                return Err(format!("watch service {service}: {e}"));
            }
        };
        let feed = tokio::spawn(feed(registry.clone(), watch, bal, port));
        let acks = tokio::spawn(ack_loop(
            registry.clone(),
            service.clone(),
            rec,
            lease,
            applied,
            removed,
        ));
        Ok(Link {
            registry,
            service,
            name,
            tasks: vec![feed, acks],
        })
    }

    /// Stops feeding and acking, and removes the watcher record.
    pub async fn close(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
        let _ = watchers::retract(&**self.registry.store(), &self.service, &self.name).await;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn feed(
    registry: Registry,
    mut w: skiff_registry::ServiceWatch,
    bal: Arc<Balancer>,
    port: Option<u16>,
) {
    loop {
        while let Some(item) = w.next().await {
            match item {
                Ok(u) => bal.apply(filter(u, port)),
                Err(e) => {
                    eprintln!("skiff daemon: proxy {}: registry watch: {e}", bal.name());
                    break;
                }
            }
        }
        // The watch ended: reopen from now (it starts with a Reset).
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(again) = registry.watch(bal.name(), None).await {
                w = again;
                break;
            }
        }
    }
}

/// Writes `applied` / `drained` whenever they move (coalesced: the latest
/// values win), and again whenever the lease is replaced.
async fn ack_loop(
    registry: Registry,
    service: String,
    mut rec: WatcherRecord,
    mut lease: watch::Receiver<Option<LeaseId>>,
    mut applied: watch::Receiver<u64>,
    mut removed: broadcast::Receiver<Removed>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut written: Option<(u64, u64, Option<LeaseId>)> = Some((0, 0, *lease.borrow()));
    let track = |r: Removed, pending: &mut BTreeMap<u64, usize>| {
        *pending.entry(r.revision).or_default() += 1;
        let tx = done_tx.clone();
        tokio::spawn(async move {
            r.drained().await;
            let _ = tx.send(r.revision);
        });
    };
    loop {
        // Removals are announced before the revision is marked applied.
        while let Ok(r) = removed.try_recv() {
            track(r, &mut pending);
        }
        rec.applied = *applied.borrow_and_update();
        rec.drained = match pending.keys().next() {
            Some(first) => first.saturating_sub(1).min(rec.applied),
            None => rec.applied,
        };
        let now = (rec.applied, rec.drained, *lease.borrow_and_update());
        let mut retry = false;
        if written != Some(now) {
            match watchers::announce(&**registry.store(), &service, &rec, now.2).await {
                Ok(_) => written = Some(now),
                Err(_) => retry = true,
            }
        }
        tokio::select! {
            r = applied.changed() => if r.is_err() { return },
            r = lease.changed() => if r.is_err() { return },
            Some(rev) = done_rx.recv() => {
                if let Some(n) = pending.get_mut(&rev) {
                    *n -= 1;
                    if *n == 0 {
                        pending.remove(&rev);
                    }
                }
            }
            r = removed.recv() => match r {
                Ok(r) => track(r, &mut pending),
                Err(broadcast::error::RecvError::Closed) => return,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(200)), if retry => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::Instance;

    fn inst(id: &str, port: u16, proto: Proto) -> Instance {
        Instance {
            id: id.into(),
            service: "web".into(),
            node: "n".into(),
            addr: "198.18.0.2".parse().unwrap(),
            port,
            proto,
            tags: vec![],
            meta: Default::default(),
        }
    }

    #[test]
    fn filter_keeps_tcp_instances_on_the_port() {
        let u = ServiceUpdate::Reset {
            revision: 3,
            instances: vec![
                inst("a", 80, Proto::Tcp),
                inst("b", 81, Proto::Tcp),
                inst("c", 80, Proto::Udp),
            ],
        };
        let ServiceUpdate::Reset { instances, .. } = filter(u, Some(80)) else {
            panic!()
        };
        assert_eq!(instances.len(), 1);
        let add = ServiceUpdate::Add {
            revision: 4,
            instance: inst("b", 81, Proto::Tcp),
        };
        assert!(
            matches!(filter(add.clone(), Some(80)), ServiceUpdate::Remove { id, .. } if id == "b")
        );
        assert_eq!(filter(add.clone(), None), add);
    }
}
