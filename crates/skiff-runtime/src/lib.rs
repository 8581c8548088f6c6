//! skiff-runtime: the container lifecycle on one host.
//!
//! Owns the keeper (the single parent process of all containers), each
//! container's durable record, its logs, exec sessions, stats and restart
//! policies. It turns user intent (`skiff_types::ContainerSpec`) into kernel
//! work through `skiff-sys` and never talks HTTP: the API room calls
//! `engine::Runtime`.

pub mod engine;
pub mod fsutil;
pub mod keeper;
pub mod launch;
pub mod logs;
pub mod nethook;
pub mod oci;
pub mod record;

pub use engine::{Runtime, RuntimeConfig, Session};
pub use nethook::{NetContainer, NetworkHooks};
