//! The registry client: `pull` and `push` over the OCI distribution API
//! (<https://github.com/opencontainers/distribution-spec>), which Docker's registry, Harbor,
//! GHCR, Quay and `docker-registry` all speak.
//!
//! ```text
//! reference ──parse──> Reference{registry, repository, tag|digest}
//!   pull: GET /v2/ (auth challenge) -> GET manifests/<ref> (OCI/Docker manifest or index;
//!         an index resolves to linux/<host arch>) -> GET config -> per layer:
//!         in store? skip : GET blobs/<digest> (Range: resume from ROOT/images/partial/<hex>)
//!         -> hash + size checked while streaming -> stage -> unpack (diff id checked)
//!         -> commit (rename blobs/layers, then state.json)
//!   push: per blob HEAD (exists? skip) -> mount from a sibling repo of the same registry
//!         -> POST upload + PUT (monolithic) or PATCH chunks + PUT -> PUT manifest
//! ```
//!
//! Owns: reference parsing ([`reference`]), transport and TLS set-up ([`client`]), Basic and
//! Bearer-token auth with a `skiff login`-style credentials file ([`auth`]), resumable verified
//! blob downloads ([`download`]) pipelined with unpacking ([`layers`]), the pull and push
//! algorithms ([`pull`], [`push`]) and the
//! progress events they emit ([`progress`]). The pull's atomicity is the store's: everything is
//! staged under `ROOT/images/tmp` (the store lock held) and committed with the same code `load`
//! uses, so a failed or killed pull leaves the store as it was; only verified-so-far partial
//! downloads survive, under `ROOT/images/partial/`, to be resumed.
//!
//! Why ureq (blocking) and not hyper: the store is synchronous (flock, rename, a streaming
//! unpacker), so a blocking client streams a blob straight into the hasher and the file with no
//! runtime, no connector glue and no `block_on` bridges; the daemon calls it on a blocking
//! thread. ureq 3 brings an HTTP/1.1 codec (ureq-proto) and rustls with the *ring* provider only
//! (default features off), about the same crates hyper-rustls would add on top of hyper, and far
//! less of our own code to get wrong.
//!
//! Must not: trust any digest, size or media type it is sent; write into `blobs/`, `layers/`
//! or `state.json` except through the store's commit; talk to anything but the registry (and
//! the token realm it names).

pub mod auth;
pub mod client;
mod download;
pub mod error;
mod layers;
pub mod progress;
mod pull;
mod push;
pub mod reference;

pub use auth::Credentials;
pub use client::{login, RegistryOptions};
pub use error::RegistryError;
pub use progress::Progress;
pub use pull::Pulled;
pub use push::Pushed;
pub use reference::Reference;
