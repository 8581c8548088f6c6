//! The one error type of skiff-net, mapped to the API's small closed set by the daemon.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Bad input from the user (a subnet, a port spec, a name).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// Already exists / in use (a name, a subnet, a host port).
    #[error("{0}")]
    Conflict(String),
    /// The kernel or a tool refused (netlink, nft, a socket).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

impl NetError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }
}
