//! The client side of the image routes: JSON calls, plus the two streaming ones (`load`
//! sends an archive as a chunked request body, `save` and `build` read a streamed answer).

use super::http::{enc, Conn, Head};
use super::{api_error, to_json, Client, ClientError, Result};
use crate::images::BuildRequest;
use skiff_image::{ImageInfo, ImageSummary, LoadedImage, PruneReport, Removed};
use std::io::{self, Read, Write};

impl Client {
    pub fn images(&self) -> Result<Vec<ImageSummary>> {
        self.json("GET", "/v1/images", None)
    }

    pub fn image_inspect(&self, r: &str) -> Result<ImageInfo> {
        self.json("GET", &format!("/v1/images/{}", enc(r)), None)
    }

    pub fn image_tag(&self, r: &str, target: &str) -> Result<()> {
        let t = format!("/v1/images/{}/tag?target={}", enc(r), enc(target));
        self.request("POST", &t, None).map(drop)
    }

    pub fn image_remove(&self, r: &str, force: bool) -> Result<Vec<Removed>> {
        let t = format!("/v1/images/{}?force={}", enc(r), u8::from(force));
        self.json("DELETE", &t, None)
    }

    pub fn image_prune(&self) -> Result<PruneReport> {
        self.json("POST", "/v1/images/prune", None)
    }

    /// `load`: streams `archive` to the daemon.
    pub fn image_load(&self, archive: impl Read) -> Result<Vec<LoadedImage>> {
        let bytes = self.upload("/v1/images/load", archive)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("bad answer to load: {e}")))
    }

    /// `save`: writes the archive of `references` to `out`.
    pub fn image_save(&self, references: &[String], format: &str, out: impl Write) -> Result<()> {
        let t = format!(
            "/v1/images/save?ref={}&format={}",
            enc(&references.join(",")),
            enc(format)
        );
        let (conn, head) = self.call("GET", &t, None, false)?;
        self.copy_answer(conn, head, out)
    }

    /// `build`: streams the context tar, copying the daemon's progress output to `out`.
    pub fn build(&self, req: &BuildRequest, context: impl Read, out: impl Write) -> Result<()> {
        let mut t = format!("/v1/build?t={}", enc(&req.tags.join(",")));
        if let Some(f) = &req.file {
            t.push_str(&format!("&dockerfile={}", enc(f)));
        }
        if let Some(s) = &req.target {
            t.push_str(&format!("&target={}", enc(s)));
        }
        if !req.build_args.is_empty() {
            let j = to_json(&req.build_args)?;
            t.push_str(&format!("&buildargs={}", enc(&String::from_utf8_lossy(&j))));
        }
        if req.no_cache {
            t.push_str("&nocache=1");
        }
        let (conn, head) = self.send_chunked(&t, context)?;
        self.copy_answer(conn, head, out)
    }

    fn copy_answer(&self, conn: Conn, head: Head, mut out: impl Write) -> Result<()> {
        let mut body = conn.body(&head).map_err(|e| self.io(e))?;
        if !(200..300).contains(&head.status) {
            let mut bytes = Vec::new();
            body.read_to_end(&mut bytes).map_err(|e| self.io(e))?;
            return Err(api_error(head.status, &bytes));
        }
        io::copy(&mut body, &mut out).map_err(|e| self.io(e))?;
        out.flush().map_err(|e| self.io(e))
    }

    fn upload(&self, target: &str, body: impl Read) -> Result<Vec<u8>> {
        let (conn, head) = self.send_chunked(target, body)?;
        let bytes = conn
            .body(&head)
            .and_then(|b| b.read_all())
            .map_err(|e| self.io(e))?;
        if (200..300).contains(&head.status) {
            Ok(bytes)
        } else {
            Err(api_error(head.status, &bytes))
        }
    }

    /// POSTs `body` chunked. If the daemon answers early (an error) and stops reading, the
    /// write fails; its answer is read all the same.
    fn send_chunked(&self, target: &str, mut body: impl Read) -> Result<(Conn, Head)> {
        let mut conn = Conn::connect(self.socket()).map_err(|source| ClientError::Unreachable {
            socket: self.socket().to_path_buf(),
            source,
        })?;
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: skiff\r\nConnection: close\r\n\
             Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let mut input_err = None;
        let sent = (|| -> io::Result<()> {
            conn.send(head.as_bytes())?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = match body.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        input_err = Some(e);
                        return Ok(());
                    }
                };
                let mut chunk = format!("{n:x}\r\n").into_bytes();
                chunk.extend_from_slice(&buf[..n]);
                chunk.extend_from_slice(b"\r\n");
                conn.send(&chunk)?;
            }
            conn.send(b"0\r\n\r\n")
        })();
        if let Some(e) = input_err {
            // The daemon still waits for the rest: drop the connection, it aborts.
            return Err(ClientError::Protocol(format!("cannot read the input: {e}")));
        }
        match conn.read_head() {
            Ok(head) => Ok((conn, head)),
            Err(e) => Err(self.io(sent.err().unwrap_or(e))),
        }
    }
}
