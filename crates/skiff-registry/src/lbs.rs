//! Load balancer records in the store: `/skiff/lbs/<name>` holds a JSON
//! [`LbDef`]. Every daemon watches this prefix and runs every record (see the
//! daemon's `lb` module); whoever wants a proxy just writes one:
//!
//! - [`create`]: writes a new record, refused (`Conflict`) if the name exists;
//! - [`put`]: creates or replaces (a topology job re-applying its lbs);
//! - [`delete`], [`get`], [`list`]: the rest of the lifecycle;
//! - [`watch`]: a store watch of the prefix, decoded by [`decode_event`].
//!
//! Records carry no lease: they outlive the daemon that wrote them, like jobs.

use skiff_store::{Revision, Store, StoreError, Watch, WatchEvent};
use skiff_types::LbDef;

use crate::keys::validate_service;
use crate::RegistryError;

/// Prefix of every load balancer record.
pub const LBS: &str = "/skiff/lbs/";

/// `/skiff/lbs/<name>`.
pub fn lb_key(name: &str) -> String {
    format!("{LBS}{name}")
}

/// Checks a record before it is written: names are DNS-label-like, the
/// service a valid service name, the listen port not 0.
pub fn validate(def: &LbDef) -> Result<(), RegistryError> {
    validate_service(&def.name).map_err(|_| {
        RegistryError::Invalid(format!(
            "invalid load balancer name {:?}: use 1-63 lowercase letters, digits and '-' (not at either end)",
            def.name
        ))
    })?;
    validate_service(&def.service)?;
    if def.listen.port() == 0 {
        return Err(RegistryError::Invalid(format!(
            "load balancer {}: listen address {} needs a port",
            def.name, def.listen
        )));
    }
    if def.port == Some(0) {
        return Err(RegistryError::Invalid(format!(
            "load balancer {}: service port 0 is not a port",
            def.name
        )));
    }
    Ok(())
}

fn encode(def: &LbDef) -> Result<Vec<u8>, RegistryError> {
    serde_json::to_vec(def).map_err(|e| RegistryError::Corrupt {
        key: lb_key(&def.name),
        detail: e.to_string(),
    })
}

fn decode(key: &str, value: &[u8]) -> Result<LbDef, RegistryError> {
    serde_json::from_slice(value).map_err(|e| RegistryError::Corrupt {
        key: key.to_owned(),
        detail: e.to_string(),
    })
}

/// Writes a new record; `Conflict` if one of that name exists. Returns the revision.
pub async fn create(store: &dyn Store, def: &LbDef) -> Result<u64, RegistryError> {
    validate(def)?;
    let key = lb_key(&def.name);
    match store.compare_and_put(&key, None, encode(def)?, None).await {
        Ok(rev) => Ok(rev_u64(rev)),
        Err(StoreError::Conflict { .. }) => Err(RegistryError::Store(StoreError::Conflict {
            key: key.clone(),
            detail: format!("load balancer {} already exists", def.name),
        })),
        Err(e) => Err(e.into()),
    }
}

/// Creates or replaces a record. Returns the revision.
pub async fn put(store: &dyn Store, def: &LbDef) -> Result<u64, RegistryError> {
    validate(def)?;
    Ok(rev_u64(
        store.put(&lb_key(&def.name), encode(def)?, None).await?,
    ))
}

/// Deletes a record; false if there was none.
pub async fn delete(store: &dyn Store, name: &str) -> Result<bool, RegistryError> {
    Ok(store.delete(&lb_key(name)).await?.deleted > 0)
}

/// One record, if present.
pub async fn get(store: &dyn Store, name: &str) -> Result<Option<LbDef>, RegistryError> {
    let key = lb_key(name);
    match store.get(&key).await?.0 {
        Some(kv) => Ok(Some(decode(&key, &kv.value)?)),
        None => Ok(None),
    }
}

/// Every record, sorted by name (records that do not decode are skipped).
pub async fn list(store: &dyn Store) -> Result<Vec<LbDef>, RegistryError> {
    let (kvs, _) = store.range(LBS).await?;
    Ok(kvs
        .iter()
        .filter_map(|kv| decode(&kv.key, &kv.value).ok())
        .collect())
}

/// A store watch of every record from `from` (default: now); decode items
/// with [`decode_event`].
pub async fn watch(store: &dyn Store, from: Option<Revision>) -> Result<Watch, RegistryError> {
    Ok(store.watch(LBS, from).await?)
}

/// A watch item as load balancer changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LbEvent {
    /// Every record now (replaces the view).
    Reset(Vec<LbDef>),
    /// A record was created or replaced.
    Put(LbDef),
    /// The record of that name is gone.
    Delete(String),
}

/// Decodes a store watch item; `None` for values that are not an `LbDef`.
pub fn decode_event(event: WatchEvent) -> Option<LbEvent> {
    match event {
        WatchEvent::Reset { kvs, .. } => Some(LbEvent::Reset(
            kvs.iter()
                .filter_map(|kv| decode(&kv.key, &kv.value).ok())
                .collect(),
        )),
        WatchEvent::Put(kv) => decode(&kv.key, &kv.value).ok().map(LbEvent::Put),
        WatchEvent::Delete { key, .. } => key.strip_prefix(LBS).map(|n| LbEvent::Delete(n.into())),
    }
}

fn rev_u64(r: Revision) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_store::MemoryStore;
    use skiff_types::topology::LbMode;

    fn def(name: &str, listen: &str) -> LbDef {
        LbDef {
            name: name.into(),
            service: "web".into(),
            listen: listen.parse().unwrap(),
            mode: LbMode::Http,
            port: None,
            owner: None,
        }
    }

    #[tokio::test]
    async fn create_list_get_delete_and_watch() {
        let store = MemoryStore::new();
        let mut w = watch(&store, None).await.unwrap();
        assert_eq!(
            decode_event(w.next().await.unwrap().unwrap()),
            Some(LbEvent::Reset(vec![]))
        );
        create(&store, &def("a", "127.0.0.1:8080")).await.unwrap();
        let again = create(&store, &def("a", "127.0.0.1:8081")).await;
        assert!(matches!(
            again,
            Err(RegistryError::Store(StoreError::Conflict { .. }))
        ));
        put(&store, &def("b", "127.0.0.1:8082")).await.unwrap();
        let names: Vec<_> = list(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(get(&store, "a").await.unwrap().unwrap().listen.port(), 8080);
        assert!(delete(&store, "a").await.unwrap());
        assert!(!delete(&store, "a").await.unwrap());
        assert_eq!(get(&store, "a").await.unwrap(), None);
        assert!(
            matches!(decode_event(w.next().await.unwrap().unwrap()), Some(LbEvent::Put(d)) if d.name == "a")
        );
        assert!(
            matches!(decode_event(w.next().await.unwrap().unwrap()), Some(LbEvent::Put(d)) if d.name == "b")
        );
        assert_eq!(
            decode_event(w.next().await.unwrap().unwrap()),
            Some(LbEvent::Delete("a".into()))
        );
    }

    #[test]
    fn bad_records_are_refused() {
        let mut d = def("Bad", "127.0.0.1:80");
        assert!(validate(&d).is_err());
        d.name = "ok".into();
        d.service = "no/slash".into();
        assert!(validate(&d).is_err());
        let d = def("ok", "127.0.0.1:0");
        assert!(validate(&d)
            .unwrap_err()
            .to_string()
            .contains("needs a port"));
    }
}
