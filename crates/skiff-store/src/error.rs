//! The store's error type: a small closed set that the API edge maps one-to-one
//! (like containerd's errdefs). Every variant carries the key, lease or revision
//! it is about, and says whether a retry can help.

use crate::{LeaseId, Revision};

/// Everything a [`crate::Store`] operation can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A key the caller required does not exist.
    #[error("key {key:?} not found")]
    NotFound { key: String },
    /// A compare-and-swap lost: someone else changed `key` since it was read.
    #[error("conflict on key {key:?}: {detail}")]
    Conflict { key: String, detail: String },
    /// The store cannot be reached or has no quorum. Operations fail fast with
    /// this instead of hanging; the caller may retry later. For a write the
    /// outcome is unknown (it may still be applied once the store recovers),
    /// so re-read before repeating anything that is not idempotent.
    #[error("store unavailable: {detail}")]
    Unavailable { detail: String },
    /// The lease expired, was revoked, or never existed.
    #[error("lease {id} expired or not found")]
    LeaseExpired { id: LeaseId },
    /// The requested revision was compacted away.
    #[error("revision {revision} has been compacted")]
    Compacted { revision: Revision },
    /// The request itself is malformed (empty key, future revision, zero TTL, ...).
    #[error("invalid store request: {detail}")]
    Invalid { detail: String },
    /// A bug or corruption inside the backend; not the caller's fault.
    #[error("store internal error: {detail}")]
    Internal { detail: String },
}

impl StoreError {
    /// True when repeating the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Conflict { .. })
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid {
            detail: detail.into(),
        }
    }

    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::Internal {
            detail: detail.into(),
        }
    }

    pub(crate) fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable {
            detail: detail.into(),
        }
    }
}
