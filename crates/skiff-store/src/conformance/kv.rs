//! Conformance cases for reads, writes and transactions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::{Compare, Store, StoreError, Txn, TxnOp};

pub async fn get_put_delete_range<S: Store>(store: &S, p: &str) {
    let key = format!("{p}a");
    let (missing, _) = store.get(&key).await.expect("get missing");
    assert_eq!(missing, None);

    let r1 = store.put(&key, b"one".to_vec(), None).await.expect("put");
    let (kv, read_rev) = store.get(&key).await.expect("get");
    let kv = kv.expect("key present after put");
    assert_eq!((kv.value.as_slice(), kv.version), (&b"one"[..], 1));
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.lease),
        (r1, r1, None)
    );
    assert!(read_rev >= r1);

    let r2 = store
        .put(&key, b"two".to_vec(), None)
        .await
        .expect("overwrite");
    let kv = store.get(&key).await.expect("get").0.expect("present");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r1, r2, 2)
    );

    for name in ["c", "b", "b/nested"] {
        store
            .put(&format!("{p}{name}"), name.as_bytes().to_vec(), None)
            .await
            .expect("put");
    }
    store
        .put(p, b"outside".to_vec(), None)
        .await
        .expect("put prefix itself");
    let (kvs, _) = store.range(&format!("{p}b")).await.expect("range");
    let keys: Vec<_> = kvs.iter().map(|kv| kv.key.trim_start_matches(p)).collect();
    assert_eq!(keys, ["b", "b/nested"], "range is by prefix and sorted");

    let gone = store.delete(&key).await.expect("delete");
    assert_eq!(gone.deleted, 1);
    assert_eq!(store.get(&key).await.expect("get").0, None);
    let again = store.delete(&key).await.expect("delete missing");
    assert_eq!(
        (again.deleted, again.revision),
        (0, gone.revision),
        "no-op delete keeps revision"
    );

    let all = store
        .delete_prefix(&format!("{p}b"))
        .await
        .expect("delete_prefix");
    assert_eq!(all.deleted, 2);
    let (left, _) = store.range(p).await.expect("range");
    assert_eq!(left.len(), 2, "only {p} and {p}c remain: {left:?}");

    assert!(matches!(
        store.get("").await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.put("", vec![], None).await,
        Err(StoreError::Invalid { .. })
    ));
}

pub async fn revisions_strictly_increase<S: Store>(store: &S, p: &str) {
    let mut last = store.get(&format!("{p}x")).await.expect("get").1;
    for i in 0..20 {
        let key = format!("{p}k{}", i % 3);
        let rev = store.put(&key, vec![i], None).await.expect("put");
        assert!(rev > last, "revision {rev} after {last}");
        last = rev;
    }
    let deleted = store.delete(&format!("{p}k0")).await.expect("delete");
    assert!(deleted.revision > last);
}

pub async fn txn_compare_and_swap<S: Store>(store: &S, p: &str) {
    let key = format!("{p}cas");
    let create = |v: &[u8]| Txn {
        compares: vec![Compare::Absent { key: key.clone() }],
        success: vec![TxnOp::Put {
            key: key.clone(),
            value: v.to_vec(),
            lease: None,
        }],
        failure: vec![TxnOp::Put {
            key: format!("{p}lost"),
            value: v.to_vec(),
            lease: None,
        }],
    };
    let first = store.txn(create(b"first")).await.expect("txn");
    assert!(first.succeeded);
    let second = store.txn(create(b"second")).await.expect("txn");
    assert!(
        !second.succeeded,
        "absent compare must fail on an existing key"
    );
    assert!(second.revision > first.revision, "the failure branch wrote");
    let lost = store
        .get(&format!("{p}lost"))
        .await
        .expect("get")
        .0
        .expect("failure branch ran");
    assert_eq!(lost.value, b"second");

    let mod_rev = |rev| Txn {
        compares: vec![Compare::ModRevision {
            key: key.clone(),
            revision: rev,
        }],
        success: vec![TxnOp::Delete { key: key.clone() }],
        failure: vec![],
    };
    let stale = store.txn(mod_rev(first.revision - 1)).await.expect("txn");
    assert_eq!(
        (stale.succeeded, stale.revision),
        (false, second.revision),
        "no write, same revision"
    );
    assert!(
        store
            .txn(mod_rev(first.revision))
            .await
            .expect("txn")
            .succeeded
    );

    let value_cmp = Txn {
        compares: vec![Compare::Value {
            key: format!("{p}lost"),
            value: b"second".to_vec(),
        }],
        success: vec![TxnOp::DeletePrefix {
            prefix: format!("{p}lo"),
        }],
        failure: vec![],
    };
    assert!(store.txn(value_cmp).await.expect("txn").succeeded);
    assert_eq!(store.range(p).await.expect("range").0, vec![]);

    let rev = store
        .compare_and_put(&key, None, b"v".to_vec(), None)
        .await
        .expect("cas create");
    let conflict = store
        .compare_and_put(&key, Some(rev - 1), b"w".to_vec(), None)
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { .. })),
        "{conflict:?}"
    );
    store
        .compare_and_put(&key, Some(rev), b"w".to_vec(), None)
        .await
        .expect("cas update");
}

/// 8 writers increment one counter with read + CAS; no update is lost.
pub async fn txn_cas_concurrent_counter<S: Store + Clone>(store: &S, p: &str) {
    let key = format!("{p}counter");
    let successes = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (store, key, successes) = (store.clone(), key.clone(), successes.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    let (kv, _) = store.get(&key).await.expect("get");
                    let (n, rev) = kv.map_or((0, 0), |kv| (decode(&kv.value), kv.mod_revision));
                    let txn = Txn {
                        compares: vec![Compare::ModRevision {
                            key: key.clone(),
                            revision: rev,
                        }],
                        success: vec![TxnOp::Put {
                            key: key.clone(),
                            value: (n + 1).to_string().into_bytes(),
                            lease: None,
                        }],
                        failure: vec![],
                    };
                    if store.txn(txn).await.expect("txn").succeeded {
                        successes.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }
    let final_value = decode(
        &store
            .get(&key)
            .await
            .expect("get")
            .0
            .expect("counter")
            .value,
    );
    let successes = successes.load(Ordering::SeqCst);
    assert!(successes >= 25, "some CAS must win ({successes})");
    assert_eq!(
        final_value, successes,
        "every successful CAS counted exactly once"
    );
}

fn decode(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("counter value")
}

pub async fn put_batch_is_one_revision<S: Store>(store: &S, p: &str) {
    let items = (0..100)
        .map(|i| (format!("{p}{i:03}"), vec![i as u8], None))
        .collect();
    let rev = store.put_batch(items).await.expect("put_batch");
    let (kvs, _) = store.range(p).await.expect("range");
    assert_eq!(kvs.len(), 100);
    assert!(kvs.iter().all(|kv| kv.mod_revision == rev));
}
