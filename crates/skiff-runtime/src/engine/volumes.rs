//! Volumes as the engine sees them: the `volume` verbs (create, ls, inspect, rm, prune), and
//! the mounts of a container — resolved at create (a bind's source must exist; a named volume
//! is created if missing, an anonymous one gets a generated name; a new, empty volume is filled
//! from the image: copy-up), turned into OCI mounts at start, and anonymous volumes removed
//! with the container (`rm -v`, `--rm`).
//!
//! "In use" means referenced by any container, running or not (Docker's rule), so it is
//! decided from the container records. One lock (`Inner::volumes_lock`) orders a create's
//! resolution-to-registration against `volume rm`/`prune`, so a volume cannot vanish between
//! a container choosing it and the container's record existing.

use super::{err, internal, Runtime};
use skiff_types::mount::MountSpec;
use skiff_types::{
    ApiError, ContainerSpec, ErrorKind, MountType, Volume, VolumeCreateRequest, VolumePruneResponse,
};
use skiff_volume::VolumeError;
use std::path::Path;

fn api(e: VolumeError) -> ApiError {
    let kind = match &e {
        VolumeError::NotFound(_) => ErrorKind::NotFound,
        VolumeError::InvalidName(_) => ErrorKind::Invalid,
        VolumeError::Corrupt { .. } | VolumeError::Io { .. } | VolumeError::CopyUp { .. } => {
            ErrorKind::Internal
        }
    };
    err(kind, e.to_string())
}

/// A mount with its host side resolved, ready for the OCI spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostMount {
    /// Host path (bind, volume) or empty (tmpfs).
    pub source: String,
    pub spec: MountSpec,
}

impl Runtime {
    fn volumes(&self) -> &skiff_volume::VolumeStore {
        &self.inner.volumes
    }

    /// Ids of the containers (but `except`) whose mounts name volume `name`.
    fn users_of(&self, name: &str, except: Option<&str>) -> Vec<String> {
        self.all()
            .iter()
            .filter(|c| Some(c.id.as_str()) != except)
            .filter(|c| {
                c.rec()
                    .spec
                    .mounts
                    .iter()
                    .any(|m| m.kind == MountType::Volume && m.source == name)
            })
            .map(|c| c.id.to_string())
            .collect()
    }

    pub async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume, ApiError> {
        let _l = self.inner.volumes_lock.lock().await;
        let now = crate::fsutil::now_nanos();
        let (v, _) = self
            .volumes()
            .create(&req.name, req.labels, false, now)
            .map_err(api)?;
        Ok(v)
    }

    pub async fn volume_list(&self) -> Result<Vec<Volume>, ApiError> {
        let (list, problems) = self.volumes().list().map_err(api)?;
        for p in problems {
            eprintln!("skiff: skipping volume: {p}");
        }
        Ok(list)
    }

    pub async fn volume_inspect(&self, name: &str) -> Result<Volume, ApiError> {
        self.volumes().get(name).map_err(api)
    }

    /// Refuses a volume in use (force or not, as Docker); `force` ignores a missing one.
    pub async fn volume_remove(&self, name: &str, force: bool) -> Result<(), ApiError> {
        let _l = self.inner.volumes_lock.lock().await;
        let users = self.users_of(name, None);
        if !users.is_empty() {
            return Err(err(
                ErrorKind::Conflict,
                format!("remove {name}: volume is in use - [{}]", users.join(", ")),
            ));
        }
        match self.volumes().remove(name) {
            Err(VolumeError::NotFound(_)) if force => Ok(()),
            r => r.map_err(api),
        }
    }

    /// Removes unused anonymous volumes (all unused ones with `all`), as `docker volume prune`.
    pub async fn volume_prune(&self, all: bool) -> Result<VolumePruneResponse, ApiError> {
        let _l = self.inner.volumes_lock.lock().await;
        let mut out = VolumePruneResponse::default();
        for v in self.volume_list().await? {
            if (all || v.anonymous) && self.users_of(&v.name, None).is_empty() {
                let size = self.volumes().size(&v.name);
                self.volumes().remove(&v.name).map_err(api)?;
                out.space_reclaimed += size;
                out.volumes_deleted.push(v.name);
            }
        }
        Ok(out)
    }

