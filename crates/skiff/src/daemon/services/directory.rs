//! `skiff_api::ServiceDirectory` over the registry: the `/v1/services`
//! endpoints. Store outages map to `Unavailable` ("store unavailable: ...").

use skiff_api::ServiceDirectory;
use skiff_registry::{Registry, RegistryError};
use skiff_types::{ApiError, ErrorKind, ServiceInfo, ServiceList, ServiceUpdate};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a watch stream waits before resubscribing after a store error.
const RETRY: Duration = Duration::from_millis(200);

pub struct Directory(pub Registry);

fn api(e: RegistryError) -> ApiError {
    let kind = match &e {
        RegistryError::Invalid(_) => ErrorKind::Invalid,
        _ if e.is_unavailable() => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

impl ServiceDirectory for Directory {
    async fn services(&self) -> Result<ServiceList, ApiError> {
        let catalog = self.0.catalog().await.map_err(api)?;
        Ok(ServiceList {
            revision: catalog.revision(),
            services: catalog
                .services()
                .map(|(name, instances)| ServiceInfo {
                    name: name.to_owned(),
                    revision: catalog.revision(),
                    instances: instances.to_vec(),
                })
                .collect(),
        })
    }

    async fn service(&self, name: &str) -> Result<ServiceInfo, ApiError> {
        let (instances, revision) = self.0.instances(name).await.map_err(api)?;
        if instances.is_empty() {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                format!("No such service: {name} (no healthy instance registered)"),
            ));
        }
        Ok(ServiceInfo {
            name: name.to_owned(),
            revision,
            instances,
        })
    }

    async fn watch(
        &self,
        name: &str,
        from: Option<u64>,
    ) -> Result<mpsc::Receiver<ServiceUpdate>, ApiError> {
        let mut watch = self.0.watch(name, from).await.map_err(api)?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    item = watch.next() => match item {
                        Some(Ok(update)) => {
                            if tx.send(update).await.is_err() {
                                return;
                            }
                        }
                        // The watch resubscribes (with a new Reset) on the next call.
                        Some(Err(_)) => tokio::time::sleep(RETRY).await,
                        None => return,
                    },
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }
}
