//! `skiff ps [-a] [-q] [--no-trunc] [--format json]`: Docker's table.

use super::Ctx;
use skiff_types::time::human_duration;
use skiff_types::{ContainerStatus, ContainerSummary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Format output: table (default) or json (one object per line)
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let json = match args.format.as_deref() {
        None | Some("table") => false,
        Some("json") | Some("{{json .}}") => true,
        Some(other) => anyhow::bail!("unsupported --format {other:?}: want table or json"),
    };
    let mut rows = ctx.client()?.list(args.all)?;
    rows.sort_by_key(|c| std::cmp::Reverse(c.created));
    let now = now_nanos();
    let mut out = String::new();
    if args.quiet {
        for c in &rows {
            out.push_str(if args.no_trunc {
                c.id.as_str()
            } else {
                c.id.short()
            });
            out.push('\n');
        }
    } else if json {
        for c in &rows {
            out.push_str(&serde_json::to_string(c)?);
            out.push('\n');
        }
    } else {
        out = table(&rows, now, args.no_trunc);
    }
    print!("{out}");
    Ok(0)
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// `"sh -c 'slee…"` as Docker shows a command (quoted, 20 characters).
fn command_cell(cmd: &str, no_trunc: bool) -> String {
    let chars: Vec<char> = cmd.chars().collect();
    if no_trunc || chars.len() <= 20 {
        return format!("\"{cmd}\"");
    }
    let head: String = chars[..19].iter().collect();
    format!("\"{head}…\"")
}

/// The STATUS cell: the daemon's text, or one made from the status fields.
pub fn status_cell(c: &ContainerSummary) -> String {
    if !c.status_text.is_empty() {
        return c.status_text.clone();
    }
    match c.status {
        ContainerStatus::Created => "Created".into(),
        ContainerStatus::Running => "Up".into(),
        ContainerStatus::Paused => "Up (Paused)".into(),
        ContainerStatus::Restarting => format!("Restarting ({})", c.exit_code),
        ContainerStatus::Exited => format!("Exited ({})", c.exit_code),
        ContainerStatus::Dead => "Dead".into(),
    }
}

fn created_cell(created: u64, now: u64) -> String {
    format!(
        "{} ago",
        human_duration(now.saturating_sub(created) / 1_000_000_000)
    )
}

/// The table, columns padded to their widest cell plus three spaces.
pub fn table(rows: &[ContainerSummary], now: u64, no_trunc: bool) -> String {
    let header = ["CONTAINER ID", "COMMAND", "CREATED", "STATUS", "NAMES"].map(String::from);
    let mut cells = vec![header.to_vec()];
    for c in rows {
        cells.push(vec![
            if no_trunc {
                c.id.to_string()
            } else {
                c.id.short().to_string()
            },
            command_cell(&c.command, no_trunc),
            created_cell(c.created, now),
            status_cell(c),
            c.name.clone(),
        ]);
    }
    render(&cells)
}

/// Left-aligned columns separated by three spaces (the last unpadded).
pub fn render(cells: &[Vec<String>]) -> String {
    let cols = cells.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in cells {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cols {
                let pad = widths[i] - cell.chars().count() + 3;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::ContainerId;

    fn row(status: ContainerStatus, text: &str) -> ContainerSummary {
        ContainerSummary {
            id: ContainerId::from_bytes([0xab; 32]),
            name: "web".into(),
            command: "sh -c 'sleep 1000 && echo done'".into(),
            created: 0,
            status,
            status_text: text.into(),
            exit_code: 3,
            pid: 0,
        }
    }

    #[test]
    fn table_reads_like_docker() {
        let t = table(
            &[row(ContainerStatus::Running, "Up 5 seconds")],
            7_000_000_000,
            false,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "CONTAINER ID   COMMAND                  CREATED         STATUS         NAMES"
        );
        assert_eq!(
            lines[1],
            "abababababab   \"sh -c 'sleep 1000 &…\"   7 seconds ago   Up 5 seconds   web"
        );
    }

    #[test]
    fn status_falls_back_to_fields() {
        assert_eq!(status_cell(&row(ContainerStatus::Exited, "")), "Exited (3)");
        assert_eq!(
            status_cell(&row(ContainerStatus::Paused, "")),
            "Up (Paused)"
        );
        assert_eq!(status_cell(&row(ContainerStatus::Created, "")), "Created");
        assert_eq!(command_cell("true", false), "\"true\"");
    }
}
