//! Helpers of the load balancer e2e tests: backends as busybox httpd
//! containers (a page naming them, and a CGI that answers after 300 ms so
//! requests are in flight when a stop comes), a free loopback port, and a
//! minimal HTTP/1.1 client (one request per connection).
#![allow(dead_code)]

use crate::common::{rootfs, Daemon};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs container `name` offering `service:80`: `/` answers `name`,
/// `/cgi-bin/slow` answers `name` after 300 ms.
pub fn backend(d: &Daemon, name: &str, service: &str) -> String {
    let script = format!(
        "mkdir -p /tmp/w/cgi-bin && echo {name} > /tmp/w/index.html && \
         printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nusleep 300000\\necho {name}\\n' > /tmp/w/cgi-bin/slow && \
         chmod +x /tmp/w/cgi-bin/slow && exec httpd -f -p 80 -h /tmp/w"
    );
    let svc = format!("{service}:80");
    d.ok(&[
        "run",
        "-d",
        "--name",
        name,
        "--service",
        &svc,
        "--rootfs",
        rootfs().to_str().expect("utf-8"),
        "sh",
        "-c",
        &script,
    ])
    .trim()
    .to_owned()
}

/// One request; `(status, body)`, or the I/O error.
pub fn request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // Patient: CI machines are loaded; a slow answer is not a failed one.
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = if method == "POST" { "x=1" } else { "" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.trim().to_owned()))
}

/// `GET /` answered 200: the body (the backend's name).
pub fn get_ok(addr: SocketAddr) -> Option<String> {
    match request(addr, "GET", "/") {
        Ok((200, body)) => Some(body),
        _ => None,
    }
}

/// Whether something accepts connections on `addr` inside container `name`
/// (busybox wget through the container's own loopback).
pub fn fetch_in(d: &Daemon, name: &str, url: &str) -> Option<String> {
    let out = d.skiff(&["exec", name, "timeout", "10", "wget", "-qO-", url]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
