//! Typed watches: the store's revisioned key events under `/skiff/services/`
//! turned into `Reset`/`Add`/`Remove` updates.
//!
//! [`Translator`] is the pure core: it remembers which instance keys the
//! watcher has seen, so a `Remove` is only sent for an instance that was
//! announced, an overwrite is one `Add` (same id: replace), and a value that
//! does not decode is never passed on (it is treated as absent). A store
//! `Reset` (first item, compaction, reconnect) becomes a `Reset` that
//! replaces the watcher's view.
//!
//! [`CatalogWatch`] (all services) and [`ServiceWatch`] (one service) wrap a
//! store watch; when the store's stream fails they subscribe again from the
//! last delivered revision, which starts with a fresh `Reset`.

use std::collections::BTreeSet;
use std::sync::Arc;

use skiff_store::{KeyValue, Revision, Store, Watch, WatchEvent};
use skiff_types::{Instance, ServiceUpdate};

use crate::keys::{self, parse_instance_key};
use crate::RegistryError;

/// An update of the whole catalog (every service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogUpdate {
    /// The complete set of instances at `revision`; replaces the view.
    Reset {
        revision: u64,
        instances: Vec<Instance>,
    },
    /// An instance appeared or changed (same service and id: replace).
    Add { revision: u64, instance: Instance },
    /// An instance announced earlier is gone.
    Remove {
        revision: u64,
        service: String,
        id: String,
    },
}

impl CatalogUpdate {
    /// The same update as one service's watcher sees it.
    pub fn into_service_update(self) -> ServiceUpdate {
        match self {
            Self::Reset {
                revision,
                instances,
            } => ServiceUpdate::Reset {
                revision,
                instances,
            },
            Self::Add { revision, instance } => ServiceUpdate::Add { revision, instance },
            Self::Remove { revision, id, .. } => ServiceUpdate::Remove { revision, id },
        }
    }
}

fn rev(r: Revision) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

/// Decodes an instance record; `None` for keys or values that are not one
/// (or whose service/id disagree with the key they are stored under).
pub fn decode(kv: &KeyValue) -> Option<Instance> {
    let (service, id) = parse_instance_key(&kv.key)?;
    let inst: Instance = serde_json::from_slice(&kv.value).ok()?;
    (inst.service == service && inst.id == id).then_some(inst)
}

/// The pure store-event -> update mapping (see the module docs).
#[derive(Debug, Default)]
pub struct Translator {
    known: BTreeSet<String>,
}

impl Translator {
    pub fn new() -> Self {
        Self::default()
    }

    /// The updates one store event becomes (none, or one).
    pub fn translate(&mut self, event: WatchEvent) -> Option<CatalogUpdate> {
        match event {
            WatchEvent::Reset { kvs, revision } => {
                self.known.clear();
                let mut instances = Vec::new();
                for kv in &kvs {
                    if let Some(inst) = decode(kv) {
                        self.known.insert(kv.key.clone());
                        instances.push(inst);
                    }
                }
                Some(CatalogUpdate::Reset {
                    revision: rev(revision),
                    instances,
                })
            }
            WatchEvent::Put(kv) => match decode(&kv) {
                Some(instance) => {
                    self.known.insert(kv.key.clone());
                    Some(CatalogUpdate::Add {
                        revision: rev(kv.mod_revision),
                        instance,
                    })
                }
                // An unreadable overwrite of a known instance: it is gone.
                None => self.remove(&kv.key, kv.mod_revision),
            },
            WatchEvent::Delete { key, revision } => self.remove(&key, revision),
        }
    }

