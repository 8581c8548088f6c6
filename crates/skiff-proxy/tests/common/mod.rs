//! Test fixtures: real backends on 127.0.0.1 (a hyper server and raw TCP
//! misbehavers), a proxy with its update feed, and a small HTTP client.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use skiff_proxy::{Balancer, Proxy, ProxyConfig};
use skiff_types::service::{Instance, ServiceUpdate};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

pub fn inst(id: &str, addr: SocketAddr) -> Instance {
    Instance {
        id: id.into(),
        service: "web".into(),
        node: "n1".into(),
        addr: addr.ip(),
        port: addr.port(),
        proto: Default::default(),
        tags: vec![],
        meta: Default::default(),
    }
}

/// A body fed from a channel: frames leave when the test sends them.
pub struct ChanBody(pub mpsc::Receiver<Bytes>);

impl Body for ChanBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(b: impl Into<Bytes>) -> BoxBody {
    Full::new(b.into()).boxed()
}

/// A well-behaved HTTP backend that counts requests. Paths: `/echo` returns
/// the request body, `/headers` the forwarding headers, `/chunked` streams
/// two chunks with the second held until `gate` is notified, `/204` and
/// `/304` answer those statuses; Upgrade
/// requests get a 101 and an echo tunnel; anything else returns the name.
pub struct TestBackend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
    pub gate: Arc<Notify>,
    task: JoinHandle<()>,
}

impl TestBackend {
    pub async fn start(name: &str) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(Notify::new());
        let (n, h, g) = (name.to_string(), hits.clone(), gate.clone());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let (n, h, g) = (n.clone(), h.clone(), g.clone());
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (n, h, g) = (n.clone(), h.clone(), g.clone());
                        async move { Ok::<_, Infallible>(serve(req, &n, &h, g).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        TestBackend {
            name: name.into(),
            addr,
            hits,
            gate,
            task,
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn instance(&self) -> Instance {
        inst(&self.name, self.addr)
    }

    /// Stops listening and closes every connection (a killed container).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for TestBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut req: Request<Incoming>,
    name: &str,
    hits: &AtomicU64,
    gate: Arc<Notify>,
) -> Response<BoxBody> {
    hits.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key("upgrade") {
        let up = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(u) = up.await {
                let mut io = TokioIo::new(u);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(full(""))
            .unwrap();
    }
    match req.uri().path() {
        "/echo" => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            Response::new(full(body))
        }
        "/headers" => {
            let h = req.headers();
            let get = |k: &str| {
                h.get(k)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_string()
            };
            let text = format!(
                "xff={} proto={} host={} te={} secret={}",
                get("x-forwarded-for"),
                get("x-forwarded-proto"),
                get("x-forwarded-host"),
                get("te"),
                get("x-secret")
            );
            Response::new(full(text))
        }
        "/chunked" => {
            let (tx, rx) = mpsc::channel(2);
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(b"first;")).await;
                gate.notified().await;
                let _ = tx.send(Bytes::from_static(b"second")).await;
            });
            Response::new(ChanBody(rx).boxed())
        }
        "/204" | "/304" => {
            let status = if req.uri().path() == "/204" {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_MODIFIED
            };
            Response::builder().status(status).body(full("")).unwrap()
        }
        _ => Response::new(full(name.to_string())),
    }
}

/// How a raw TCP backend misbehaves after reading a request head.
#[derive(Clone, Copy, Debug)]
pub enum Raw {
    /// Closes the connection without answering (a crash mid-request).
    Close,
    /// Never answers (hung process); holds the connection until the peer leaves.
    Hang,
    /// Sends `Content-Length: 100` and 10 bytes, then dies.
    ShortBody,
    /// Sends a chunked head and one chunk, then dies.
    ChunkedCut,
}

/// A raw backend; returns its address and request count.
pub async fn raw_backend(kind: Raw) -> (SocketAddr, Arc<AtomicU64>, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let h = h.clone();
            conns.spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let reply: &[u8] = match kind {
                    Raw::Close => return,
                    Raw::Hang => {
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                        return;
                    }
                    Raw::ShortBody => b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
                    Raw::ChunkedCut => {
                        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nfirst;\r\n"
                    }
                };
                let _ = s.write_all(reply).await;
                let _ = s.flush().await;
            });
        }
    });
    (addr, hits, task)
}

/// A proxy with its update channel, serving in the background.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub balancer: Arc<Balancer>,
    pub updates: mpsc::Sender<ServiceUpdate>,
    tasks: Vec<JoinHandle<()>>,
}

impl TestProxy {
    pub async fn start(cfg: ProxyConfig) -> Self {
        let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), "web", cfg)
            .await
            .unwrap();
        let addr = proxy.local_addr();
        let balancer = proxy.balancer();
        let (updates, rx) = mpsc::channel(16);
        let tasks = vec![
            tokio::spawn(async move {
                let _ = proxy.run().await;
            }),
            tokio::spawn(balancer.clone().feed(rx)),
        ];
        TestProxy {
            addr,
            balancer,
            updates,
            tasks,
        }
    }

    /// Sends an update and waits until the proxy acknowledges its revision.
    pub async fn update(&self, u: ServiceUpdate) {
        let rev = u.revision();
        let mut acks = self.balancer.applied();
        self.updates.send(u).await.unwrap();
        acks.wait_for(|r| *r >= rev).await.unwrap();
    }

    pub async fn reset(&self, revision: u64, instances: Vec<Instance>) {
        self.update(ServiceUpdate::Reset {
            revision,
            instances,
        })
        .await
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One keep-alive client connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Client { sender })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &'static [u8],
    ) -> Result<(StatusCode, String), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "web.skiff")
            .body(Full::new(Bytes::from_static(body)))
            .unwrap();
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// One request on a fresh connection.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> (StatusCode, String) {
    let mut c = Client::connect(addr).await.expect("connect to proxy");
    c.send(method, path, b"").await.expect("request")
}

/// Sends raw bytes and reads until the peer closes (bounded by `limit`).
pub async fn raw_exchange(addr: SocketAddr, req: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut out = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(60), s.read_to_end(&mut out)).await;
    match read {
        Ok(_) => out,
        Err(_) => panic!(
            "connection not closed; got {:?}",
            String::from_utf8_lossy(&out)
        ),
    }
}
