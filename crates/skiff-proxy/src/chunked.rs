//! The chunked transfer coding (RFC 9112 7.1) as a resumable scanner: it
//! finds where a chunked message body ends in a byte stream fed piece by
//! piece, so the proxy can forward the body verbatim (chunk sizes,
//! extensions and trailers included) without buffering it, and can hand
//! out the data bytes alone when a client (HTTP/1.0) cannot read chunks.
//!
//! ```text
//!   Size --hex digits--> [SizeWs] --';'--> Ext --CR--> SizeLf --LF--> Data(n) | Trailer (n = 0)
//!   Data --n bytes--> DataCr --CR--> DataLf --LF--> Size
//!   Trailer --CR--> EndLf --LF--> Done;  Trailer --field--> Field --CR LF--> Trailer
//! ```

/// A malformed chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub struct ChunkError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size,
    SizeWs,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    Field,
    FieldLf,
    EndLf,
    Done,
}

/// Where a chunked body stands after the bytes fed so far.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    size: u64,
    digits: u8,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size,
            size: 0,
            digits: 0,
        }
    }
}

impl Chunked {
    /// The body's last byte (the CRLF after the trailers) was seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Scans `input`, passing each run of data bytes to `data`. Returns how
    /// many bytes of `input` belong to this body (all of them unless the
    /// body ended inside `input`).
    pub fn feed(&mut self, input: &[u8], mut data: impl FnMut(&[u8])) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            let b = input[i];
            match self.state {
                State::Data => {
                    let n = (input.len() - i).min(self.size as usize);
                    data(&input[i..i + n]);
                    self.size -= n as u64;
                    i += n;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    continue;
                }
                State::Size => match hex(b) {
                    Some(d) => {
                        if self.digits == 15 {
                            return Err(ChunkError("chunk size too large"));
                        }
                        self.size = self.size << 4 | d as u64;
                        self.digits += 1;
                    }
                    None if self.digits == 0 => return Err(ChunkError("chunk size expected")),
                    None => self.after_size(b)?,
                },
                State::SizeWs => self.after_size(b)?,
                State::Ext => {
                    if b == b'\r' {
                        self.state = State::SizeLf;
                    } else if b == b'\n' || (b < 0x20 && b != b'\t') || b == 0x7f {
                        return Err(ChunkError("bad chunk extension"));
                    }
                }
                State::SizeLf => {
                    expect(b, b'\n', "LF after chunk size")?;
                    self.state = if self.size == 0 {
                        State::Trailer
                    } else {
                        State::Data
                    };
                    self.digits = 0;
                }
                State::DataCr => {
                    expect(b, b'\r', "CRLF after chunk data")?;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    expect(b, b'\n', "CRLF after chunk data")?;
                    self.state = State::Size;
                }
                State::Trailer => {
                    self.state = if b == b'\r' {
                        State::EndLf
                    } else if b == b'\n' || b < 0x20 {
                        return Err(ChunkError("bad trailer field"));
                    } else {
                        State::Field
                    };
                }
                State::Field => {
                    if b == b'\r' {
                        self.state = State::FieldLf;
                    } else if b == b'\n' || (b < 0x20 && b != b'\t') {
                        return Err(ChunkError("bad trailer field"));
                    }
                }
                State::FieldLf => {
                    expect(b, b'\n', "CRLF after trailer field")?;
                    self.state = State::Trailer;
                }
                State::EndLf => {
                    expect(b, b'\n', "CRLF at the end of the body")?;
                    self.state = State::Done;
                }
                State::Done => unreachable!("loop condition"),
            }
            i += 1;
        }
        Ok(i)
    }

    fn after_size(&mut self, b: u8) -> Result<(), ChunkError> {
        self.state = match b {
            b' ' | b'\t' => State::SizeWs,
            b';' => State::Ext,
            b'\r' => State::SizeLf,
            _ => return Err(ChunkError("bad byte after chunk size")),
        };
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn expect(b: u8, want: u8, what: &'static str) -> Result<(), ChunkError> {
    if b == want {
        Ok(())
    } else {
        Err(ChunkError(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `msg` in pieces of `step` bytes; returns (consumed, data, done).
    fn scan(msg: &[u8], step: usize) -> Result<(usize, Vec<u8>, bool), ChunkError> {
        let mut c = Chunked::default();
        let mut data = Vec::new();
        let mut used = 0;
        for piece in msg.chunks(step) {
            let n = c.feed(piece, |d| data.extend_from_slice(d))?;
            used += n;
            if n < piece.len() {
                break;
            }
        }
        Ok((used, data, c.is_done()))
    }

    #[test]
    fn finds_the_end_in_any_split_and_decodes_data() {
        let msg =
            b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-sum: 9\r\n\r\nNEXT";
        for step in 1..msg.len() {
            let (used, data, done) = scan(msg, step).unwrap();
            assert!(done, "step {step}");
            assert_eq!(used, msg.len() - 4, "step {step}");
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz");
        }
    }

    #[test]
    fn incomplete_body_is_not_done() {
        let (used, data, done) = scan(b"6\r\nfirst;\r\n", 3).unwrap();
        assert_eq!((used, done), (11, false));
        assert_eq!(data, b"first;");
    }

    #[test]
    fn rejects_malformed_bodies() {
        for bad in [
            &b"x\r\n"[..],
            b"5\r\nhelloX",
            b"5\nhello\r\n",
            b"1234567890abcdef0\r\n",
            b"0\r\nbad\nfield\r\n\r\n",
            b"5 x\r\n",
        ] {
            assert!(scan(bad, 64).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
