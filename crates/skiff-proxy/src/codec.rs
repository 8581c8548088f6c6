//! HTTP/1.1 message heads for the proxy, parsed with httparse straight from
//! the connection's read buffer and rewritten byte for byte into the head
//! the other side gets, with no header map and no allocation on the way:
//!
//! - requests: origin-form target (absolute-form is split into Host and
//!   path), hop-by-hop headers dropped (RFC 9110 7.6.1 plus every name
//!   listed in `Connection`), X-Forwarded-For/Proto/Host added, framing
//!   re-stated (`content-length` or `transfer-encoding: chunked`), and
//!   `Connection: upgrade` + `Upgrade` kept for a protocol switch;
//! - responses: hop-by-hop dropped, framing decided by RFC 9112 6.3 (HEAD,
//!   1xx, 204 and 304 carry no body; chunked; length; else until close),
//!   and the client connection's own `Connection` answer.
//!
//! Bad heads are errors the caller answers with 400 (request) or 502
//! (response); heads over `MAX_HEAD` bytes or `MAX_HEADERS` fields are
//! `TooLarge` (431 for a request). A request with both Content-Length and
//! Transfer-Encoding, or a transfer coding other than a final chunked, is
//! refused (the request-smuggling cases of RFC 9112 6.1 and 6.3).

use std::io::Write;
use std::mem::MaybeUninit;

/// Longest head accepted, in bytes.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted in one head.
pub const MAX_HEADERS: usize = 100;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the sender closes (responses only).
    UntilClose,
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("malformed message head: {0}")]
    Bad(&'static str),
    #[error("message head too large")]
    TooLarge,
}

/// A parsed client request; its rewritten head is in the caller's buffer.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// Bytes of the head in the input.
    pub len: usize,
    pub method: hyper::Method,
    pub http10: bool,
    /// The client keeps the connection open after this exchange.
    pub keep_alive: bool,
    pub body: Framing,
    /// Asks for a protocol switch (Upgrade + `Connection: upgrade`).
    pub upgrade: bool,
    /// Sent `Expect: 100-continue` (the proxy answers it itself).
    pub expect_continue: bool,
}

/// A parsed backend response; its rewritten head is in the caller's buffer.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub len: usize,
    pub status: u16,
    pub body: Framing,
    /// Forward a chunked body as plain data (the client speaks HTTP/1.0).
    pub dechunk: bool,
    /// The backend keeps the connection open after the body.
    pub reusable: bool,
    /// The client connection stays open after this response.
    pub client_keep_alive: bool,
}

fn is(name: &str, lower: &str) -> bool {
    name.eq_ignore_ascii_case(lower)
}

fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

