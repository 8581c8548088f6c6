//! skiff-net: container networking on one host.
mod error;
pub mod files;
pub mod nft;
pub mod ports;
pub mod state;
pub mod subnet;
pub use error::NetError;
pub mod attach;
pub mod dns;
pub mod manager;
pub mod names;
pub use manager::{NetConfig, NetManager, DEFAULT_NETWORK};
pub mod connect;
