//! The CLI's terminal: raw mode for `-t`, the window size, and a thread that
//! turns signals into actions (SIGWINCH -> resize, SIGINT/TERM/... -> proxy).

use nix::sys::signal::{SigSet, Signal};
use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};
use std::io::IsTerminal;

/// Puts stdin in raw mode while alive; restores the saved mode on drop.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin, or None when stdin is not a terminal.
    pub fn enter() -> anyhow::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// The terminal's (rows, cols), from stdout or stdin, if either is a terminal.
pub fn window_size() -> Option<(u16, u16)> {
    let from = |ws: rustix::termios::Winsize| (ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col));
    if std::io::stdout().is_terminal() {
        if let Ok(ws) = tcgetwinsize(std::io::stdout()) {
            return from(ws);
        }
    }
    tcgetwinsize(std::io::stdin()).ok().and_then(from)
}

/// Signals the CLI forwards to the container (as Docker's sig-proxy does).
pub const PROXIED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
];

/// Blocks `PROXIED` and SIGWINCH in this thread (and so in threads spawned
/// after), then handles them on a dedicated thread with `on_signal`.
pub fn spawn_signal_thread(
    mut on_signal: impl FnMut(Signal) + Send + 'static,
) -> anyhow::Result<()> {
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(s);
    }
    set.add(Signal::SIGWINCH);
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                on_signal(sig);
            }
        })?;
    Ok(())
}
