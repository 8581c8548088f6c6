//! Client calls for the network routes.

use super::{enc, Client, ClientError, Result};
use skiff_types::{NetworkConnect, NetworkCreate, NetworkInfo};

fn body<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| ClientError::Protocol(format!("encode request: {e}")))
}

impl Client {
    pub fn network_create(&self, req: &NetworkCreate) -> Result<NetworkInfo> {
        self.json("POST", "/v1/networks", Some(&body(req)?))
    }

    pub fn network_list(&self) -> Result<Vec<NetworkInfo>> {
        self.json("GET", "/v1/networks", None)
    }

    pub fn network_inspect(&self, r: &str) -> Result<NetworkInfo> {
        self.json("GET", &format!("/v1/networks/{}", enc(r)), None)
    }

    pub fn network_remove(&self, r: &str) -> Result<()> {
        self.request("DELETE", &format!("/v1/networks/{}", enc(r)), None)
            .map(drop)
    }

    pub fn network_connect(&self, r: &str, req: &NetworkConnect) -> Result<()> {
        let target = format!("/v1/networks/{}/connect", enc(r));
        self.request("POST", &target, Some(&body(req)?)).map(drop)
    }

    pub fn network_disconnect(&self, r: &str, container: &str) -> Result<()> {
        let target = format!("/v1/networks/{}/disconnect", enc(r));
        let req = NetworkConnect {
            container: container.to_string(),
            aliases: Vec::new(),
        };
        self.request("POST", &target, Some(&body(&req)?)).map(drop)
    }
}
