//! Unit tests of the freezer's pure policy: samples over time in, actions out.

use super::*;

const W: Duration = Duration::from_secs(5);

fn cfg() -> Thresholds {
    Thresholds {
        high: 60.0,
        low: 20.0,
        window: W,
    }
}

fn c(id: &str, priority: i64, state: BatchState) -> Candidate {
    Candidate {
        id: id.into(),
        priority,
        state,
    }
}

/// A sample with service containers running.
fn busy(pressure: f64) -> Sample {
    Sample {
        pressure: Some(pressure),
        services_running: true,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Feeds one sample per second from `from` to `to` (inclusive); returns the
/// actions with the second they happened at, applying each to `cands`.
fn run(
    p: &mut Policy,
    cands: &mut [Candidate],
    from: u64,
    to: u64,
    pressure: f64,
) -> Vec<(u64, Action)> {
    let mut out = Vec::new();
    for t in from..=to {
        if let Some(a) = p.step(secs(t), busy(pressure), cands) {
            let (id, state) = match &a {
                Action::Freeze(id) => (id.clone(), BatchState::Frozen),
                Action::Thaw(id) => (id.clone(), BatchState::Running),
            };
            for c in cands.iter_mut().filter(|c| c.id == id) {
                c.state = state;
            }
            out.push((t, a));
        }
    }
    out
}

#[test]
fn freezes_only_after_a_full_window_of_high_pressure() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![c("a", 1, BatchState::Running)];
    assert!(run(&mut p, &mut cands, 0, 4, 90.0).is_empty());
    assert_eq!(
        run(&mut p, &mut cands, 5, 5, 90.0),
        vec![(5, Action::Freeze("a".into()))]
    );
}

#[test]
fn a_dip_below_high_restarts_the_window() {
    let mut p = Policy::new(cfg());
    let cands = vec![c("a", 1, BatchState::Running)];
    for t in 0..4 {
        assert_eq!(p.step(secs(t), busy(90.0), &cands), None);
    }
    assert_eq!(p.step(secs(4), busy(40.0), &cands), None);
    for t in 5..10 {
        assert_eq!(p.step(secs(t), busy(90.0), &cands), None, "t={t}");
    }
    assert_eq!(
        p.step(secs(10), busy(90.0), &cands),
        Some(Action::Freeze("a".into()))
    );
}

#[test]
fn a_missing_sample_breaks_the_streak() {
    let mut p = Policy::new(cfg());
    let cands = vec![c("a", 1, BatchState::Running)];
    for t in 0..4 {
        p.step(secs(t), busy(90.0), &cands);
    }
    let none = Sample {
        pressure: None,
        services_running: true,
    };
    assert_eq!(p.step(secs(4), none, &cands), None);
    assert_eq!(p.step(secs(5), busy(90.0), &cands), None);
}

#[test]
fn freezes_lowest_priority_first_one_per_window() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("hi", 9, BatchState::Running),
        c("lo", -3, BatchState::Running),
        c("mid", 2, BatchState::Running),
    ];
    let acts = run(&mut p, &mut cands, 0, 30, 95.0);
    assert_eq!(
        acts,
        vec![
            (5, Action::Freeze("lo".into())),
            (10, Action::Freeze("mid".into())),
            (15, Action::Freeze("hi".into())),
        ]
    );
}

#[test]
fn thaws_highest_priority_first_one_per_hold() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("lo", 1, BatchState::Frozen),
        c("hi", 5, BatchState::Frozen),
        c("mid", 3, BatchState::Frozen),
    ];
    let acts = run(&mut p, &mut cands, 0, 20, 5.0);
    assert_eq!(
        acts,
        vec![
            (5, Action::Thaw("hi".into())),
            (10, Action::Thaw("mid".into())),
            (15, Action::Thaw("lo".into())),
        ]
    );
}

#[test]
fn between_thresholds_nothing_moves() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("a", 1, BatchState::Running),
        c("b", 1, BatchState::Frozen),
    ];
    assert!(run(&mut p, &mut cands, 0, 100, 40.0).is_empty());
}

