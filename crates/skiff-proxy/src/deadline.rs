//! A per-connection timeout that does not register a timer per use.
//! `tokio::time::timeout` inserts a timer for every request, and inserting
//! one earlier than the time driver's next wake-up unparks the driver (an
//! eventfd write, then an extra epoll event): a syscall per request. Here
//! one `Sleep` per connection stays armed; a use only moves the real
//! deadline forward in a plain field. When the timer fires before the real
//! deadline it is re-armed once, so a busy connection pays about one timer
//! registration per timeout period instead of one per request. The HTTP
//! proxy uses one per client connection, in turn for the keep-alive idle
//! wait and for each try's per-try timeout.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

#[derive(Debug)]
pub struct Deadline {
    sleep: Pin<Box<Sleep>>,
}

impl Default for Deadline {
    fn default() -> Self {
        // not registered until first polled; the first `run` re-arms it
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        Deadline {
            sleep: Box::pin(tokio::time::sleep_until(far)),
        }
    }
}

impl Deadline {
    /// Runs `fut` for at most `timeout`; `None` if the time ran out first.
    pub async fn run<F: Future>(&mut self, timeout: Duration, fut: F) -> Option<F::Output> {
        let real = Instant::now() + timeout;
        if self.sleep.is_elapsed() || self.sleep.deadline() > real {
            self.sleep.as_mut().reset(real);
        }
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Some(out),
                () = &mut self.sleep => {
                    if Instant::now() >= real {
                        return None;
                    }
                    self.sleep.as_mut().reset(real); // fired for an older use
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn times_out_only_after_the_current_use_deadline() {
        let mut d = Deadline::default();
        let t = Duration::from_secs(10);
        assert_eq!(d.run(t, async { 1 }).await, Some(1));
        // the timer is still armed for the first use's deadline (10 s);
        // 6 s later a second use must last until 16 s, not 10 s
        tokio::time::advance(Duration::from_secs(6)).await;
        let start = Instant::now();
        let slow = tokio::time::sleep(Duration::from_secs(8));
        assert_eq!(d.run(t, slow).await, Some(()));
        assert_eq!(Instant::now() - start, Duration::from_secs(8));
        let start = Instant::now();
        assert_eq!(d.run(t, std::future::pending::<()>()).await, None);
        assert_eq!(Instant::now() - start, t);
    }
}
