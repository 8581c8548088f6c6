//! Progress events a pull or push emits, in order, through a caller's callback. The CLI draws
//! them as per-layer bars on a terminal or plain lines otherwise; the daemon streams them as
//! JSON lines (`{"event":"layer_progress",...}`).

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// One step of a pull or push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// The manifest is known: how many blobs follow.
    Resolved {
        reference: String,
        manifest: Digest,
        layers: usize,
    },
    /// A blob transfer starts (`resumed_from` > 0: a partial download is being continued).
    BlobStart {
        digest: Digest,
        size: u64,
        resumed_from: u64,
    },
    /// Bytes of a blob transferred so far.
    BlobProgress {
        digest: Digest,
        done: u64,
        size: u64,
    },
    /// The blob was already there (in the local store on pull, in the registry on push).
    BlobExists { digest: Digest, size: u64 },
    /// Push: the blob was mounted from another repository of the same registry.
    BlobMounted { digest: Digest, from: String },
    /// The blob is transferred and verified.
    BlobDone { digest: Digest },
    /// Pull: a layer is being unpacked into the store.
    Unpacking { digest: Digest },
    /// Pull: the layer is unpacked and verified against its diff id.
    Unpacked { digest: Digest },
    /// Finished: the image id (pull) and the manifest digest.
    Done { id: Digest, manifest: Digest },
}

impl Progress {
    /// A one-line human rendering (`--quiet` off, not a terminal).
    pub fn line(&self) -> String {
        match self {
            Progress::Resolved {
                reference,
                manifest,
                layers,
            } => format!("{reference}: manifest {manifest}, {layers} layers"),
            Progress::BlobStart {
                digest,
                size,
                resumed_from: 0,
            } => format!("{}: transferring {}", digest.short(), human(*size)),
            Progress::BlobStart {
                digest,
                size,
                resumed_from,
            } => format!(
                "{}: resuming at {} of {}",
                digest.short(),
                human(*resumed_from),
                human(*size)
            ),
            Progress::BlobProgress { digest, done, size } => {
                format!("{}: {} / {}", digest.short(), human(*done), human(*size))
            }
            Progress::BlobExists { digest, .. } => format!("{}: already exists", digest.short()),
            Progress::BlobMounted { digest, from } => {
                format!("{}: mounted from {from}", digest.short())
            }
            Progress::BlobDone { digest } => format!("{}: done", digest.short()),
            Progress::Unpacking { digest } => format!("{}: unpacking", digest.short()),
            Progress::Unpacked { digest } => format!("{}: pull complete", digest.short()),
            Progress::Done { id, manifest } => format!("digest: {manifest} id: {id}"),
        }
    }
}

/// `12.3 MB` style sizes (decimal, as Docker prints).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