#[test]
fn never_touches_what_it_is_not_offered() {
    // A user-paused container is not a candidate: with none running, high
    // pressure freezes nothing; with none frozen, low pressure thaws nothing.
    let mut p = Policy::new(cfg());
    assert!(run(&mut p, &mut [], 0, 20, 99.0).is_empty());
    assert!(run(&mut p, &mut [], 21, 60, 0.0).is_empty());
}

#[test]
fn ties_are_broken_by_id_deterministically() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("a", 1, BatchState::Running),
        c("b", 1, BatchState::Running),
    ];
    let acts = run(&mut p, &mut cands, 0, 10, 99.0);
    assert_eq!(acts[0], (5, Action::Freeze("b".into())));
    let acts = run(&mut p, &mut cands, 11, 30, 0.0);
    assert_eq!(acts[0].1, Action::Thaw("a".into()));
}

#[test]
fn a_bounce_doubles_the_hold_and_a_held_thaw_halves_it() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![c("a", 1, BatchState::Frozen)];
    // Low for a window: thawed at 5.
    assert_eq!(
        run(&mut p, &mut cands, 0, 5, 0.0),
        vec![(5, Action::Thaw("a".into()))]
    );
    // Its own demand pushes pressure up again: re-frozen at 11 (a bounce).
    assert_eq!(
        run(&mut p, &mut cands, 6, 11, 90.0),
        vec![(11, Action::Freeze("a".into()))]
    );
    assert_eq!(p.thaw_hold(), 2 * W);
    // Now it takes two windows of low pressure: 12 + 10 = 22.
    assert_eq!(
        run(&mut p, &mut cands, 12, 22, 0.0),
        vec![(22, Action::Thaw("a".into()))]
    );
    // Bounces again: hold 4 windows.
    run(&mut p, &mut cands, 23, 28, 90.0);
    assert_eq!(p.thaw_hold(), 4 * W);
    assert_eq!(cands[0].state, BatchState::Frozen);
    let acts = run(&mut p, &mut cands, 29, 49, 0.0);
    assert_eq!(acts, vec![(49, Action::Thaw("a".into()))]);
    // This time the thaw holds for 3 windows: the hold halves.
    run(&mut p, &mut cands, 50, 64, 40.0);
    assert_eq!(p.thaw_hold(), 2 * W);
}

#[test]
fn the_hold_is_capped() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![c("a", 1, BatchState::Frozen)];
    let mut t = 0;
    for _ in 0..10 {
        // Low until thawed, then high until re-frozen.
        let hold = p.thaw_hold().as_secs();
        run(&mut p, &mut cands, t, t + hold, 0.0);
        t += hold + 1;
        run(&mut p, &mut cands, t, t + 5, 90.0);
        t += 6;
        assert_eq!(cands[0].state, BatchState::Frozen);
    }
    assert_eq!(p.thaw_hold(), 16 * W);
}

#[test]
fn mixed_load_freezes_then_thaws_everything_back() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("x", 1, BatchState::Running),
        c("y", 2, BatchState::Running),
    ];
    run(&mut p, &mut cands, 0, 20, 80.0);
    assert!(cands.iter().all(|c| c.state == BatchState::Frozen));
    run(&mut p, &mut cands, 21, 60, 1.0);
    assert!(cands.iter().all(|c| c.state == BatchState::Running));
}

#[test]
fn without_services_nothing_is_frozen_and_frozen_work_comes_back() {
    let mut p = Policy::new(cfg());
    let mut cands = vec![
        c("a", 1, BatchState::Running),
        c("b", 2, BatchState::Frozen),
    ];
    let alone = Sample {
        pressure: Some(100.0),
        services_running: false,
    };
    let mut acts = Vec::new();
    for t in 0..=5 {
        if let Some(a) = p.step(secs(t), alone, &cands) {
            acts.push((t, a));
        }
    }
    assert_eq!(acts, vec![(5, Action::Thaw("b".into()))]);
    cands[1].state = BatchState::Running;
    for t in 6..=40 {
        assert_eq!(p.step(secs(t), alone, &cands), None);
    }
}
