//! The registry's errors: the store's closed set, plus bad input and
//! records that do not decode.

use skiff_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The request is malformed (bad service name, instance id, ...).
    #[error("invalid registry request: {0}")]
    Invalid(String),
    /// The store failed; `Unavailable` reads "store unavailable: ...".
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value under /skiff/services/ is not an Instance.
    #[error("corrupt registry record at {key}: {detail}")]
    Corrupt { key: String, detail: String },
}

impl RegistryError {
    /// True when the store could not be reached (no quorum, connection lost).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Store(StoreError::Unavailable { .. }))
    }
}
