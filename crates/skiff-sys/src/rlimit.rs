//! Resource limits for container processes: the plain-data [`Rlimit`], names for messages,
//! and the allocation-free setter the spawn child calls.
//!
//! The host may cap hard limits below what an image asks for (on these machines root lacks
//! CAP_SYS_RESOURCE and the open-files hard limit is 20000), so every error names the limit.

/// One `setrlimit` request: `resource` is a libc `RLIMIT_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// The `RLIMIT_*` name of a resource, for messages.
pub fn name(resource: i32) -> &'static str {
    const NAMES: [(u32, &str); 16] = [
        (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        (libc::RLIMIT_AS, "RLIMIT_AS"),
        (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    ];
    NAMES
        .iter()
        .find(|(r, _)| *r as i32 == resource)
        .map_or("RLIMIT_?", |(_, n)| n)
}

/// The current (soft, hard) limit of `resource` for `pid` (0 = this process).
pub fn current_of(pid: i32, resource: i32) -> std::io::Result<(u64, u64)> {
    let mut old = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit64 with a NULL new limit only writes `old`, which outlives the call.
    let ret = unsafe { libc::prlimit64(pid, resource as _, std::ptr::null(), &mut old) };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((old.rlim_cur, old.rlim_max))
}

/// The current (soft, hard) limit of `resource` for this process.
pub fn current(resource: i32) -> std::io::Result<(u64, u64)> {
    current_of(0, resource)
}

/// Sets one limit on this process; returns errno on failure. Allocation-free (child-safe).
pub(crate) fn set(limit: &Rlimit) -> Result<(), i32> {
    let new = libc::rlimit64 {
        rlim_cur: limit.soft,
        rlim_max: limit.hard,
    };
    // SAFETY: `new` is a valid rlimit64 for the duration of the call; old is NULL.
    let ret = unsafe { libc::prlimit64(0, limit.resource as _, &new, std::ptr::null_mut()) };
    if ret < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_limits() {
        assert_eq!(name(libc::RLIMIT_NOFILE as i32), "RLIMIT_NOFILE");
        assert_eq!(name(999), "RLIMIT_?");
    }

    #[test]
    fn reads_own_limits() {
        let (soft, hard) = current(libc::RLIMIT_NOFILE as i32).expect("prlimit");
        assert!(soft <= hard);
    }
}
