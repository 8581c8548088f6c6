//! Client calls of the job endpoints (see `crate::jobs`).

use super::http::enc;
use super::{to_json, Client, Result};
use skiff_types::{JobView, ScaleRequest, Topology};

impl Client {
    /// Creates or replaces a job (`skiff up`).
    pub fn put_job(&self, topo: &Topology) -> Result<()> {
        let body = to_json(topo)?;
        self.request("PUT", &format!("/v1/jobs/{}", enc(&topo.name)), Some(&body))
            .map(drop)
    }

    pub fn job(&self, name: &str) -> Result<JobView> {
        self.json("GET", &format!("/v1/jobs/{}", enc(name)), None)
    }

    pub fn jobs(&self) -> Result<Vec<JobView>> {
        self.json("GET", "/v1/jobs", None)
    }

    /// `skiff down [-v]`: returns once the job's containers are gone.
    pub fn delete_job(&self, name: &str, volumes: bool) -> Result<()> {
        let q = if volumes { "?volumes=1" } else { "" };
        self.request("DELETE", &format!("/v1/jobs/{}{q}", enc(name)), None)
            .map(drop)
    }

    pub fn scale_job(&self, name: &str, req: &ScaleRequest) -> Result<()> {
        let body = to_json(req)?;
        self.request(
            "POST",
            &format!("/v1/jobs/{}/scale", enc(name)),
            Some(&body),
        )
        .map(drop)
    }
}
