//! End-to-end: the daemon's registry on a real etcd started by the test.
//! One member: the same health-gated behaviour, and a kill -9'd daemon's
//! instance expires with its lease. Three members: one member down changes
//! nothing; quorum lost -> registry calls fail fast with "store unavailable"
//! while containers keep running; members back -> everything catches up with
//! no manual step. FAILS (never skips) without the etcd binary.

mod common;
mod services_support;

use common::{need_root, Daemon};
use services_support::*;
use skiff_registry::Registry;
use skiff_store::etcd_server::EtcdCluster;
use skiff_types::ServiceUpdate;
use std::sync::Arc;

#[test]
fn daemon_on_etcd_registers_healthy_and_expires_after_kill_9() {
    if !need_root("daemon_on_etcd_registers_healthy_and_expires_after_kill_9") {
        return;
    }
    let cluster = EtcdCluster::start(1).unwrap_or_else(|e| panic!("{e}"));
    let store = cluster.store_url();
    let mut d = Daemon::start_with(&["--store", &store, "--node", "e2e-etcd", "--node-ttl", "2"]);
    let w = Watcher::start(&d, "web");
    assert!(matches!(w.next(), ServiceUpdate::Reset { instances, .. } if instances.is_empty()));
    let id = run_checked(&d, "web1", "web");
    d.ok(&["exec", "web1", "touch", "/tmp/ok"]);
    assert!(is_add_of(&w.next(), &id));
    d.ok(&["exec", "web1", "rm", "/tmp/ok"]);
    assert!(is_remove_of(&w.next(), &id));
    d.ok(&["exec", "web1", "touch", "/tmp/ok"]);
    assert!(is_add_of(&w.next(), &id));
    drop(w);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let reg = Registry::new(Arc::new(cluster.connect().await.unwrap()));
        let mut watch = reg.watch("web", None).await.unwrap();
        let first = watch.next().await.unwrap().unwrap();
        assert!(
            matches!(first, ServiceUpdate::Reset { ref instances, .. } if instances.len() == 1)
        );
        d.kill9();
        let gone = tokio::time::timeout(PATIENCE, watch.next()).await.unwrap();
        assert!(is_remove_of(&gone.unwrap().unwrap(), &id));
    });
}

#[test]
fn daemon_rides_out_etcd_member_and_quorum_loss() {
    if !need_root("daemon_rides_out_etcd_member_and_quorum_loss") {
        return;
    }
    let mut cluster = EtcdCluster::start(3).unwrap_or_else(|e| panic!("{e}"));
    let store = cluster.store_url();
    let d = Daemon::start_with(&["--store", &store, "--node", "e2e-3"]);
    run_unchecked(&d, "a1", "alpha");
    wait_until("alpha is registered", || {
        service_names(&d).contains(&"alpha".into())
    });

    cluster.kill(0);
    run_unchecked(&d, "b1", "beta");
    wait_until("beta is registered with one member down", || {
        service_names(&d).contains(&"beta".into())
    });

    cluster.kill(1);
    let out = d.skiff(&["services"]);
    assert!(
        !out.status.success(),
        "no quorum: `skiff services` must fail"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store unavailable"), "{err}");
    // Containers are not the registry's hostages.
    let ps = d.ok(&["ps"]);
    assert!(ps.contains("a1") && ps.contains("b1"), "{ps}");
    d.ok(&["stop", "-t", "1", "b1"]);
    run_unchecked(&d, "c1", "gamma");

    cluster.restart(0).unwrap();
    cluster.restart(1).unwrap();
    wait_until("the registry caught up after quorum came back", || {
        let names = service_names(&d);
        names.contains(&"alpha".into())
            && names.contains(&"gamma".into())
            && !names.contains(&"beta".into())
    });
}
