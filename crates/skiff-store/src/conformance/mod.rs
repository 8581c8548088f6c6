//! The one conformance suite every [`Store`] backend must pass (containerd's
//! snapshotter testsuite pattern). A backend's test supplies a
//! [`StoreFactory`]; [`run_all`] runs every case in sequence, each under its
//! own key prefix so a shared etcd server can serve them all, and panics
//! naming the case that failed.
//!
//! Cases use real time with generous timeouts because etcd's clock cannot be
//! paused; nothing here asserts on speed (benchmarks do that).

mod kv;
mod leases;
mod watches;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Store, Watch, WatchEvent};

/// Builds stores for the suite.
pub trait StoreFactory {
    type Store: Store + Clone;
    /// A store for one case. It may share data with earlier cases (etcd):
    /// cases only touch keys under their own prefix.
    fn store(&self) -> impl Future<Output = Self::Store>;
}

/// Upper bound for any single expected event.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A prefix no other case (or earlier run) uses.
pub fn unique_prefix(case: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("/conformance/{case}/{nanos}/")
}

/// The next item of `watch`, panicking on error, end or timeout.
pub async fn next_event(watch: &mut Watch) -> WatchEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("watch failed: {e}"),
        Ok(None) => panic!("watch ended unexpectedly"),
        Err(_) => panic!("no watch event within {EVENT_TIMEOUT:?}"),
    }
}

macro_rules! run_case {
    ($factory:expr, $case:path) => {{
        let name = stringify!($case);
        eprintln!("conformance: {name} ...");
        let store = $factory.store().await;
        $case(
            &store,
            &unique_prefix(name.rsplit("::").next().unwrap_or(name)),
        )
        .await;
        eprintln!("conformance: {name} ok");
    }};
}

/// Runs every case against stores from `factory`.
pub async fn run_all<F: StoreFactory>(factory: &F) {
    run_case!(factory, kv::get_put_delete_range);
    run_case!(factory, kv::revisions_strictly_increase);
    run_case!(factory, kv::txn_compare_and_swap);
    run_case!(factory, kv::txn_cas_concurrent_counter);
    run_case!(factory, kv::put_batch_is_one_revision);
    run_case!(factory, leases::revoke_deletes_attached_keys);
    run_case!(factory, leases::expiry_deletes_keys_with_events);
    run_case!(factory, leases::keepalive_extends);
    run_case!(factory, watches::starts_with_reset_then_changes);
    run_case!(factory, watches::many_writers_exactly_once_in_order);
    run_case!(factory, watches::from_old_revision_replays_history);
    run_case!(factory, watches::from_compacted_revision_resets);
}
