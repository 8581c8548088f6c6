//! The HTTP proxy under real traffic on 127.0.0.1: routing after updates,
//! retries and their limits, passive health, aborts, upgrades, streaming,
//! headers and metrics.

mod common;

use common::*;
use hyper::StatusCode;
use skiff_proxy::ProxyConfig;
use skiff_types::service::ServiceUpdate;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn no_backend_is_a_fast_503() {
    let p = TestProxy::start(ProxyConfig::default()).await;
    assert_eq!(
        request(p.addr, "GET", "/").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    p.reset(1, vec![]).await;
    let (status, body) = request(p.addr, "POST", "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("no backend for web"), "{body}");
}

#[tokio::test]
async fn added_instance_receives_traffic_and_removed_gets_no_new_requests() {
    let (a, b) = (TestBackend::start("a").await, TestBackend::start("b").await);
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![a.instance()]).await;
    let mut c = Client::connect(p.addr).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            c.send("GET", "/", b"").await.unwrap(),
            (StatusCode::OK, "a".into())
        );
    }
    p.update(ServiceUpdate::Add {
        revision: 2,
        instance: b.instance(),
    })
    .await;
    let mut seen_b = 0;
    for _ in 0..4 {
        let (s, who) = c.send("GET", "/", b"").await.unwrap();
        assert_eq!(s, StatusCode::OK);
        seen_b += (who == "b") as u32;
    }
    assert_eq!(seen_b, 2, "round robin alternates over a and b");
    p.update(ServiceUpdate::Remove {
        revision: 3,
        id: "a".into(),
    })
    .await;
    let before = a.hits();
    for _ in 0..6 {
        assert_eq!(
            c.send("GET", "/", b"").await.unwrap(),
            (StatusCode::OK, "b".into())
        );
    }
    assert_eq!(
        a.hits(),
        before,
        "no request reached a after its removal was acked"
    );
}

#[tokio::test]
async fn killed_mid_request_get_is_retried_and_succeeds() {
    let (dying, dying_hits, _t) = raw_backend(Raw::Close).await;
    let good = TestBackend::start("good").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![inst("a-dying", dying), inst("b-good", good.addr)])
        .await;
    let (status, body) = request(p.addr, "GET", "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "good"));
    assert_eq!(
        dying_hits.load(Ordering::SeqCst),
        1,
        "the first try reached the dying backend"
    );
    assert_eq!(p.balancer.metrics.retries.get(), 1);
}

#[tokio::test]
async fn killed_mid_request_post_is_502_and_executed_at_most_once() {
    let (dying, dying_hits, _t) = raw_backend(Raw::Close).await;
    let good = TestBackend::start("good").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![inst("a-dying", dying), inst("b-good", good.addr)])
        .await;
    let mut c = Client::connect(p.addr).await.unwrap();
    let (status, _) = c.send("POST", "/echo", b"order=1").await.unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        dying_hits.load(Ordering::SeqCst),
        1,
        "the request reached the dying backend"
    );
    assert_eq!(
        good.hits(),
        0,
        "and was not replayed: executed at most once"
    );
}

#[tokio::test]
async fn refused_connection_is_retried_for_any_method() {
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap() // dropped: connections are refused
    };
    let good = TestBackend::start("good").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![inst("a-closed", closed), inst("b-good", good.addr)])
        .await;
    let mut c = Client::connect(p.addr).await.unwrap();
    let (status, body) = c.send("POST", "/echo", b"payload").await.unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "payload"));
    assert_eq!(good.hits(), 1);
}

#[tokio::test]
async fn hung_backend_hits_the_per_try_timeout_and_is_ejected() {
    let (hung, hung_hits, _t) = raw_backend(Raw::Hang).await;
    let good = TestBackend::start("good").await;
    let cfg = ProxyConfig {
        per_try_timeout: Duration::from_secs(1),
        health: skiff_proxy::HealthConfig {
            eject_after: 1,
            base_backoff: Duration::from_secs(3600),
            max_backoff: Duration::from_secs(3600),
        },
        ..ProxyConfig::default()
    };
    let p = TestProxy::start(cfg).await;
    p.reset(1, vec![inst("a-hung", hung), inst("b-good", good.addr)])
        .await;
    let (status, body) = request(p.addr, "GET", "/").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "good"),
        "retried after the timeout"
    );
    assert_eq!(p.balancer.metrics.errors[5].get(), 1, "one per-try timeout");
    let mut c = Client::connect(p.addr).await.unwrap();
    for _ in 0..6 {
        assert_eq!(c.send("GET", "/", b"").await.unwrap().0, StatusCode::OK);
    }
    assert_eq!(
        hung_hits.load(Ordering::SeqCst),
        1,
        "ejected: no further requests"
    );
    let text = skiff_proxy::metrics::render(&p.balancer);
    assert!(
        text.contains("skiff_proxy_backend_ejected{service=\"web\",backend=\"a-hung\""),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("skiff_proxy_backend_ejected{service=\"web\",backend=\"a-hung\""))
        .unwrap();
    assert!(line.ends_with(" 1"), "{line}");
}

