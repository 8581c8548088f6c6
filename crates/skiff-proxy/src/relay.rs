//! Moving bytes between the two sides of an exchange: one message body
//! framed by length, chunks (forwarded verbatim, or as plain data for an
//! HTTP/1.0 client) or the sender's close, streamed as it arrives with the
//! preceding head sent in the same write; and the byte tunnel after a
//! protocol switch.

use crate::buf::Buf;
use crate::chunked::{ChunkError, Chunked};
use crate::codec::Framing;
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Why a body did not make it across.
#[derive(Debug)]
pub enum RelayError {
    /// The reading side failed or ended before the body did.
    Src,
    /// The reading side sent a malformed chunked body.
    Malformed(ChunkError),
    /// The writing side failed.
    Dst(io::Error),
}

/// Writes all of `bytes`. The error says whether any byte was accepted.
pub async fn write_all(s: &mut TcpStream, bytes: &[u8]) -> Result<(), (io::Error, bool)> {
    let mut done = 0;
    while done < bytes.len() {
        match s.write(&bytes[done..]).await {
            Ok(0) => return Err((io::ErrorKind::WriteZero.into(), done > 0)),
            Ok(n) => done += n,
            Err(e) => return Err((e, done > 0)),
        }
    }
    Ok(())
}

/// Sends `pending` (a head, or nothing) and then one body framed as
/// `framing`, read from `src` through its buffer `buf`, to `dst`. Bytes
/// after the body stay in `buf` (the next pipelined message).
pub async fn body(
    framing: Framing,
    dechunk: bool,
    src: &mut TcpStream,
    buf: &mut Buf,
    dst: &mut TcpStream,
    pending: &mut Vec<u8>,
) -> Result<(), RelayError> {
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    let mut chunks = Chunked::default();
    loop {
        let done = match framing {
            Framing::None => true,
            Framing::Length(_) => {
                let k = (left.min(buf.data().len() as u64)) as usize;
                pending.extend_from_slice(&buf.data()[..k]);
                buf.consume(k);
                left -= k as u64;
                left == 0
            }
            Framing::Chunked => {
                let data = buf.data();
                let n = if dechunk {
                    chunks.feed(data, |d| pending.extend_from_slice(d))
                } else {
                    chunks
                        .feed(data, |_| {})
                        .inspect(|&n| pending.extend_from_slice(&data[..n]))
                }
                .map_err(RelayError::Malformed)?;
                buf.consume(n);
                chunks.is_done()
            }
            Framing::UntilClose => {
                pending.extend_from_slice(buf.data());
                buf.consume(usize::MAX);
                false
            }
        };
        if !pending.is_empty() {
            let w = write_all(dst, pending).await;
            pending.clear();
            w.map_err(|(e, _)| RelayError::Dst(e))?;
        }
        if done {
            return Ok(());
        }
        match buf.fill(src).await {
            Ok(0) if framing == Framing::UntilClose => return Ok(()),
            Ok(0) => return Err(RelayError::Src),
            Ok(_) => {}
            Err(_) => return Err(RelayError::Src),
        }
    }
}

/// After a protocol switch: bytes either side sent early go first, then
/// both directions are copied until either side closes.
pub async fn tunnel(client: &mut TcpStream, cbuf: &mut Buf, up: &mut TcpStream, ubuf: &mut Buf) {
    if !cbuf.is_empty() && write_all(up, cbuf.data()).await.is_err() {
        return;
    }
    if !ubuf.is_empty() && write_all(client, ubuf.data()).await.is_err() {
        return;
    }
    cbuf.consume(usize::MAX);
    ubuf.consume(usize::MAX);
    let _ = tokio::io::copy_bidirectional(client, up).await;
}
