//! Client-side frame streams: an upgraded attach/exec connection
//! (`Stream`) and a logs body (`LogFrames`).

use super::http::Body;
use super::ClientError;
use skiff_types::{encode_into, Frame, FrameDecoder};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

fn decode_err(e: skiff_types::FrameError) -> ClientError {
    ClientError::Protocol(format!("bad frame from the daemon: {e}"))
}

/// An upgraded attach/exec connection: frames both ways.
///
/// To read and write from two threads, `try_clone` the stream and use one
/// copy only for `send` (each copy decodes its own reads).
#[derive(Debug)]
pub struct Stream {
    sock: UnixStream,
    decoder: FrameDecoder,
    session_id: String,
    buf: Vec<u8>,
}

impl Stream {
    pub(crate) fn new(
        sock: UnixStream,
        leftover: &[u8],
        session_id: String,
    ) -> Result<Stream, ClientError> {
        let mut decoder = FrameDecoder::new();
        decoder.push(leftover).map_err(decode_err)?;
        Ok(Stream {
            sock,
            decoder,
            session_id,
            buf: vec![0; 32 * 1024],
        })
    }

    /// The daemon's id for this session (the exec id for exec).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Sends one frame (stdin, resize, close-stdin).
    pub fn send(&mut self, frame: &Frame) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(8 + frame.data.len());
        encode_into(frame, &mut bytes);
        self.sock.write_all(&bytes)
    }

    /// The next frame from the daemon; `None` once it closed the stream.
    pub fn recv(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            if let Some(f) = self.decoder.pop() {
                return Ok(Some(f));
            }
            let n = match self.sock.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
                Err(e) => {
                    return Err(ClientError::Protocol(format!(
                        "reading from the daemon: {e}"
                    )))
                }
            };
            if n == 0 {
                return match self.decoder.pending_bytes() {
                    0 => Ok(None),
                    p => Err(ClientError::Protocol(format!(
                        "stream ended inside a frame ({p} bytes)"
                    ))),
                };
            }
            self.decoder.push(&self.buf[..n]).map_err(decode_err)?;
        }
    }

    /// A second handle on the same connection (for a sending thread).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(Stream {
            sock: self.sock.try_clone()?,
            decoder: FrameDecoder::new(),
            session_id: self.session_id.clone(),
            buf: vec![0; 32 * 1024],
        })
    }

    /// Half-closes: the daemon sees the end of the client's frames.
    pub fn close_write(&self) -> io::Result<()> {
        self.sock.shutdown(Shutdown::Write)
    }
}

/// The frames of a logs body, as an iterator.
pub struct LogFrames {
    body: Body,
    decoder: FrameDecoder,
    buf: Vec<u8>,
    done: bool,
}

impl LogFrames {
    pub(crate) fn new(body: Body) -> Self {
        LogFrames {
            body,
            decoder: FrameDecoder::new(),
            buf: vec![0; 32 * 1024],
            done: false,
        }
    }
}

impl Iterator for LogFrames {
    type Item = Result<Frame, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.decoder.pop() {
                return Some(Ok(f));
            }
            if self.done {
                return None;
            }
            let n = match self.body.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(ClientError::Protocol(format!("reading logs: {e}"))));
                }
            };
            if n == 0 {
                self.done = true;
                if self.decoder.pending_bytes() > 0 {
                    return Some(Err(ClientError::Protocol(
                        "logs ended inside a frame".into(),
                    )));
                }
                return None;
            }
            if let Err(e) = self.decoder.push(&self.buf[..n]) {
                self.done = true;
                return Some(Err(decode_err(e)));
            }
        }
    }
}
