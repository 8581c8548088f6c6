//! The daemon's pull and push: requests from the API turned into [`RegistryOptions`] and run
//! on a blocking thread against the image store under ROOT, with progress forwarded as
//! [`RegistryLine`]s (backpressure: a slow reader slows the transfer, it never buffers it).
//!
//! Daemon-wide settings (state root, `--insecure-registry`) are set once at start-up by
//! [`configure`]; the API adapter stays a plain delegation.

use std::path::PathBuf;
use std::sync::OnceLock;

use skiff_api::{PullRequest, PushRequest, RegistryAccess, RegistryLine};
use skiff_image::registry::{Credentials, Reference, RegistryError, RegistryOptions};
use skiff_image::ImageStore;
use skiff_types::{ApiError, ErrorKind};
use tokio::sync::mpsc;

struct Config {
    root: PathBuf,
    insecure: Vec<String>,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Sets the state root (store, `auth.json`, `certs.d`) and the insecure registries.
pub fn configure(root: PathBuf, insecure: Vec<String>) {
    let _ = CONFIG.set(Config { root, insecure });
}

fn config() -> Result<&'static Config, ApiError> {
    CONFIG
        .get()
        .ok_or_else(|| ApiError::new(ErrorKind::Unavailable, "registry client not configured"))
}

fn api(e: RegistryError) -> ApiError {
    ApiError::new(e.kind(), e.to_string())
}

/// The options a request asks for, on top of the daemon's.
fn options(
    cfg: &Config,
    reference: &str,
    access: &RegistryAccess,
) -> Result<RegistryOptions, ApiError> {
    let r = Reference::parse(reference).map_err(api)?;
    let creds = match &access.creds {
        Some(c) => Some(Credentials::parse(c).map_err(api)?),
        None => None,
    };
    let mut insecure = cfg.insecure.clone();
    if access.insecure {
        insecure.push(r.registry.clone());
    }
    let ca_file = access.ca.as_ref().map(PathBuf::from);
    if let Some(ca) = &ca_file {
        if !ca.is_file() {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!("CA file {} not found on the daemon's host", ca.display()),
            ));
        }
    }
    Ok(RegistryOptions {
        creds,
        auth_file: Some(cfg.root.join("auth.json")),
        ca_file,
        certs_dir: Some(cfg.root.join("certs.d")),
        insecure_registries: insecure,
        chunk_size: None,
    })
}

/// Runs `job` on a blocking thread; its progress and result arrive on the receiver.
fn spawn<F>(job: F) -> mpsc::Receiver<RegistryLine>
where
    F: FnOnce(&mut dyn FnMut(RegistryLine)) -> RegistryLine + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        let mut send = |line: RegistryLine| {
            // A client that went away does not stop the transfer (as with Docker).
            let _ = tx.blocking_send(line);
        };
        let last = job(&mut send);
        send(last);
    });
    rx
}

pub async fn pull(req: PullRequest) -> Result<mpsc::Receiver<RegistryLine>, ApiError> {
    let cfg = config()?;
    let opts = options(cfg, &req.reference, &req.access)?;
    let root = cfg.root.clone();
    Ok(spawn(move |send| {
        let mut run = || -> Result<_, RegistryError> {
            let store = ImageStore::open(&root)?;
            store.pull(&req.reference, &opts, &mut |p| {
                send(RegistryLine::Progress(p.clone()))
            })
        };
        match run() {
            Ok(p) => RegistryLine::Pulled(p),
            Err(e) => RegistryLine::Error(api(e)),
        }
    }))
}

pub async fn push(r: &str, req: PushRequest) -> Result<mpsc::Receiver<RegistryLine>, ApiError> {
    let cfg = config()?;
    let dest = req.destination.clone().unwrap_or_else(|| r.to_string());
    let mut opts = options(cfg, &dest, &req.access)?;
    opts.chunk_size = req.chunk_size;
    let root = cfg.root.clone();
    let source = r.to_string();
    Ok(spawn(move |send| {
        let mut run = || -> Result<_, RegistryError> {
            let store = ImageStore::open(&root)?;
            store.push(&source, Some(&dest), &opts, &mut |p| {
                send(RegistryLine::Progress(p.clone()))
            })
        };
        match run() {
            Ok(p) => RegistryLine::Pushed(p),
            Err(e) => RegistryLine::Error(api(e)),
        }
    }))
}
