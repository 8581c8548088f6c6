//! Turning one job's [`Writes`] into store transactions that etcd accepts.
//!
//! etcd refuses a transaction whose compare list or either branch holds more
//! than `--max-txn-ops` entries (default 128). Its check is
//! `max(len(compare), len(success), len(failure)) <= max_txn_ops`: the three
//! lists are limited separately, not summed (etcd-io/etcd
//! `server/etcdserver/api/v3rpc/key.go`, `checkTxnRequest`). A big job (web x
//! 100, or 20 services x 10) needs more than one transaction, so the writes
//! are cut into chunks that each fit, and every chunk is a compare-and-swap
//! of its own:
//! - it compares the job record's mod revision (absence after `down`), so a
//!   changed job refuses every chunk not yet applied;
//! - it compares each of its allocations on the revision the plan read
//!   (absence for a new one), so a concurrent writer of any of them refuses
//!   the chunk;
//! - under leader election it also compares the leader key (the fence), so a
//!   controller that lost leadership cannot write at all.
//!
//! Why a partially applied plan is safe: each chunk is a subset of a plan
//! that was valid for the state read, and applying it moves only the keys it
//! compared. If a later chunk is refused, the controller neither retries nor
//! resumes the old plan: it reads the store again and recomputes from what is
//! actually stored, exactly as after a refused single transaction. Chunks go
//! in the order deletes, changes of existing allocations (stops, suspends),
//! then new placements, so any prefix of a plan frees capacity before it uses
//! any: a node is never over-committed in the store, even between chunks.

use crate::evaluate::Writes;
use crate::ControlError;
use skiff_store::{Compare, Revision, Txn, TxnOp};

/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = skiff_store::MAX_TXN_OPS;

/// One guarded change: the compare it rests on and the ops it needs.
struct Item {
    compare: Compare,
    ops: Vec<TxnOp>,
}

fn guard(key: &str, expected: Option<Revision>) -> Compare {
    match expected {
        Some(revision) => Compare::ModRevision {
            key: key.to_owned(),
            revision,
        },
        None => Compare::Absent {
            key: key.to_owned(),
        },
    }
}

/// The items of `w`: deletes, then changes of stored allocations, then new ones.
fn items(w: &Writes) -> Result<Vec<Item>, ControlError> {
    let mut out = Vec::with_capacity(w.puts.len() + w.deletes.len());
    for (key, revision, status) in &w.deletes {
        out.push(Item {
            compare: guard(key, Some(*revision)),
            ops: vec![
                TxnOp::Delete { key: key.clone() },
                TxnOp::Delete {
                    key: status.clone(),
                },
            ],
        });
    }
    let (changes, places): (Vec<_>, Vec<_>) = w.puts.iter().partition(|(_, _, e)| e.is_some());
    for (key, alloc, expected) in changes.into_iter().chain(places) {
        let value = serde_json::to_vec(alloc).map_err(|e| ControlError::Record {
            key: key.clone(),
            msg: e.to_string(),
        })?;
        out.push(Item {
            compare: guard(key, *expected),
            ops: vec![TxnOp::Put {
                key: key.clone(),
                value,
                lease: None,
            }],
        });
    }
    Ok(out)
}