    fn remove(&mut self, key: &str, revision: Revision) -> Option<CatalogUpdate> {
        if !self.known.remove(key) {
            return None;
        }
        let (service, id) = parse_instance_key(key)?;
        Some(CatalogUpdate::Remove {
            revision: rev(revision),
            service: service.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// A self-healing typed watch over a key prefix.
pub struct CatalogWatch {
    store: Arc<dyn Store>,
    prefix: String,
    watch: Option<Watch>,
    translator: Translator,
    /// The last revision delivered (resubscription resumes from here).
    delivered: Option<Revision>,
}

impl CatalogWatch {
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        prefix: String,
        from: Option<u64>,
    ) -> Result<Self, RegistryError> {
        let from = from
            .and_then(|f| Revision::try_from(f).ok())
            .filter(|f| *f > 0);
        let watch = store.watch(&prefix, from).await?;
        Ok(Self {
            store,
            prefix,
            watch: Some(watch),
            translator: Translator::new(),
            delivered: None,
        })
    }

    /// The next update. The first is always a `Reset`. An `Err` means the
    /// store could not be reached; calling `next` again retries.
    pub async fn next(&mut self) -> Option<Result<CatalogUpdate, RegistryError>> {
        loop {
            let watch = match self.watch.as_mut() {
                Some(w) => w,
                None => match self.store.watch(&self.prefix, self.delivered).await {
                    Ok(w) => self.watch.insert(w),
                    Err(e) => return Some(Err(e.into())),
                },
            };
            match watch.next().await {
                Some(Ok(event)) => {
                    let revision = event.revision();
                    if let Some(update) = self.translator.translate(event) {
                        self.delivered = Some(revision);
                        return Some(Ok(update));
                    }
                }
                Some(Err(e)) => {
                    self.watch = None;
                    return Some(Err(e.into()));
                }
                None => return None,
            }
        }
    }
}

/// One service's typed watch (what the proxy, DNS and `skiff watch` consume).
pub struct ServiceWatch {
    inner: CatalogWatch,
}

impl ServiceWatch {
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        service: &str,
        from: Option<u64>,
    ) -> Result<Self, RegistryError> {
        keys::validate_service(service)?;
        let inner = CatalogWatch::open(store, keys::service_prefix(service), from).await?;
        Ok(Self { inner })
    }

    /// The next update; the first is always a `Reset` (see [`CatalogWatch::next`]).
    pub async fn next(&mut self) -> Option<Result<ServiceUpdate, RegistryError>> {
        let item = self.inner.next().await?;
        Some(item.map(CatalogUpdate::into_service_update))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn inst(service: &str, id: &str) -> Instance {
        Instance {
            id: id.into(),
            service: service.into(),
            node: "n".into(),
            addr: "127.0.0.1".parse().unwrap(),
            port: 80,
            proto: Default::default(),
            tags: vec![],
            meta: BTreeMap::new(),
        }
    }

    fn kv(i: &Instance, at: Revision) -> KeyValue {
        KeyValue {
            key: keys::instance_key(&i.service, &i.id),
            value: serde_json::to_vec(i).unwrap(),
            create_revision: at,
            mod_revision: at,
            version: 1,
            lease: None,
        }
    }

    #[test]
    fn reset_add_remove_exactly_once() {
        let a = inst("web", "a");
        let b = inst("web", "b");
        let mut t = Translator::new();
        let reset = t.translate(WatchEvent::Reset {
            kvs: vec![kv(&a, 3)],
            revision: 5,
        });
        assert_eq!(
            reset,
            Some(CatalogUpdate::Reset {
                revision: 5,
                instances: vec![a.clone()]
            })
        );
        assert_eq!(
            t.translate(WatchEvent::Put(kv(&b, 6))),
            Some(CatalogUpdate::Add {
                revision: 6,
                instance: b.clone()
            })
        );
        let del = |rev| WatchEvent::Delete {
            key: keys::instance_key("web", "b"),
            revision: rev,
        };
        assert!(matches!(
            t.translate(del(7)),
            Some(CatalogUpdate::Remove { revision: 7, .. })
        ));
        assert_eq!(t.translate(del(8)), None, "a second delete is not repeated");
    }

    #[test]
    fn garbage_is_never_passed_on() {
        let a = inst("web", "a");
        let mut t = Translator::new();
        t.translate(WatchEvent::Reset {
            kvs: vec![kv(&a, 1)],
            revision: 1,
        });
        let mut bad = kv(&a, 2);
        bad.value = b"not json".to_vec();
        assert!(matches!(
            t.translate(WatchEvent::Put(bad.clone())),
            Some(CatalogUpdate::Remove { .. })
        ));
        assert_eq!(t.translate(WatchEvent::Put(bad)), None);
        // A record filed under the wrong key is not an instance either.
        let mut wrong = kv(&inst("web", "x"), 3);
        wrong.key = keys::instance_key("api", "x");
        assert_eq!(t.translate(WatchEvent::Put(wrong)), None);
    }

    #[test]
    fn a_new_reset_replaces_what_was_known() {
        let a = inst("web", "a");
        let mut t = Translator::new();
        t.translate(WatchEvent::Put(kv(&a, 1)));
        t.translate(WatchEvent::Reset {
            kvs: vec![],
            revision: 9,
        });
        let gone = WatchEvent::Delete {
            key: keys::instance_key("web", "a"),
            revision: 10,
        };
        assert_eq!(t.translate(gone), None, "not known after the reset");
    }

    #[test]
    fn service_update_drops_the_service_of_a_remove() {
        let u = CatalogUpdate::Remove {
            revision: 4,
            service: "web".into(),
            id: "a".into(),
        };
        assert_eq!(
            u.into_service_update(),
            ServiceUpdate::Remove {
                revision: 4,
                id: "a".into()
            }
        );
    }
}
