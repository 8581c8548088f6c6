//! sha256 digests (`sha256:<64 hex>`) and readers that hash, count and cap what flows through.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A validated `sha256:<64 lowercase hex>` digest. Other algorithms are refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(s: &str) -> Result<Digest, String> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("unsupported digest {s:?} (only sha256)"))?;
        Digest::from_hex(hex)
    }

    /// From 64 lowercase hex characters.
    pub fn from_hex(hex: &str) -> Result<Digest, String> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Digest(hex.to_string()))
        } else {
            Err(format!("invalid sha256 hex {hex:?}"))
        }
    }

    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(to_hex(&Sha256::digest(bytes)))
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex characters, as `docker images` prints ids.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Hashes and counts everything read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest to EOF, then returns the digest and byte count of everything read.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Digest(to_hex(&self.hasher.finalize())), self.count))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Fails a read once more than `limit` bytes went through, and raises a flag the caller keeps
/// (so the error surfaces as a limit, not as whatever parser saw the short read).
pub struct LimitReader<R> {
    inner: R,
    left: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> LimitReader<R> {
    pub fn new(inner: R, limit: u64) -> (Self, Rc<Cell<bool>>) {
        let flag = Rc::new(Cell::new(false));
        let r = LimitReader {
            inner,
            left: limit,
            tripped: flag.clone(),
        };
        (r, flag)
    }
}

impl<R: Read> Read for LimitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte more than allowed so that "exactly at the limit" still ends cleanly.
        let want = (buf.len() as u64).min(self.left.saturating_add(1)) as usize;
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.tripped.set(true);
            return Err(io::Error::other("size limit exceeded"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()), Ok(d.clone()));
        assert!(Digest::parse("sha512:00").is_err());
        assert!(Digest::parse("sha256:../../etc").is_err());
        assert_eq!(d.short(), "e3b0c44298fc");
    }

    #[test]
    fn limit_trips_only_past_the_limit() {
        let (mut ok, f) = LimitReader::new(&b"abcd"[..], 4);
        let mut v = Vec::new();
        ok.read_to_end(&mut v).expect("at limit");
        assert!(!f.get());
        let (mut over, f) = LimitReader::new(&b"abcde"[..], 4);
        assert!(over.read_to_end(&mut v).is_err());
        assert!(f.get());
    }
}
