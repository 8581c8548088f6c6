//! The daemon's proxies: every load balancer record in the store
//! (`/skiff/lbs/<name>`) runs here as a skiff-proxy listener fed by the
//! registry's watch of its service; `--uses` ambassadors run inside client
//! containers' network namespaces; and stops drain registered instances
//! first (see [`drain`]).
//!
//! [`LbManager`] owns the running set. One task follows the store's records
//! (Reset/Put/Delete) and starts, replaces or stops listeners; the API's
//! create binds the listener before writing the record, so an address
//! clash refuses the request with nothing written. A record written by
//! someone else (a topology job) that cannot bind is kept, and reported by
//! `ls`/`inspect` with its error.

pub mod api;
pub mod drain;
mod lease;
mod run;
pub mod uses;
mod watcher;

use run::RunningLb;
use skiff_registry::lbs::{self, LbEvent};
use skiff_registry::{Registry, RegistryError};
use skiff_store::{LeaseId, StoreError};
use skiff_types::{ApiError, ErrorKind, LbDef, LbStatus};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex};

pub use lease::LeaseKeeper;

#[derive(Default)]
struct State {
    running: HashMap<String, RunningLb>,
    /// Records this daemon could not run, and why.
    failed: HashMap<String, (LbDef, String)>,
}

struct Inner {
    registry: Registry,
    node: String,
    lease: watch::Receiver<Option<LeaseId>>,
    state: Mutex<State>,
}

/// The load balancers this daemon runs. Cheap to clone.
#[derive(Clone)]
pub struct LbManager(Arc<Inner>);

pub fn registry_error(e: RegistryError) -> ApiError {
    let kind = match &e {
        RegistryError::Invalid(_) => ErrorKind::Invalid,
        RegistryError::Store(StoreError::Conflict { .. }) => ErrorKind::Conflict,
        RegistryError::Store(StoreError::Unavailable { .. }) => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

impl LbManager {
    /// Starts following the store's records.
    pub fn spawn(registry: Registry, node: String, lease: &LeaseKeeper) -> LbManager {
        let m = LbManager(Arc::new(Inner {
            registry,
            node,
            lease: lease.subscribe(),
            state: Mutex::new(State::default()),
        }));
        tokio::spawn(m.clone().follow());
        m
    }

    /// `skiff lb NAME ...`: listening when this returns; refused with nothing
    /// written if the name exists or the address cannot be bound.
    pub async fn create(&self, def: LbDef) -> Result<LbStatus, ApiError> {
        lbs::validate(&def).map_err(registry_error)?;
        let store = self.0.registry.store().clone();
        if lbs::get(&*store, &def.name)
            .await
            .map_err(registry_error)?
            .is_some()
        {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("load balancer {} already exists", def.name),
            ));
        }
        let mut state = self.0.state.lock().await;
        let lb = self.start(def.clone()).await.map_err(|e| {
            ApiError::new(
                ErrorKind::Conflict,
                format!("load balancer {}: {e}", def.name),
            )
        })?;
        if let Err(e) = lbs::create(&*store, &def).await {
            lb.stop().await;
            return Err(registry_error(e));
        }
        let status = lb.status();
        state.failed.remove(&def.name);
        state.running.insert(def.name.clone(), lb);
        Ok(status)
    }

    /// `skiff lb rm NAME`: the record is deleted and the port free on return.
    pub async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let store = self.0.registry.store().clone();
        if !lbs::delete(&*store, name).await.map_err(registry_error)? {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!("no such load balancer: {name}"),
            ));
        }
        self.stop_local(name).await;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<LbStatus>, ApiError> {
        let defs = lbs::list(&**self.0.registry.store())
            .await
            .map_err(registry_error)?;
        let state = self.0.state.lock().await;
        Ok(defs.into_iter().map(|d| status_of(&state, d)).collect())
    }

    pub async fn inspect(&self, name: &str) -> Result<LbStatus, ApiError> {
        let def = lbs::get(&**self.0.registry.store(), name)
            .await
            .map_err(registry_error)?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorKind::NotFound,
                    format!("no such load balancer: {name}"),
                )
            })?;
        let state = self.0.state.lock().await;
        Ok(status_of(&state, def))
    }

    async fn start(&self, def: LbDef) -> Result<RunningLb, String> {
        RunningLb::start(
            def,
            self.0.registry.clone(),
            &self.0.node,
            self.0.lease.clone(),
        )
        .await
    }

    async fn stop_local(&self, name: &str) {
        let mut state = self.0.state.lock().await;
        state.failed.remove(name);
        if let Some(lb) = state.running.remove(name) {
            lb.stop().await;
        }
    }

    /// Brings `name` to `def` (None: not running).
    async fn converge(&self, name: &str, def: Option<LbDef>) {
        let mut state = self.0.state.lock().await;
        if def.is_some() && state.running.get(name).map(|r| &r.def) == def.as_ref() {
            return;
        }
        state.failed.remove(name);
        if let Some(old) = state.running.remove(name) {
            old.stop().await;
        }
        let Some(def) = def else { return };
        match self.start(def.clone()).await {
            Ok(lb) => {
                state.running.insert(name.to_owned(), lb);
            }
            Err(e) => {
                eprintln!("skiff daemon: load balancer {name}: {e}");
                state.failed.insert(name.to_owned(), (def, e));
            }
        }
    }

    /// Follows `/skiff/lbs/` for the daemon's lifetime (re-watching after errors).
    async fn follow(self) {
        loop {
            let mut w = match lbs::watch(&**self.0.registry.store(), None).await {
                Ok(w) => w,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            while let Some(Ok(ev)) = w.next().await {
                match lbs::decode_event(ev) {
                    Some(LbEvent::Reset(defs)) => {
                        let known: Vec<String> = {
                            let s = self.0.state.lock().await;
                            s.running.keys().chain(s.failed.keys()).cloned().collect()
                        };
                        for name in known.iter().filter(|n| !defs.iter().any(|d| &&d.name == n)) {
                            self.converge(name, None).await;
                        }
                        for d in defs {
                            self.converge(&d.name.clone(), Some(d)).await;
                        }
                    }
                    Some(LbEvent::Put(d)) => self.converge(&d.name.clone(), Some(d)).await,
                    Some(LbEvent::Delete(name)) => self.converge(&name, None).await,
                    None => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn status_of(state: &State, def: LbDef) -> LbStatus {
    if let Some(lb) = state.running.get(&def.name).filter(|r| r.def == def) {
        return lb.status();
    }
    let error = match state.failed.get(&def.name) {
        Some((_, e)) => Some(e.clone()),
        None => Some("not started yet".to_owned()),
    };
    LbStatus {
        def,
        running: false,
        error,
        backends: Vec::new(),
        applied: 0,
    }
}
