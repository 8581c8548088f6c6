//! The registry client's errors: each names the registry URL or reference it is about, and maps
//! onto the API's closed set of kinds ([`RegistryError::kind`]).

use skiff_types::ErrorKind;

use crate::error::ImageError;

/// Everything that can go wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A store-side failure (staging, unpack, digest of a layer's tar, commit).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The reference does not parse, or names no registry.
    #[error("invalid image reference {reference:?}: {reason}")]
    Reference { reference: String, reason: String },
    /// The connection failed (refused, reset, TLS handshake, truncated body).
    #[error("{method} {url}: {reason}")]
    Transport {
        method: &'static str,
        url: String,
        reason: String,
    },
    /// The registry answered with an error status.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    /// Credentials were missing or refused, or the token endpoint failed.
    #[error("authentication to {registry} failed: {reason}")]
    Auth { registry: String, reason: String },
    /// A CA file or credentials file could not be used.
    #[error("{what}: {reason}")]
    Config { what: String, reason: String },
    /// The registry sent something that breaks the protocol (bad header, bad JSON, sizes).
    #[error("registry {url}: {reason}")]
    Protocol { url: String, reason: String },
}

impl RegistryError {
    /// The API error kind for this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Image(e) => e.kind(),
            RegistryError::Status { status: 404, .. } => ErrorKind::NotFound,
            RegistryError::Status { status, .. } if *status >= 500 => ErrorKind::Unavailable,
            RegistryError::Transport { .. } => ErrorKind::Unavailable,
            _ => ErrorKind::Invalid,
        }
    }

    pub(crate) fn config(what: impl Into<String>, reason: impl ToString) -> Self {
        RegistryError::Config {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn protocol(url: impl Into<String>, reason: impl ToString) -> Self {
        RegistryError::Protocol {
            url: url.into(),
            reason: reason.to_string(),
        }
    }
}

/// Result of registry operations.
pub type Result<T> = std::result::Result<T, RegistryError>;
