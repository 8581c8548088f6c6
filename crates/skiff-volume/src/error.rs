//! What can go wrong with a volume, with the volume's name or path in every variant.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("{0}")]
    InvalidName(String),
    #[error("{op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("volume {name}: corrupt metadata {}: {reason}", .path.display())]
    Corrupt {
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("copy image content at {target} into volume {name}: {source}")]
    CopyUp {
        name: String,
        target: String,
        #[source]
        source: skiff_sys::fsroot::FsRootError,
    },
}

impl VolumeError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| VolumeError::Io { op, path, source }
    }
}
