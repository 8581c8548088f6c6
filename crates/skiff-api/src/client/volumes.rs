//! The client's volume calls (`/v1/volumes`) and `rm -v`.

use super::{enc, to_json, Client, Result};
use skiff_types::{Volume, VolumeCreateRequest, VolumePruneResponse};

impl Client {
    pub fn volume_create(&self, req: &VolumeCreateRequest) -> Result<Volume> {
        let body = to_json(req)?;
        self.json("POST", "/v1/volumes", Some(&body))
    }

    pub fn volume_list(&self) -> Result<Vec<Volume>> {
        self.json("GET", "/v1/volumes", None)
    }

    pub fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.json("GET", &format!("/v1/volumes/{}", enc(name)), None)
    }

    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let q = if force { "?force=1" } else { "" };
        self.request("DELETE", &format!("/v1/volumes/{}{q}", enc(name)), None)
            .map(drop)
    }

    pub fn volume_prune(&self, all: bool) -> Result<VolumePruneResponse> {
        self.json(
            "POST",
            &format!("/v1/volumes/prune?all={}", u8::from(all)),
            None,
        )
    }

    /// `rm [-f] -v`: the container and its anonymous volumes.
    pub fn remove_with_volumes(&self, r: &str, force: bool) -> Result<()> {
        let q = if force { "&force=1" } else { "" };
        self.request("DELETE", &format!("/v1/containers/{}?v=1{q}", enc(r)), None)
            .map(drop)
    }
}
