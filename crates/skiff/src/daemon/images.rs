//! The daemon's image verbs: `skiff_image::ImageStore` calls moved off the async threads,
//! the in-use guard for `rmi`/`prune` (images of existing containers), and the step that
//! turns `run IMAGE` into a runtime spec (layers + the image's config).

use skiff_api::{BodyReader, ByteStream, ChannelWriter, SaveRequest};
use skiff_image::{
    apply_image_config, ArchiveFormat, ImageError, ImageInfo, ImageStore, ImageSummary, InUse,
    LoadedImage, PruneReport, Removed,
};
use skiff_runtime::Runtime;
use skiff_types::{ApiError, ContainerSpec, ErrorKind};
use std::sync::Arc;

/// The image store shared by the API handlers and the build engine.
pub type Images = Arc<ImageStore>;

pub fn api_err(e: ImageError) -> ApiError {
    match e {
        ImageError::NotFound(r) => {
            ApiError::new(ErrorKind::NotFound, format!("image not found: {r}"))
        }
        e => ApiError::new(e.kind(), e.to_string()),
    }
}

/// Runs a store call on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    images: &Images,
    f: impl FnOnce(&ImageStore) -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = images.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("image task: {e}")))?
        .map_err(api_err)
}

/// Fills in an image container's layers and image config; a `--rootfs` spec passes as is.
pub async fn resolve_spec(
    images: &Images,
    mut spec: ContainerSpec,
) -> Result<ContainerSpec, ApiError> {
    let Some(reference) = spec.image.clone() else {
        return Ok(spec);
    };
    if !spec.rootfs.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Invalid,
            "give either an image or --rootfs, not both",
        ));
    }
    let (info, layers) = blocking(images, move |s| {
        let info = s.inspect(&reference)?;
        // By id: a tag moved between the two calls cannot mix two images.
        let layers = s.rootfs_layers(info.id.hex())?;
        Ok((info, layers))
    })
    .await?;
    if layers.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Invalid,
            format!("image {} has no layers", info.id.short()),
        ));
    }
    apply_image_config(&mut spec, &info.id, &layers, &info.config).map_err(|e| {
        ApiError::new(
            ErrorKind::Invalid,
            format!("image {}: {e}", info.id.short()),
        )
    })?;
    Ok(spec)
}

/// Image id hex -> a container using it, over every container the runtime knows.
async fn in_use(rt: &Runtime) -> Result<InUse, ApiError> {
    let mut out = InUse::new();
    for c in rt.list(true).await? {
        if let Ok(info) = rt.inspect(c.id.as_str()).await {
            if let Some(id) = info.config.image_id {
                let hex = id.strip_prefix("sha256:").unwrap_or(&id).to_string();
                out.entry(hex).or_insert_with(|| c.id.short().to_string());
            }
        }
    }
    Ok(out)
}

pub async fn list(images: &Images) -> Result<Vec<ImageSummary>, ApiError> {
    blocking(images, |s| s.images()).await
}

pub async fn inspect(images: &Images, r: &str) -> Result<ImageInfo, ApiError> {
    let r = r.to_string();
    blocking(images, move |s| s.inspect(&r)).await
}

pub async fn tag(images: &Images, r: &str, target: &str) -> Result<(), ApiError> {
    let (r, target) = (r.to_string(), target.to_string());
    blocking(images, move |s| s.tag(&r, &target)).await
}

pub async fn remove(
    images: &Images,
    rt: &Runtime,
    r: &str,
    force: bool,
) -> Result<Vec<Removed>, ApiError> {
    let used = in_use(rt).await?;
    let r = r.to_string();
    blocking(images, move |s| s.remove_guarded(&r, force, &used)).await
}

pub async fn prune(images: &Images, rt: &Runtime) -> Result<PruneReport, ApiError> {
    let used = in_use(rt).await?;
    blocking(images, move |s| s.prune_guarded(&used)).await
}

pub async fn load(images: &Images, body: BodyReader) -> Result<Vec<LoadedImage>, ApiError> {
    blocking(images, move |s| s.load_reader(body)).await
}

pub async fn save(images: &Images, req: SaveRequest) -> Result<ByteStream, ApiError> {
    let format: ArchiveFormat = req.format.parse().map_err(api_err)?;
    let refs = req.references.clone();
    // Every reference must resolve before the first byte goes out.
    blocking(images, move |s| {
        for r in &refs {
            s.inspect(r)?;
        }
        Ok(())
    })
    .await?;
    let (mut w, rx) = ChannelWriter::new();
    let store = images.clone();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = req.references.iter().map(String::as_str).collect();
        if let Err(e) = store.save(&refs, format, &mut w) {
            w.fail(e.to_string());
        }
    });
    Ok(rx)
}
