//! A token server for the Bearer flow, as Docker's auth service does it: `GET /token?service=..
//! &scope=..` with Basic credentials answers `{"token": JWT}`, the JWT signed RS256 (by the
//! openssl CLI) with a key whose self-signed certificate the registry trusts
//! (`auth.token.rootcertbundle`) and carried in the `x5c` header. Requests are recorded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

pub const SERVICE: &str = "skiff-test-registry";
pub const ISSUER: &str = "skiff-test-issuer";

pub struct TokenServer {
    pub port: u16,
    pub cert: PathBuf,
    /// Every scope asked for, in order.
    pub scopes: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

struct Key {
    key: PathBuf,
    x5c: String,
    user: String,
    pass: String,
    dir: PathBuf,
}

impl TokenServer {
    pub fn start(dir: &Path, user: &str, pass: &str) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        super::server::run(Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=skiff token signer",
            "-keyout",
            &s(&key),
            "-out",
            &s(&cert),
        ]));
        let der = super::server::run(Command::new("openssl").args([
            "x509",
            "-in",
            &s(&cert),
            "-outform",
            "DER",
        ]));
        let k = Arc::new(Key {
            key,
            x5c: STANDARD.encode(der),
            user: user.into(),
            pass: pass.into(),
            dir: dir.to_path_buf(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let (stop2, scopes2) = (stop.clone(), scopes.clone());
        let handle = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    serve(c, &k, &scopes2);
                }
            }
        });
        TokenServer {
            port,
            cert,
            scopes,
            stop,
            handle: Some(handle),
        }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(c: TcpStream, k: &Key, seen: &Mutex<Vec<String>>) {
    let mut r = BufReader::new(c.try_clone().expect("clone"));
    let mut first = String::new();
    if r.read_line(&mut first).is_err() {
        return;
    }
    let mut auth = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((name, v)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                auth = Some(v.trim().to_string());
            }
        }
    }
    let target = first.split_whitespace().nth(1).unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut scopes = Vec::new();
    for kv in query.split('&') {
        if let Some(("scope", v)) = kv.split_once('=') {
            scopes.push(unescape(v));
        }
    }
    seen.lock().expect("lock").extend(scopes.iter().cloned());
    let want = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", k.user, k.pass))
    );
    let mut out = c;
    if auth.as_deref() != Some(want.as_str()) {
        let _ = out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let body = format!(r#"{{"token":"{}"}}"#, jwt(k, &scopes));
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn jwt(k: &Key, scopes: &[String]) -> String {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .flat_map(|s| s.split(' '))
        .filter_map(|s| {
            let (kind, rest) = s.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(serde_json::json!({
                "type": kind, "name": name,
                "actions": actions.split(',').collect::<Vec<_>>()
            }))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [k.x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": k.user, "aud": SERVICE,
        "exp": now + 600, "nbf": now - 60, "iat": now - 60,
        "jti": format!("{now}-{}", scopes.len()), "access": access,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let f = tempfile::NamedTempFile::new_in(&k.dir).expect("tmp");
    std::fs::write(f.path(), &input).expect("write");
    let sig = super::server::run(Command::new("openssl").args([
        "dgst",
        "-sha256",
        "-sign",
        &k.key.to_string_lossy(),
        "-binary",
        &f.path().to_string_lossy(),
    ]));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
