//! Running one health probe: a command inside the container (through the
//! runtime's exec, as `docker exec` would), an HTTP GET, or a TCP connect,
//! each bounded by the check's timeout. The verdict is the registry's
//! health state machine's business; this only reports what happened.
//!
//! A command probe that times out (or is abandoned) is killed with every
//! process it started: its session holds a guard that, when dropped before
//! the exit arrived, has the runtime kill the exec's process tree. Otherwise
//! each timed-out `sleep`-like probe would live on in the container.

use skiff_registry::health::{ProbeOutcome, ProbeRun, OUTPUT_LIMIT};
use skiff_runtime::Runtime;
use skiff_types::{Control, ExecSpec, FrameKind, HealthCheck, HealthProbe};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Runs `check`'s probe against container `id` reachable at `addr`.
pub async fn run(rt: &Runtime, id: &str, check: &HealthCheck, addr: Option<IpAddr>) -> ProbeRun {
    let started_ns = now_ns();
    let timeout = Duration::from_millis(check.timeout_ms.max(1));
    let outcome = match tokio::time::timeout(timeout, probe(rt, id, &check.probe, addr)).await {
        Ok(outcome) => outcome,
        Err(_) => ProbeOutcome::TimedOut,
    };
    ProbeRun {
        started_ns,
        ended_ns: now_ns(),
        outcome,
    }
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn failed(output: impl Into<String>) -> ProbeOutcome {
    ProbeOutcome::Failed {
        exit_code: 1,
        output: output.into(),
    }
}

async fn probe(rt: &Runtime, id: &str, probe: &HealthProbe, addr: Option<IpAddr>) -> ProbeOutcome {
    match probe {
        HealthProbe::Cmd { argv } => exec(rt, id, argv).await,
        HealthProbe::Http { path, port } => match addr {
            Some(ip) => http(SocketAddr::new(ip, *port), path).await,
            None => failed("the container has no routable address for an HTTP check"),
        },
        HealthProbe::Tcp { port } => match addr {
            Some(ip) => match TcpStream::connect(SocketAddr::new(ip, *port)).await {
                Ok(_) => ProbeOutcome::Passed {
                    output: format!("connected to {ip}:{port}"),
                },
                Err(e) => failed(format!("connect {ip}:{port}: {e}")),
            },
            None => failed("the container has no routable address for a TCP check"),
        },
    }
}

async fn exec(rt: &Runtime, id: &str, argv: &[String]) -> ProbeOutcome {
    let spec = ExecSpec {
        cmd: argv.to_vec(),
        ..Default::default()
    };
    // The launch runs on its own task: a timeout that cancels this future
    // mid-launch must not leave a process nobody holds (it is killed instead).
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (launcher, id) = (rt.clone(), id.to_owned());
    tokio::spawn(async move {
        if let Err(Ok(orphan)) = tx.send(launcher.exec(&id, spec).await) {
            launcher.kill_exec(&orphan.id).await;
        }
    });
    let Ok(launched) = rx.await else {
        return failed("the health command could not be started");
    };
    let mut session = match launched {
        Ok(s) => s,
        Err(e) => {
            return ProbeOutcome::Failed {
                exit_code: e.exit_code.unwrap_or(1),
                output: e.message,
            }
        }
    };
    let mut guard = KillOnDrop {
        rt: Some(rt.clone()),
        exec_id: session.id.clone(),
    };
    let mut output = Vec::new();
    while let Some(frame) = session.output.recv().await {
        match frame.kind {
            FrameKind::Stdout | FrameKind::Stderr => {
                let room = OUTPUT_LIMIT.saturating_sub(output.len());
                output.extend_from_slice(&frame.data[..frame.data.len().min(room)]);
            }
            FrameKind::Control => {
                if let Ok(Control::Exit { exit_code, .. }) = serde_json::from_slice(&frame.data) {
                    guard.rt = None; // it ended by itself
                    let output = String::from_utf8_lossy(&output).into_owned();
                    return match exit_code {
                        0 => ProbeOutcome::Passed { output },
                        code => ProbeOutcome::Failed {
                            exit_code: code,
                            output,
                        },
                    };
                }
            }
            _ => {}
        }
    }
    failed("the health command ended without an exit status")
}

/// Kills the exec `exec_id` (and its children) unless it was seen to exit.
struct KillOnDrop {
    rt: Option<Runtime>,
    exec_id: String,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let (Some(rt), Ok(handle)) = (self.rt.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let exec_id = std::mem::take(&mut self.exec_id);
        handle.spawn(async move {
            rt.kill_exec(&exec_id).await;
        });
    }
}

async fn http(to: SocketAddr, path: &str) -> ProbeOutcome {
    let mut stream = match TcpStream::connect(to).await {
        Ok(s) => s,
        Err(e) => return failed(format!("connect {to}: {e}")),
    };
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {to}\r\nUser-Agent: skiff-healthcheck\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        return failed(format!("send to {to}: {e}"));
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.contains(&b'\n') && head.len() < 8192 {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return failed(format!("read from {to}: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("").trim().to_owned();
    match status_of(&line) {
        Some(code) if (200..400).contains(&code) => ProbeOutcome::Passed { output: line },
        Some(_) => failed(line),
        None => failed(format!("no HTTP answer from {to}{path}: {line:?}")),
    }
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK`).
fn status_of(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_of("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_of("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_of("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_of(""), None);
    }

    #[tokio::test]
    async fn http_and_tcp_probes_against_a_local_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in [
                "HTTP/1.0 204 No Content\r\n\r\n",
                "HTTP/1.0 500 Oops\r\n\r\n",
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        assert!(matches!(
            http(addr, "/health").await,
            ProbeOutcome::Passed { .. }
        ));
        assert!(matches!(
            http(addr, "health").await,
            ProbeOutcome::Failed { .. }
        ));
        // Nothing listens any more.
        assert!(matches!(http(addr, "/").await, ProbeOutcome::Failed { .. }));
    }
}
