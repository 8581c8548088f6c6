//! A connection's read buffer: bytes read but not yet consumed, refilled
//! with one `read` at a time. It compacts before it grows, so a keep-alive
//! connection reuses one allocation for every message it carries.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Initial (and usual) size of a read buffer.
pub const BUF_SIZE: usize = 16 * 1024;

#[derive(Debug)]
pub struct Buf {
    v: Vec<u8>,
    pos: usize,
    end: usize,
}

impl Default for Buf {
    fn default() -> Self {
        Buf {
            v: vec![0; BUF_SIZE],
            pos: 0,
            end: 0,
        }
    }
}

impl Buf {
    /// The unconsumed bytes.
    pub fn data(&self) -> &[u8] {
        &self.v[self.pos..self.end]
    }

    pub fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    pub fn consume(&mut self, n: usize) {
        self.pos += n.min(self.end - self.pos);
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        }
    }

    /// Reads once from `s` into the free space (made by compacting, else by
    /// growing); returns the bytes read, 0 at end of stream.
    pub async fn fill(&mut self, s: &mut TcpStream) -> std::io::Result<usize> {
        if self.end == self.v.len() {
            if self.pos > 0 {
                self.v.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            } else {
                self.v.resize(self.v.len() * 2, 0);
            }
        }
        let n = s.read(&mut self.v[self.end..]).await?;
        self.end += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn compacts_then_grows() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut w = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (mut r, _) = l.accept().await.unwrap();
        let msg: Vec<u8> = (0..3 * BUF_SIZE).map(|i| i as u8).collect();
        w.write_all(&msg).await.unwrap();
        drop(w);
        let mut b = Buf::default();
        let mut got = Vec::new();
        while b.fill(&mut r).await.unwrap() > 0 {
            // consume half of what is there: the rest must survive compaction
            let half = b.data().len() / 2;
            got.extend_from_slice(&b.data()[..half]);
            b.consume(half);
        }
        got.extend_from_slice(b.data());
        assert_eq!(got, msg);
    }
}
