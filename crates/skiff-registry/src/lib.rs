//! skiff-registry owns the service registry on top of the store: which
//! instances of which services are healthy right now, and the typed stream
//! of changes that load balancers, DNS, dashboards and `skiff watch` follow.
//!
//! - [`Registry`] reads the catalog and opens typed watches
//!   ([`ServiceWatch`]: `Reset`, then `Add`/`Remove` exactly once in order;
//!   a new `Reset` after compaction or reconnect).
//! - [`NodeSession`] is one node's presence: `/skiff/nodes/<node>` under a
//!   lease kept alive in the background, and instances registered under the
//!   same lease at `/skiff/services/<service>/<id>` (JSON `Instance`), so a
//!   dead host's instances expire with it.
//! - [`health`] is the pure health state machine (Docker semantics) that
//!   decides when an instance may be registered.
//! - [`dns`] answers `NAME.skiff` A and `_PORT._tcp.NAME.skiff` SRV queries as
//!   a pure function of a [`Catalog`] snapshot; [`LiveCatalog`] keeps one current.
//!
//! - [`lbs`]: load balancer records (`/skiff/lbs/<name>`) every daemon runs;
//!   [`watchers`]: who watches a service and how far it got (drain acks).
//!
//! It must not run probes, containers or sockets: the daemon (agent) does
//! that and feeds results in; the DNS server encodes the answers.

mod catalog;
pub mod dns;
mod error;
pub mod health;
pub mod keys;
pub mod lbs;
mod registry;
mod watch;
pub mod watchers;

pub use catalog::{Catalog, LiveCatalog};
pub use error::RegistryError;
pub use registry::{NodeSession, Registry};
pub use skiff_types::{NodeOffer, NodeRecord};
pub use watch::{decode, CatalogUpdate, CatalogWatch, ServiceWatch, Translator};
