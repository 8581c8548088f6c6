//! What `pull` and `push` share: the registry access flags, and drawing the daemon's progress
//! lines — one bar per layer redrawn in place on a terminal, plain lines otherwise.

use skiff_api::client::RegistryLines;
use skiff_api::{ClientError, RegistryAccess, RegistryLine};
use skiff_image::registry::progress::human;
use skiff_image::registry::Progress;
use std::io::{IsTerminal, Write};

#[derive(Debug, clap::Args)]
pub struct AccessArgs {
    /// Credentials USER:PASSWORD (default: the daemon's ROOT/auth.json)
    #[arg(long, env = "SKIFF_REGISTRY_CREDS", value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// PEM CA file to trust (default: ROOT/certs.d/HOST:PORT/ca.crt)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Reach the registry over plain HTTP
    #[arg(long = "insecure-registry")]
    pub insecure: bool,
}

impl AccessArgs {
    pub fn into_access(self) -> anyhow::Result<RegistryAccess> {
        let ca = match self.ca {
            // The daemon opens it: hand over an absolute path.
            Some(p) => Some(
                std::fs::canonicalize(&p)
                    .map_err(|e| anyhow::anyhow!("CA file {}: {e}", p.display()))?
                    .to_string_lossy()
                    .into_owned(),
            ),
            None => None,
        };
        Ok(RegistryAccess {
            creds: self.creds,
            ca,
            insecure: self.insecure,
        })
    }
}

/// Draws progress until the final line, which it returns (an `error` line is an error).
pub fn follow(lines: RegistryLines, quiet: bool) -> anyhow::Result<RegistryLine> {
    let mut view = View {
        tty: std::io::stdout().is_terminal(),
        quiet,
        rows: Vec::new(),
        drawn: 0,
    };
    for line in lines {
        match line? {
            RegistryLine::Progress(p) => view.event(&p),
            RegistryLine::Error(e) => return Err(ClientError::Api(e).into()),
            last => return Ok(last),
        }
    }
    Err(ClientError::Protocol("the daemon sent no result".into()).into())
}

struct View {
    tty: bool,
    quiet: bool,
    /// (short digest, status) per blob, in first-seen order.
    rows: Vec<(String, String)>,
    drawn: usize,
}

impl View {
    fn event(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        if !self.tty {
            // Byte counts would flood a log: only the steps.
            if !matches!(p, Progress::BlobProgress { .. } | Progress::Done { .. }) {
                println!("{}", p.line());
            }
            return;
        }
        let (digest, status) = match p {
            Progress::Resolved { .. } => {
                println!("{}", p.line());
                return;
            }
            Progress::Done { .. } => return,
            Progress::BlobStart {
                digest,
                size,
                resumed_from,
            } => (digest, bar(*resumed_from, *size)),
            Progress::BlobProgress { digest, done, size } => (digest, bar(*done, *size)),
            Progress::BlobExists { digest, .. } => (digest, "Already exists".into()),
            Progress::BlobMounted { digest, from } => (digest, format!("Mounted from {from}")),
            Progress::BlobDone { digest } => (digest, "Download complete".into()),
            Progress::Unpacking { digest } => (digest, "Extracting".into()),
            Progress::Unpacked { digest } => (digest, "Pull complete".into()),
        };
        let short = digest.short().to_string();
        match self.rows.iter_mut().find(|(d, _)| *d == short) {
            Some(row) => row.1 = status,
            None => self.rows.push((short, status)),
        }
        self.redraw();
    }

    fn redraw(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        for (d, s) in &self.rows {
            let _ = writeln!(out, "\x1b[2K{d}: {s}");
        }
        let _ = out.flush();
        self.drawn = self.rows.len();
    }
}

/// `[=========>          ]  12.3 MB/45.6 MB`
fn bar(done: u64, size: u64) -> String {
    const WIDTH: u64 = 40;
    let filled = (done.min(size) * WIDTH).checked_div(size).unwrap_or(WIDTH) as usize;
    let mut b = "=".repeat(filled);
    if filled < WIDTH as usize {
        b.push('>');
    }
    format!(
        "[{b:<width$}] {}/{}",
        human(done),
        human(size),
        width = WIDTH as usize
    )
}
