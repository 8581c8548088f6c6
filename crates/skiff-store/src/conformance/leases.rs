//! Conformance cases for leases: revoke, expiry (with delete events) and
//! keepalive.

use std::collections::BTreeSet;
use std::time::Duration;

use super::next_event;
use crate::{Store, StoreError, WatchEvent};

const TTL: Duration = Duration::from_secs(1);

pub async fn revoke_deletes_attached_keys<S: Store>(store: &S, p: &str) {
    let lease = store.grant(TTL * 30).await.expect("grant");
    store
        .put(&format!("{p}a"), b"1".to_vec(), Some(lease.id))
        .await
        .expect("put a");
    store
        .put(&format!("{p}b"), b"2".to_vec(), Some(lease.id))
        .await
        .expect("put b");
    // Re-putting without the lease detaches the key: it survives the revoke.
    store
        .put(&format!("{p}b"), b"3".to_vec(), None)
        .await
        .expect("detach b");
    let kv = store
        .get(&format!("{p}a"))
        .await
        .expect("get")
        .0
        .expect("a");
    assert_eq!(kv.lease, Some(lease.id));

    store.revoke(lease.id).await.expect("revoke");
    assert_eq!(store.get(&format!("{p}a")).await.expect("get").0, None);
    assert!(store.get(&format!("{p}b")).await.expect("get").0.is_some());
    let again = store.revoke(lease.id).await;
    assert_eq!(again, Err(StoreError::LeaseExpired { id: lease.id }));
    let put = store.put(&format!("{p}c"), vec![], Some(lease.id)).await;
    assert_eq!(put, Err(StoreError::LeaseExpired { id: lease.id }));
    let keepalive = store.keepalive(lease.id).await;
    assert_eq!(keepalive, Err(StoreError::LeaseExpired { id: lease.id }));
}

pub async fn expiry_deletes_keys_with_events<S: Store>(store: &S, p: &str) {
    let lease = store.grant(TTL).await.expect("grant");
    let keys: BTreeSet<String> = (0..3).map(|i| format!("{p}k{i}")).collect();
    for key in &keys {
        store
            .put(key, b"v".to_vec(), Some(lease.id))
            .await
            .expect("put");
    }
    let mut watch = store.watch(p, None).await.expect("watch");
    match next_event(&mut watch).await {
        WatchEvent::Reset { kvs, .. } => assert_eq!(kvs.len(), 3),
        other => panic!("expected Reset first, got {other:?}"),
    }
    let mut deleted = BTreeSet::new();
    let mut revision = None;
    while deleted.len() < keys.len() {
        match next_event(&mut watch).await {
            WatchEvent::Delete { key, revision: r } => {
                assert!(deleted.insert(key), "each key deleted once");
                assert!(
                    revision.is_none_or(|prev| prev == r),
                    "one revision for the expiry"
                );
                revision = Some(r);
            }
            other => panic!("expected deletes on expiry, got {other:?}"),
        }
    }
    assert_eq!(deleted, keys);
    assert_eq!(store.range(p).await.expect("range").0, vec![]);
    assert_eq!(
        store.keepalive(lease.id).await,
        Err(StoreError::LeaseExpired { id: lease.id })
    );
}

pub async fn keepalive_extends<S: Store>(store: &S, p: &str) {
    let lease = store.grant(TTL).await.expect("grant");
    let key = format!("{p}alive");
    store
        .put(&key, b"v".to_vec(), Some(lease.id))
        .await
        .expect("put");
    let step = lease.ttl / 4;
    for _ in 0..12 {
        tokio::time::sleep(step).await;
        let ttl = store
            .keepalive(lease.id)
            .await
            .expect("keepalive of a live lease");
        assert!(ttl >= TTL, "keepalive restores the full TTL ({ttl:?})");
    }
    // Three TTLs have passed; without keepalives the key would be gone.
    assert!(
        store.get(&key).await.expect("get").0.is_some(),
        "kept alive"
    );
    store.revoke(lease.id).await.expect("revoke");
}
