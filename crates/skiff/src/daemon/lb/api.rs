//! `skiff_api::LoadBalancers` over the [`LbManager`]: a straight delegation.

use super::LbManager;
use skiff_types::{ApiError, LbDef, LbStatus};

impl skiff_api::LoadBalancers for LbManager {
    async fn lb_create(&self, def: LbDef) -> Result<LbStatus, ApiError> {
        self.create(def).await
    }
    async fn lb_list(&self) -> Result<Vec<LbStatus>, ApiError> {
        self.list().await
    }
    async fn lb_inspect(&self, name: &str) -> Result<LbStatus, ApiError> {
        self.inspect(name).await
    }
    async fn lb_remove(&self, name: &str) -> Result<(), ApiError> {
        self.remove(name).await
    }
}
