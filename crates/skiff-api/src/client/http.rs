//! A deliberately small HTTP/1.1 client over a unix socket: one request per
//! connection (`Connection: close`), Content-Length request bodies, responses
//! with Content-Length, chunked or read-to-EOF bodies, and 101 upgrades.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// The head of a response.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds the request bytes (head and body in one buffer: one write).
pub(crate) fn request_bytes(
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    upgrade: bool,
) -> Vec<u8> {
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: skiff\r\n");
    if upgrade {
        req.push_str("Connection: Upgrade\r\nUpgrade: skiff-stream\r\n");
    } else {
        req.push_str("Connection: close\r\n");
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One connection: the request is written, then the response read.
pub(crate) struct Conn {
    pub reader: BufReader<UnixStream>,
}

impl Conn {
    pub fn connect(socket: &Path) -> io::Result<Conn> {
        Ok(Conn {
            reader: BufReader::new(UnixStream::connect(socket)?),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.reader
            .by_ref()
            .take(16 * 1024)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(bad("connection closed in the middle of a response head"));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        String::from_utf8(line).map_err(|_| bad("response head is not UTF-8"))
    }

    pub fn read_head(&mut self) -> io::Result<Head> {
        loop {
            let status_line = self.line()?;
            let mut parts = status_line.splitn(3, ' ');
            let (proto, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if !proto.starts_with("HTTP/1.") {
                return Err(bad(format!("not an HTTP response: {status_line:?}")));
            }
            let status: u16 = code
                .parse()
                .map_err(|_| bad(format!("bad status line {status_line:?}")))?;
            let mut headers = Vec::new();
            loop {
                let l = self.line()?;
                if l.is_empty() {
                    break;
                }
                let (k, v) = l
                    .split_once(':')
                    .ok_or_else(|| bad(format!("bad header {l:?}")))?;
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            // 1xx informational answers other than 101 precede the real one.
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            return Ok(Head { status, headers });
        }
    }

    /// The body that follows `head`, as a reader.
    pub fn body(self, head: &Head) -> io::Result<Body> {
        let chunked = head
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let kind = if head.status == 204 || head.status == 304 {
            BodyKind::Length(0)
        } else if chunked {
            BodyKind::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(len) = head.header("content-length") {
            BodyKind::Length(
                len.parse()
                    .map_err(|_| bad(format!("bad content-length {len:?}")))?,
            )
        } else {
            BodyKind::Eof
        };
        Ok(Body {
            reader: self.reader,
            kind,
        })
    }
}

enum BodyKind {
    Length(u64),
    Chunked { left: u64, done: bool },
    Eof,
}

/// A response body, de-chunked.
pub(crate) struct Body {
    reader: BufReader<UnixStream>,
    kind: BodyKind,
}

impl Body {
    fn chunk_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.reader.by_ref().take(4096).read_line(&mut line)?;
        if !line.ends_with('\n') {
            return Err(bad("connection closed inside a chunked body"));
        }
        Ok(line.trim_end().to_string())
    }

    pub fn read_all(mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.kind {
            BodyKind::Eof => self.reader.read(buf),
            BodyKind::Length(0) => Ok(0),
            BodyKind::Length(left) => {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body cut short",
                    ));
                }
                self.kind = BodyKind::Length(left - n as u64);
                Ok(n)
            }
            BodyKind::Chunked { done: true, .. } => Ok(0),
            BodyKind::Chunked { left: 0, .. } => {
                let line = self.chunk_line()?;
                let size = line.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(size, 16)
                    .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while !self.chunk_line()?.is_empty() {}
                    self.kind = BodyKind::Chunked {
                        left: 0,
                        done: true,
                    };
                    return Ok(0);
                }
                self.kind = BodyKind::Chunked {
                    left: size,
                    done: false,
                };
                self.read(buf)
            }
            BodyKind::Chunked { left, .. } => {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let n = self.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "chunk cut short",
                    ));
                }
                let left = left - n as u64;
                if left == 0 && !self.chunk_line()?.is_empty() {
                    return Err(bad("missing CRLF after a chunk"));
                }
                self.kind = BodyKind::Chunked { left, done: false };
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_a_url_path() {
        assert_eq!(enc("web-1_a.b~"), "web-1_a.b~");
        assert_eq!(enc("RTMIN+3"), "RTMIN%2B3");
        assert_eq!(enc("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn request_has_length_and_body() {
        let r = request_bytes("POST", "/v1/containers", Some(b"{}"), false);
        let s = String::from_utf8(r).unwrap();
        assert!(s.starts_with("POST /v1/containers HTTP/1.1\r\n"));
        assert!(s.contains("Content-Length: 2\r\n\r\n{}"));
        let up = String::from_utf8(request_bytes("POST", "/x", None, true)).unwrap();
        assert!(up.contains("Upgrade: skiff-stream\r\n"));
    }

    #[test]
    fn reads_chunked_and_sized_bodies() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")
            .unwrap();
        drop(b);
        let mut c = Conn {
            reader: BufReader::new(a),
        };
        let head = c.read_head().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(c.body(&head).unwrap().read_all().unwrap(), b"abcde");

        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope+extra").unwrap();
        drop(b);
        let mut c = Conn {
            reader: BufReader::new(a),
        };
        let head = c.read_head().unwrap();
        assert_eq!(head.status, 404);
        assert_eq!(c.body(&head).unwrap().read_all().unwrap(), b"nope");
    }
}
