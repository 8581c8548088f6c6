//! Driving an attached stream (run, start -a, exec): stdin in, stdout and
//! stderr out, tty size and signals forwarded, the exit code back.

use super::term::{self, RawMode};
use anyhow::bail;
use nix::sys::signal::Signal;
use skiff_api::{Client, ClientError, Stream};
use skiff_types::{Control, Frame, FrameKind};
use std::io::{Read, Write};

/// How a session is driven.
pub struct Options {
    /// Forward stdin (`-i`).
    pub stdin: bool,
    /// The process has a tty (`-t`): raw mode and window-size forwarding.
    pub tty: bool,
    /// Forward signals to this container (not for exec: Docker does not either).
    pub proxy_signals_to: Option<String>,
}

/// Whatever ended the session.
pub enum End {
    Exit(i32),
    /// The stream closed without an exit frame.
    Closed,
}

/// Sets up the terminal, pumps until the exit frame, restores the terminal.
/// Call `before_output` (e.g. `start`) once the stream is being read.
pub fn drive(
    client: &Client,
    stream: Stream,
    opts: &Options,
    before_output: impl FnOnce() -> Result<(), ClientError>,
) -> anyhow::Result<End> {
    let raw = if opts.tty && opts.stdin {
        RawMode::enter()?
    } else {
        None
    };
    let result = pump(client, stream, opts, before_output);
    drop(raw);
    result
}

fn pump(
    client: &Client,
    mut stream: Stream,
    opts: &Options,
    before_output: impl FnOnce() -> Result<(), ClientError>,
) -> anyhow::Result<End> {
    let needs_signals = opts.tty || opts.proxy_signals_to.is_some();
    if needs_signals {
        let mut tx = stream.try_clone()?;
        let (client, target, tty) = (client.clone(), opts.proxy_signals_to.clone(), opts.tty);
        if tty {
            if let Some((rows, cols)) = term::window_size() {
                let _ = tx.send(&Frame::resize(rows, cols));
            }
        }
        term::spawn_signal_thread(move |sig| {
            if sig == Signal::SIGWINCH {
                if let (true, Some((rows, cols))) = (tty, term::window_size()) {
                    let _ = tx.send(&Frame::resize(rows, cols));
                }
            } else if let Some(id) = &target {
                let _ = client.kill(id, Some(sig.as_str()));
            }
        })?;
    }
    if opts.stdin {
        let mut tx = stream.try_clone()?;
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let mut buf = vec![0u8; 32 * 1024];
                let mut stdin = std::io::stdin().lock();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if tx.send(&Frame::new(FrameKind::Stdin, &buf[..n])).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let _ = tx.send(&Frame::new(FrameKind::CloseStdin, Vec::new()));
            })?;
    }
    before_output()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some(frame) = stream.recv()? {
        match frame.kind {
            FrameKind::Stdout => {
                out.write_all(&frame.data)?;
                out.flush()?;
            }
            FrameKind::Stderr => {
                err.write_all(&frame.data)?;
                err.flush()?;
            }
            FrameKind::Control => match serde_json::from_slice::<Control>(&frame.data) {
                Ok(Control::Exit { exit_code, .. }) => return Ok(End::Exit(exit_code)),
                Ok(Control::Error(e)) => return Err(ClientError::Api(e).into()),
                Err(e) => bail!("bad control frame from the daemon: {e}"),
            },
            _ => {}
        }
    }
    Ok(End::Closed)
}
