//! The load balancers of a topology's `lb` sections: each becomes an
//! `LbDef` owned by its job (`owner = Some(job)`, named `<job>-<service>`),
//! run by the daemon's `LbManager` like one made with `skiff lb`.
//!
//! `apply` runs before the job is stored, so an address in use refuses the
//! whole `up` with nothing applied; lbs the job no longer declares are
//! removed, unchanged ones are left running (no dropped connections on a
//! re-`up`). `remove_owned` runs on `down`.

use super::lb::LbManager;
use skiff_types::{ApiError, ErrorKind, LbDef, Topology};

/// `<job>-<service>` as a record name: `[a-z0-9-]`, at most 63 characters.
pub fn lb_name(job: &str, service: &str) -> String {
    let raw = format!("{job}-{service}").to_ascii_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(63);
    name.trim_matches('-').to_owned()
}

/// The records the topology asks for.
pub fn wanted(topo: &Topology) -> Vec<LbDef> {
    topo.services
        .values()
        .filter_map(|svc| {
            svc.lb.as_ref().map(|lb| LbDef {
                name: lb_name(&topo.name, &svc.name),
                service: svc.name.clone(),
                listen: lb.listen,
                mode: lb.mode,
                port: Some(lb.port),
                owner: Some(topo.name.clone()),
            })
        })
        .collect()
}

/// Brings the job's lbs to what `topo` declares. Returns the names it
/// started (for `undo`). On error, everything it started is stopped again.
pub async fn apply(lbs: &LbManager, topo: &Topology) -> Result<Vec<String>, ApiError> {
    let existing = lbs.list().await?;
    let wanted = wanted(topo);
    // Refuse before touching anything: a name held by someone else.
    for def in &wanted {
        if let Some(cur) = existing.iter().find(|s| s.def.name == def.name) {
            if cur.def.owner.as_deref() != Some(topo.name.as_str()) {
                return Err(ApiError::new(
                    ErrorKind::Conflict,
                    format!(
                        "service {} of job {}: load balancer {} already exists and is not this job's",
                        def.service, topo.name, def.name
                    ),
                ));
            }
        }
    }
    let mut started = Vec::new();
    for def in &wanted {
        let cur = existing.iter().find(|s| s.def.name == def.name);
        if cur.is_some_and(|c| c.def == *def && c.running) {
            continue;
        }
        if cur.is_some() {
            lbs.remove(&def.name).await?;
        }
        match lbs.create(def.clone()).await {
            Ok(_) => started.push(def.name.clone()),
            Err(e) => {
                undo(lbs, started).await;
                return Err(ApiError::new(
                    e.kind,
                    format!(
                        "lb of service {} (listen {}): {}",
                        def.service, def.listen, e.message
                    ),
                ));
            }
        }
    }
    // What the job declared before and no longer does.
    for cur in existing {
        let ours = cur.def.owner.as_deref() == Some(topo.name.as_str());
        if ours && !wanted.iter().any(|d| d.name == cur.def.name) {
            lbs.remove(&cur.def.name).await?;
        }
    }
    Ok(started)
}

/// Stops and deletes the named lbs (best effort: used on a failure path).
pub async fn undo(lbs: &LbManager, started: Vec<String>) {
    for name in started {
        if let Err(e) = lbs.remove(&name).await {
            eprintln!(
                "skiff daemon: take back load balancer {name}: {}",
                e.message
            );
        }
    }
}

/// `down`: every lb the job owns.
pub async fn remove_owned(lbs: &LbManager, job: &str) -> Result<(), ApiError> {
    for cur in lbs.list().await? {
        if cur.def.owner.as_deref() == Some(job) {
            match lbs.remove(&cur.def.name).await {
                Err(e) if e.kind != ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_record_keys() {
        assert_eq!(lb_name("webapp", "web"), "webapp-web");
        assert_eq!(lb_name("My_App", "front.end"), "my-app-front-end");
        assert_eq!(lb_name(&"x".repeat(80), "web").len(), 63);
    }
}
