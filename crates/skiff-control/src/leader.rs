//! Leader election over the [`Store`] trait, so exactly one controller of a
//! cluster evaluates and writes at a time (without it every daemon runs a
//! controller: compare-and-swap keeps them correct, but they fight).
//!
//! The recipe is etcd's (`client/v3/concurrency/election.go`), reduced to
//! one key: a candidate puts [`LEADER_KEY`] if it is absent, attached to its
//! own lease; whoever's put succeeds is the leader until the key goes away
//! (resigned, revoked, or its lease expired because the holder died or lost
//! the store). The others watch the key and campaign again when it is
//! deleted. A candidate that finds the key on its own lease (a campaign whose
//! reply was lost) is the leader already; one that finds its own name under
//! another lease (its daemon restarted) takes the key over at once rather
//! than waiting out the dead incarnation's lease.
//!
//! ```text
//!   follower --put-if-absent ok--> leader --key deleted / replaced--> follower
//!      ^  |                                   (lease expired, revoked, resigned)
//!      |  +--key held by another: watch until it is deleted--+
//!      +-----------------------------------------------------+
//! ```
//!
//! Leadership is only ever believed, never known: a leader that stalls past
//! its lease may still think it leads. So every write of the controller
//! carries [`Leadership::fence`], a compare on the leader key's revision: once
//! another candidate holds the key, a deposed leader's transactions are
//! refused by the store itself.

use crate::ControlError;
use skiff_store::{Compare, LeaseId, Revision, Store, StoreError, Txn, TxnOp, WatchEvent};
use std::sync::Arc;
use std::time::Duration;

/// The key whose holder is the controller leader.
pub const LEADER_KEY: &str = "/skiff/controller/leader";

/// Pause before re-opening a broken watch (the store is likely unavailable).
const RETRY: Duration = Duration::from_millis(250);

fn ended() -> StoreError {
    StoreError::Unavailable {
        detail: "leader watch ended".into(),
    }
}

/// One candidate: who it is and which key it campaigns for.
#[derive(Clone)]
pub struct Elector {
    store: Arc<dyn Store>,
    key: String,
    id: String,
}

/// Proof of a won campaign: the leader key's revision, to fence writes with.
#[derive(Clone)]
pub struct Leadership {
    store: Arc<dyn Store>,
    key: String,
    revision: Revision,
    lease: LeaseId,
}

impl Elector {
    /// A candidate named `id` (the daemon's node name) for [`LEADER_KEY`].
    pub fn new(store: Arc<dyn Store>, id: impl Into<String>) -> Self {
        Self::with_key(store, LEADER_KEY, id)
    }

