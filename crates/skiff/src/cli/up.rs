//! `skiff up [-d] [DIR | -f FILE ...] [--env NAME]`: parse and validate the
//! topology here (nothing is sent if it is invalid), build or pull its
//! images, hand it to the daemon as the job's desired state, and wait until
//! every instance runs (healthy where checked); with `-d`, an instance no
//! node has room for fails the command with the scheduler's reason (the job
//! stays submitted and is placed once room frees up). With `-d` it then prints
//! each load balancer's URL and returns; without, it follows the merged logs
//! until Ctrl-C and then takes the job down (containers and networks; named
//! volumes are kept). A foreground `up` that had to start the daemon (none
//! was running: the embedded store) also stops that daemon after the
//! teardown, unless something else now lives in it.

use super::topo::{load, prepare_images, TopoArgs};
use super::{svclogs, Ctx};
use nix::sys::signal::{SigSet, Signal};
use skiff_api::Client;
use skiff_types::{
    AllocStatus, DesiredState, JobView, LbMode, LogOptions, PendingInstance, Topology,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Return once everything runs, leaving it running
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Seconds to wait for every instance to run (and be healthy)
    #[arg(long, default_value_t = 300)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub topo: TopoArgs,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<i32> {
    let topo = load(&args.topo)?;
    // In the foreground, Ctrl-C from here on is ours to handle: the signal
    // thread reports it (the other threads inherit the blocked mask).
    let interrupted = match args.detach {
        true => None,
        false => {
            let signals = SigSet::from_iter([Signal::SIGINT, Signal::SIGTERM]);
            signals.thread_block()?;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(signals.wait());
            });
            Some(rx)
        }
    };
    let (client, started) = ctx.client_owned()?;
    // A detached job outlives this command: so does the daemon it needs.
    let owned = started.filter(|_| !args.detach);
    prepare_images(ctx, &topo)?;
    client.put_job(&topo)?;
    eprintln!(
        "Job {}: {} service(s) submitted",
        topo.name,
        topo.services.len()
    );
    let timeout = Duration::from_secs(args.wait_timeout);
    let Some(view) = wait_converged(
        &client,
        &topo.name,
        timeout,
        interrupted.as_ref(),
        args.detach,
    )?
    else {
        let code = teardown(&client, &topo)?;
        stop_owned(&client, owned);
        return Ok(code);
    };
    print_ready(&view);
    match interrupted {
        None => Ok(0),
        Some(rx) => {
            let code = foreground(&client, &topo, rx)?;
            stop_owned(&client, owned);
            Ok(code)
        }
    }
}

/// Stops the daemon this `up` started, once nothing else lives in it (no
/// container, job or load balancer): a foreground `up` leaves the host as
/// it found it.
fn stop_owned(client: &Client, pid: Option<u32>) {
    let Some(pid) = pid else { return };
    let idle = client.list(true).is_ok_and(|c| c.is_empty())
        && client.jobs().is_ok_and(|j| j.is_empty())
        && client.lb_list().is_ok_and(|l| l.is_empty());
    if !idle {
        eprintln!(
            "skiff: the daemon started for this up (pid {pid}) now runs other work: left running"
        );
        return;
    }
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    if nix::sys::signal::kill(pid, Signal::SIGTERM).is_err() {
        return;
    }
    // Our child: reap it, so no zombie outlives the wait.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                eprintln!("Stopped the skiff daemon started for this up (pid {pid})");
                return;
            }
        }
    }
    eprintln!("skiff: the daemon (pid {pid}) did not stop within 30s");
}

type Interrupt = std::sync::mpsc::Receiver<nix::Result<Signal>>;

fn teardown(client: &Client, topo: &Topology) -> anyhow::Result<i32> {
    eprintln!("Stopping job {}", topo.name);
    client.delete_job(&topo.name, false)?;
    eprintln!("Job {} removed", topo.name);
    Ok(0)
}

