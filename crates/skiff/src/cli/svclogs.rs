//! Merged logs of a job's instances: one follower thread per container,
//! each line prefixed with the instance's name (`web-1 | ...`), as
//! `docker compose logs` prints them.

use skiff_api::Client;
use skiff_types::{FrameKind, JobView, LogOptions};
use std::collections::HashSet;
use std::io::Write;
use std::thread::JoinHandle;

/// `web-1` for the container `shop-web-1`.
fn short(job: &str, name: &str) -> String {
    name.strip_prefix(&format!("{job}-"))
        .unwrap_or(name)
        .to_string()
}

/// Spawns followers for the instances of `view` (of `service`, if given) not
/// yet in `followed`.
pub fn follow_new(
    client: &Client,
    view: &JobView,
    service: Option<&str>,
    opts: &LogOptions,
    followed: &mut HashSet<String>,
) -> Vec<JoinHandle<()>> {
    let job = view.topology.name.clone();
    let width = view
        .instances
        .iter()
        .filter_map(|i| i.report.name.as_deref())
        .map(|n| short(&job, n).len())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for inst in &view.instances {
        if service.is_some_and(|s| s != inst.alloc.service) {
            continue;
        }
        let (Some(id), Some(name)) = (&inst.report.container, &inst.report.name) else {
            continue;
        };
        if !followed.insert(id.clone()) {
            continue;
        }
        let prefix = format!("{:width$} | ", short(&job, name));
        let (client, id, opts) = (client.clone(), id.clone(), *opts);
        out.push(std::thread::spawn(move || {
            let Ok(frames) = client.logs(&id, &opts) else {
                return;
            };
            let mut partial: Vec<u8> = Vec::new();
            for frame in frames {
                let Ok(frame) = frame else { return };
                if !matches!(frame.kind, FrameKind::Stdout | FrameKind::Stderr) {
                    continue;
                }
                partial.extend_from_slice(&frame.data);
                while let Some(nl) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=nl).collect();
                    let mut o = std::io::stdout().lock();
                    let _ = o.write_all(prefix.as_bytes());
                    let _ = o.write_all(&line);
                    let _ = o.flush();
                }
            }
            if !partial.is_empty() {
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o, "{prefix}{}", String::from_utf8_lossy(&partial));
            }
        }));
    }
    out
}

/// The job that has a service named `service`, if exactly one does.
pub fn job_with_service(client: &Client, service: &str) -> anyhow::Result<Option<JobView>> {
    let mut jobs: Vec<JobView> = client
        .jobs()?
        .into_iter()
        .filter(|j| j.topology.services.contains_key(service))
        .collect();
    match jobs.len() {
        0 => Ok(None),
        1 => Ok(jobs.pop()),
        _ => anyhow::bail!(
            "several jobs have a service {service}: {}",
            jobs.iter()
                .map(|j| j.topology.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
