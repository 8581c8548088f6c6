//! `skiff logs [-f] [--tail N] [-t] CONTAINER|SERVICE` (a topology service: every
//! instance's lines, merged and prefixed with the instance's name).

use super::Ctx;
use skiff_types::{FrameKind, LogOptions};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `all` (or a negative number) means every line.
pub fn parse_tail(s: &str) -> anyhow::Result<Option<usize>> {
    if s == "all" || s.starts_with('-') {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("invalid --tail {s:?}: want a number or all"))
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let opts = LogOptions {
        follow: args.follow,
        tail: parse_tail(&args.tail)?,
        timestamps: args.timestamps,
        stdout: true,
        stderr: true,
    };
    let client = ctx.client()?;
    // `skiff logs SERVICE`: a topology service's instances, merged.
    if client.inspect(&args.container).is_err() {
        if let Some(view) = super::svclogs::job_with_service(&client, &args.container)? {
            let mut followed = std::collections::HashSet::new();
            let threads = super::svclogs::follow_new(
                &client,
                &view,
                Some(&args.container),
                &opts,
                &mut followed,
            );
            for t in threads {
                let _ = t.join();
            }
            return Ok(0);
        }
    }
    let frames = client.logs(&args.container, &opts)?;
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for frame in frames {
        let frame = frame?;
        let res =
            match frame.kind {
                FrameKind::Stderr => err.write_all(&frame.data),
                _ => out.write_all(&frame.data).and_then(|()| {
                    if args.follow {
                        out.flush()
                    } else {
                        Ok(())
                    }
                }),
            };
        if let Err(e) = res {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(0);
            }
            return Err(e.into());
        }
    }
    out.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tail_values() {
        assert_eq!(super::parse_tail("all").unwrap(), None);
        assert_eq!(super::parse_tail("-1").unwrap(), None);
        assert_eq!(super::parse_tail("10").unwrap(), Some(10));
        assert!(super::parse_tail("ten").is_err());
    }
}
