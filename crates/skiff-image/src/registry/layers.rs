//! The layer phase of a pull, pipelined: one thread downloads the missing blobs in manifest
//! order; as soon as a blob is verified its layer goes to one of two unpack workers (each layer
//! has its own directory in skiff's store, so layers unpack in parallel, unlike a chained
//! storage). The caller's thread dispatches, collects results and emits all progress in one
//! sequence. If anything fails, the download thread is cancelled at its next chunk (its partial
//! file is kept for a later pull), the workers finish or drop their queue, and the error is
//! returned; the stage (and so the store) never sees a half-done layer.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::oci::{Descriptor, ImageConfigFile, Manifest};
use crate::registry::client::Client;
use crate::registry::download::fetch_blob;
use crate::registry::error::{RegistryError, Result};
use crate::registry::progress::Progress;
use crate::stage::{unpack_blob_to, Stage};
use crate::store::{ImageStore, LayerRecord};

/// What the layer phase did.
pub(crate) struct LayersDone {
    pub layers: Vec<LayerRecord>,
    pub downloaded: usize,
    pub unpacked: usize,
}

enum Msg {
    Progress(Progress),
    /// A blob is downloaded and verified (or failed).
    Ready(usize, Result<()>),
    /// A layer is unpacked: its tar size (or the failure).
    Unpacked(usize, Result<u64>),
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
        // Fresh layers are unpacked by workers, each into its own staged directory.
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Mutex::new(job_rx);
        let limits = self.limits;
        let result = std::thread::scope(|s| {
            let (cancel, partial) = (&cancel, &partial);
            let dl_tx = tx.clone();
            s.spawn(move || {
                for (i, desc, dst) in fetch {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut relay = |p: &Progress| {
                        let _ = dl_tx.send(Msg::Progress(p.clone()));
                    };
                    let r = fetch_blob(client, &desc, partial, &dst, cancel, &mut relay);
                    let failed = r.is_err();
                    let _ = dl_tx.send(Msg::Ready(i, r));
                    if failed {
                        break;
                    }
                }
            });
            for _ in 0..UNPACKERS {
                let (job_rx, tx) = (&job_rx, tx.clone());
                s.spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(j) = job else { return };
                    let r = unpack_blob_to(&j.src, &j.dir, &j.diff_id, &limits, &j.what)
                        .map_err(RegistryError::from);
                    let _ = tx.send(Msg::Unpacked(j.index, r));
                });
            }
            drop(tx);
            let mut run = Pipeline {
                pairs: &pairs,
                known: &known,
                pending: &pending,
                rx: &rx,
                jobs: job_tx,
                what,
            };
            let r = self.drive(&mut run, stage, progress);
            drop(run); // closes the job queue: idle workers end
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

    /// Dispatches each layer as soon as its blob is there and collects the results in order.
    fn drive(
        &self,
        run: &mut Pipeline<'_>,
        stage: &mut Stage,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Vec<LayerRecord>, usize)> {
        let n = run.pairs.len();
        let mut tar_bytes: Vec<Option<u64>> = vec![None; n];
        let mut deferred = Vec::new(); // same diff id as an earlier layer: resolved at the end
        let mut dispatched: Vec<&Digest> = Vec::new();
        let (mut next, mut ready, mut outstanding, mut unpacked) = (0, 0, 0, 0);
        loop {
            // Dispatch, in manifest order, every layer whose blob is there.
            while next < n && run.pending.get(ready).is_none_or(|&p| p > next) {
                let (l, diff_id) = run.pairs[next];
                let lwhat = format!("layer {next} ({}) of {}", l.digest, run.what);
                if run.known[next] || self.has_layer(diff_id) {
                    let (b, _) = self.layer(stage, &l.digest, diff_id, &lwhat)?;
                    tar_bytes[next] = Some(b);
                } else if dispatched.contains(&diff_id) {
                    deferred.push(next);
                } else {
                    progress(&Progress::Unpacking {
                        digest: l.digest.clone(),
                    });
                    dispatched.push(diff_id);
                    let job = Job {
                        index: next,
                        src: stage.blob_path(&l.digest),
                        dir: stage.layer_dir(diff_id),
                        diff_id: diff_id.clone(),
                        what: lwhat,
                    };
                    run.jobs.send(job).map_err(|_| {
                        RegistryError::protocol(run.what, "the unpack workers ended early")
                    })?;
                    outstanding += 1;
                }
                next += 1;
            }
            if next == n && outstanding == 0 {
                break;
            }
            let msg = run.rx.recv().map_err(|_| {
                RegistryError::protocol(run.what, "the download thread ended early")
            })?;
            match msg {
                Msg::Progress(p) => progress(&p),
                Msg::Ready(j, r) => {
                    r?;
                    ready += 1;
                    progress(&Progress::BlobDone {
                        digest: run.pairs[j].0.digest.clone(),
                    });
                }
                Msg::Unpacked(j, r) => {
                    outstanding -= 1;
                    let b = r?;
                    stage.mark_unpacked(run.pairs[j].1, b);
                    tar_bytes[j] = Some(b);
                    unpacked += 1;
                    progress(&Progress::Unpacked {
                        digest: run.pairs[j].0.digest.clone(),
                    });
                }
            }
        }
        for i in deferred {
            let (l, diff_id) = run.pairs[i];
            let what = format!("layer {i} ({}) of {}", l.digest, run.what);
            tar_bytes[i] = Some(self.layer(stage, &l.digest, diff_id, &what)?.0);
        }
        let layers = run
            .pairs
            .iter()
            .zip(tar_bytes)
            .map(|((l, diff_id), b)| LayerRecord {
                digest: l.digest.clone(),
                media_type: l.media_type.clone(),
                size: l.size,
                diff_id: (*diff_id).clone(),
                tar_bytes: b.unwrap_or(0),
            })
            .collect();
        Ok((layers, unpacked))
    }
}

/// Unpack workers: enough to keep both cores busy next to the download thread.
const UNPACKERS: usize = 2;

/// One layer for an unpack worker.
struct Job {
    index: usize,
    src: PathBuf,
    dir: PathBuf,
    diff_id: Digest,
    what: String,
}

/// The state `drive` works through.
struct Pipeline<'a> {
    pairs: &'a [(&'a Descriptor, &'a Digest)],
    known: &'a [bool],
    pending: &'a [usize],
    rx: &'a mpsc::Receiver<Msg>,
    jobs: mpsc::Sender<Job>,
    what: &'a str,
}
