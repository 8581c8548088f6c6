//! The stream framing of the local API: Docker's multiplexing header
//! `[kind u8, 0, 0, 0, len u32 big-endian]` followed by `len` bytes.
//!
//! Used after a `101 Switching Protocols` upgrade (attach, exec) and in logs
//! bodies. Pure: `encode_into` appends to a buffer, `FrameDecoder` takes bytes
//! as they arrive and hands back whole frames.

use std::collections::VecDeque;

/// Size of the frame header.
pub const HEADER_LEN: usize = 8;
/// The largest payload a decoder accepts (16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Client -> daemon: bytes for the process's stdin.
    Stdin = 0,
    /// Daemon -> client: stdout (and all output with a tty).
    Stdout = 1,
    /// Daemon -> client: stderr.
    Stderr = 2,
    /// Daemon -> client: JSON `Control` (exit or error).
    Control = 3,
    /// Client -> daemon: JSON `Resize`.
    Resize = 4,
    /// Client -> daemon: no more stdin (empty payload).
    CloseStdin = 5,
}

impl FrameKind {
    pub fn from_u8(b: u8) -> Option<FrameKind> {
        Some(match b {
            0 => FrameKind::Stdin,
            1 => FrameKind::Stdout,
            2 => FrameKind::Stderr,
            3 => FrameKind::Control,
            4 => FrameKind::Resize,
            5 => FrameKind::CloseStdin,
            _ => return None,
        })
    }
}

/// One frame: a kind and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    pub data: Vec<u8>,
}

impl Frame {
    pub fn new(kind: FrameKind, data: impl Into<Vec<u8>>) -> Self {
        Frame {
            kind,
            data: data.into(),
        }
    }

    /// A control frame carrying `control` as JSON.
    pub fn control(control: &crate::Control) -> Self {
        // Serialising a plain enum of numbers and strings cannot fail.
        let data = serde_json::to_vec(control).unwrap_or_default();
        Frame {
            kind: FrameKind::Control,
            data,
        }
    }

    /// A resize frame carrying `{"rows":R,"cols":C}`.
    pub fn resize(rows: u16, cols: u16) -> Self {
        let data = serde_json::to_vec(&crate::Resize { rows, cols }).unwrap_or_default();
        Frame {
            kind: FrameKind::Resize,
            data,
        }
    }

    /// The encoded form (header + payload).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.data.len());
        encode_into(self, &mut out);
        out
    }
}

/// Appends the encoded `frame` to `out`.
///
/// Payloads longer than `u32::MAX` cannot be framed; callers split output in
/// far smaller chunks (a decoder refuses anything over [`MAX_FRAME_LEN`]).
pub fn encode_into(frame: &Frame, out: &mut Vec<u8>) {
    let len = u32::try_from(frame.data.len()).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + len as usize);
    out.extend_from_slice(&[frame.kind as u8, 0, 0, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&frame.data[..len as usize]);
}

/// Why a byte stream is not a valid frame stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
}

/// Incremental decoder: `push` bytes as they arrive, `pop` whole frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    frames: VecDeque<Frame>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; fails (and keeps failing) once the stream is invalid.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while self.buf.len() - start >= HEADER_LEN {
            let h = &self.buf[start..start + HEADER_LEN];
            let kind = match FrameKind::from_u8(h[0]) {
                Some(k) => k,
                None => return Err(self.fail(FrameError::UnknownKind(h[0]))),
            };
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if len > MAX_FRAME_LEN {
                return Err(self.fail(FrameError::TooLarge {
                    len,
                    max: MAX_FRAME_LEN,
                }));
            }
            if self.buf.len() - start - HEADER_LEN < len {
                break;
            }
            let body = start + HEADER_LEN;
            self.frames.push_back(Frame {
                kind,
                data: self.buf[body..body + len].to_vec(),
            });
            start = body + len;
        }
        self.buf.drain(..start);
        Ok(())
    }

    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        self.buf.clear();
        e
    }

    /// The next whole frame, if one has arrived.
    pub fn pop(&mut self) -> Option<Frame> {
        self.frames.pop_front()
    }

    /// Bytes of an incomplete frame still waiting for the rest.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Frame> {
        vec![
            Frame::new(FrameKind::Stdout, b"hello\n".to_vec()),
            Frame::new(FrameKind::Stderr, Vec::new()),
            Frame::new(FrameKind::Stdin, vec![0u8, 255, 7]),
            Frame::resize(24, 80),
            Frame::new(FrameKind::CloseStdin, Vec::new()),
            Frame::control(&crate::Control::Exit {
                exit_code: 3,
                oom_killed: false,
            }),
        ]
    }

    #[test]
    fn header_is_dockers() {
        let bytes = Frame::new(FrameKind::Stderr, b"ab".to_vec()).to_bytes();
        assert_eq!(bytes, [2, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn decodes_when_split_at_every_offset() {
        let frames = sample();
        let mut wire = Vec::new();
        for f in &frames {
            encode_into(f, &mut wire);
        }
        for cut in 0..=wire.len() {
            let mut d = FrameDecoder::new();
            d.push(&wire[..cut]).unwrap();
            d.push(&wire[cut..]).unwrap();
            let got: Vec<Frame> = std::iter::from_fn(|| d.pop()).collect();
            assert_eq!(got, frames, "cut at {cut}");
            assert_eq!(d.pending_bytes(), 0);
        }
        // And byte by byte.
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in &wire {
            d.push(std::slice::from_ref(b)).unwrap();
            got.extend(std::iter::from_fn(|| d.pop()));
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn rejects_unknown_kinds_and_huge_frames() {
        let mut d = FrameDecoder::new();
        assert_eq!(
            d.push(&[9, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::UnknownKind(9))
        );
        assert!(d.push(&[1, 0, 0, 0, 0, 0, 0, 0]).is_err(), "stays failed");
        let mut d = FrameDecoder::new();
        let len = (MAX_FRAME_LEN as u32 + 1).to_be_bytes();
        let err = d
            .push(&[1, 0, 0, 0, len[0], len[1], len[2], len[3]])
            .unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
        let mut d = FrameDecoder::new();
        let len = (MAX_FRAME_LEN as u32).to_be_bytes();
        d.push(&[1, 0, 0, 0, len[0], len[1], len[2], len[3]])
            .unwrap();
        assert!(
            d.pop().is_none(),
            "a frame at the limit waits for its payload"
        );
    }

    #[test]
    fn pseudo_random_streams_round_trip() {
        // A small deterministic generator (xorshift) stands in for a property test.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let n = (next() % 6) as usize;
            let frames: Vec<Frame> = (0..n)
                .map(|_| {
                    let kind = FrameKind::from_u8((next() % 6) as u8).unwrap_or(FrameKind::Stdout);
                    let len = (next() % 40) as usize;
                    Frame::new(kind, (0..len).map(|_| next() as u8).collect::<Vec<u8>>())
                })
                .collect();
            let mut wire = Vec::new();
            frames.iter().for_each(|f| encode_into(f, &mut wire));
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            let mut at = 0;
            while at < wire.len() {
                let step = 1 + (next() % 17) as usize;
                let end = (at + step).min(wire.len());
                d.push(&wire[at..end]).unwrap();
                got.extend(std::iter::from_fn(|| d.pop()));
                at = end;
            }
            assert_eq!(got, frames);
        }
    }
}
