//! Scale-down and rolling restart under constant load with the drain API:
//! remove an instance, wait for the ack and its drain, then kill it. No
//! client request may fail.

mod common;

use common::*;
use hyper::StatusCode;
use skiff_proxy::{Balance, ProxyConfig};
use skiff_types::service::ServiceUpdate;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

struct Load {
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    progress: Arc<Notify>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// `clients` connections, each sending requests back to back.
fn load(addr: std::net::SocketAddr, clients: usize) -> Load {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = (0..clients)
        .map(|i| {
            let (ok, failed, progress, stop) =
                (ok.clone(), failed.clone(), progress.clone(), stop.clone());
            tokio::spawn(async move {
                let mut c = Client::connect(addr).await.expect("connect");
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    // mix idempotent and non-idempotent requests
                    let method = if matches!((n + i as u64) % 3, 0) {
                        "POST"
                    } else {
                        "GET"
                    };
                    match c.send(method, "/", b"x").await {
                        Ok((StatusCode::OK, _)) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        other => {
                            eprintln!("failed request: {other:?}");
                            failed.fetch_add(1, Ordering::SeqCst);
                            c = Client::connect(addr).await.expect("reconnect");
                        }
                    }
                    progress.notify_waiters();
                    n += 1;
                }
            })
        })
        .collect();
    Load {
        ok,
        failed,
        progress,
        stop,
        tasks,
    }
}

impl Load {
    /// Waits until `more` further requests have succeeded.
    async fn advance(&self, more: u64) {
        let target = self.ok.load(Ordering::SeqCst) + more;
        while self.ok.load(Ordering::SeqCst) < target {
            let n = self.progress.notified();
            if self.ok.load(Ordering::SeqCst) >= target {
                break;
            }
            n.await;
        }
    }

    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.unwrap();
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

async fn remove_drain_kill(p: &TestProxy, revision: u64, b: &TestBackend) {
    p.update(ServiceUpdate::Remove {
        revision,
        id: b.name.clone(),
    })
    .await;
    assert!(
        p.balancer.wait_drained(&b.name).await,
        "{} was removed",
        b.name
    );
    b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_and_rolling_restart_under_load_fail_no_request() {
    for balance in [Balance::RoundRobin, Balance::P2c] {
        let backends = [
            TestBackend::start("a").await,
            TestBackend::start("b").await,
            TestBackend::start("c").await,
        ];
        let p = TestProxy::start(ProxyConfig {
            balance,
            ..ProxyConfig::default()
        })
        .await;
        p.reset(1, backends.iter().map(|b| b.instance()).collect())
            .await;
        let l = load(p.addr, 24);
        l.advance(300).await;

        // scale down 3 -> 1
        remove_drain_kill(&p, 2, &backends[2]).await;
        let c_after = backends[2].hits();
        l.advance(300).await;
        remove_drain_kill(&p, 3, &backends[1]).await;
        l.advance(300).await;
        assert_eq!(
            backends[2].hits(),
            c_after,
            "no request reached c after its drain"
        );

        // rolling restart of the last one: start the new instance, add it,
        // then drain and kill the old one
        let a2 = TestBackend::start("a2").await;
        p.update(ServiceUpdate::Add {
            revision: 4,
            instance: a2.instance(),
        })
        .await;
        l.advance(300).await;
        remove_drain_kill(&p, 5, &backends[0]).await;
        l.advance(300).await;

        let (ok, failed) = l.finish().await;
        assert_eq!(
            failed,
            0,
            "{balance:?}: {failed} failed requests of {}",
            ok + failed
        );
        assert!(a2.hits() > 0);
        assert_eq!(p.balancer.metrics.responses[4].get(), 0, "no 5xx answered");
    }
}
