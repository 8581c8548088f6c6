//! What a node says about itself: the record under `/skiff/nodes/<node>`
//! (written by the node's daemon under its lease, read by the controller),
//! the offer it publishes there (allocatable capacity and labels), and the
//! pure parsers and formatters for the daemon's `--node-*` flags.
//!
//! Capacity is what the scheduler may hand out on the node, Nomad's
//! "allocatable" (Kubernetes' `status.allocatable`): placements are charged
//! their reservation against it.

use crate::alloc::Capacity;
use crate::resources::{parse_cpus, parse_memory_size, SizeError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What `/skiff/nodes/<node>` holds.
///
/// Records written before nodes published capacity carry neither
/// `capacity` nor `labels`; they decode with `capacity: None`, which the
/// controller treats as unmeasured (room for anything), as it did then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node: String,
    /// Lease TTL in milliseconds (how long after a crash its instances linger).
    pub ttl_ms: u64,
    /// Allocatable cpu and memory; `None` = not published (older daemons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What a node offers the scheduler (published in its [`NodeRecord`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeOffer {
    pub capacity: Option<Capacity>,
    pub labels: BTreeMap<String, String>,
}

/// Why a `--node-*` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeFlagError {
    #[error("--node-cpu: {0}")]
    Cpu(SizeError),
    #[error("--node-cpu {0:?}: at least 0.001 (one milli-CPU)")]
    CpuTooSmall(String),
    #[error("--node-memory: {0}")]
    Memory(SizeError),
    #[error("--node-label {0:?}: want KEY=VALUE with a non-empty KEY of letters, digits, '.', '_', '-', '/'")]
    Label(String),
    #[error("--node-label {0:?} given twice")]
    DuplicateLabel(String),
}

/// `--node-cpu 1.5` -> 1500 milli-CPUs.
pub fn parse_node_cpu(s: &str) -> Result<u64, NodeFlagError> {
    let milli = parse_cpus(s).map_err(NodeFlagError::Cpu)? / 1_000_000;
    if milli == 0 {
        return Err(NodeFlagError::CpuTooSmall(s.to_string()));
    }
    Ok(milli)
}

/// `--node-memory 256m` -> bytes (at least Docker's 6 MiB floor).
pub fn parse_node_memory(s: &str) -> Result<u64, NodeFlagError> {
    parse_memory_size(s).map_err(NodeFlagError::Memory)
}

/// `--node-label k=v` (repeatable) -> the label map; a key given twice is
/// refused rather than silently overwritten.
pub fn parse_node_labels(items: &[String]) -> Result<BTreeMap<String, String>, NodeFlagError> {
    let mut labels = BTreeMap::new();
    for item in items {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| NodeFlagError::Label(item.clone()))?;
        let key_ok = !k.is_empty()
            && k.len() <= 253
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if !key_ok || v.chars().any(char::is_control) {
            return Err(NodeFlagError::Label(item.clone()));
        }
        if labels.insert(k.to_string(), v.to_string()).is_some() {
            return Err(NodeFlagError::DuplicateLabel(k.to_string()));
        }
    }
    Ok(labels)
}

/// `1500` -> `1500m`: milli-CPUs as Kubernetes writes them.
pub fn format_cpu_milli(milli: u64) -> String {
    format!("{milli}m")
}

/// Bytes in binary units, exact where possible: `256MiB`, `1.5GiB`, `100B`.
pub fn format_memory(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v.fract() == 0.0 {
        format!("{v}{}", UNITS[unit])
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_memory_flags_parse() {
        assert_eq!(parse_node_cpu("1.5"), Ok(1500));
        assert_eq!(parse_node_cpu("0.25"), Ok(250));
        assert_eq!(parse_node_cpu("2"), Ok(2000));
        for bad in ["", "0", "-1", "abc", "1.5x", "nan"] {
            assert!(parse_node_cpu(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_node_cpu("0.0001"),
            Err(NodeFlagError::CpuTooSmall(_))
        ));
        assert_eq!(parse_node_memory("256m"), Ok(256 << 20));
        assert_eq!(parse_node_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_node_memory("8388608"), Ok(8 << 20));
        for bad in ["", "1x", "-5m", "1k", "m"] {
            assert!(parse_node_memory(bad).is_err(), "{bad}");
        }
        let msg = parse_node_memory("12q").unwrap_err().to_string();
        assert!(
            msg.starts_with("--node-memory: invalid size \"12q\""),
            "{msg}"
        );
    }

    #[test]
    fn labels_parse_strictly() {
        let l = parse_node_labels(&["zone=a".into(), "disk=ssd".into(), "empty=".into()]);
        let l = l.unwrap();
        assert_eq!(l["zone"], "a");
        assert_eq!(l["disk"], "ssd");
        assert_eq!(l["empty"], "");
        assert_eq!(parse_node_labels(&["a=b=c".into()]).unwrap()["a"], "b=c");
        for bad in ["novalue", "=v", "a b=c", "k=\u{7}"] {
            assert_eq!(
                parse_node_labels(&[bad.into()]),
                Err(NodeFlagError::Label(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_node_labels(&["z=a".into(), "z=b".into()]),
            Err(NodeFlagError::DuplicateLabel("z".into()))
        );
    }

    #[test]
    fn old_records_decode_without_capacity() {
        let old: NodeRecord = serde_json::from_str(r#"{"node":"n1","ttl_ms":10000}"#).unwrap();
        assert_eq!(old.capacity, None);
        assert!(old.labels.is_empty());
        let new = NodeRecord {
            capacity: Some(Capacity::new(1000, 256 << 20)),
            labels: [("zone".to_string(), "a".to_string())].into(),
            ..old.clone()
        };
        let json = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<NodeRecord>(&json).unwrap(), new);
        // An unpublished offer writes the old shape exactly.
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"node":"n1","ttl_ms":10000}"#
        );
    }

    #[test]
    fn amounts_format_for_people() {
        assert_eq!(format_cpu_milli(400), "400m");
        assert_eq!(format_memory(256 << 20), "256MiB");
        assert_eq!(format_memory(3 << 29), "1.5GiB");
        assert_eq!(format_memory(100), "100B");
    }
}
