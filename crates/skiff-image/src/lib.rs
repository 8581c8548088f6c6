//! skiff-image: the image store.
//!
//! Owns everything between an image archive and the read-only layer directories a container's
//! overlay rootfs is built from:
//! - a content store under `ROOT/images` ([`store`]): blobs by sha256, unpacked layers once per
//!   diff id, a tags/state file written atomically, garbage collection;
//! - the safe layer unpacker ([`unpack`]): every entry through
//!   [`skiff_sys::fsroot::RootDir`], OCI whiteouts as overlay whiteouts, limits on every
//!   untrusted size;
//! - `load` of docker-archive and oci-archive/OCI-layout input and `save` to either format;
//! - what `run IMAGE` takes from an image ([`runconfig`]), and `build` ([`build`]: the
//!   Containerfile parser, the layer cache, layer tars; RUN steps go through a trait the
//!   daemon implements, so this crate still runs no container).
//!
//! - [`registry`]: `pull` and `push` over the OCI distribution API.
//!
//! It must not: run containers, mount anything, talk to anything but the registry a reference
//! names, or trust any path, size or digest found in its input.

pub mod build;
pub mod compress;
pub mod digest;
pub mod error;
pub mod limits;
pub mod load;
pub mod oci;
pub mod ops;
pub mod registry;
pub mod runconfig;
pub mod save;
pub mod service_labels;
mod stage;
pub mod store;
pub mod unpack;

pub use compress::Compression;
pub use digest::Digest;
pub use error::{ImageError, Result};
pub use limits::Limits;
pub use load::LoadedImage;
pub use ops::{normalize_name, ImageInfo, ImageSummary, InUse, PruneReport, Removed};
pub use runconfig::apply_image_config;
pub use save::ArchiveFormat;
pub use store::{GcReport, ImageRecord, ImageStore, LayerRecord};
pub use unpack::{unpack_layer, UnpackStats};
