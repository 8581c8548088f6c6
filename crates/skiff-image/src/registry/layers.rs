//! The layer phase of a pull, pipelined: one thread downloads the missing blobs in manifest
//! order while the caller's thread unpacks each layer as soon as its blob is verified, so the
//! network and the hashing/unpacking overlap (two cores, both busy). Progress from the
//! download thread is relayed through a channel and emitted on the caller's thread, in order.
//! If unpacking fails, the download thread is cancelled at its next chunk (its partial file is
//! kept for a later pull); if a download fails, the pull fails when it reaches that layer.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::error::ImageError;
use crate::oci::{Descriptor, ImageConfigFile, Manifest};
use crate::registry::client::Client;
use crate::registry::download::fetch_blob;
use crate::registry::error::{RegistryError, Result};
use crate::registry::progress::Progress;
use crate::stage::Stage;
use crate::store::{ImageStore, LayerRecord};

/// What the layer phase did.
pub(crate) struct LayersDone {
    pub layers: Vec<LayerRecord>,
    pub downloaded: usize,
    pub unpacked: usize,
}

enum Msg {
    Progress(Progress),
    Ready(usize, Result<()>),
}

impl ImageStore {
    /// Brings every layer of `manifest` into `stage` (downloaded or linked from the store) and
    /// unpacks those the store does not have.
    pub(crate) fn pull_layers(
        &self,
        client: &mut Client,
        stage: &mut Stage,
        manifest: &Manifest,
        cfg: &ImageConfigFile,
        what: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<LayersDone> {
        let state = self.read_state()?;
        let partial = self.dir.join("partial");
        let pairs: Vec<_> = manifest.layers.iter().zip(&cfg.rootfs.diff_ids).collect();
        // Which layers are already unpacked (a pair the store verified), which blobs are local.
        let mut known = Vec::new();
        let mut fetch: Vec<(usize, Descriptor, PathBuf)> = Vec::new();
        for (i, (l, diff_id)) in pairs.iter().enumerate() {
            let k = state.images.values().any(|img| {
                img.layers
                    .iter()
                    .any(|x| x.digest == l.digest && &x.diff_id == *diff_id)
            }) && self.has_layer(diff_id);
            known.push(k);
            let staged = stage.blob_path(&l.digest);
            if k || self.blob_path(&l.digest).exists() {
                if !k && !staged.exists() {
                    fs::hard_link(self.blob_path(&l.digest), &staged)
                        .map_err(|e| ImageError::io("link", &staged, e))?;
                }
                progress(&Progress::BlobExists {
                    digest: l.digest.clone(),
                    size: l.size,
                });
            } else if !fetch.iter().any(|(_, d, _)| d.digest == l.digest) {
                fetch.push((i, (*l).clone(), staged));
            }
        }
        let downloaded = fetch.len();
        let cancel = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<Msg>();
        let pending: Vec<usize> = fetch.iter().map(|(i, _, _)| *i).collect();
        let result = std::thread::scope(|s| {
            let (cancel, partial) = (&cancel, &partial);
            s.spawn(move || {
                for (i, desc, dst) in fetch {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut relay = |p: &Progress| {
                        let _ = tx.send(Msg::Progress(p.clone()));
                    };
                    let r = fetch_blob(client, &desc, partial, &dst, cancel, &mut relay);
                    let failed = r.is_err();
                    let _ = tx.send(Msg::Ready(i, r));
                    if failed {
                        break;
                    }
                }
            });
            let r = self.unpack_in_order(stage, &pairs, &known, &pending, &rx, what, progress);
            if r.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
            r
        });
        let (layers, unpacked) = result?;
        Ok(LayersDone {
            layers,
            downloaded,
            unpacked,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn unpack_in_order(
        &self,
        stage: &mut Stage,
        pairs: &[(&Descriptor, &crate::digest::Digest)],
        known: &[bool],
        pending: &[usize],
        rx: &mpsc::Receiver<Msg>,
        what: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Vec<LayerRecord>, usize)> {
        let mut layers = Vec::new();
        let mut unpacked = 0;
        let mut ready = 0; // how many of `pending` have arrived
        for (i, (l, diff_id)) in pairs.iter().enumerate() {
            // Wait for this layer's blob; relay whatever else arrived meanwhile.
            loop {
                let need = pending.get(ready).is_some_and(|&p| p <= i);
                let msg = if need {
                    rx.recv().map_err(|_| {
                        RegistryError::protocol(what, "the download thread ended early")
                    })?
                } else {
                    match rx.try_recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    }
                };
                match msg {
                    Msg::Progress(p) => progress(&p),
                    Msg::Ready(j, r) => {
                        r?;
                        ready += 1;
                        progress(&Progress::BlobDone {
                            digest: pairs[j].0.digest.clone(),
                        });
                    }
                }
            }
            let lwhat = format!("layer {i} ({}) of {what}", l.digest);
            if !known[i] {
                progress(&Progress::Unpacking {
                    digest: l.digest.clone(),
                });
            }
            let (tar_bytes, fresh) = self.layer(stage, &l.digest, diff_id, &lwhat)?;
            unpacked += usize::from(fresh);
            if !known[i] {
                progress(&Progress::Unpacked {
                    digest: l.digest.clone(),
                });
            }
            layers.push(LayerRecord {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size,
                diff_id: (*diff_id).clone(),
                tar_bytes,
            });
        }
        Ok((layers, unpacked))
    }
}
