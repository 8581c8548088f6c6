//! End-to-end: health-gated service registration through a private daemon on
//! the embedded store. A container appears in `skiff services` and the watch
//! stream only once healthy, leaves at its first failed check (retries 1) and
//! at once on stop; registrations survive daemon kill -9 and expire with the
//! node lease when the daemon stays dead, while containers keep running.

mod common;
mod services_support;

use common::{need_root, Daemon};
use services_support::*;
use skiff_registry::Registry;
use skiff_types::ServiceUpdate;
use std::sync::Arc;

#[test]
fn registered_only_while_healthy_removed_when_unhealthy_or_stopped() {
    if !need_root("registered_only_while_healthy_removed_when_unhealthy_or_stopped") {
        return;
    }
    let d = Daemon::start_with(&["--node", "e2e"]);
    let w = Watcher::start(&d, "web");
    assert!(matches!(w.next(), ServiceUpdate::Reset { instances, .. } if instances.is_empty()));
    let id = run_checked(&d, "web1", "web");
    // Not registered while the check fails.
    wait_until("the first probe ran", || {
        d.inspect("web1")["state"]["health"]["log"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    });
    assert!(d.ok(&["ps"]).contains("(unhealthy)"));
    assert!(!service_names(&d).contains(&"web".to_string()));

    d.ok(&["exec", "web1", "touch", "/tmp/ok"]);
    let add = w.next();
    assert!(is_add_of(&add, &id), "{add:?}");
    let ServiceUpdate::Add { instance, .. } = add else {
        unreachable!()
    };
    assert_eq!((instance.port, instance.node.as_str()), (80, "e2e"));
    assert_eq!(instance.addr.to_string(), "127.0.0.1");
    assert!(service_names(&d).contains(&"web".to_string()));
    assert!(d.ok(&["ps"]).contains("(healthy)"));
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["service", "inspect", "web"])).unwrap();
    assert_eq!(info[0]["instances"][0]["id"], instance.id.as_str());

    // Unhealthy: gone at the first failed check (one interval).
    d.ok(&["exec", "web1", "rm", "/tmp/ok"]);
    assert!(is_remove_of(&w.next(), &id));
    let health = &d.inspect("web1")["state"]["health"];
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(
        health["failing_streak"], 1,
        "removed after the first failure"
    );

    d.ok(&["exec", "web1", "touch", "/tmp/ok"]);
    assert!(is_add_of(&w.next(), &id));
    d.ok(&["stop", "-t", "1", "web1"]);
    assert!(is_remove_of(&w.next(), &id));
    assert!(!d.skiff(&["service", "inspect", "web"]).status.success());
}

#[test]
fn registrations_survive_kill_9_and_expire_with_the_lease() {
    if !need_root("registrations_survive_kill_9_and_expire_with_the_lease") {
        return;
    }
    let mut d = Daemon::start_with(&["--node", "e2e", "--node-ttl", "3"]);
    let id = run_unchecked(&d, "api1", "api");
    let pid = d.inspect("api1")["state"]["pid"].as_i64().unwrap() as i32;
    wait_until("api is registered", || {
        service_names(&d).contains(&"api".into())
    });

    // kill -9 and back: the acknowledged registration is still there, at once.
    d.restart();
    let w = Watcher::start(&d, "api");
    match w.next() {
        ServiceUpdate::Reset { instances, .. } => {
            assert!(
                instances.iter().any(|i| i.id.starts_with(&id)),
                "{instances:?}"
            )
        }
        other => panic!("want Reset, got {other:?}"),
    }
    drop(w);

    // kill -9 for good: the lease expires and takes the instance with it.
    d.kill9();
    let db = d.root.path().join("store.redb");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = skiff_store::RedbStore::open(&db).await.unwrap();
        let reg = Registry::new(Arc::new(store));
        let mut watch = reg.watch("api", None).await.unwrap();
        let first = watch.next().await.unwrap().unwrap();
        assert!(
            matches!(first, ServiceUpdate::Reset { ref instances, .. } if instances.len() == 1)
        );
        let gone = tokio::time::timeout(PATIENCE, watch.next()).await.unwrap();
        assert!(is_remove_of(&gone.unwrap().unwrap(), &id));
        assert!(
            reg.nodes().await.unwrap().is_empty(),
            "the node key expired too"
        );
    });
    drop(rt);
    assert!(
        pid_alive(pid),
        "the container kept running without its daemon"
    );
    // The daemon comes back and registers the still-running container again.
    d.restart();
    wait_until("api is registered again", || {
        service_names(&d).contains(&"api".into())
    });
}
