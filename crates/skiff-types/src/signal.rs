//! Signal names as users write them (`TERM`, `SIGTERM`, `sigterm`, `15`): pure parsing
//! shared by the API (`kill -s`), the runtime (a container's stop signal) and the
//! topology parser (`stop_signal`).

use std::fmt;

/// The standard Linux signals with their numbers (x86/arm generic numbering).
pub const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

/// A signal name or number that is not a Linux signal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BadSignal(pub String);

impl fmt::Display for BadSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid signal {:?}", self.0)
    }
}

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`, `SIGRTMAX-1`.
pub fn parse_signal(s: &str) -> Result<i32, BadSignal> {
    let bad = || BadSignal(s.to_string());
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(nm, _)| *nm == name) {
        return Ok(n);
    }
    let rt = |base: i32, rest: &str| -> Result<i32, BadSignal> {
        let n = match rest {
            "" => base,
            _ if rest.starts_with('+') => base + rest[1..].parse::<i32>().map_err(|_| bad())?,
            _ if rest.starts_with('-') => base - rest[1..].parse::<i32>().map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        if (SIGRTMIN..=SIGRTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(SIGRTMIN, rest);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(SIGRTMAX, rest);
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_prefixes() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("sigkill"), Ok(9));
        assert_eq!(parse_signal("15"), Ok(15));
        assert_eq!(parse_signal("HUP"), Ok(1));
        assert_eq!(parse_signal("SIGWINCH"), Ok(28));
        assert_eq!(parse_signal("USR2"), Ok(12));
        assert_eq!(parse_signal("RTMIN"), Ok(34));
        assert_eq!(parse_signal("SIGRTMIN+2"), Ok(36));
        assert_eq!(parse_signal("RTMAX-1"), Ok(63));
        for (name, n) in SIGNALS {
            assert_eq!(parse_signal(&format!("SIG{name}")), Ok(*n));
        }
    }

    #[test]
    fn refuses_junk() {
        for bad in [
            "",
            "0",
            "65",
            "-9",
            "TERMINATE",
            "SIG",
            "RTMIN+40",
            "RTMAX+1",
            "RTMINx",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "invalid signal \"NOPE\""
        );
    }
}
