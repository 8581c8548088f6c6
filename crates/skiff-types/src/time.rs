//! Timestamps: skiff stores nanoseconds since the Unix epoch and prints
//! RFC 3339 in UTC, as Docker does. Pure: callers read the clock.

/// Formats nanoseconds since the epoch as `2026-11-28T17:44:57.123456789Z`.
pub fn rfc3339_nanos(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:09}Z")
}

/// Formats seconds precision: `2026-11-28T17:44:57Z`.
pub fn rfc3339_secs(nanos: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(nanos / 1_000_000_000);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// "3 seconds", "2 minutes", "5 hours" as `docker ps` prints durations.
pub fn human_duration(secs: u64) -> String {
    match secs {
        0 => "Less than a second".to_string(),
        1 => "1 second".to_string(),
        2..=59 => format!("{secs} seconds"),
        60..=119 => "About a minute".to_string(),
        120..=3599 => format!("{} minutes", secs / 60),
        3600..=7199 => "About an hour".to_string(),
        7200..=172_799 => format!("{} hours", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// Days-from-civil inverse (Howard Hinnant's algorithm), UTC.
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nanos(1_795_887_897_000_000_123),
            "2026-11-28T17:44:57.000000123Z"
        );
        assert_eq!(
            rfc3339_secs(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }
}
