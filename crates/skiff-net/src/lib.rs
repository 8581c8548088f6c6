//! skiff-net: container networking on one host.
//!
//! Owns the networks (a Linux bridge each: the default `bridge` network on
//! `skiff0` and user-defined ones), address management from 198.18.0.0/15
//! persisted under `ROOT/net`, veth pairs whose container end is born inside
//! the container's namespace, the `inet skiff` nftables table (isolation,
//! published ports as DNAT, opt-in egress masquerade), the /etc files each
//! container gets, and the embedded DNS server on every bridge's gateway.
//!
//! It must not: make raw syscalls (netlink lives in `skiff_sys::netlink`), run
//! `ip`, touch any nftables table but its own, or know about containers beyond
//! the id, name and spec the runtime hands over (`attach`, `detach`, `release`,
//! `reconcile`: see `attach.rs`).
//!
//! ```text
//! daemon start: NetManager::open -> nft base, bridges up, DNS servers; runtime adopts
//!               containers -> reconcile(known, alive): stale veths/rules/leases go
//! start:        netns (pool) -> attach: lease, veth (peer in netns), addr+route,
//!               DNAT ports, /etc files -> keeper spawns init into the netns
//! exit:         detach: veths, port rules (lease kept: same address on restart)
//! rm:           release: lease freed
//! ```

pub mod attach;
pub mod connect;
pub mod dns;
mod error;
pub mod files;
pub mod manager;
pub mod names;
pub mod nft;
pub mod ports;
pub mod state;
pub mod subnet;

pub use error::NetError;
pub use manager::{NetConfig, NetManager, DEFAULT_NETWORK};
