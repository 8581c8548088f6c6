//! Generated container names, `adjective_noun` as Docker makes them.

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nifty", "proud", "quiet", "sharp", "swift", "tender", "vivid", "witty", "zealous", "bold",
];
const NOUNS: &[&str] = &[
    "hopper", "lovelace", "turing", "ritchie", "thompson", "knuth", "liskov", "dijkstra",
    "hamilton", "torvalds", "pike", "lamport", "shannon", "noether", "curie", "babbage", "perlman",
    "allen", "goldberg", "kay",
];

/// A name not in `taken`, seeded from the clock.
pub fn generate(taken: &[String]) -> String {
    let seed = crate::fsutil::now_nanos() as usize;
    for i in 0..ADJECTIVES.len() * NOUNS.len() {
        let n = seed.wrapping_add(i.wrapping_mul(7919));
        let name = format!(
            "{}_{}",
            ADJECTIVES[n % ADJECTIVES.len()],
            NOUNS[(n / 7) % NOUNS.len()]
        );
        if !taken.contains(&name) {
            return name;
        }
    }
    format!("skiff_{seed:x}")
}
