//! Frame streams on the server side: the `Upgrade: skiff-stream` hand-over
//! (101, then frames both ways) and the streamed body of `logs`.

use crate::engine::Session;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use skiff_types::{encode_into, Frame, FrameDecoder};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The protocol name of the `Upgrade` header.
pub const UPGRADE_PROTOCOL: &str = "skiff-stream";
/// The response header carrying the session id (the exec id for exec).
pub const SESSION_HEADER: &str = "skiff-session";
/// Frames are coalesced up to this many bytes per write.
const BATCH: usize = 64 * 1024;

/// Answers 101 and, once hyper hands the connection over, pumps `session`.
pub(crate) fn serve_upgrade(on_upgrade: OnUpgrade, session: Session) -> Response {
    let id = HeaderValue::from_str(&session.id).ok();
    tokio::spawn(async move {
        // An upgrade that never completes (client gone) drops the session,
        // which the engine sees as a detached client.
        if let Ok(upgraded) = on_upgrade.await {
            pump(TokioIo::new(upgraded), session).await;
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static(UPGRADE_PROTOCOL));
    if let Some(id) = id {
        h.insert(SESSION_HEADER, id);
    }
    resp
}

/// Moves frames both ways until the session's output ends, then closes.
///
/// Client bytes are decoded into frames for `session.input`; when the client
/// half-closes (or sends garbage) the input sender is dropped. Output frames
/// are written as they come; after the last one the write side is shut down.
pub async fn pump<IO>(io: IO, session: Session)
where
    IO: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let Session {
        output: mut out,
        input,
        ..
    } = session;
    let reader = tokio::spawn(async move {
        let mut dec = FrameDecoder::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if dec.push(&buf[..n]).is_err() {
                return;
            }
            while let Some(f) = dec.pop() {
                if input.send(f).await.is_err() {
                    return;
                }
            }
        }
    });
    let mut bytes = Vec::with_capacity(BATCH);
    while let Some(first) = out.recv().await {
        bytes.clear();
        encode_into(&first, &mut bytes);
        while bytes.len() < BATCH {
            match out.try_recv() {
                Ok(f) => encode_into(&f, &mut bytes),
                Err(_) => break,
            }
        }
        if wr.write_all(&bytes).await.is_err() || wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
    reader.abort();
}

/// An HTTP body that encodes frames from a channel as they arrive.
pub(crate) struct FrameBody {
    rx: mpsc::Receiver<Frame>,
}

impl FrameBody {
    pub(crate) fn new(rx: mpsc::Receiver<Frame>) -> Self {
        FrameBody { rx }
    }
}

impl http_body::Body for FrameBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(first)) => {
                let mut bytes = Vec::new();
                encode_into(&first, &mut bytes);
                while bytes.len() < BATCH {
                    match self.rx.try_recv() {
                        Ok(f) => encode_into(&f, &mut bytes),
                        Err(_) => break,
                    }
                }
                Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(bytes)))))
            }
        }
    }
}
