//! The proxy's own HTTP/1.1 codec under real traffic on 127.0.0.1:
//! pipelining, chunked bodies with trailers, bad and oversized heads,
//! messages without a body, 100-continue, and HTTP/1.0 clients.

mod common;

use common::*;
use hyper::StatusCode;
use skiff_proxy::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn proxy_to(b: &TestBackend) -> TestProxy {
    let p = TestProxy::start(ProxyConfig::default()).await;
    p.reset(1, vec![b.instance()]).await;
    p
}

/// The bodies of the responses in `raw`, assuming Content-Length framing.
fn bodies(raw: &[u8]) -> Vec<(String, String)> {
    let mut text = String::from_utf8_lossy(raw).into_owned();
    let mut out = Vec::new();
    while let Some((head, rest)) = text.split_once("\r\n\r\n") {
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let status = head.lines().next().unwrap_or("").to_string();
        out.push((status, rest[..len].to_string()));
        text = rest[len..].to_string();
    }
    out
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let out = raw_exchange(
        p.addr,
        b"GET / HTTP/1.1\r\nhost: x\r\n\r\nPOST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\npingGET /headers HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let got = bodies(&out);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|(s, _)| s.starts_with("HTTP/1.1 200")),
        "{got:?}"
    );
    assert_eq!(got[0].1, "a");
    assert_eq!(got[1].1, "ping");
    assert!(got[2].1.starts_with("xff=127.0.0.1"), "{got:?}");
    assert_eq!(b.hits(), 3);
}

#[tokio::test]
async fn chunked_request_with_trailers_reaches_the_backend() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let out = raw_exchange(
        p.addr,
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: 42\r\n\r\n",
    )
    .await;
    let got = bodies(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "hello world");
}

#[tokio::test]
async fn malformed_chunked_request_body_is_400() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let out = raw_exchange(
        p.addr,
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
}

#[tokio::test]
async fn bad_heads_are_400_and_oversized_heads_431_and_never_reach_a_backend() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    for bad in [
        &b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\nabc",
        b"GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello\r\n\r\n",
    ] {
        let out = raw_exchange(p.addr, bad).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{text}"
        );
    }
    let mut huge = b"GET / HTTP/1.1\r\nhost: x\r\n".to_vec();
    for i in 0..700 {
        huge.extend_from_slice(format!("x-filler-{i}: {}\r\n", "v".repeat(80)).as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    let out = raw_exchange(p.addr, &huge).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 431 "), "{text}");
    assert_eq!(b.hits(), 0);
    assert_eq!(p.balancer.metrics.responses[3].get(), 5, "five 4xx counted");
}

#[tokio::test]
async fn head_204_and_304_have_no_body_and_the_connection_stays_usable() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let mut c = Client::connect(p.addr).await.unwrap();
    for (method, path, want) in [
        ("HEAD", "/", StatusCode::OK),
        ("GET", "/204", StatusCode::NO_CONTENT),
        ("GET", "/304", StatusCode::NOT_MODIFIED),
        ("GET", "/", StatusCode::OK),
    ] {
        let (status, body) = c.send(method, path, b"").await.unwrap();
        assert_eq!(status, want, "{method} {path}");
        let want_body = if method == "GET" && path == "/" {
            "a"
        } else {
            ""
        };
        assert_eq!(body, want_body, "{method} {path}");
    }
    // HEAD keeps the length the GET would have, with no body behind it
    let out = raw_exchange(
        p.addr,
        b"HEAD / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.contains("content-length: 1\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body: {text:?}");
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let mut s = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut interim = vec![0u8; 25];
    s.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim[..], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.unwrap();
    let got = bodies(&rest);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, "hello");
}

#[tokio::test]
async fn http10_client_gets_a_chunked_body_as_plain_data_then_close() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    b.gate.notify_one(); // the backend may send its second chunk at once
    let out = raw_exchange(
        p.addr,
        b"GET /chunked HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
    )
    .await;
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert_eq!(body, "first;second");
}

#[tokio::test]
async fn http10_request_without_host_gets_one_for_the_backend() {
    let b = TestBackend::start("a").await;
    let p = proxy_to(&b).await;
    let out = raw_exchange(p.addr, b"GET http://web.skiff/headers HTTP/1.0\r\n\r\n").await;
    let got = bodies(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].1.contains("host=web.skiff"), "{got:?}");
}
