//! The HTTP side: TLS and scheme choice, one authenticated request helper, and registry error
//! bodies turned into messages.
//!
//! Scheme: HTTPS, except plain HTTP for `localhost`, `127.0.0.1`, `::1` and hosts listed as
//! insecure, when no CA is configured for them (a registry on localhost with a CA speaks TLS).
//! Trust: `--ca FILE`, else `CERTS_DIR/<host:port>/ca.crt` as Docker's `certs.d`, else the
//! Mozilla roots (webpki-roots). Auth is negotiated once against `GET /v2/` and re-negotiated
//! if a later request gets a 401 (an expired token), then that request is sent once more.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::http::{Request, Response};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, SendBody};

use crate::registry::auth::{parse_challenge, token_url, Credentials, TokenResponse};
use crate::registry::error::{RegistryError, Result};
use crate::registry::reference::{host_only, Reference};

/// How to reach and authenticate to registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Explicit credentials (`--creds USER:PASS`); beat the auth file.
    pub creds: Option<Credentials>,
    /// A `skiff login` / Docker `config.json`-style file to look credentials up in.
    pub auth_file: Option<PathBuf>,
    /// A PEM CA bundle to trust (`--ca FILE`).
    pub ca_file: Option<PathBuf>,
    /// Docker-style `certs.d`: `<dir>/<host:port>/ca.crt` is trusted for that registry.
    pub certs_dir: Option<PathBuf>,
    /// Registries (`host:port`) reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Push: upload blobs in PATCH chunks of this many bytes; `None` = one PUT per blob.
    pub chunk_size: Option<u64>,
}

/// A request body that can be sent again after an auth retry.
pub(crate) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// A connection to one repository of one registry, authenticated for some scopes.
pub(crate) struct Client {
    agent: Agent,
    /// `scheme://host:port`.
    pub origin: String,
    pub registry: String,
    pub repository: String,
    creds: Option<Credentials>,
    scopes: Vec<String>,
    auth: Option<String>,
}

impl Client {
    /// Connects to `r`'s registry and negotiates auth for `scopes`
    /// (`repository:<name>:pull[,push]`).
    pub fn connect(r: &Reference, opts: &RegistryOptions, scopes: Vec<String>) -> Result<Client> {
        let ca = ca_for(r, opts)?;
        let plain = ca.is_none()
            && (matches!(r.host_name(), "localhost" | "127.0.0.1" | "::1")
                || opts.insecure_registries.iter().any(|h| h == &r.registry));
        let mut tls = TlsConfig::builder();
        if let Some(certs) = ca {
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(concat!("skiff/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .build()
            .into();
        let creds = match &opts.creds {
            Some(c) => Some(c.clone()),
            None => match &opts.auth_file {
                Some(p) => Credentials::from_auth_file(p, &r.registry)?,
                None => None,
            },
        };
        let scheme = if plain { "http" } else { "https" };
        let mut c = Client {
            agent,
            origin: format!("{scheme}://{}", r.registry),
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            creds,
            scopes,
            auth: None,
        };
        let url = format!("{}/v2/", c.origin);
        let resp = c.send("GET", &url, &[], &Body::Empty)?;
        c.check("GET", &url, resp)?;
        Ok(c)
    }

    /// `<origin>/v2/<repo>/<rest>`.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.origin, self.repository)
    }

    /// Resolves an upload `Location` (absolute, or relative to the registry).
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin)
        } else {
            format!("{}/{location}", self.origin)
        }
    }

    /// Sends a request, negotiating auth once on a 401 and sending it again.
    pub fn send(
        &mut self,
        method: &'static str,
        url: &str,
        headers: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<Response<ureq::Body>> {
        let resp = self.send_once(method, url, headers, body)?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let Some(www) = header(&resp, "www-authenticate") else {
            return Ok(resp);
        };
        self.authenticate(&www)?;
        self.send_once(method, url, headers, body)
    }

    fn send_once(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, String)],
        body: &Body<'_>,
    ) -> Result<Response<ureq::Body>> {
        let mut b = Request::builder().method(method).uri(url);
        if let Some(a) = &self.auth {
            b = b.header("Authorization", a);
        }
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        let transport = |e: &dyn std::fmt::Display| RegistryError::Transport {
            method,
            url: url.to_string(),
            reason: e.to_string(),
        };
        let out = match body {
            Body::Empty => b.body(()).map(|r| self.agent.run(r)),
            Body::Bytes(bytes) => b
                .header("Content-Length", bytes.len().to_string())
                .body(*bytes)
                .map(|r| self.agent.run(r)),
            Body::File { path, offset, len } => {
                let mut f = fs::File::open(path).map_err(|e| transport(&e))?;
                f.seek(SeekFrom::Start(*offset))
                    .map_err(|e| transport(&e))?;
                let body = SendBody::from_owned_reader(f.take(*len));
                b.header("Content-Length", len.to_string())
                    .body(body)
                    .map(|r| self.agent.run(r))
            }
        };
        out.map_err(|e| transport(&e))?.map_err(|e| transport(&e))
    }

    fn authenticate(&mut self, www: &str) -> Result<()> {
        let auth_err = |reason: String| RegistryError::Auth {
            registry: self.registry.clone(),
            reason,
        };
        let ch = parse_challenge(www)
            .ok_or_else(|| auth_err(format!("unparseable WWW-Authenticate {www:?}")))?;
        match ch.scheme.as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| {
                    auth_err("credentials required: pass --creds USER:PASS or log in".into())
                })?;
                self.auth = Some(c.basic_header());
            }
            "bearer" => {
                let url = token_url(&ch, &self.scopes)
                    .ok_or_else(|| auth_err("Bearer challenge without a realm".into()))?;
                let mut b = Request::builder().method("GET").uri(&url);
                if let Some(c) = &self.creds {
                    b = b.header("Authorization", c.basic_header());
                }
                let req = b.body(()).map_err(|e| auth_err(format!("{url}: {e}")))?;
                let mut resp = self
                    .agent
                    .run(req)
                    .map_err(|e| auth_err(format!("{url}: {e}")))?;
                if resp.status() != 200 {
                    let msg = error_message(&mut resp);
                    return Err(auth_err(format!(
                        "token endpoint {url}: HTTP {}: {msg}",
                        resp.status().as_u16()
                    )));
                }
                let bytes = resp
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| auth_err(format!("token endpoint {url}: {e}")))?;
                let tr: TokenResponse = serde_json::from_slice(&bytes)
                    .map_err(|e| auth_err(format!("token endpoint {url}: {e}")))?;
                let token = tr
                    .token
                    .or(tr.access_token)
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| auth_err(format!("token endpoint {url}: no token")))?;
                self.auth = Some(format!("Bearer {token}"));
            }
            other => return Err(auth_err(format!("unsupported auth scheme {other:?}"))),
        }
        Ok(())
    }

    /// Passes 2xx responses through; turns the rest into errors with the registry's message.
    pub fn check(
        &self,
        method: &'static str,
        url: &str,
        mut resp: Response<ureq::Body>,
    ) -> Result<Response<ureq::Body>> {
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let message = error_message(&mut resp);
        if status == 401 || status == 403 {
            return Err(RegistryError::Auth {
                registry: self.registry.clone(),
                reason: format!("{method} {url}: HTTP {status}: {message}"),
            });
        }
        Err(RegistryError::Status {
            method,
            url: url.to_string(),
            status,
            message,
        })
    }
}

