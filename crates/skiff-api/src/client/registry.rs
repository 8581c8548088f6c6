//! The client side of `pull` and `push`: the answer's JSON lines, read as they arrive.

use super::http::{enc, Body};
use super::{api_error, to_json, Client, ClientError, Result};
use crate::registry::{PullRequest, PushRequest, RegistryLine};
use std::io::{BufRead, BufReader, Read};

/// The lines of a pull or push answer; ends after the final `pulled`/`pushed`/`error` line.
pub struct RegistryLines {
    reader: BufReader<Body>,
    done: bool,
}

impl Iterator for RegistryLines {
    type Item = Result<RegistryLine>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = String::new();
        match self.reader.by_ref().take(1 << 20).read_line(&mut line) {
            Ok(0) => {
                self.done = true;
                Some(Err(ClientError::Protocol(
                    "the daemon ended the answer before the result".into(),
                )))
            }
            Ok(_) => {
                let parsed = serde_json::from_str::<RegistryLine>(line.trim_end())
                    .map_err(|e| ClientError::Protocol(format!("bad progress line: {e}")));
                if !matches!(parsed, Ok(RegistryLine::Progress(_))) {
                    self.done = true;
                }
                Some(parsed)
            }
            Err(e) => {
                self.done = true;
                Some(Err(ClientError::Protocol(format!(
                    "reading the daemon's answer: {e}"
                ))))
            }
        }
    }
}

impl Client {
    /// `POST /v1/images/pull`.
    pub fn image_pull(&self, req: &PullRequest) -> Result<RegistryLines> {
        self.lines("/v1/images/pull", &to_json(req)?)
    }

    /// `POST /v1/images/{ref}/push`.
    pub fn image_push(&self, r: &str, req: &PushRequest) -> Result<RegistryLines> {
        self.lines(&format!("/v1/images/{}/push", enc(r)), &to_json(req)?)
    }

    fn lines(&self, target: &str, body: &[u8]) -> Result<RegistryLines> {
        let (conn, head) = self.call("POST", target, Some(body), false)?;
        let body = conn.body(&head).map_err(|e| self.io(e))?;
        if !(200..300).contains(&head.status) {
            let bytes = body.read_all().map_err(|e| self.io(e))?;
            return Err(api_error(head.status, &bytes));
        }
        Ok(RegistryLines {
            reader: BufReader::new(body),
            done: false,
        })
    }
}
