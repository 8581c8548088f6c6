//! skiff-api: the local HTTP/JSON API of docs/API.md.
//!
//! Owns the `Engine` trait (what the API needs from the runtime), the axum
//! `router` over it, `serve` on a unix socket, the server side of frame
//! streams (upgraded attach/exec, logs bodies), signal-name parsing, and the
//! synchronous `Client` the CLI uses; the registry routes (pull, push) stream JSON lines.

pub mod client;
pub mod engine;
pub mod images;
pub mod jobs;
pub mod lbs;
pub mod networks;
pub mod registry;
pub mod router;
pub mod serve;
pub mod services;
pub mod signal;
pub mod stream;
mod volumes;

pub use client::{Client, ClientError, LogFrames, ServiceUpdates, Stream};
pub use engine::{Engine, Session};
pub use images::{BodyReader, BuildRequest, ByteStream, ChannelWriter, SaveRequest};
pub use jobs::{jobs_router, JobControl};
pub use lbs::{lbs_router, LoadBalancers};
pub use registry::{PullRequest, PushRequest, RegistryAccess, RegistryLine};
pub use router::{router, ErrorResponse};
pub use serve::{bind, serve, serve_router};
pub use services::{services_router, ServiceDirectory};
pub use signal::{parse_signal, BadSignal};
