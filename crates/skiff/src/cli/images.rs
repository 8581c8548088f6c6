//! `skiff images`, `rmi`, `tag` and `skiff image inspect|ls|rm|tag|prune|load|save`.

use super::{load, Ctx};
use skiff_api::ClientError;
use skiff_image::{ImageSummary, Removed};
use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, clap::Args)]
pub struct RmiArgs {
    /// Force removal of the image (an image a container uses is only untagged)
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `skiff image ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ImageCmd {
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove unused (untagged, not used by a container) images
    Prune(PruneArgs),
    /// Load an image from a tar archive or STDIN
    Load(load::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(load::SaveArgs),
}

pub fn image(ctx: &Ctx, cmd: ImageCmd) -> anyhow::Result<i32> {
    match cmd {
        ImageCmd::Inspect(a) => inspect(ctx, a),
        ImageCmd::Ls(a) => images(ctx, a),
        ImageCmd::Rm(a) => rmi(ctx, a),
        ImageCmd::Tag(a) => tag(ctx, a),
        ImageCmd::Prune(a) => prune(ctx, a),
        ImageCmd::Load(a) => load::load(ctx, a),
        ImageCmd::Save(a) => load::save(ctx, a),
    }
}

pub fn images(ctx: &Ctx, args: ImagesArgs) -> anyhow::Result<i32> {
    let rows = ctx.client()?.images()?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in rows {
            if seen.insert(r.id.clone()) {
                let id = if args.no_trunc {
                    r.id.to_string()
                } else {
                    r.id.short().to_string()
                };
                writeln!(out, "{id}")?;
            }
        }
        return Ok(0);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let table: Vec<[String; 5]> = rows.iter().map(|r| row(r, now, args.no_trunc)).collect();
    let head = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"].map(String::from);
    let mut widths = [0usize; 5];
    for r in std::iter::once(&head).chain(&table) {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&head).chain(&table) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("   ").trim_end())?;
    }
    Ok(0)
}

fn row(r: &ImageSummary, now: u64, no_trunc: bool) -> [String; 5] {
    let created = r
        .created
        .as_deref()
        .and_then(parse_rfc3339)
        .map_or_else(|| "N/A".to_string(), |t| ago(now.saturating_sub(t)));
    let id = if no_trunc {
        r.id.to_string()
    } else {
        r.id.short().to_string()
    };
    [
        r.repository.clone(),
        r.tag.clone(),
        id,
        created,
        human_size(r.size),
    ]
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS...` (UTC; offsets ignored).
fn parse_rfc3339(s: &str) -> Option<u64> {
    let n = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn ago(secs: u64) -> String {
    let (n, unit) = match secs {
        0..=59 => return "Less than a minute ago".into(),
        60..=3599 => (secs / 60, "minute"),
        3600..=172_799 => (secs / 3600, "hour"),
        172_800..=1_209_599 => (secs / 86_400, "day"),
        1_209_600..=5_183_999 => (secs / 604_800, "week"),
        5_184_000..=63_071_999 => (secs / 2_592_000, "month"),
        _ => (secs / 31_536_000, "year"),
    };
    if n == 1 {
        format!("{} {unit} ago", if unit == "hour" { "An" } else { "1" })
    } else {
        format!("{n} {unit}s ago")
    }
}

/// Docker's sizes: decimal units, 3 significant digits.
fn human_size(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let p = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.p$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

pub fn rmi(ctx: &Ctx, args: RmiArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut code = 0;
    for r in &args.images {
        match client.image_remove(r, args.force) {
            Ok(removed) => {
                for x in removed {
                    match x {
                        Removed::Untagged(t) => println!("Untagged: {t}"),
                        Removed::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(code)
}

pub fn tag(ctx: &Ctx, args: TagArgs) -> anyhow::Result<i32> {
    ctx.client()?.image_tag(&args.source, &args.target)?;
    Ok(0)
}

pub fn inspect(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut found = Vec::new();
    let mut code = 0;
    for r in &args.images {
        match client.image_inspect(r) {
            Ok(i) => found.push(i),
            Err(ClientError::Api(e)) => {
                eprintln!("skiff: Error response from daemon: {}", e.message);
                code = 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("{}", serde_json::to_string_pretty(&found)?);
    Ok(code)
}

pub fn prune(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force && std::io::stdin().is_terminal() {
        print!("WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let report = ctx.client()?.image_prune()?;
    if !report.images_deleted.is_empty() {
        println!("Deleted Images:");
        for d in &report.images_deleted {
            println!("deleted: {d}");
        }
        println!();
    }
    println!(
        "Total reclaimed: {} blobs, {} layers",
        report.gc.blobs_removed, report.gc.layers_removed
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_like_docker() {
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(123_456_789), "123MB");
        assert_eq!(parse_rfc3339("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(
            parse_rfc3339("2024-03-01T00:00:00.123Z"),
            Some(1_709_251_200)
        );
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
    }
}
