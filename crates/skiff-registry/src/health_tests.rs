//! Unit tests of the health state machine (pure: times are passed in).

use super::*;
use skiff_types::HealthProbe;

fn check(interval: u64, retries: u32, start_period: u64) -> HealthCheck {
    HealthCheck {
        probe: HealthProbe::Cmd {
            argv: vec!["true".into()],
        },
        interval_ms: interval,
        timeout_ms: 500,
        retries,
        start_period_ms: start_period,
        start_interval_ms: skiff_types::DEFAULT_START_INTERVAL_MS,
    }
}

fn run(outcome: ProbeOutcome) -> ProbeRun {
    ProbeRun {
        started_ns: 1,
        ended_ns: 2,
        outcome,
    }
}

fn pass() -> ProbeRun {
    run(ProbeOutcome::Passed {
        output: "ok".into(),
    })
}

fn fail() -> ProbeRun {
    run(ProbeOutcome::Failed {
        exit_code: 1,
        output: "no".into(),
    })
}

#[test]
fn starts_in_starting_and_first_probe_waits_one_interval() {
    let m = HealthMonitor::new(check(1000, 3, 0), 10_000);
    assert_eq!(m.status(), HealthStatus::Starting);
    assert_eq!(m.next_due_ms(), 11_000);
    assert!(!m.is_due(10_999));
    assert!(m.is_due(11_000));
}

#[test]
fn one_success_makes_it_healthy() {
    let mut m = HealthMonitor::new(check(1000, 3, 0), 0);
    assert_eq!(m.record(pass(), 1000), Some(HealthStatus::Healthy));
    assert_eq!(m.record(pass(), 2000), None, "no change, no transition");
    assert_eq!(m.state().failing_streak, 0);
    assert_eq!(m.next_due_ms(), 3000);
}

#[test]
fn unhealthy_after_exactly_retries_consecutive_failures() {
    let mut m = HealthMonitor::new(check(1000, 3, 0), 0);
    m.record(pass(), 1000);
    assert_eq!(m.record(fail(), 2000), None);
    assert_eq!(m.record(fail(), 3000), None);
    assert_eq!(
        m.status(),
        HealthStatus::Healthy,
        "still healthy at streak 2"
    );
    assert_eq!(m.state().failing_streak, 2);
    assert_eq!(m.record(fail(), 4000), Some(HealthStatus::Unhealthy));
    assert_eq!(m.state().failing_streak, 3);
    assert_eq!(m.record(fail(), 5000), None);
    assert_eq!(m.state().failing_streak, 4);
}

#[test]
fn a_success_resets_the_streak() {
    let mut m = HealthMonitor::new(check(1000, 2, 0), 0);
    m.record(fail(), 1000);
    m.record(pass(), 2000);
    m.record(fail(), 3000);
    assert_eq!(m.status(), HealthStatus::Healthy);
    assert_eq!(m.state().failing_streak, 1);
    assert_eq!(m.record(fail(), 4000), Some(HealthStatus::Unhealthy));
    assert_eq!(m.record(pass(), 5000), Some(HealthStatus::Healthy));
    assert_eq!(m.state().failing_streak, 0);
}

#[test]
fn failures_from_starting_go_straight_to_unhealthy() {
    let mut m = HealthMonitor::new(check(1000, 2, 0), 0);
    assert_eq!(m.record(fail(), 1000), None);
    assert_eq!(m.status(), HealthStatus::Starting);
    assert_eq!(m.record(fail(), 2000), Some(HealthStatus::Unhealthy));
}

#[test]
fn start_period_failures_do_not_count() {
    let mut m = HealthMonitor::new(check(1000, 1, 5000), 0);
    for t in [1000, 2000, 3000, 4000] {
        assert_eq!(m.record(fail(), t), None);
        assert_eq!(m.state().failing_streak, 0);
        assert_eq!(m.status(), HealthStatus::Starting);
    }
    // A failure ending at the period's end counts.
    assert_eq!(m.record(fail(), 5000), Some(HealthStatus::Unhealthy));
}

