//! `depends_on` gating (pure): an instance starts only once every service it
//! depends on meets its condition, judged from the reports of that
//! service's allocations on every node:
//!
//! - `started`: every current instance is running (or has completed);
//! - `healthy`: every current instance is running and healthy (a dependency
//!   without a health check counts as healthy once running);
//! - `completed`: every current instance exited 0.
//!
//! "Current" means allocated on the dependency's current spec and not being
//! retired; a dependency with no such instance yet is not ready.

use skiff_types::{
    AllocReport, AllocStatus, Allocation, DependsCondition, DesiredState, HealthStatus, Topology,
};
use std::collections::HashMap;

/// Whether an instance of `service` in `topo` may start now.
pub fn may_start(
    topo: &Topology,
    service: &str,
    allocs: &[Allocation],
    reports: &HashMap<&str, &AllocReport>,
) -> bool {
    let Some(svc) = topo.services.get(service) else {
        return false;
    };
    svc.depends_on.iter().all(|(dep, cond)| {
        let Some(dep_spec) = topo.services.get(dep) else {
            return true;
        };
        let hash = dep_spec.fingerprint();
        let mut current = allocs
            .iter()
            .filter(|a| a.job == topo.name && &a.service == dep && a.spec_hash == hash)
            .filter(|a| a.desired != DesiredState::Stop)
            .peekable();
        if current.peek().is_none() {
            return false;
        }
        current.all(|a| {
            let r = reports.get(a.id.as_str());
            let status = r.map(|r| r.status).unwrap_or_default();
            match cond {
                DependsCondition::Started => {
                    matches!(status, AllocStatus::Running | AllocStatus::Complete)
                }
                DependsCondition::Healthy => {
                    status == AllocStatus::Running
                        && r.and_then(|r| r.health)
                            .is_none_or(|h| h == HealthStatus::Healthy)
                }
                DependsCondition::Completed => status == AllocStatus::Complete,
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{AllocId, Capacity, HealthCheck, HealthProbe, JobClass, ServiceSpec};

    fn topo(cond: DependsCondition) -> Topology {
        let mut t = Topology {
            name: "j".into(),
            ..Default::default()
        };
        let db = ServiceSpec {
            name: "db".into(),
            replicas: 1,
            healthcheck: Some(HealthCheck::with_defaults(HealthProbe::Tcp { port: 5 })),
            ..Default::default()
        };
        let mut web = ServiceSpec {
            name: "web".into(),
            replicas: 1,
            ..Default::default()
        };
        web.depends_on.insert("db".into(), cond);
        t.services.insert("db".into(), db);
        t.services.insert("web".into(), web);
        t
    }

    fn db_alloc(t: &Topology) -> Allocation {
        Allocation {
            id: AllocId::new("j", "db", 0, 1),
            job: "j".into(),
            service: "db".into(),
            index: 0,
            generation: 1,
            node: "n".into(),
            resources: Capacity::default(),
            class: JobClass::Service,
            priority: 0,
            spec_hash: t.services["db"].fingerprint(),
            desired: DesiredState::Run,
            status: AllocStatus::Pending,
        }
    }

    fn check(cond: DependsCondition, report: Option<AllocReport>) -> bool {
        let t = topo(cond);
        let a = db_alloc(&t);
        let mut reports = HashMap::new();
        if let Some(r) = &report {
            reports.insert(a.id.as_str(), r);
        }
        may_start(&t, "web", std::slice::from_ref(&a), &reports)
    }

    fn report(status: AllocStatus, health: Option<HealthStatus>) -> AllocReport {
        AllocReport {
            status,
            health,
            ..Default::default()
        }
    }

    #[test]
    fn conditions_gate_starts() {
        use DependsCondition::*;
        assert!(!check(Started, None));
        assert!(check(Started, Some(report(AllocStatus::Running, None))));
        let starting = Some(report(AllocStatus::Running, Some(HealthStatus::Starting)));
        assert!(check(Started, starting.clone()));
        assert!(!check(Healthy, starting));
        let healthy = Some(report(AllocStatus::Running, Some(HealthStatus::Healthy)));
        assert!(check(Healthy, healthy.clone()));
        assert!(!check(Completed, healthy));
        assert!(check(Completed, Some(report(AllocStatus::Complete, None))));
        assert!(!check(Completed, Some(report(AllocStatus::Failed, None))));
    }

    #[test]
    fn no_instance_yet_is_not_ready_and_no_deps_always_start() {
        let t = topo(DependsCondition::Started);
        assert!(!may_start(&t, "web", &[], &HashMap::new()));
        assert!(may_start(&t, "db", &[], &HashMap::new()));
    }
}
