//! `skiff status [JOB]`: a tree of jobs, their services, and each service's
//! instances with state, health, addresses and node; slots no node can take
//! show as `pending: <the scheduler's reason>`.

use super::Ctx;
use skiff_types::{AllocStatus, DesiredState, InstanceView, JobView, PendingInstance};
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this job
    #[arg(value_name = "JOB")]
    pub job: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let views = match &args.job {
        Some(j) => vec![client.job(j)?],
        None => client.jobs()?,
    };
    if views.is_empty() {
        println!("no jobs");
    }
    print!("{}", render(&views));
    Ok(0)
}

fn status_word(i: &InstanceView) -> String {
    let s = match i.report.status {
        AllocStatus::Pending => "pending",
        AllocStatus::Running => "running",
        AllocStatus::Suspended => "frozen",
        AllocStatus::Complete => "complete",
        AllocStatus::Failed => "failed",
        AllocStatus::Stopped => "stopped",
    };
    match i.alloc.desired {
        DesiredState::Stop if i.report.status.is_live() => format!("{s} (stopping)"),
        _ => s.to_string(),
    }
}

/// The tree for `views`.
pub fn render(views: &[JobView]) -> String {
    let mut out = String::new();
    for v in views {
        let _ = writeln!(out, "{}", v.topology.name);
        let n = v.topology.services.len();
        for (si, svc) in v.topology.services.values().enumerate() {
            let last_svc = si + 1 == n;
            let (branch, pad) = if last_svc {
                ("└─", "   ")
            } else {
                ("├─", "│  ")
            };
            let mine: Vec<&InstanceView> = v
                .instances
                .iter()
                .filter(|i| i.alloc.service == svc.name)
                .collect();
            let ready = mine.iter().filter(|i| i.report.ready()).count();
            let want = svc.wanted_replicas(&v.topology);
            let mut line = format!("{branch} {} {ready}/{want}", svc.name);
            if let Some(lb) = &svc.lb {
                let _ = write!(line, "  lb {}", lb.listen);
            }
            let _ = writeln!(out, "{line}");
            let waiting: Vec<&PendingInstance> =
                v.pending.iter().filter(|p| p.service == svc.name).collect();
            let rows = mine.len() + waiting.len();
            for (ii, inst) in mine.iter().enumerate() {
                let b = if ii + 1 == rows { "└─" } else { "├─" };
                let name = inst
                    .report
                    .name
                    .clone()
                    .unwrap_or_else(|| inst.alloc.id.to_string());
                let health = inst
                    .report
                    .health
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                let addrs: Vec<String> = inst
                    .report
                    .addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect();
                let addrs = if addrs.is_empty() {
                    "-".to_string()
                } else {
                    addrs.join(",")
                };
                let mut line = format!(
                    "{pad}{b} {name}  {}{health}  {addrs}  node {}",
                    status_word(inst),
                    inst.alloc.node
                );
                if let Some(e) = &inst.report.error {
                    let _ = write!(line, "  error: {e}");
                }
                let _ = writeln!(out, "{line}");
            }
            for (pi, p) in waiting.iter().enumerate() {
                let b = if mine.len() + pi + 1 == rows {
                    "└─"
                } else {
                    "├─"
                };
                let _ = writeln!(
                    out,
                    "{pad}{b} {}#{}  pending: {}",
                    p.service,
                    p.index + 1,
                    p.reason
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use skiff_types::{ServiceSpec, Topology};

    #[test]
    fn pending_slots_show_their_reason() {
        let web = ServiceSpec {
            name: "web".into(),
            replicas: 1,
            ..Default::default()
        };
        let view = JobView {
            topology: Topology {
                name: "app".into(),
                services: [("web".to_string(), web)].into(),
                ..Default::default()
            },
            instances: vec![],
            pending: vec![PendingInstance {
                service: "web".into(),
                index: 0,
                reason: "no node has 400m cpu free (at most 200m)".into(),
                no_nodes: false,
            }],
        };
        assert_eq!(
            render(&[view]),
            "app\n└─ web 0/1\n   └─ web#1  pending: no node has 400m cpu free (at most 200m)\n"
        );
    }
}
