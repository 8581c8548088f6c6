//! Registry authentication: credentials, `WWW-Authenticate` challenges, and the Bearer token
//! flow of the distribution spec (challenge -> GET realm?service=..&scope=.. with Basic
//! credentials -> `{"token": ..}` -> `Authorization: Bearer`).
//!
//! Credentials come from, in order: an explicit `user:pass` (`--creds`), or a `skiff login`
//! file in Docker's `config.json` shape (`{"auths": {"host:port": {"auth": base64(user:pass)}}}`),
//! so an existing Docker/podman auth file works as is.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::registry::error::{RegistryError, Result};

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.username)
    }
}

impl Credentials {
    /// Parses `user:pass` (the password may contain `:`).
    pub fn parse(s: &str) -> Result<Credentials> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(RegistryError::config(
                "credentials",
                "expected USER:PASSWORD",
            )),
        }
    }

    /// The `Authorization: Basic` value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(raw))
    }

    /// Looks `registry` up in an auth file; a missing file means no credentials.
    pub fn from_auth_file(path: &Path, registry: &str) -> Result<Option<Credentials>> {
        let file = match read_auth_file(path)? {
            Some(f) => f,
            None => return Ok(None),
        };
        let Some(entry) = file.auths.get(registry) else {
            return Ok(None);
        };
        let what = || format!("{} entry {registry:?}", path.display());
        let raw = STANDARD
            .decode(entry.auth.trim())
            .map_err(|e| RegistryError::config(what(), e))?;
        let s = String::from_utf8(raw).map_err(|e| RegistryError::config(what(), e))?;
        Credentials::parse(&s).map(Some)
    }

    /// Stores these credentials for `registry` in an auth file (mode 0600, atomic replace).
    pub fn save_to_auth_file(&self, path: &Path, registry: &str) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = read_auth_file(path)?.unwrap_or_default();
        let auth = STANDARD.encode(format!("{}:{}", self.username, self.password));
        file.auths.insert(registry.to_string(), AuthEntry { auth });
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| RegistryError::config("auth file", e))?;
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)
        };
        write().map_err(|e| RegistryError::config(path.display().to_string(), e))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuthEntry {
    auth: String,
}

fn read_auth_file(path: &Path) -> Result<Option<AuthFile>> {
    match fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| RegistryError::config(path.display().to_string(), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RegistryError::config(path.display().to_string(), e)),
    }
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercased scheme: `basic` or `bearer`.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Scheme k="v", k2=v2` (quoted strings may hold commas and `\"`).
pub fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, mut rest) = match h.split_once(' ') {
        Some((s, r)) => (s, r.trim_start()),
        None => (h, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => v.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end?..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(key, value);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// The token endpoint's answer (`token`, or OAuth2's `access_token`).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// `realm?service=..&scope=..&scope=..`, percent-encoded.
pub(crate) fn token_url(ch: &Challenge, scopes: &[String]) -> Option<String> {
    let realm = ch.params.get("realm")?;
    let mut q = Vec::new();
    if let Some(s) = ch.params.get("service") {
        q.push(format!("service={}", encode(s)));
    }
    for s in scopes {
        q.push(format!("scope={}", encode(s)));
    }
    let sep = if realm.contains('?') { '&' } else { '?' };
    Some(if q.is_empty() {
        realm.clone()
    } else {
        format!("{realm}{sep}{}", q.join("&"))
    })
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg, one",scope="repository:a/b:pull,push""#,
        )
        .expect("bearer");
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["service"], "reg, one");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let url = token_url(&c, &["repository:a/b:pull".into()]).expect("url");
        assert_eq!(
            url,
            "https://auth.example/token?service=reg%2C%20one&scope=repository%3Aa%2Fb%3Apull"
        );
        let b = parse_challenge(r#"Basic realm="x \"y\"""#).expect("basic");
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "x \"y\"");
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn auth_file_round_trip() {
        let t = tempfile::tempdir().expect("tmp");
        let p = t.path().join("auth.json");
        assert_eq!(Credentials::from_auth_file(&p, "h:1").expect("none"), None);
        let c = Credentials::parse("u:p:w").expect("creds");
        c.save_to_auth_file(&p, "h:1").expect("save");
        assert_eq!(
            Credentials::from_auth_file(&p, "h:1").expect("read"),
            Some(c)
        );
        assert_eq!(Credentials::from_auth_file(&p, "h:2").expect("read"), None);
        assert!(Credentials::parse("nouser").is_err());
    }
}
