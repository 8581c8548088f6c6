//! A real `docker-registry` (Debian's distribution 2.8) on 127.0.0.1 for the tests: config,
//! storage and logs in a temp dir, a free port, killed by PID when dropped. A missing binary is
//! an error that says how to install it, never a silent skip.

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Optional server features.
#[derive(Default)]
pub struct ServerOpts {
    /// An htpasswd file (bcrypt) to require Basic auth with.
    pub htpasswd: Option<PathBuf>,
    /// (certificate, key) PEM files to serve TLS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// (realm, service, issuer, root cert bundle): require Bearer tokens from that realm.
    pub token: Option<(String, String, String, PathBuf)>,
}

pub struct Registry {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("SKIFF_REGISTRY_BIN") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from("/usr/bin/docker-registry");
    assert!(
        p.is_file(),
        "docker-registry not found: install it with `apt-get install -y docker-registry` \
         (scripts/deps.sh does)"
    );
    p
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Registry {
    pub fn start(opts: ServerOpts) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("skiff-test-registry-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        if let Some((cert, key)) = &opts.tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some(h) = &opts.htpasswd {
            cfg.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                h.display()
            ));
        }
        if let Some((realm, service, issuer, bundle)) = &opts.token {
            cfg.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    \
                 issuer: {issuer}\n    rootcertbundle: {}\n",
                bundle.display()
            ));
        }
        fs::write(dir.path().join("config.yml"), cfg).expect("config");
        let mut r = Registry {
            child: None,
            port,
            dir,
        };
        r.spawn();
        r
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("registry.log"))
            .expect("log");
        let child = Command::new(binary())
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        self.child = Some(child);
        // Readiness, not a timing assertion: the generous bound only stops a broken setup.
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("docker-registry exited {st}: {}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "registry not ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Kills the server (SIGKILL, by PID) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Where the registry stores a blob's bytes.
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command, panicking with its stderr on failure.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A CA and a server certificate for 127.0.0.1 (and localhost), made with the openssl CLI.
pub fn make_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n);
    let s = |x: PathBuf| x.to_string_lossy().into_owned();
    run(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=skiff test CA",
        "-keyout",
        &s(p("ca.key")),
        "-out",
        &s(p("ca.crt")),
    ]));
    run(Command::new("openssl").args([
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s(p("server.key")),
        "-out",
        &s(p("server.csr")),
    ]));
    fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    run(Command::new("openssl").args([
        "x509",
        "-req",
        "-in",
        &s(p("server.csr")),
        "-CA",
        &s(p("ca.crt")),
        "-CAkey",
        &s(p("ca.key")),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s(p("ext.cnf")),
        "-out",
        &s(p("server.crt")),
    ]));
    (p("ca.crt"), p("server.crt"), p("server.key"))
}