fn content_length(v: &[u8], seen: &mut Option<u64>) -> Result<(), HeadError> {
    let bad = HeadError::Bad("invalid content-length");
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let n = v.iter().fold(0u64, |n, d| n * 10 + (d - b'0') as u64);
    match *seen {
        Some(prev) if prev != n => Err(bad),
        _ => {
            *seen = Some(n);
            Ok(())
        }
    }
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The headers both heads read alike: body framing (Content-Length,
/// Transfer-Encoding), Connection tokens and Upgrade.
#[derive(Default)]
struct HopHeaders<'a> {
    cl: Option<u64>,
    te: bool,
    te_chunked: bool,
    close: bool,
    ka: bool,
    /// `Connection: upgrade` (requests only act on it).
    conn_upgrade: bool,
    upgrade: Option<&'a [u8]>,
    /// Other Connection tokens: headers to drop as hop-by-hop.
    listed: Listed<'a>,
}

impl<'a> HopHeaders<'a> {
    /// Takes in one header; false when it is none of these.
    fn see(&mut self, n: &str, v: &'a [u8]) -> Result<bool, HeadError> {
        if is(n, "content-length") {
            content_length(v, &mut self.cl)?;
        } else if is(n, "transfer-encoding") {
            self.te = true;
            self.te_chunked = tokens(v)
                .last()
                .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
        } else if is(n, "connection") {
            for t in tokens(v) {
                match () {
                    _ if t.eq_ignore_ascii_case(b"close") => self.close = true,
                    _ if t.eq_ignore_ascii_case(b"keep-alive") => self.ka = true,
                    _ if t.eq_ignore_ascii_case(b"upgrade") => self.conn_upgrade = true,
                    _ => self.listed.add(t),
                }
            }
        } else if is(n, "upgrade") {
            self.upgrade = Some(v);
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}

/// The names a message's `Connection` header lists besides the ones with a
/// meaning of their own; a header with one of them is hop-by-hop.
#[derive(Default)]
struct Listed<'a>(Vec<&'a [u8]>);

impl<'a> Listed<'a> {
    fn add(&mut self, t: &'a [u8]) {
        self.0.push(t);
    }
    fn has(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|t| t.eq_ignore_ascii_case(name.as_bytes()))
    }
}

fn hop_by_hop(name: &str, listed: &Listed) -> bool {
    // the lengths of HOP_BY_HOP's names: most headers are ruled out here
    (matches!(name.len(), 2 | 7 | 10 | 16..=19) && HOP_BY_HOP.iter().any(|h| is(name, h)))
        || (!listed.0.is_empty() && listed.has(name))
}

/// Splits an absolute-form target (`http://host/path`) into authority and
/// origin-form path; other targets come back unchanged.
fn split_target(t: &[u8]) -> (Option<&[u8]>, &[u8]) {
    if t.first() == Some(&b'/') || t == b"*" {
        return (None, t);
    }
    let Some(at) = t.windows(3).position(|w| w == b"://") else {
        return (None, t);
    };
    let rest = &t[at + 3..];
    let end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    (Some(&rest[..end]), &rest[end..])
}

/// Parses a request head at the start of `buf`. `Ok(None)`: incomplete.
/// On success `out` holds the head to send to a backend; `client_ip` is
/// appended to X-Forwarded-For.
pub fn request(
    buf: &[u8],
    client_ip: &str,
    out: &mut Vec<u8>,
) -> Result<Option<RequestHead>, HeadError> {
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError::Bad("request line or header field")),
    };
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(HeadError::Bad("incomplete request line"));
    };
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|_| HeadError::Bad("invalid method"))?;
    let mut seen = HopHeaders::default();
    let (mut host, mut has_proto, mut has_xfh, mut expect) = (None, false, false, false);
    for h in req.headers.iter() {
        let (n, v) = (h.name, h.value);
        if seen.see(n, v)? {
            continue;
        }
        if is(n, "host") {
            host.get_or_insert(v);
        } else if is(n, "x-forwarded-proto") {
            has_proto = true;
        } else if is(n, "x-forwarded-host") {
            has_xfh = true;
        } else if is(n, "expect") {
            expect = v.trim_ascii().eq_ignore_ascii_case(b"100-continue");
        }
    }
    let HopHeaders {
        cl,
        te,
        te_chunked,
        close,
        ka,
        conn_upgrade,
        upgrade,
        listed,
    } = seen;
    let body = match (te, cl) {
        (true, Some(_)) => return Err(HeadError::Bad("both content-length and transfer-encoding")),
        (true, None) if !te_chunked => return Err(HeadError::Bad("transfer coding not chunked")),
        (true, None) => Framing::Chunked,
        (false, Some(n)) if n > 0 => Framing::Length(n),
        (false, _) => Framing::None,
    };
    let http10 = minor == 0;
    let upgrade = upgrade.filter(|_| conn_upgrade && !http10);
    let (authority, path) = split_target(target.as_bytes());
    if authority.is_some_and(|a| a.is_empty()) {
        return Err(HeadError::Bad("empty authority"));
    }
    let had_host = host.is_some();
    let host = host.or(authority);

    out.clear();
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if path.is_empty() { b"/" } else { path });
    if path.first() == Some(&b'?') {
        out.insert(out.len() - path.len(), b'/');
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let (Some(a), false) = (authority, had_host) {
        header(out, b"host", a);
    }
    let mut xff = false;
    copy_lines(buf, req.headers, len, out, |h| {
        let n = h.name;
        !(hop_by_hop(n, &listed)
            || is(n, "content-length")
            || (expect && is(n, "expect"))
            || is(n, "x-forwarded-for"))
    });
    for h in req.headers.iter().filter(|h| is(h.name, "x-forwarded-for")) {
        out.extend_from_slice(if xff { b", " } else { b"x-forwarded-for: " });
        out.extend_from_slice(h.value);
        xff = true;
    }
    out.extend_from_slice(if xff { b", " } else { b"x-forwarded-for: " });
    out.extend_from_slice(client_ip.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !has_proto {
        out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    }
    if let (false, Some(h)) = (has_xfh, host) {
        header(out, b"x-forwarded-host", h);
    }
    match body {
        Framing::Length(n) => {
            let _ = write!(out, "content-length: {n}\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if let Some(u) = upgrade {
        out.extend_from_slice(b"connection: upgrade\r\n");
        header(out, b"upgrade", u);
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(RequestHead {
        len,
        method,
        http10,
        keep_alive: if http10 { ka && !close } else { !close },
        body,
        upgrade: upgrade.is_some(),
        expect_continue: expect && body != Framing::None,
    }))
}

/// Parses a backend's response head to `req` at the start of `buf`.
/// `Ok(None)`: incomplete. On success the head for the client is appended
/// to `out`.
pub fn response(
    buf: &[u8],
    req: &RequestHead,
    out: &mut Vec<u8>,
) -> Result<Option<ResponseHead>, HeadError> {
    let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {
            return Err(HeadError::TooLarge)
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError::Bad("status line or header field")),
    };
    let (Some(status), Some(minor)) = (resp.code, resp.version) else {
        return Err(HeadError::Bad("incomplete status line"));
    };
    let mut seen = HopHeaders::default();
    for h in resp.headers.iter() {
        seen.see(h.name, h.value)?;
    }
    let HopHeaders {
        cl,
        te,
        te_chunked,
        close,
        ka,
        upgrade,
        listed,
        ..
    } = seen;
    let switching = status == 101;
    let no_body = req.method == hyper::Method::HEAD
        || (100..200).contains(&status)
        || status == 204
        || status == 304;
    let body = match (no_body, te, te_chunked, cl) {
        (true, ..) => Framing::None,
        (false, true, true, _) => Framing::Chunked,
        (false, true, false, _) => Framing::UntilClose,
        (false, false, _, Some(n)) => Framing::Length(n),
        (false, false, _, None) => Framing::UntilClose,
    };
    let dechunk = body == Framing::Chunked && req.http10;
    let reusable = !close && (minor == 1 || ka) && body != Framing::UntilClose && !switching;
    let client_keep_alive = req.keep_alive && body != Framing::UntilClose && !dechunk;

    // the status line as sent, as HTTP/1.1
    let first = resp
        .headers
        .first()
        .map_or(head_end(buf, len), |h| line_start(buf, h));
    let from = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line = &buf[(from + 8).min(first)..first];
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    out.extend_from_slice(b"HTTP/1.1");
    out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    out.extend_from_slice(b"\r\n");
    let mut cl_kept = false;
    copy_lines(buf, resp.headers, len, out, |h| {
        let n = h.name;
        if is(n, "content-length") {
            // once, and only where it does not contradict the framing
            let keep = !cl_kept && matches!(body, Framing::None | Framing::Length(_));
            cl_kept = true;
            return keep;
        }
        !hop_by_hop(n, &listed)
    });
    match body {
        Framing::Chunked if !dechunk => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if let (true, Some(u)) = (switching, upgrade) {
        out.extend_from_slice(b"connection: upgrade\r\n");
        header(out, b"upgrade", u);
    } else if !client_keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if req.http10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(Some(ResponseHead {
        len,
        status,
        body,
        dechunk,
        reusable,
        client_keep_alive,
    }))
}

/// Where a header's line starts in `buf` (httparse's slices point into it).
fn line_start(buf: &[u8], h: &httparse::Header) -> usize {
    h.name.as_ptr() as usize - buf.as_ptr() as usize
}

/// Where the empty line that ends a head of `len` bytes starts.
fn head_end(buf: &[u8], len: usize) -> usize {
    len - if buf[..len].ends_with(b"\r\n") { 2 } else { 1 }
}

/// Appends the header lines `keep` accepts to `out`, copying runs of
/// adjacent kept lines at once. Lines are copied as received; a line that
/// ended in a bare LF is re-terminated with CRLF.
fn copy_lines(
    buf: &[u8],
    headers: &[httparse::Header],
    len: usize,
    out: &mut Vec<u8>,
    mut keep: impl FnMut(&httparse::Header) -> bool,
) {
    let end = head_end(buf, len);
    let mut run: Option<usize> = None;
    for (i, h) in headers.iter().enumerate() {
        let start = line_start(buf, h);
        let next = headers.get(i + 1).map_or(end, |n| line_start(buf, n));
        let bare_lf = buf[next - 2] != b'\r';
        let kept = keep(h);
        if kept && !bare_lf {
            run.get_or_insert(start);
            continue;
        }
        if let Some(r) = run.take() {
            out.extend_from_slice(&buf[r..start]);
        }
        if bare_lf && kept {
            out.extend_from_slice(&buf[start..next - 1]);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(r) = run {
        out.extend_from_slice(&buf[r..end]);
    }
}

/// A complete local answer (503, 502, 400, ...) with a text body.
pub fn local(out: &mut Vec<u8>, status: u16, reason: &str, text: &str, close: bool) {
    out.clear();
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{}\r\n{text}",
        text.len(),
        if close { "connection: close\r\n" } else { "" },
    );
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
