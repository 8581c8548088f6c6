//! Conformance cases for watches: Reset first, exactly-once in-order delivery
//! under concurrent writers, replay from an old revision, relist after
//! compaction.

use std::collections::HashSet;

use super::next_event;
use crate::{Store, StoreError, Txn, TxnOp, WatchEvent};

fn expect_reset(event: WatchEvent) -> (Vec<crate::KeyValue>, i64) {
    match event {
        WatchEvent::Reset { kvs, revision } => (kvs, revision),
        other => panic!("expected Reset, got {other:?}"),
    }
}

pub async fn starts_with_reset_then_changes<S: Store>(store: &S, p: &str) {
    store
        .put(&format!("{p}a"), b"1".to_vec(), None)
        .await
        .expect("put");
    let rev = store
        .put(&format!("{p}b"), b"2".to_vec(), None)
        .await
        .expect("put");
    store
        .put(&format!("{p}-other"), b"x".to_vec(), None)
        .await
        .expect("put outside");
    let mut watch = store
        .watch(&format!("{p}/"), None)
        .await
        .expect("watch empty prefix");
    assert_eq!(expect_reset(next_event(&mut watch).await).0, vec![]);

    let mut watch = store.watch(p, None).await.expect("watch");
    let (kvs, reset_rev) = expect_reset(next_event(&mut watch).await);
    assert_eq!(kvs.len(), 3);
    assert!(reset_rev > rev);

    let txn = Txn {
        compares: vec![],
        success: vec![
            TxnOp::Put {
                key: format!("{p}c"),
                value: b"3".to_vec(),
                lease: None,
            },
            TxnOp::Delete {
                key: format!("{p}a"),
            },
        ],
        failure: vec![],
    };
    let txn_rev = store.txn(txn).await.expect("txn").revision;
    match next_event(&mut watch).await {
        WatchEvent::Put(kv) => assert_eq!((kv.key, kv.mod_revision), (format!("{p}c"), txn_rev)),
        other => panic!("expected Put c, got {other:?}"),
    }
    let delete = WatchEvent::Delete {
        key: format!("{p}a"),
        revision: txn_rev,
    };
    assert_eq!(next_event(&mut watch).await, delete);
}

/// 4 writers x 200 puts; the watcher sees all 800, each once, in order.
pub async fn many_writers_exactly_once_in_order<S: Store + Clone>(store: &S, p: &str) {
    const WRITERS: usize = 4;
    const PUTS: usize = 200;
    let mut watch = store.watch(p, None).await.expect("watch");
    let (_, reset_rev) = expect_reset(next_event(&mut watch).await);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, p) = (store.clone(), p.to_owned());
            tokio::spawn(async move {
                for i in 0..PUTS {
                    store
                        .put(&format!("{p}w{w}/{i}"), vec![w as u8], None)
                        .await
                        .expect("put");
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut last = reset_rev;
    while seen.len() < WRITERS * PUTS {
        match next_event(&mut watch).await {
            WatchEvent::Put(kv) => {
                assert!(
                    kv.mod_revision > last,
                    "in order: {} after {last}",
                    kv.mod_revision
                );
                last = kv.mod_revision;
                assert!(
                    seen.insert(kv.key.clone()),
                    "duplicate event for {}",
                    kv.key
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for writer in writers {
        writer.await.expect("writer task");
    }
    let marker = store
        .put(&format!("{p}end"), vec![], None)
        .await
        .expect("put marker");
    match next_event(&mut watch).await {
        WatchEvent::Put(kv) => assert_eq!(kv.mod_revision, marker, "nothing extra delivered"),
        other => panic!("unexpected {other:?}"),
    }
}

pub async fn from_old_revision_replays_history<S: Store>(store: &S, p: &str) {
    let (a, b, c) = (format!("{p}a"), format!("{p}b"), format!("{p}c"));
    store.put(&a, b"1".to_vec(), None).await.expect("put a");
    let r2 = store.put(&b, b"2".to_vec(), None).await.expect("put b");
    let r3 = store.delete(&a).await.expect("delete a").revision;
    let r4 = store.put(&c, b"3".to_vec(), None).await.expect("put c");
    let r5 = store.put(&b, b"22".to_vec(), None).await.expect("update b");

    let mut watch = store.watch(p, Some(r2)).await.expect("watch from r2");
    let (kvs, rev) = expect_reset(next_event(&mut watch).await);
    assert_eq!(rev, r2);
    let state: Vec<_> = kvs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(
        state,
        vec![(a.clone(), b"1".to_vec()), (b.clone(), b"2".to_vec())]
    );
    assert_eq!(
        next_event(&mut watch).await,
        WatchEvent::Delete {
            key: a,
            revision: r3
        }
    );
    assert!(matches!(next_event(&mut watch).await, WatchEvent::Put(kv) if kv.mod_revision == r4));
    assert!(matches!(next_event(&mut watch).await, WatchEvent::Put(kv) if kv.mod_revision == r5));

    let future = store.watch(p, Some(r5 + 1000)).await;
    assert!(
        matches!(future, Err(StoreError::Invalid { .. })),
        "future revision: {future:?}"
    );
}

pub async fn from_compacted_revision_resets<S: Store>(store: &S, p: &str) {
    let key = format!("{p}x");
    let old = store.put(&key, b"1".to_vec(), None).await.expect("put");
    store.put(&key, b"2".to_vec(), None).await.expect("put");
    let current = store.put(&key, b"3".to_vec(), None).await.expect("put");
    store.compact(current).await.expect("compact");
    let again = store.compact(current).await;
    assert!(
        matches!(again, Err(StoreError::Compacted { .. })),
        "{again:?}"
    );
    let future = store.compact(current + 1000).await;
    assert!(
        matches!(future, Err(StoreError::Invalid { .. })),
        "{future:?}"
    );

    let mut watch = store
        .watch(p, Some(old))
        .await
        .expect("watch from compacted");
    let (kvs, rev) = expect_reset(next_event(&mut watch).await);
    assert!(rev >= current, "relisted at {rev}, not the compacted {old}");
    assert_eq!(kvs.len(), 1);
    assert_eq!(kvs[0].value, b"3");
    let next = store.put(&key, b"4".to_vec(), None).await.expect("put");
    assert!(matches!(next_event(&mut watch).await, WatchEvent::Put(kv) if kv.mod_revision == next));
}
