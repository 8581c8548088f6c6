//! Shared pieces of the registry's integration tests: instances, waiting
//! for watch items with a generous bound (never a timing assertion).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use skiff_registry::{RegistryError, ServiceWatch};
use skiff_types::{Instance, ServiceUpdate};

pub fn inst(service: &str, id: &str, node: &str) -> Instance {
    Instance {
        id: id.into(),
        service: service.into(),
        node: node.into(),
        addr: "198.18.0.10".parse().unwrap(),
        port: 80,
        proto: Default::default(),
        tags: vec!["t".into()],
        meta: BTreeMap::new(),
    }
}

/// The next update, failing the test if none arrives within 30 s.
pub async fn next(w: &mut ServiceWatch) -> ServiceUpdate {
    match tokio::time::timeout(Duration::from_secs(30), w.next()).await {
        Ok(Some(Ok(u))) => u,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no update within 30 s"),
    }
}

/// Retries `f` until it succeeds (elections, restarts), up to 30 s.
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RegistryError>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("never succeeded: {e}"),
        }
    }
}
