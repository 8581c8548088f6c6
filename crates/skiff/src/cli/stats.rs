//! `skiff stats [--no-stream] [--format json] [CONTAINER...]`.

use super::ps::render;
use super::Ctx;
use skiff_api::Client;
use skiff_types::StatsSample;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Format output: table (default) or json (one object per line)
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// One row of the output, computed from two samples.
#[derive(Debug, serde::Serialize, PartialEq)]
pub struct Row {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "CPUPerc")]
    pub cpu_perc: String,
    #[serde(rename = "MemUsage")]
    pub mem_usage: String,
    #[serde(rename = "MemPerc")]
    pub mem_perc: String,
    #[serde(rename = "PIDs")]
    pub pids: String,
}

/// Docker's binary units: `1.5MiB`, `512KiB`, `12B`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    // Four significant digits, trailing zeros trimmed (Go's "%.4g").
    let int_digits = (v.max(1.0).log10().floor() as usize) + 1;
    let mut num = format!("{v:.*}", 4usize.saturating_sub(int_digits));
    if num.contains('.') {
        num = num.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{num}{}", UNITS[i])
}

/// A row from the previous and the current sample; `host_mem` when unlimited.
pub fn row(prev: Option<&StatsSample>, cur: &StatsSample, host_mem: u64) -> Row {
    let cpu = match prev {
        Some(p) if cur.read_at > p.read_at => {
            let used = cur.cpu_usage_ns.saturating_sub(p.cpu_usage_ns) as f64;
            used / (cur.read_at - p.read_at) as f64 * 100.0
        }
        _ => 0.0,
    };
    let limit = cur.memory_limit.unwrap_or(host_mem);
    let mem_perc = if limit > 0 {
        cur.memory_usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    Row {
        id: cur.id.short().to_string(),
        name: cur.name.clone(),
        cpu_perc: format!("{cpu:.2}%"),
        mem_usage: format!("{} / {}", human_bytes(cur.memory_usage), human_bytes(limit)),
        mem_perc: format!("{mem_perc:.2}%"),
        pids: cur.pids.to_string(),
    }
}

fn host_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn sample_all(client: &Client, refs: &[String]) -> anyhow::Result<Vec<StatsSample>> {
    refs.iter()
        .map(|r| client.stats(r).map_err(Into::into))
        .collect()
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let json = match args.format.as_deref() {
        None | Some("table") => false,
        Some("json") | Some("{{json .}}") => true,
        Some(other) => anyhow::bail!("unsupported --format {other:?}: want table or json"),
    };
    let client = ctx.client()?;
    let host_mem = host_memory();
    let mut prev: HashMap<String, StatsSample> = HashMap::new();
    let mut first = true;
    loop {
        let refs = if args.containers.is_empty() {
            client
                .list(false)?
                .into_iter()
                .map(|c| c.id.to_string())
                .collect()
        } else {
            args.containers.clone()
        };
        let samples = sample_all(&client, &refs)?;
        // CPU % needs two samples: take a quick second one at the start.
        if first && !samples.is_empty() {
            first = false;
            prev = samples.into_iter().map(|s| (s.id.to_string(), s)).collect();
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        let rows: Vec<Row> = samples
            .iter()
            .map(|s| row(prev.get(s.id.as_str()), s, host_mem))
            .collect();
        let mut out = String::new();
        if !args.no_stream && !json {
            out.push_str("\x1b[2J\x1b[H");
        }
        if json {
            for r in &rows {
                out.push_str(&serde_json::to_string(r)?);
                out.push('\n');
            }
        } else {
            let mut cells = vec![[
                "CONTAINER ID",
                "NAME",
                "CPU %",
                "MEM USAGE / LIMIT",
                "MEM %",
                "PIDS",
            ]
            .map(String::from)
            .to_vec()];
            for r in rows {
                cells.push(vec![
                    r.id,
                    r.name,
                    r.cpu_perc,
                    r.mem_usage,
                    r.mem_perc,
                    r.pids,
                ]);
            }
            out.push_str(&render(&cells));
        }
        print!("{out}");
        if args.no_stream {
            return Ok(0);
        }
        prev = samples.into_iter().map(|s| (s.id.to_string(), s)).collect();
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::ContainerId;

    fn sample(at: u64, cpu: u64) -> StatsSample {
        StatsSample {
            id: ContainerId::from_bytes([1; 32]),
            name: "web".into(),
            read_at: at,
            cpu_usage_ns: cpu,
            memory_usage: 3 << 20,
            memory_limit: Some(64 << 20),
            pids: 2,
        }
    }

    #[test]
    fn rows_from_two_samples() {
        let r = row(Some(&sample(0, 0)), &sample(1_000_000_000, 250_000_000), 0);
        assert_eq!(r.cpu_perc, "25.00%");
        assert_eq!(r.mem_usage, "3MiB / 64MiB");
        assert_eq!(r.mem_perc, "4.69%");
        assert_eq!(r.pids, "2");
        assert_eq!(row(None, &sample(5, 5), 0).cpu_perc, "0.00%");
        assert_eq!(human_bytes(1536), "1.5KiB");
        assert_eq!(human_bytes(1023 << 20), "1023MiB");
        assert_eq!(human_bytes(12), "12B");
    }
}
