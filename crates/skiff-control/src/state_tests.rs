//! `State::read` decodes node records into the scheduler's snapshot.

use super::*;
use skiff_store::MemoryStore;

fn record(capacity: Option<Capacity>, labels: &[(&str, &str)]) -> Vec<u8> {
    let rec = NodeRecord {
        node: "x".into(),
        ttl_ms: 10_000,
        capacity,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    serde_json::to_vec(&rec).unwrap()
}

#[tokio::test]
async fn snapshot_carries_published_capacity_and_labels() {
    let store = MemoryStore::new();
    let measured = Capacity::new(1000, 256 << 20);
    let puts = [
        ("a", record(Some(measured), &[("zone", "a")])),
        // Written by a daemon from before capacity was published.
        ("b", br#"{"node":"b","ttl_ms":10000}"#.to_vec()),
        ("c", b"not json".to_vec()),
    ];
    for (node, value) in puts {
        store
            .put(&format!("{NODES}{node}"), value, None)
            .await
            .unwrap();
    }
    let st = State::read(&store).await.unwrap();
    let snap = st.snapshot();
    let by_id: BTreeMap<&str, &Node> = snap.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    assert_eq!(by_id.len(), 3);
    assert_eq!(by_id["a"].capacity, measured);
    assert_eq!(by_id["a"].labels["zone"], "a");
    assert!(by_id["a"].alive);
    assert_eq!(by_id["b"].capacity, UNMEASURED);
    assert!(by_id["b"].labels.is_empty());
    assert_eq!(by_id["c"].capacity, UNMEASURED);
    assert!(by_id.values().all(|n| n.alive));
}

#[test]
fn live_node_decodes_each_record_shape() {
    let n = live_node("n1", &record(Some(Capacity::new(1, 2)), &[]));
    assert_eq!(
        (n.id.as_str(), n.capacity, n.alive),
        ("n1", Capacity::new(1, 2), true)
    );
    assert_eq!(live_node("n1", &record(None, &[])).capacity, UNMEASURED);
    assert_eq!(live_node("n1", b"").capacity, UNMEASURED);
}