#[test]
fn a_success_inside_the_start_period_is_healthy_at_once() {
    let mut m = HealthMonitor::new(check(1000, 3, 60_000), 0);
    m.record(fail(), 1000);
    assert_eq!(m.record(pass(), 2000), Some(HealthStatus::Healthy));
    // Once healthy, start-period failures still do not count.
    m.record(fail(), 3000);
    assert_eq!(m.state().failing_streak, 0);
}

#[test]
fn timeouts_are_failures_with_exit_code_minus_one() {
    let mut m = HealthMonitor::new(check(1000, 1, 0), 0);
    m.record(pass(), 1000);
    assert_eq!(
        m.record(run(ProbeOutcome::TimedOut), 2000),
        Some(HealthStatus::Unhealthy)
    );
    let last = m.state().log.last().unwrap();
    assert_eq!(last.exit_code, -1);
    assert_eq!(last.output, "Health check exceeded timeout (500ms)");
}

#[test]
fn a_failed_probe_reporting_zero_still_fails() {
    let mut m = HealthMonitor::new(check(1000, 1, 0), 0);
    let r = run(ProbeOutcome::Failed {
        exit_code: 0,
        output: "refused".into(),
    });
    assert_eq!(m.record(r, 1000), Some(HealthStatus::Unhealthy));
    assert_eq!(m.state().log[0].exit_code, 1);
}

#[test]
fn zero_retries_behaves_as_one() {
    let mut m = HealthMonitor::new(check(1000, 0, 0), 0);
    assert_eq!(m.record(fail(), 1000), Some(HealthStatus::Unhealthy));
}

#[test]
fn log_keeps_the_last_five_and_truncates_output() {
    let mut m = HealthMonitor::new(check(1000, 100, 0), 0);
    for i in 0..8u64 {
        let r = ProbeRun {
            started_ns: i,
            ended_ns: i,
            outcome: ProbeOutcome::Failed {
                exit_code: 2,
                output: "é".repeat(3000),
            },
        };
        m.record(r, 1000 * (i + 1));
    }
    let log = &m.state().log;
    assert_eq!(log.len(), LOG_ENTRIES);
    assert_eq!(log.first().unwrap().start, 3);
    assert!(log[0].output.len() <= OUTPUT_LIMIT);
    assert!(log[0].output.chars().all(|c| c == 'é'));
}

#[test]
fn next_probe_is_one_interval_after_the_last_finished() {
    let mut m = HealthMonitor::new(check(250, 3, 0), 0);
    m.record(pass(), 900);
    assert_eq!(m.next_due_ms(), 1150);
    let mut z = HealthMonitor::new(check(0, 3, 0), 0);
    assert_eq!(z.next_due_ms(), 1, "a zero interval never spins");
    z.record(pass(), 5);
    assert_eq!(z.next_due_ms(), 6);
}

#[test]
fn human_durations() {
    assert_eq!(human_ms(30_000), "30s");
    assert_eq!(human_ms(1500), "1.5s");
    assert_eq!(human_ms(20), "20ms");
}

#[test]
fn start_interval_paces_probes_until_the_first_verdict() {
    let mut c = check(30_000, 3, 10_000);
    c.start_interval_ms = 100;
    let mut m = HealthMonitor::new(c, 1_000);
    assert_eq!(m.next_due_ms(), 1_100, "first probe one start interval in");
    m.record(fail(), 1_120);
    assert_eq!(
        m.next_due_ms(),
        1_220,
        "still starting: start interval again"
    );
    assert_eq!(m.record(pass(), 1_230), Some(HealthStatus::Healthy));
    assert_eq!(m.next_due_ms(), 31_230, "healthy: back to the interval");
}

#[test]
fn start_interval_ends_with_the_start_period() {
    let mut c = check(1_000, 3, 500);
    c.start_interval_ms = 100;
    let mut m = HealthMonitor::new(c, 0);
    m.record(fail(), 400);
    assert_eq!(m.next_due_ms(), 500);
    m.record(fail(), 500);
    assert_eq!(m.next_due_ms(), 1_500, "period over: the interval");
}

#[test]
fn without_a_start_period_the_start_interval_is_unused() {
    let mut c = check(1_000, 3, 0);
    c.start_interval_ms = 10;
    let m = HealthMonitor::new(c, 0);
    assert_eq!(
        m.next_due_ms(),
        1_000,
        "Docker: first probe one interval in"
    );
}