    /// A candidate for another key (several elections on one store).
    pub fn with_key(store: Arc<dyn Store>, key: impl Into<String>, id: impl Into<String>) -> Self {
        Elector {
            store,
            key: key.into(),
            id: id.into(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until this candidate holds the key under `lease`. Fails when
    /// the store does (including [`StoreError::LeaseExpired`]: campaign again
    /// with a live lease).
    pub async fn campaign(&self, lease: LeaseId) -> Result<Leadership, ControlError> {
        loop {
            if let Some(revision) = self.try_acquire(lease).await? {
                return Ok(self.leadership(revision, lease));
            }
            self.wait_vacant().await?;
        }
    }

    /// One attempt: the key's revision if this candidate holds it now.
    pub async fn try_acquire(&self, lease: LeaseId) -> Result<Option<Revision>, ControlError> {
        let value = self.id.as_bytes().to_vec();
        match self
            .store
            .compare_and_put(&self.key, None, value, Some(lease))
            .await
        {
            Ok(revision) => return Ok(Some(revision)),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let (kv, _) = self.store.get(&self.key).await?;
        let Some(kv) = kv else { return Ok(None) };
        if kv.lease == Some(lease) {
            return Ok(Some(kv.mod_revision));
        }
        if kv.value != self.id.as_bytes() {
            return Ok(None);
        }
        // Our own previous incarnation (a restarted daemon; one daemon per
        // node): take over now instead of waiting out its lease. Rewriting
        // the key moves its revision, so that incarnation's fence is void.
        let txn = Txn {
            compares: vec![Compare::ModRevision {
                key: self.key.clone(),
                revision: kv.mod_revision,
            }],
            success: vec![TxnOp::Put {
                key: self.key.clone(),
                value: kv.value,
                lease: Some(lease),
            }],
            failure: Vec::new(),
        };
        let done = self.store.txn(txn).await?;
        Ok(done.succeeded.then_some(done.revision))
    }

    /// Who holds the key now (its value), if anyone.
    pub async fn leader(&self) -> Result<Option<String>, ControlError> {
        let (kv, _) = self.store.get(&self.key).await?;
        Ok(kv.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// Deletes the key if this candidate (by name) holds it: a daemon that
    /// stops hands over at once instead of leaving the others to wait out
    /// its lease.
    pub async fn step_down(&self) -> Result<(), ControlError> {
        let txn = Txn {
            compares: vec![Compare::Value {
                key: self.key.clone(),
                value: self.id.as_bytes().to_vec(),
            }],
            success: vec![TxnOp::Delete {
                key: self.key.clone(),
            }],
            failure: Vec::new(),
        };
        self.store.txn(txn).await?;
        Ok(())
    }

    fn leadership(&self, revision: Revision, lease: LeaseId) -> Leadership {
        Leadership {
            store: self.store.clone(),
            key: self.key.clone(),
            revision,
            lease,
        }
    }

    /// Returns once the key is absent (at once if it already is).
    async fn wait_vacant(&self) -> Result<(), ControlError> {
        let mut watch = self.store.watch(&self.key, None).await?;
        loop {
            let event = match watch.next().await {
                Some(Ok(e)) => e,
                Some(Err(e)) => return Err(e.into()),
                None => return Err(ControlError::Store(ended())),
            };
            match event {
                WatchEvent::Reset { kvs, .. } if !kvs.iter().any(|kv| kv.key == self.key) => {
                    return Ok(())
                }
                WatchEvent::Delete { key, .. } if key == self.key => return Ok(()),
                _ => {}
            }
        }
    }
}

impl Leadership {
    /// The compare that holds only while this leadership does.
    pub fn fence(&self) -> Compare {
        Compare::ModRevision {
            key: self.key.clone(),
            revision: self.revision,
        }
    }

    /// The lease the leader key hangs on.
    pub fn lease(&self) -> LeaseId {
        self.lease
    }

    /// Returns once the key no longer holds this leadership (deleted,
    /// expired with its lease, or written by someone else). While the store
    /// is unreachable this keeps trying: the fence guards writes meanwhile.
    pub async fn lost(&self) {
        loop {
            match self.watch_until_lost().await {
                Ok(()) => return,
                Err(_) => tokio::time::sleep(RETRY).await,
            }
        }
    }

    async fn watch_until_lost(&self) -> Result<(), StoreError> {
        let mut watch = self.store.watch(&self.key, None).await?;
        loop {
            let event = match watch.next().await {
                Some(e) => e?,
                None => return Err(ended()),
            };
            let held = match event {
                WatchEvent::Reset { kvs, .. } => kvs
                    .iter()
                    .any(|kv| kv.key == self.key && kv.mod_revision == self.revision),
                WatchEvent::Delete { key, .. } => key != self.key,
                WatchEvent::Put(kv) => kv.key != self.key || kv.mod_revision == self.revision,
            };
            if !held {
                return Ok(());
            }
        }
    }

    /// Gives up leadership now (deletes the key if it is still ours), so a
    /// follower takes over without waiting for the lease to expire.
    pub async fn resign(self) -> Result<(), ControlError> {
        let txn = Txn {
            compares: vec![self.fence()],
            success: vec![TxnOp::Delete { key: self.key }],
            failure: Vec::new(),
        };
        self.store.txn(txn).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_store::MemoryStore;

    async fn two() -> (Arc<dyn Store>, Elector, Elector, LeaseId, LeaseId) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ttl = Duration::from_secs(600);
        let la = store.grant(ttl).await.unwrap().id;
        let lb = store.grant(ttl).await.unwrap().id;
        let a = Elector::new(store.clone(), "a");
        let b = Elector::new(store.clone(), "b");
        (store, a, b, la, lb)
    }

    #[tokio::test]
    async fn first_candidate_wins_and_the_other_takes_over_when_its_lease_goes() {
        let (store, a, b, la, lb) = two().await;
        let lead = a.campaign(la).await.unwrap();
        assert_eq!(a.leader().await.unwrap().as_deref(), Some("a"));
        assert_eq!(b.try_acquire(lb).await.unwrap(), None);
        let b2 = b.clone();
        let follower = tokio::spawn(async move { b2.campaign(lb).await });
        tokio::task::yield_now().await;
        assert!(!follower.is_finished());
        store.revoke(la).await.unwrap();
        lead.lost().await;
        let next = follower.await.unwrap().unwrap();
        assert_eq!(b.leader().await.unwrap().as_deref(), Some("b"));
        assert_ne!(next.fence(), lead.fence());
        assert_eq!(next.lease(), lb);
    }

    #[tokio::test]
    async fn the_same_lease_resumes_its_leadership() {
        let (_, a, _, la, _) = two().await;
        let first = a.campaign(la).await.unwrap();
        let again = a.campaign(la).await.unwrap();
        assert_eq!(first.fence(), again.fence());
    }

    #[tokio::test]
    async fn resigning_hands_over_and_a_stale_fence_is_refused() {
        let (store, a, b, la, lb) = two().await;
        let lead = a.campaign(la).await.unwrap();
        let fence = lead.fence();
        let b2 = b.clone();
        let follower = tokio::spawn(async move { b2.campaign(lb).await });
        lead.clone().resign().await.unwrap();
        lead.lost().await;
        let next = follower.await.unwrap().unwrap();
        // The deposed leader's write is refused; the new leader's goes through.
        let write = |c: Compare| Txn {
            compares: vec![c],
            success: vec![TxnOp::Put {
                key: "/x".into(),
                value: b"1".to_vec(),
                lease: None,
            }],
            failure: Vec::new(),
        };
        assert!(!store.txn(write(fence)).await.unwrap().succeeded);
        assert!(store.txn(write(next.fence())).await.unwrap().succeeded);
        // Resigning a leadership already lost deletes nothing, nor does a
        // step-down of a candidate that does not lead.
        lead.resign().await.unwrap();
        a.step_down().await.unwrap();
        assert_eq!(b.leader().await.unwrap().as_deref(), Some("b"));
        b.step_down().await.unwrap();
        assert_eq!(b.leader().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_restarted_candidate_takes_over_from_its_previous_incarnation() {
        let (store, a, _, la, _) = two().await;
        let before = a.campaign(la).await.unwrap();
        let fresh = store.grant(Duration::from_secs(600)).await.unwrap().id;
        let again = Elector::new(store.clone(), "a");
        let after = again.campaign(fresh).await.unwrap();
        before.lost().await;
        assert_ne!(before.fence(), after.fence());
        let (kv, _) = store.get(LEADER_KEY).await.unwrap();
        assert_eq!(kv.unwrap().lease, Some(fresh));
    }

    #[tokio::test]
    async fn an_expired_lease_cannot_campaign() {
        let (store, a, _, la, _) = two().await;
        store.revoke(la).await.unwrap();
        let err = a.campaign(la).await.err().unwrap();
        assert!(matches!(
            err,
            ControlError::Store(StoreError::LeaseExpired { .. })
        ));
    }
}