    /// Resolves a new container's mounts in place (see the module doc); returns the volumes
    /// this call created, which the caller removes again if the create fails. The caller
    /// holds `volumes_lock` until the container is registered.
    pub(super) fn prepare_mounts(&self, spec: &mut ContainerSpec) -> Result<Vec<String>, ApiError> {
        skiff_types::mount::validate_mounts(&spec.mounts)
            .map_err(|e| err(ErrorKind::Invalid, e))?;
        for m in spec.mounts.iter().filter(|m| m.kind == MountType::Bind) {
            if let Err(e) = std::fs::metadata(&m.source) {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "bind source path does not exist".to_string(),
                    _ => format!("bind source path cannot be used ({e})"),
                };
                return Err(err(
                    ErrorKind::Invalid,
                    format!(
                        "invalid mount config for type \"bind\": {why}: {}",
                        m.source
                    ),
                ));
            }
        }
        let mut made = Vec::new();
        let res = self.make_volumes(spec, &mut made);
        if res.is_err() {
            self.drop_volumes(&made);
        }
        res.map(|()| made)
    }

    fn make_volumes(
        &self,
        spec: &mut ContainerSpec,
        made: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let now = crate::fsutil::now_nanos();
        let rootfs = spec.rootfs.clone();
        let layers: Vec<std::path::PathBuf> = spec
            .rootfs_layers
            .iter()
            .map(std::path::PathBuf::from)
            .collect();
        // In a user namespace, container root is host id USERNS_AUTO.0: a volume this
        // container creates is owned (and its copied-up content shifted) accordingly, as
        // Docker's userns-remap does, so the container can write it.
        let shift = if spec.userns_auto {
            super::USERNS_AUTO.0
        } else {
            0
        };
        for m in spec
            .mounts
            .iter_mut()
            .filter(|m| m.kind == MountType::Volume)
        {
            m.anonymous = m.source.is_empty();
            let (v, created) = self
                .volumes()
                .create(&m.source, m.labels.clone(), m.anonymous, now)
                .map_err(api)?;
            if created {
                made.push(v.name.clone());
            }
            m.source = v.name.clone();
            let data = Path::new(&v.mountpoint);
            if created && shift != 0 {
                std::os::unix::fs::chown(data, Some(shift), Some(shift))
                    .map_err(|e| internal(format!("chown {}: {e}", data.display())))?;
            }
            if !m.no_copy && self.volumes().is_empty(&v.name).map_err(api)? {
                match layers.is_empty() {
                    true => {
                        skiff_volume::copy_up(Path::new(&rootfs), &m.target, data, &v.name, shift)
                    }
                    false => skiff_volume::copy_up_layers(&layers, &m.target, data, &v.name, shift),
                }
                .map_err(api)?;
            }
        }
        Ok(())
    }

    /// Best effort: removes volumes a failed create made.
    pub(super) fn drop_volumes(&self, names: &[String]) {
        for n in names {
            let _ = self.volumes().remove(n);
        }
    }

    /// The anonymous volumes of container `id` (being removed) that no other container uses.
    /// Called before the container leaves the map: once `rm` answers, they are gone too.
    pub(super) async fn remove_anonymous_volumes(&self, id: &str, mounts: &[MountSpec]) {
        let _l = self.inner.volumes_lock.lock().await;
        for m in mounts
            .iter()
            .filter(|m| m.kind == MountType::Volume && m.anonymous)
        {
            if self.users_of(&m.source, Some(id)).is_empty() {
                if let Err(e) = self.volumes().remove(&m.source) {
                    if !matches!(e, VolumeError::NotFound(_)) {
                        eprintln!("skiff: remove anonymous volume {}: {e}", m.source);
                    }
                }
            }
        }
    }

    /// The container's mounts with host paths, for its OCI spec.
    pub(crate) fn host_mounts(&self, spec: &ContainerSpec) -> Result<Vec<HostMount>, ApiError> {
        spec.mounts
            .iter()
            .map(|m| {
                let source = match m.kind {
                    MountType::Bind => m.source.clone(),
                    MountType::Tmpfs => String::new(),
                    MountType::Volume => {
                        let v = self
                            .volumes()
                            .get(&m.source)
                            .map_err(|e| internal(format!("volume mount on {}: {e}", m.target)))?;
                        v.mountpoint
                    }
                };
                Ok(HostMount {
                    source,
                    spec: m.clone(),
                })
            })
            .collect()
    }
}