/// The transactions that apply `w`, in order, each within `max_ops` by
/// etcd's rule, each guarded by the job record, its own allocations and
/// `fence` (the leader key) if given.
pub fn txns(w: &Writes, max_ops: usize, fence: Option<&Compare>) -> Result<Vec<Txn>, ControlError> {
    let (job_key, job_rev) = &w.job;
    let mut base = vec![guard(job_key, *job_rev)];
    base.extend(fence.cloned());
    // One item needs one compare beside the base ones and up to two ops.
    if max_ops < base.len() + 1 || max_ops < 2 {
        return Err(ControlError::Invalid(format!(
            "max_txn_ops {max_ops} is too small: a transaction needs room for {} compares and 2 operations",
            base.len() + 1
        )));
    }
    let mut out = Vec::new();
    let mut t = Txn {
        compares: base.clone(),
        ..Default::default()
    };
    for item in items(w)? {
        let full = t.compares.len() + 1 > max_ops || t.success.len() + item.ops.len() > max_ops;
        if full {
            out.push(std::mem::replace(
                &mut t,
                Txn {
                    compares: base.clone(),
                    ..Default::default()
                },
            ));
        }
        t.compares.push(item.compare);
        t.success.extend(item.ops);
    }
    if !t.success.is_empty() {
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{AllocId, Allocation, DesiredState};

    fn alloc(i: usize) -> Allocation {
        Allocation {
            id: AllocId(format!("j.web.{i}.1")),
            job: "j".into(),
            service: "web".into(),
            index: i as u32,
            generation: 1,
            node: "n1".into(),
            resources: Default::default(),
            class: Default::default(),
            priority: 0,
            spec_hash: 0,
            desired: DesiredState::Run,
            status: Default::default(),
        }
    }

    /// `places` new allocations, `stops` changed ones, `deletes` collected ones.
    fn writes(places: usize, stops: usize, deletes: usize) -> Writes {
        let mut w = Writes {
            job: ("/skiff/jobs/j".into(), Some(7)),
            ..Default::default()
        };
        for i in 0..places {
            w.puts.push((format!("/a/p{i}"), alloc(i), None));
        }
        for i in 0..stops {
            let mut a = alloc(i);
            a.desired = DesiredState::Stop;
            w.puts.push((format!("/a/s{i}"), a, Some(3)));
        }
        for i in 0..deletes {
            w.deletes.push((format!("/a/d{i}"), 4, format!("/s/d{i}")));
        }
        w
    }

    fn key_of(op: &TxnOp) -> &str {
        match op {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } => key,
            TxnOp::DeletePrefix { prefix } => prefix,
        }
    }

    /// etcd's `checkTxnRequest`, and every chunk guarded by the job and fence.
    fn check(txns: &[Txn], max: usize, fence: Option<&Compare>) {
        for t in txns {
            assert!(t.compares.len().max(t.success.len()).max(t.failure.len()) <= max);
            assert_eq!(
                t.compares[0],
                Compare::ModRevision {
                    key: "/skiff/jobs/j".into(),
                    revision: 7
                }
            );
            if let Some(f) = fence {
                assert_eq!(&t.compares[1], f);
            }
        }
    }

    #[test]
    fn a_small_job_is_one_transaction() {
        let t = txns(&writes(3, 1, 1), 128, None).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].compares.len(), 1 + 5);
        assert_eq!(t[0].success.len(), 3 + 1 + 2);
    }

    #[test]
    fn big_plans_are_cut_to_etcds_limit_and_keep_every_write_once() {
        let fence = Compare::ModRevision {
            key: "/skiff/controller/leader".into(),
            revision: 2,
        };
        for (p, s, d) in [(150, 0, 0), (0, 0, 150), (100, 60, 70), (126, 0, 0)] {
            for fence in [None, Some(&fence)] {
                let w = writes(p, s, d);
                let t = txns(&w, 128, fence).unwrap();
                check(&t, 128, fence);
                let ops: Vec<&str> = t.iter().flat_map(|t| &t.success).map(key_of).collect();
                assert_eq!(ops.len(), p + s + 2 * d);
                let unique: std::collections::BTreeSet<_> = ops.iter().collect();
                assert_eq!(unique.len(), ops.len());
                // Every write is compared in the chunk that makes it.
                for t in &t {
                    let guarded = t.compares.len() - 1 - usize::from(fence.is_some());
                    let puts = t.success.iter().filter(|o| matches!(o, TxnOp::Put { .. }));
                    let deletes = (t.success.len() - puts.count()) / 2;
                    assert_eq!(guarded, t.success.len() - deletes);
                }
            }
        }
        // 126 puts + the job compare fill exactly one transaction of 127.
        assert_eq!(txns(&writes(126, 0, 0), 128, None).unwrap().len(), 1);
        assert_eq!(txns(&writes(128, 0, 0), 128, None).unwrap().len(), 2);
    }

    #[test]
    fn deletes_then_stops_then_places() {
        let t = txns(&writes(5, 5, 5), 4, None).unwrap();
        check(&t, 4, None);
        let order: Vec<char> = t
            .iter()
            .flat_map(|t| &t.success)
            .map(|o| key_of(o).chars().nth(3).unwrap())
            .collect();
        let first = |c| order.iter().position(|&x| x == c).unwrap();
        let last = |c| order.iter().rposition(|&x| x == c).unwrap();
        assert!(last('d') < first('s') && last('s') < first('p'));
    }

    #[test]
    fn a_limit_too_small_is_an_error_not_a_loop() {
        let fence = Compare::Absent { key: "/l".into() };
        assert!(txns(&writes(1, 0, 0), 2, Some(&fence)).is_err());
        assert!(txns(&writes(1, 0, 0), 1, None).is_err());
        assert_eq!(txns(&writes(0, 0, 3), 2, None).unwrap().len(), 3);
    }

    #[test]
    fn nothing_to_write_is_no_transaction() {
        assert!(txns(&writes(0, 0, 0), 128, None).unwrap().is_empty());
    }
}