/// A response header as a string.
pub(crate) fn header(resp: &Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The registry's `{"errors":[{"code","message"}]}` body, or its text, shortened.
fn error_message(resp: &mut Response<ureq::Body>) -> String {
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .lossy_utf8(true)
        .read_to_string()
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errors>(&text) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|i| format!("{}: {}", i.code, i.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => {
            let t = text.trim();
            if t.is_empty() {
                "(no body)".into()
            } else {
                t.chars().take(300).collect()
            }
        }
    }
}

/// The CA certificates to trust for `r`, if any are configured.
fn ca_for(r: &Reference, opts: &RegistryOptions) -> Result<Option<Vec<Certificate<'static>>>> {
    let path = match (&opts.ca_file, &opts.certs_dir) {
        (Some(p), _) => p.clone(),
        (None, Some(dir)) => {
            let p = dir.join(&r.registry).join("ca.crt");
            let alt = dir.join(host_only(&r.registry)).join("ca.crt");
            if p.is_file() {
                p
            } else if alt.is_file() {
                alt
            } else {
                return Ok(None);
            }
        }
        (None, None) => return Ok(None),
    };
    let what = || format!("CA file {}", path.display());
    let pem = fs::read(&path).map_err(|e| RegistryError::config(what(), e))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| RegistryError::config(what(), e))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(RegistryError::config(what(), "no PEM certificate in it"));
    }
    Ok(Some(certs))
}

/// `login`: checks `creds` against `registry` (`host[:port]`) the way `docker login` does
/// (`GET /v2/`, answering its challenge: Basic, or a token without a scope).
pub fn login(registry: &str, creds: &Credentials, opts: &RegistryOptions) -> Result<()> {
    let probe = Reference::parse(&format!("{registry}/login-probe"))?;
    let opts = RegistryOptions {
        creds: Some(creds.clone()),
        ..opts.clone()
    };
    let c = Client::connect(&probe, &opts, Vec::new())?;
    if c.auth.is_none() {
        // The registry let us in without asking: nothing was checked, say so.
        return Err(RegistryError::Auth {
            registry: registry.to_string(),
            reason: "the registry asks for no credentials".into(),
        });
    }
    Ok(())
}
