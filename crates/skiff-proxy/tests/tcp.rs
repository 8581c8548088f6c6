//! TCP mode and the ambassador with real connections on 127.0.0.1.

mod common;

use common::inst;
use skiff_proxy::{Ambassador, Mode, Proxy, ProxyConfig};
use skiff_types::service::ServiceUpdate;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A TCP server that greets with its name and then echoes.
async fn greeter(name: &'static str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let t = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut s, _)) = l.accept().await {
            conns.spawn(async move {
                if s.write_all(format!("{name}\n").as_bytes()).await.is_err() {
                    return;
                }
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, t)
}

async fn hello(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "closed");
        line.push(b[0]);
    }
    String::from_utf8(line).unwrap().trim().to_string()
}

async fn echo(s: &mut TcpStream, msg: &[u8]) {
    s.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

#[tokio::test]
async fn tcp_mode_pipes_bytes_and_retries_refused_connects() {
    let (good, _t) = greeter("good").await;
    let refused = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = ProxyConfig {
        mode: Mode::Tcp,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), "echo", cfg)
        .await
        .unwrap();
    let (addr, bal) = (proxy.local_addr(), proxy.balancer());
    bal.apply(ServiceUpdate::Reset {
        revision: 1,
        instances: vec![inst("a-refused", refused), inst("b-good", good)],
    });
    let _run = tokio::spawn(proxy.run());
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(hello(&mut s).await, "good");
        echo(&mut s, b"ping through the proxy").await;
    }
    assert!(
        bal.metrics.errors[0].get() >= 1,
        "a connect was refused and retried"
    );
}

#[tokio::test]
async fn tcp_mode_closes_the_client_when_no_backend() {
    let cfg = ProxyConfig {
        mode: Mode::Tcp,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), "echo", cfg)
        .await
        .unwrap();
    let addr = proxy.local_addr();
    let _run = tokio::spawn(proxy.run());
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    assert!(s
        .read_to_end(&mut buf)
        .await
        .map(|n| n == 0)
        .unwrap_or(true));
}

#[tokio::test]
async fn ambassador_rewires_new_connections_and_keeps_old_ones() {
    let (a, _ta) = greeter("a").await;
    let (b, _tb) = greeter("b").await;
    let (tx, rx) = mpsc::channel(4);
    let amb = Ambassador::start(
        "127.0.0.1:0".parse().unwrap(),
        "db",
        ProxyConfig::default(),
        rx,
    )
    .await
    .unwrap();
    let mut acks = amb.balancer().applied();
    tx.send(ServiceUpdate::Reset {
        revision: 1,
        instances: vec![inst("a", a)],
    })
    .await
    .unwrap();
    acks.wait_for(|r| *r >= 1).await.unwrap();
    let mut old = TcpStream::connect(amb.local_addr()).await.unwrap();
    assert_eq!(hello(&mut old).await, "a");

    tx.send(ServiceUpdate::Reset {
        revision: 2,
        instances: vec![inst("b", b)],
    })
    .await
    .unwrap();
    acks.wait_for(|r| *r >= 2).await.unwrap();
    let mut new = TcpStream::connect(amb.local_addr()).await.unwrap();
    assert_eq!(hello(&mut new).await, "b");
    echo(&mut new, b"to b").await;
    echo(&mut old, b"still to a").await;
    assert_eq!(amb.balancer().current().backends()[0].id, "b");
    let removed_a = amb
        .balancer()
        .current()
        .backends()
        .iter()
        .all(|x| x.id != "a");
    assert!(removed_a);
    drop(old);
    assert!(
        amb.balancer().wait_drained("a").await,
        "a drains once its connection closes"
    );
}
