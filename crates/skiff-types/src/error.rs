//! The closed set of error kinds the API edge speaks (after containerd's
//! errdefs): every library error maps onto one of these, with its message.

use serde::{Deserialize, Serialize};

/// What went wrong, as a client can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The named thing does not exist.
    NotFound,
    /// The request clashes with current state (name in use, container running).
    Conflict,
    /// The request itself is malformed.
    Invalid,
    /// A dependency (store, kernel resource) is unavailable; retrying may help.
    Unavailable,
    /// A bug or an unexpected host failure.
    Internal,
}

impl ErrorKind {
    /// The HTTP status this kind maps to.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Invalid => 400,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

/// An error as it crosses the API: a kind and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// For failures that map to a process exit code (125/126/127), the code the CLI exits with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            exit_code: None,
        }
    }

    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.exit_code = Some(code);
        self
    }
}