/// Polls the job until every service runs its wanted instances (`None`:
/// interrupted first). An instance no node can take (the controller has
/// settled and the scheduler says why) fails at once when `fail_pending`
/// (`up -d`: the job stays submitted and is placed when room appears);
/// otherwise its reason is printed and the wait goes on. No live node at
/// all (a daemon still joining) is always waited for.
pub fn wait_converged(
    client: &Client,
    job: &str,
    timeout: Duration,
    interrupted: Option<&Interrupt>,
    fail_pending: bool,
) -> anyhow::Result<Option<JobView>> {
    let begun = Instant::now();
    let deadline = begun + timeout;
    let mut last_errors = HashSet::new();
    let mut told = HashSet::new();
    loop {
        let view = client.job(job)?;
        if view.converged() {
            return Ok(Some(view));
        }
        if interrupted.is_some_and(|rx| rx.try_recv().is_ok()) {
            return Ok(None);
        }
        let stuck: Vec<&PendingInstance> = view.pending.iter().filter(|p| !p.no_nodes).collect();
        if fail_pending && !stuck.is_empty() {
            let lines: Vec<String> = stuck
                .iter()
                .map(|p| format!("  {} instance {}: {}", p.service, p.index + 1, p.reason))
                .collect();
            anyhow::bail!(
                "job {job}: {} instance(s) cannot be placed (they stay pending until capacity frees up; see skiff status):\n{}",
                stuck.len(),
                lines.join("\n")
            );
        }
        for p in &view.pending {
            if told.insert((p.service.clone(), p.index, p.reason.clone())) {
                eprintln!(
                    "{} instance {}: pending: {}",
                    p.service,
                    p.index + 1,
                    p.reason
                );
            }
        }
        for i in &view.instances {
            if let Some(e) = &i.report.error {
                if last_errors.insert((i.alloc.id.clone(), e.clone())) {
                    eprintln!("{}: {e}", i.alloc.id);
                }
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "job {job}: not every instance is running after {}s (see skiff status)",
                timeout.as_secs()
            );
        }
        // A fast topology is ready within a second or two: look often then
        // (each look is one local GET), then back off.
        let pause = if begun.elapsed() < Duration::from_secs(5) {
            20
        } else {
            200
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

fn print_ready(view: &JobView) {
    let topo = &view.topology;
    for svc in topo.services.values() {
        let running = view
            .instances
            .iter()
            .filter(|i| i.alloc.service == svc.name && i.alloc.desired != DesiredState::Stop)
            .filter(|i| {
                matches!(
                    i.report.status,
                    AllocStatus::Running | AllocStatus::Complete
                )
            })
            .count();
        println!("{:<20} {running} running", svc.name);
    }
    for url in lb_urls(topo) {
        println!("{url}");
    }
}

/// Where each service's load balancer listens.
pub fn lb_urls(topo: &Topology) -> Vec<String> {
    topo.services
        .values()
        .filter_map(|s| {
            let lb = s.lb.as_ref()?;
            let scheme = match lb.mode {
                LbMode::Http => "http",
                LbMode::Tcp => "tcp",
            };
            Some(format!("{}: {scheme}://{}", s.name, lb.listen))
        })
        .collect()
}

/// Follows the merged logs (picking up replaced instances) until a signal,
/// then takes the job down.
fn foreground(client: &Client, topo: &Topology, rx: Interrupt) -> anyhow::Result<i32> {
    let opts = LogOptions {
        follow: true,
        tail: None,
        timestamps: false,
        stdout: true,
        stderr: true,
    };
    let mut followed = HashSet::new();
    loop {
        if let Ok(view) = client.job(&topo.name) {
            svclogs::follow_new(client, &view, None, &opts, &mut followed);
        }
        if rx.recv_timeout(Duration::from_secs(1)).is_ok() {
            break;
        }
    }
    teardown(client, topo)
}
