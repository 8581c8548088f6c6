//! The control-loop tests' stand-in for the container runtime: a recording
//! fake `Executor` (this tests the reconcile logic of controller and agent,
//! not the runtime: the e2e_up tests run the real one), and topology helpers.
#![allow(dead_code)]

use skiff_agent::{ExecError, Executor, Observed};
use skiff_sched::ObservedState;
use skiff_types::job::labels;
use skiff_types::{
    AllocId, ContainerSpec, HealthStatus, NetworkSpec, ServiceSpec, Topology, VolumeSpec,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeRuntime {
    next: Mutex<u32>,
    pub containers: Mutex<BTreeMap<String, Observed>>,
    pub networks: Mutex<Vec<String>>,
    pub volumes: Mutex<Vec<String>>,
    /// Every start, in order (service names).
    pub started: Mutex<Vec<String>>,
    /// Services whose containers come up unhealthy.
    pub sick: Mutex<Vec<String>>,
}

impl FakeRuntime {
    pub fn running(&self, service_prefix: &str) -> Vec<Observed> {
        self.containers
            .lock()
            .unwrap()
            .values()
            .filter(|o| o.name.starts_with(service_prefix) && o.state == ObservedState::Running)
            .cloned()
            .collect()
    }

    pub fn exit(&self, container: &str, code: i32) {
        let mut c = self.containers.lock().unwrap();
        c.get_mut(container).unwrap().state = ObservedState::Exited { code };
    }

    pub fn set_health(&self, service_prefix: &str, h: HealthStatus) {
        for o in self.containers.lock().unwrap().values_mut() {
            if o.name.starts_with(service_prefix) {
                o.health = Some(h);
            }
        }
    }
}

impl Executor for FakeRuntime {
    async fn observe(&self) -> Result<Vec<Observed>, ExecError> {
        Ok(self.containers.lock().unwrap().values().cloned().collect())
    }
    async fn ensure_network(&self, n: &str, _: &NetworkSpec, _: &str) -> Result<(), ExecError> {
        self.networks.lock().unwrap().push(n.into());
        Ok(())
    }
    async fn ensure_volume(&self, n: &str, _: &VolumeSpec, _: &str) -> Result<(), ExecError> {
        self.volumes.lock().unwrap().push(n.into());
        Ok(())
    }
    async fn start(
        &self,
        spec: ContainerSpec,
        _: Vec<(String, Vec<String>)>,
    ) -> Result<String, ExecError> {
        let mut n = self.next.lock().unwrap();
        *n += 1;
        let id = format!("c{n}");
        let l = &spec.labels;
        let svc = l[labels::SERVICE].clone();
        let sick = self.sick.lock().unwrap().contains(&svc);
        let health = spec.health.as_ref().map(|_| match sick {
            true => HealthStatus::Unhealthy,
            false => HealthStatus::Healthy,
        });
        self.started.lock().unwrap().push(svc);
        self.containers.lock().unwrap().insert(
            id.clone(),
            Observed {
                alloc: AllocId(l[labels::ALLOC].clone()),
                container: id.clone(),
                name: spec.name.clone().unwrap(),
                spec_hash: l[labels::SPEC].parse().unwrap(),
                state: ObservedState::Running,
                health,
                addresses: vec![],
            },
        );
        Ok(id)
    }
    async fn stop(&self, c: &str) -> Result<(), ExecError> {
        self.exit(c, 143);
        Ok(())
    }
    async fn remove(&self, c: &str) -> Result<(), ExecError> {
        self.containers.lock().unwrap().remove(c);
        Ok(())
    }
    async fn freeze(&self, _: &str) -> Result<(), ExecError> {
        Ok(())
    }
    async fn thaw(&self, _: &str) -> Result<(), ExecError> {
        Ok(())
    }
}

pub fn service(name: &str, replicas: u32) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        image: Some("bb".into()),
        replicas,
        healthcheck: Some(skiff_types::HealthCheck::with_defaults(
            skiff_types::HealthProbe::Tcp { port: 80 },
        )),
        ..Default::default()
    }
}

pub fn topo(services: Vec<ServiceSpec>) -> Topology {
    Topology {
        name: "j".into(),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        ..Default::default()
    }
}
