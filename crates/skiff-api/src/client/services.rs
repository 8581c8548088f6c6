//! Client calls of the service registry endpoints (see `crate::services`).

use super::http::{enc, Body};
use super::{api_error, Client, ClientError, Result};
use skiff_types::{ServiceInfo, ServiceList, ServiceUpdate};
use std::io::{BufRead, BufReader};

impl Client {
    /// Every service with at least one healthy instance.
    pub fn services(&self) -> Result<ServiceList> {
        self.json("GET", "/v1/services", None)
    }

    /// One service (NotFound when it has no healthy instance).
    pub fn service(&self, name: &str) -> Result<ServiceInfo> {
        self.json("GET", &format!("/v1/services/{}", enc(name)), None)
    }

    /// Follows one service: a `Reset`, then every change as it happens.
    pub fn watch_service(&self, name: &str, from: Option<u64>) -> Result<ServiceUpdates> {
        let q = from.map(|r| format!("?from={r}")).unwrap_or_default();
        let target = format!("/v1/services/{}/watch{q}", enc(name));
        let (conn, head) = self.call("GET", &target, None, false)?;
        let body = conn.body(&head).map_err(|e| self.io(e))?;
        if !(200..300).contains(&head.status) {
            let bytes = body.read_all().map_err(|e| self.io(e))?;
            return Err(api_error(head.status, &bytes));
        }
        Ok(ServiceUpdates {
            lines: BufReader::new(body),
        })
    }
}

/// A blocking iterator over a watch stream's updates.
pub struct ServiceUpdates {
    lines: BufReader<Body>,
}

impl Iterator for ServiceUpdates {
    type Item = Result<ServiceUpdate>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = String::new();
        match self.lines.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(
                serde_json::from_str(line.trim_end())
                    .map_err(|e| ClientError::Protocol(format!("bad watch update {line:?}: {e}"))),
            ),
            Err(e) => Some(Err(ClientError::Protocol(format!(
                "watch stream broke: {e}"
            )))),
        }
    }
}
