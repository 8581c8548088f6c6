//! One try of an HTTP request against one backend: a keep-alive connection
//! from the backend's pool (or a new one), the request sent, and the
//! response head read. Errors say whether the request left the proxy
//! (`TryError::stage`): a write that no byte of got through is unsent.

use crate::backend::Backend;
use crate::codec::{self, RequestHead, ResponseHead};
use crate::error::TryError;
use crate::pool::Upstream;
use crate::relay::write_all;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// A ready connection to `b`: a pooled one if any is still open.
pub async fn connection(b: &Backend, connect_timeout: Duration) -> Result<Upstream, TryError> {
    if let Some(up) = b.pool.checkout() {
        return Ok(up);
    }
    let addr = b.addr;
    let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| TryError::ConnectTimeout { addr })?
        .map_err(|source| TryError::Connect { addr, source })?;
    let _ = stream.set_nodelay(true);
    Ok(Upstream::new(stream))
}

/// Sends `bytes` (the request head, maybe with its body) on `up`.
pub async fn send(up: &mut Upstream, bytes: &[u8], addr: SocketAddr) -> Result<(), TryError> {
    write_all(&mut up.io, bytes)
        .await
        .map_err(|(source, any)| match (any, up.reused) {
            (false, true) => TryError::Unsent { addr, source },
            (false, false) => TryError::Connect { addr, source },
            (true, _) => TryError::Exchange { addr, source },
        })
}

/// Reads the final response head to `req`, appending the client's version
/// of it to `out` after those of any informational (1xx) responses.
pub async fn response_head(
    up: &mut Upstream,
    req: &RequestHead,
    out: &mut Vec<u8>,
    addr: SocketAddr,
) -> Result<ResponseHead, TryError> {
    loop {
        let mark = out.len();
        match codec::response(up.buf.data(), req, out) {
            Ok(Some(h)) => {
                up.buf.consume(h.len);
                if h.status == 101 && !req.upgrade {
                    return Err(TryError::Protocol {
                        addr,
                        source: codec::HeadError::Bad("101 to a request without Upgrade"),
                    });
                }
                if h.status >= 200 || h.status == 101 {
                    return Ok(h);
                }
                if req.http10 {
                    out.truncate(mark); // HTTP/1.0 has no interim responses
                }
                continue;
            }
            Ok(None) => {}
            Err(source) => return Err(TryError::Protocol { addr, source }),
        }
        match up.buf.fill(&mut up.io).await {
            Ok(0) => {
                return Err(TryError::Exchange {
                    addr,
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed before a response",
                    ),
                })
            }
            Ok(_) => {}
            Err(source) => return Err(TryError::Exchange { addr, source }),
        }
    }
}
