//! The volume store: one directory per volume under `ROOT/volumes`.
//!
//! ```text
//! ROOT/volumes/<name>/volume.json   the metadata (skiff_types::Volume)
//! ROOT/volumes/<name>/_data/        what containers mount
//! ROOT/volumes/.tmp-<rand>/         a create in progress
//! ROOT/volumes/.rm-<rand>/          a removal in progress
//! ```
//! A volume appears and disappears with one `rename(2)`: create builds `_data` and
//! `volume.json` in a temporary directory and renames it to `<name>` (a name taken meanwhile
//! makes the rename fail, and the existing volume wins); remove renames `<name>` away before
//! deleting it. A daemon killed at any point leaves either a whole volume or none, plus
//! dot-directories that [`VolumeStore::open`] sweeps. Names are checked against Docker's rule
//! before any path is built from them, so a name can never be `..` or contain `/`.

use crate::error::VolumeError;
use skiff_types::mount::{valid_volume_name, volume_name_error};
use skiff_types::Volume;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, VolumeError>;

const META: &str = "volume.json";
const DATA: &str = "_data";

/// The volumes of one skiff root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
}

fn random_hex() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl VolumeStore {
    /// Opens (creating) `root/volumes` and removes what interrupted creates and removals left.
    pub fn open(root: &Path) -> Result<VolumeStore> {
        let dir = root.join("volumes");
        std::fs::create_dir_all(&dir).map_err(VolumeError::io("create", &dir))?;
        let entries = std::fs::read_dir(&dir).map_err(VolumeError::io("read", &dir))?;
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".tmp-") || name.starts_with(".rm-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(VolumeStore { dir })
    }

    /// `ROOT/volumes`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn checked(&self, name: &str) -> Result<PathBuf> {
        if !valid_volume_name(name) {
            return Err(VolumeError::InvalidName(volume_name_error(name)));
        }
        Ok(self.dir.join(name))
    }

    /// The directory containers mount for `name` (whether or not it exists).
    pub fn data_dir(&self, name: &str) -> Result<PathBuf> {
        Ok(self.checked(name)?.join(DATA))
    }

    /// Creates a volume; an existing one of that name is returned as it is (as Docker does),
    /// with `false`. An empty name gets a random 64-hex one. `now`: nanoseconds since epoch.
    pub fn create(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        anonymous: bool,
        now: u64,
    ) -> Result<(Volume, bool)> {
        let name = if name.is_empty() {
            random_hex().map_err(VolumeError::io("read", "/dev/urandom"))?
        } else {
            name.to_string()
        };
        let path = self.checked(&name)?;
        if path.exists() {
            return Ok((self.get(&name)?, false));
        }
        let tmp = self.dir.join(format!(
            ".tmp-{}",
            random_hex().map_err(VolumeError::io("read", "/dev/urandom"))?
        ));
        let vol = Volume {
            name: name.clone(),
            driver: "local".into(),
            mountpoint: path.join(DATA).to_string_lossy().into_owned(),
            created_at: now,
            labels,
            anonymous,
        };
        let built = (|| -> std::io::Result<()> {
            std::fs::create_dir(&tmp)?;
            std::fs::create_dir(tmp.join(DATA))?;
            let json = serde_json::to_vec_pretty(&vol)?;
            std::fs::write(tmp.join(META), json)?;
            std::fs::rename(&tmp, &path)
        })();
        match built {
            Ok(()) => Ok((vol, true)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                if path.join(META).exists() {
                    // Someone else created it first: theirs stands.
                    return Ok((self.get(&name)?, false));
                }
                Err(VolumeError::io("create volume", &path)(e))
            }
        }
    }

    /// One volume's metadata.
    pub fn get(&self, name: &str) -> Result<Volume> {
        let path = self.checked(name)?;
        let meta = path.join(META);
        let bytes = match std::fs::read(&meta) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()))
            }
            Err(e) => return Err(VolumeError::io("read", &meta)(e)),
        };
        let mut v: Volume = serde_json::from_slice(&bytes).map_err(|e| VolumeError::Corrupt {
            name: name.to_string(),
            path: meta.clone(),
            reason: e.to_string(),
        })?;
        // The root may have moved since: the path is always recomputed.
        v.mountpoint = path.join(DATA).to_string_lossy().into_owned();
        Ok(v)
    }

    /// Every volume, sorted by name, and the problems met on the way (corrupt metadata).
    pub fn list(&self) -> Result<(Vec<Volume>, Vec<VolumeError>)> {
        let entries = std::fs::read_dir(&self.dir).map_err(VolumeError::io("read", &self.dir))?;
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match self.get(&name) {
                Ok(v) => out.push(v),
                // Vanished between readdir and read: a concurrent remove.
                Err(VolumeError::NotFound(_)) => {}
                Err(e) => problems.push(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((out, problems))
    }

    /// Deletes a volume and its data. Whether it is in use is the caller's question.
    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.checked(name)?;
        if !path.join(META).exists() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let gone = self.dir.join(format!(
            ".rm-{}",
            random_hex().map_err(VolumeError::io("read", "/dev/urandom"))?
        ));
        match std::fs::rename(&path, &gone) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()))
            }
            Err(e) => return Err(VolumeError::io("remove volume", &path)(e)),
        }
        std::fs::remove_dir_all(&gone).map_err(VolumeError::io("remove", &gone))
    }

    /// Bytes used by a volume's data (apparent sizes; symlinks not followed).
    pub fn size(&self, name: &str) -> u64 {
        let Ok(root) = self.data_dir(name) else {
            return 0;
        };
        let mut total = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                match e.file_type() {
                    Ok(t) if t.is_dir() => stack.push(e.path()),
                    Ok(_) => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                    Err(_) => {}
                }
            }
        }
        total
    }

    /// True when the volume's `_data` has no entries (copy-up only fills an empty volume).
    pub fn is_empty(&self, name: &str) -> Result<bool> {
        let data = self.data_dir(name)?;
        let mut entries = std::fs::read_dir(&data).map_err(VolumeError::io("read", &data))?;
        Ok(entries.next().is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let root = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(root.path()).unwrap();
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let (v, made) = s.create("data1", labels.clone(), false, 7).unwrap();
        assert!(made);
        assert_eq!(v.labels, labels);
        assert!(Path::new(&v.mountpoint).is_dir());
        let (again, made) = s.create("data1", BTreeMap::new(), false, 9).unwrap();
        assert!(!made);
        assert_eq!(again, v);
        let (anon, _) = s.create("", BTreeMap::new(), true, 8).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert!(anon.anonymous);
        let (all, problems) = s.list().unwrap();
        assert!(problems.is_empty());
        assert_eq!(all.len(), 2);
        std::fs::write(Path::new(&v.mountpoint).join("f"), "12345").unwrap();
        assert_eq!(s.size("data1"), 5);
        assert!(!s.is_empty("data1").unwrap());
        s.remove("data1").unwrap();
        assert!(matches!(s.get("data1"), Err(VolumeError::NotFound(_))));
        assert!(matches!(s.remove("data1"), Err(VolumeError::NotFound(_))));
        assert!(!root.path().join("volumes/data1").exists());
    }

    #[test]
    fn names_are_checked_before_paths_are_built() {
        let root = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(root.path()).unwrap();
        for bad in ["..", "../x", "a/b", ".tmp-x", "x"] {
            assert!(matches!(
                s.create(bad, BTreeMap::new(), false, 0),
                Err(VolumeError::InvalidName(_))
            ));
            assert!(matches!(s.get(bad), Err(VolumeError::InvalidName(_))));
        }
    }

    #[test]
    fn leftovers_of_interrupted_operations_are_swept() {
        let root = tempfile::tempdir().unwrap();
        let vols = root.path().join("volumes");
        std::fs::create_dir_all(vols.join(".tmp-1/_data")).unwrap();
        std::fs::create_dir_all(vols.join(".rm-2/_data")).unwrap();
        std::fs::create_dir_all(vols.join("half")).unwrap();
        let s = VolumeStore::open(root.path()).unwrap();
        assert!(!vols.join(".tmp-1").exists() && !vols.join(".rm-2").exists());
        std::fs::write(vols.join("half/volume.json"), "{not json").unwrap();
        let (all, problems) = s.list().unwrap();
        assert!(all.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("corrupt metadata"));
    }
}
