//! Unit tests of the head codec: what a backend and a client receive.

use super::*;

fn req(raw: &str) -> Result<Option<(RequestHead, String)>, HeadError> {
    let mut out = Vec::new();
    Ok(request(raw.as_bytes(), "127.0.0.1", &mut out)?
        .map(|h| (h, String::from_utf8(out).unwrap())))
}

fn get() -> RequestHead {
    req("GET / HTTP/1.1\r\nhost: x\r\n\r\n").unwrap().unwrap().0
}

fn resp(raw: &str, to: &RequestHead) -> Result<Option<(ResponseHead, String)>, HeadError> {
    let mut out = Vec::new();
    Ok(response(raw.as_bytes(), to, &mut out)?.map(|h| (h, String::from_utf8(out).unwrap())))
}

#[test]
fn request_is_rewritten_for_the_backend() {
    let raw = "GET /a?b HTTP/1.1\r\nHost: web.skiff\r\nConnection: keep-alive, x-secret\r\nX-Secret: 1\r\nTE: trailers\r\nAccept: */*\r\nX-Forwarded-For: 198.18.0.7\r\nx-forwarded-for: 198.18.0.8\r\n\r\nNEXT";
    let (h, out) = req(raw).unwrap().unwrap();
    assert_eq!(h.len, raw.len() - 4);
    assert!(h.keep_alive && !h.upgrade && h.body == Framing::None);
    assert_eq!(
        out,
        "GET /a?b HTTP/1.1\r\nHost: web.skiff\r\nAccept: */*\r\nx-forwarded-for: 198.18.0.7, 198.18.0.8, 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: web.skiff\r\n\r\n"
    );
}

#[test]
fn absolute_form_http10_bare_lf_and_framing() {
    let (h, out) = req("GET http://web.skiff:8080?q=1 HTTP/1.0\nAccept: a\n\n")
        .unwrap()
        .unwrap();
    assert!(h.http10 && !h.keep_alive);
    assert_eq!(
        out,
        "GET /?q=1 HTTP/1.1\r\nhost: web.skiff:8080\r\nAccept: a\r\nx-forwarded-for: 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: web.skiff:8080\r\n\r\n"
    );
    let (h, out) = req("POST /u HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n\r\n")
        .unwrap()
        .unwrap();
    assert_eq!(h.body, Framing::Chunked);
    assert!(h.expect_continue);
    assert!(out.ends_with("transfer-encoding: chunked\r\n\r\n") && !out.contains("xpect"));
    let (h, out) =
        req("PUT / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\n")
            .unwrap()
            .unwrap();
    assert_eq!(h.body, Framing::Length(5));
    assert_eq!(out.matches("content-length").count(), 1, "{out}");
}

#[test]
fn bad_and_oversized_requests_are_refused() {
    assert_eq!(
        req("GET / HTTP/1.1\r\nhost: x\r\n")
            .unwrap()
            .map(|r| r.0.len),
        None
    );
    for bad in [
        "GET / HTTP/1.1\r\nbad header\r\n\r\n",
        "GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\ncontent-length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\ntransfer-encoding: chunked, gzip\r\n\r\n",
        "G\x01T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
    ] {
        assert!(matches!(req(bad), Err(HeadError::Bad(_))), "{bad:?}");
    }
    let many: String = (0..MAX_HEADERS + 1)
        .map(|i| format!("x-{i}: v\r\n"))
        .collect();
    let raw = format!("GET / HTTP/1.1\r\n{many}\r\n");
    assert_eq!(req(&raw).unwrap_err(), HeadError::TooLarge);
    let long = format!("GET / HTTP/1.1\r\nx: {}", "a".repeat(MAX_HEAD));
    assert_eq!(req(&long).unwrap_err(), HeadError::TooLarge);
}

#[test]
fn response_keeps_end_to_end_headers_and_restates_framing() {
    let raw = "HTTP/1.1 200 OK\r\nServer: s\r\nConnection: keep-alive\r\nContent-Length: 3\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n\r\nabc";
    let (h, out) = resp(raw, &get()).unwrap().unwrap();
    assert_eq!(h.len, raw.len() - 3);
    assert_eq!(
        (h.status, h.body, h.reusable, h.client_keep_alive),
        (200, Framing::Length(3), true, true)
    );
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 3\r\nX-A: 1\r\n\r\n"
    );
    let (h, out) = resp("HTTP/1.0 200 Fine\r\n\r\n", &get()).unwrap().unwrap();
    assert_eq!(
        (h.body, h.reusable, h.client_keep_alive),
        (Framing::UntilClose, false, false)
    );
    assert_eq!(out, "HTTP/1.1 200 Fine\r\nconnection: close\r\n\r\n");
}

#[test]
fn head_204_304_and_1xx_have_no_body() {
    let head = req("HEAD / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap()
        .unwrap()
        .0;
    let (h, out) = resp("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n", &head)
        .unwrap()
        .unwrap();
    assert_eq!(h.body, Framing::None);
    assert!(
        out.contains("content-length: 99"),
        "HEAD keeps the GET's length: {out}"
    );
    for status in ["204 No Content", "304 Not Modified", "103 Early Hints"] {
        let raw = format!("HTTP/1.1 {status}\r\ntransfer-encoding: chunked\r\n\r\n");
        let (h, out) = resp(&raw, &get()).unwrap().unwrap();
        assert_eq!(h.body, Framing::None, "{status}");
        assert!(!out.contains("chunked"), "{out}");
    }
}

#[test]
fn chunked_response_to_http10_client_is_dechunked_and_closed() {
    let old = req("GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
        .unwrap()
        .unwrap()
        .0;
    assert!(old.keep_alive);
    let raw = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n";
    let (h, out) = resp(raw, &old).unwrap().unwrap();
    assert!(h.dechunk && !h.client_keep_alive && h.reusable);
    assert_eq!(out, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
    let (h, out) = resp(raw, &get()).unwrap().unwrap();
    assert!(!h.dechunk && h.client_keep_alive);
    assert_eq!(out, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
}

#[test]
fn upgrade_survives_both_ways() {
    let (h, out) =
        req("GET /ws HTTP/1.1\r\nhost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
            .unwrap()
            .unwrap();
    assert!(h.upgrade);
    assert!(
        out.ends_with("connection: upgrade\r\nupgrade: websocket\r\n\r\n"),
        "{out}"
    );
    let (r, out) = resp(
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        &h,
    )
    .unwrap()
    .unwrap();
    assert_eq!((r.status, r.body, r.reusable), (101, Framing::None, false));
    assert_eq!(
        out,
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
    );
}
