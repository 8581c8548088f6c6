//! skiff-volume: named volumes on one host.
//!
//! Owns the volume store (`ROOT/volumes/<name>/_data` plus `volume.json`, see [`store`]) and
//! copy-up, Docker's filling of a new, empty volume with the image's content at the mount
//! point ([`copyup`]). It does not know containers: which volumes are in use, and which
//! anonymous volumes go with a container, is the runtime's business (it holds the container
//! records), and so is mounting (skiff-sys, in the container's own mount namespace).
//!
//! Why a room of its own: DESIGN.md's agent turns an allocation into "image -> rootfs,
//! network, volumes, container"; volumes are host storage with a life longer than any
//! container, like images, so they sit beside skiff-image and skiff-net rather than inside
//! the container state machine. It may use skiff-sys (fsroot, for copy-up that never follows
//! an image's symlink out of its rootfs) and skiff-types; skiff-runtime (and later the agent)
//! use it, never the other way round.

pub mod copyup;
pub mod error;
pub mod layered;
pub mod store;

pub use copyup::copy_up;
pub use error::VolumeError;
pub use layered::copy_up_layers;
pub use store::VolumeStore;
