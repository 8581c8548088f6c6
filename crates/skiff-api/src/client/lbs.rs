//! Client calls of the load balancer endpoints (see `crate::lbs`).

use super::http::enc;
use super::{Client, Result};
use skiff_types::{LbDef, LbStatus};

impl Client {
    /// Creates a load balancer; returns once it listens.
    pub fn lb_create(&self, def: &LbDef) -> Result<LbStatus> {
        let body = serde_json::to_vec(def).expect("an LbDef serializes");
        self.json("POST", "/v1/lbs", Some(&body))
    }

    pub fn lb_list(&self) -> Result<Vec<LbStatus>> {
        self.json("GET", "/v1/lbs", None)
    }

    pub fn lb_inspect(&self, name: &str) -> Result<LbStatus> {
        self.json("GET", &format!("/v1/lbs/{}", enc(name)), None)
    }

    pub fn lb_remove(&self, name: &str) -> Result<()> {
        self.request("DELETE", &format!("/v1/lbs/{}", enc(name)), None)
            .map(drop)
    }
}
