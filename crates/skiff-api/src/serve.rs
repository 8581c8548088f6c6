//! Serving the router on a unix socket: stale-socket removal, mode 0600,
//! graceful shutdown with a bounded grace period.

use crate::engine::Engine;
use crate::router::router;
use std::future::{Future, IntoFuture};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::sync::watch;

/// How long open streams (attach, `logs -f`) may delay shutdown.
const GRACE: Duration = Duration::from_secs(2);

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Binds `socket` (mode 0600; a missing parent is created 0700) and serves
/// `engine` until `shutdown` resolves; then open connections get [`GRACE`]
/// to finish. A stale socket file is replaced; a live one is an error.
pub async fn serve<E: Engine>(
    engine: Arc<E>,
    socket: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_router(router(engine), socket, shutdown).await
}

/// `serve` for a prepared router (the engine's routes merged with others,
/// such as `services_router`).
pub async fn serve_router(
    app: axum::Router,
    socket: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = bind(socket)?;
    let (tx, mut rx) = watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let result = tokio::select! {
        r = server.into_future() => r,
        _ = async {
            let _ = rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(GRACE).await;
        } => Ok(()),
    };
    let _ = std::fs::remove_file(socket);
    result
}

/// Binds the socket as `serve` does (exposed for callers that want to bind
/// before they daemonise or announce readiness).
pub fn bind(socket: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| with_path(e, "cannot create socket directory", dir))?;
        }
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("another daemon is serving {}", socket.display()),
            ));
        }
        std::fs::remove_file(socket)
            .map_err(|e| with_path(e, "cannot remove stale socket", socket))?;
    }
    let listener = UnixListener::bind(socket).map_err(|e| with_path(e, "cannot bind", socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| with_path(e, "cannot chmod", socket))?;
    Ok(listener)
}
