//! skiff-api: the local HTTP/JSON API of docs/API.md.
//!
//! Owns the `Engine` trait (what the API needs from the runtime), the axum
//! `router` over it, `serve` on a unix socket, the server side of frame
//! streams (upgraded attach/exec, logs bodies), signal-name parsing, and the
//! synchronous `Client` the CLI uses.

pub mod client;
pub mod engine;
pub mod networks;
pub mod router;
pub mod serve;
pub mod signal;
pub mod stream;

pub use client::{Client, ClientError, LogFrames, Stream};
pub use engine::{Engine, Session};
pub use router::{router, ErrorResponse};
pub use serve::{bind, serve};
pub use signal::{parse_signal, BadSignal};
