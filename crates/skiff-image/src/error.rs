//! The image store's errors: each names the archive entry, blob or path it is about, and maps
//! onto the API's closed set of kinds ([`ImageError::kind`]).

use std::path::PathBuf;

use skiff_sys::fsroot::FsRootError;
use skiff_types::ErrorKind;

use crate::digest::Digest;

/// Everything that can go wrong in skiff-image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A host I/O failure on a store or archive path.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A root-relative filesystem operation failed or was refused.
    #[error(transparent)]
    Fs(#[from] FsRootError),
    /// A layer or archive entry tried something unsafe (escape, bad link, bad whiteout).
    #[error("hostile entry {entry:?}: {reason}")]
    Hostile { entry: String, reason: String },
    /// A configured limit was hit (the input stops being read at that point).
    #[error("{what}: limit of {limit} {unit} exceeded")]
    Limit {
        what: String,
        limit: u64,
        unit: &'static str,
    },
    /// Content did not hash to the digest that named it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    /// A media type skiff does not handle.
    #[error("unsupported media type {media_type:?} for {what}")]
    MediaType { what: String, media_type: String },
    /// A manifest or index names a blob the archive does not contain.
    #[error("{what}: blob {reference} is missing from the archive")]
    MissingBlob { what: String, reference: String },
    /// Malformed input: bad JSON, truncated tar, inconsistent manifest.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    /// A Containerfile error at a line (parse or build step).
    #[error(transparent)]
    Build(#[from] crate::build::LineError),
    /// No image matches a reference.
    #[error("no such image: {0}")]
    NotFound(String),
    /// The request clashes with the store's state (ambiguous prefix, multiple tags).
    #[error("conflict: {0}")]
    Conflict(String),
}

impl ImageError {
    /// The API error kind for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::NotFound(_) => ErrorKind::NotFound,
            ImageError::Conflict(_) => ErrorKind::Conflict,
            ImageError::Io { .. } | ImageError::Fs(_) => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl ToString) -> Self {
        ImageError::Invalid {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Result of skiff-image operations.
pub type Result<T> = std::result::Result<T, ImageError>;
