//! The retry budget: retries may be at most `ratio` of the requests seen in
//! the last second or two, plus `min_per_sec` always, so a sick backend set
//! cannot multiply the load by `max_tries` (Finagle's RetryBudget, linkerd's
//! retry budget). Two one-second windows, the previous one weighted by how
//! much of it still overlaps a sliding second. Time is passed in.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const WINDOW: u64 = 1_000_000_000;

#[derive(Debug, Default, Clone, Copy)]
struct Windows {
    start: u64,
    retries: u64,
    prev_requests: u64,
    prev_retries: u64,
}

/// Requests are counted with one atomic add on the hot path; the lock is
/// taken only to close a window or to ask for a retry.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    min_per_sec: u32,
    requests: AtomicU64,
    window_end: AtomicU64,
    state: Mutex<Windows>,
}

impl RetryBudget {
    pub fn new(ratio: f64, min_per_sec: u32) -> Self {
        RetryBudget {
            ratio,
            min_per_sec,
            requests: AtomicU64::new(0),
            window_end: AtomicU64::new(WINDOW),
            state: Mutex::new(Windows::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn roll(&self, w: &mut Windows, now: u64) {
        let elapsed = now.saturating_sub(w.start);
        if elapsed >= 2 * WINDOW {
            self.requests.store(0, Relaxed);
            *w = Windows {
                start: now - now % WINDOW,
                ..Windows::default()
            };
        } else if elapsed >= WINDOW {
            w.prev_requests = self.requests.swap(0, Relaxed);
            w.prev_retries = w.retries;
            w.retries = 0;
            w.start += WINDOW;
        }
        self.window_end.store(w.start + WINDOW, Relaxed);
    }

    /// A request arrived at `now` (nanoseconds on any monotonic scale).
    pub fn deposit(&self, now: u64) {
        if now >= self.window_end.load(Relaxed) {
            let mut w = self.lock();
            self.roll(&mut w, now);
        }
        self.requests.fetch_add(1, Relaxed);
    }

    /// Asks to retry at `now`; true (and counted) if the budget allows it.
    pub fn withdraw(&self, now: u64) -> bool {
        let mut w = self.lock();
        self.roll(&mut w, now);
        let left = 1.0 - (now.saturating_sub(w.start) as f64 / WINDOW as f64).min(1.0);
        let requests = self.requests.load(Relaxed) as f64 + w.prev_requests as f64 * left;
        let retries = w.retries as f64 + w.prev_retries as f64 * left;
        if retries + 1.0 <= self.min_per_sec as f64 + self.ratio * requests {
            w.retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_per_sec_allows_retries_without_traffic() {
        let b = RetryBudget::new(0.2, 3);
        assert!(b.withdraw(0));
        assert!(b.withdraw(1));
        assert!(b.withdraw(2));
        assert!(!b.withdraw(3));
        // two windows later the allowance is back
        assert!(b.withdraw(3 * WINDOW));
    }

    #[test]
    fn ratio_of_requests_bounds_retries() {
        let b = RetryBudget::new(0.2, 0);
        for t in 0..100 {
            b.deposit(t);
        }
        let granted = (0..100).filter(|&t| b.withdraw(100 + t)).count();
        assert_eq!(granted, 20);
    }

    #[test]
    fn previous_window_still_counts_partly() {
        let b = RetryBudget::new(0.5, 0);
        for t in 0..10 {
            b.deposit(t);
        }
        // a quarter into the next window, 3/4 of the old 10 requests count
        let granted = (0..10).filter(|_| b.withdraw(WINDOW + WINDOW / 4)).count();
        assert_eq!(granted, 3);
    }
}
