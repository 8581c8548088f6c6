//! Choosing a backend: a pure function of the set (through two accessors),
//! a round-robin cursor and a seeded RNG. No clock, no I/O, so every pick is
//! reproducible from its inputs.

use crate::config::Balance;

/// A tiny deterministic RNG (SplitMix64). Good enough to break ties between
/// two random candidates; not for anything secret.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform-enough integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// SplitMix64's output function, also used by the balancer's lock-free RNG.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Picks among `n` backends. `usable(i)` says whether backend `i` may be
/// chosen now (healthy and not already tried); `load(i)` is its outstanding
/// requests. `cursor` is the round-robin position. Returns `None` only when
/// no backend is usable.
pub fn pick(
    policy: Balance,
    n: usize,
    usable: impl Fn(usize) -> bool,
    load: impl Fn(usize) -> u64,
    cursor: u64,
    rng: &mut SplitMix,
) -> Option<usize> {
    if n == 0 {
        return None;
    }
    match policy {
        Balance::RoundRobin => {
            let start = (cursor % n as u64) as usize;
            (0..n).map(|k| (start + k) % n).find(|&i| usable(i))
        }
        Balance::P2c => {
            let count = (0..n).filter(|&i| usable(i)).count();
            match count {
                0 => None,
                1 => (0..n).find(|&i| usable(i)),
                _ => {
                    let a = rng.below(count);
                    let mut b = rng.below(count - 1);
                    if b >= a {
                        b += 1;
                    }
                    let nth = |k: usize| (0..n).filter(|&i| usable(i)).nth(k);
                    let (ia, ib) = (nth(a)?, nth(b)?);
                    Some(if load(ib) < load(ia) { ib } else { ia })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skips_unusable_and_wraps() {
        let ok = [true, false, true];
        let mut rng = SplitMix(1);
        let picks: Vec<_> = (0..4)
            .map(|c| pick(Balance::RoundRobin, 3, |i| ok[i], |_| 0, c, &mut rng))
            .collect();
        assert_eq!(picks, vec![Some(0), Some(2), Some(2), Some(0)]);
    }

    #[test]
    fn none_when_nothing_usable() {
        let mut rng = SplitMix(1);
        assert_eq!(pick(Balance::P2c, 2, |_| false, |_| 0, 0, &mut rng), None);
        assert_eq!(
            pick(Balance::RoundRobin, 0, |_| true, |_| 0, 0, &mut rng),
            None
        );
    }

    #[test]
    fn p2c_never_picks_the_most_loaded_of_two_and_is_seeded() {
        let load = [10u64, 0];
        for seed in 0..50 {
            let mut rng = SplitMix(seed);
            assert_eq!(
                pick(Balance::P2c, 2, |_| true, |i| load[i], 0, &mut rng),
                Some(1)
            );
        }
        let run = |seed| {
            let mut rng = SplitMix(seed);
            (0..20)
                .map(|_| pick(Balance::P2c, 5, |_| true, |_| 0, 0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn p2c_spreads_over_all_backends() {
        let mut rng = SplitMix(3);
        let mut hits = [0u32; 4];
        for _ in 0..400 {
            let i = pick(Balance::P2c, 4, |_| true, |_| 0, 0, &mut rng).unwrap();
            hits[i] += 1;
        }
        assert!(hits.iter().all(|&h| h > 0), "{hits:?}");
    }
}