#[tokio::test]
async fn mid_response_death_with_content_length_gives_short_body_and_closed_conn() {
    let (addr, _, _t) = raw_backend(Raw::ShortBody).await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![inst("a", addr)]).await;
    let out = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 100"),
        "{head}"
    );
    assert!(
        body.len() < 100,
        "short body then close, got {} bytes",
        body.len()
    );
    assert_eq!(p.balancer.metrics.aborted.get(), 1);
}

#[tokio::test]
async fn mid_response_death_with_chunked_has_no_terminating_chunk() {
    let (addr, _, _t) = raw_backend(Raw::ChunkedCut).await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![inst("a", addr)]).await;
    let out = raw_exchange(p.addr, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{text}"
    );
    assert!(text.contains("first;"), "{text}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "no terminating chunk: {text:?}"
    );
}

#[tokio::test]
async fn chunked_response_is_streamed_not_buffered() {
    let b = TestBackend::start("a").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![b.instance()]).await;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"GET /chunked HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("first;") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    // the backend holds its second chunk until now: the first came through alone
    b.gate.notify_one();
    while !String::from_utf8_lossy(&got).ends_with("0\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).contains("second"));
}

#[tokio::test]
async fn large_streamed_request_body_reaches_the_backend() {
    let b = TestBackend::start("a").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![b.instance()]).await;
    let body: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut req = b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for chunk in body.chunks(50_000) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = raw_exchange(p.addr, &req).await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    let echoed: String = text
        .split_once("\r\n\r\n")
        .unwrap()
        .1
        .split("\r\n")
        .filter(|l| l.len() > 8)
        .collect();
    assert_eq!(echoed.as_bytes(), &body[..]);
}

#[tokio::test]
async fn forwarding_headers_are_set_and_hop_by_hop_removed() {
    let b = TestBackend::start("a").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![b.instance()]).await;
    let out = raw_exchange(
        p.addr,
        b"GET /headers HTTP/1.1\r\nhost: web.skiff\r\nconnection: close, x-secret\r\nx-secret: 1\r\nte: trailers\r\nx-forwarded-for: 198.18.0.7\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.ends_with("xff=198.18.0.7, 127.0.0.1 proto=http host=web.skiff te=- secret=-"),
        "{text}"
    );
}

#[tokio::test]
async fn websocket_upgrade_passes_through() {
    let b = TestBackend::start("ws").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![b.instance()]).await;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    s.write_all(
        b"GET /chat HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).await.unwrap(),
            1,
            "closed before the 101 head ended"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [&b"\x81\x05hello"[..], b"\x81\x05again"] {
        s.write_all(msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg);
    }
}

/// A strict reader of the Prometheus text format: every line is a HELP or
/// TYPE comment or `name{labels} value`, and every histogram's buckets are
/// cumulative and end in `+Inf` equal to `_count`.
fn parse_exposition(text: &str) -> Vec<(String, String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut w = rest.splitn(3, ' ');
            let (kw, name, tail) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap_or(""));
            assert!(kw == "HELP" || kw == "TYPE", "{line}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            if kw == "TYPE" {
                assert!(["counter", "gauge", "histogram"].contains(&tail), "{line}");
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').unwrap_or_else(|| panic!("{line}"))),
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once("=\"")
                .unwrap_or_else(|| panic!("label {pair} in {line}"));
            assert!(
                k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            let _ = v;
        }
        samples.push((name.to_string(), labels.to_string(), value));
    }
    samples
}

#[tokio::test]
async fn metrics_text_parses_and_counts_traffic() {
    let b = TestBackend::start("a").await;
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(7, vec![b.instance()]).await;
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_addr = admin.local_addr().unwrap();
    let _admin = tokio::spawn(skiff_proxy::admin::serve(admin, p.balancer.clone()));
    let mut c = Client::connect(p.addr).await.unwrap();
    for _ in 0..5 {
        assert_eq!(c.send("GET", "/", b"").await.unwrap().0, StatusCode::OK);
    }
    let (status, text) = request(admin_addr, "GET", "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let samples = parse_exposition(&text);
    let value = |name: &str, label_part: &str| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l.contains(label_part))
            .unwrap_or_else(|| panic!("{name} {label_part} missing in\n{text}"))
            .2
    };
    assert_eq!(value("skiff_proxy_requests_total", "web"), 5.0);
    assert_eq!(value("skiff_proxy_responses_total", "2xx"), 5.0);
    assert_eq!(value("skiff_proxy_applied_revision", "web"), 7.0);
    assert_eq!(
        value("skiff_proxy_backend_requests_total", "backend=\"a\""),
        5.0
    );
    assert_eq!(
        value("skiff_proxy_backend_latency_seconds_count", "backend=\"a\""),
        5.0
    );
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, _, _)| n == "skiff_proxy_backend_latency_seconds_bucket")
        .map(|s| s.2)
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative buckets"
    );
    assert_eq!(*buckets.last().unwrap(), 5.0);
    assert_eq!(
        request(admin_addr, "GET", "/nope").await.0,
        StatusCode::NOT_FOUND
    );
}
