//! Process-wide signal dispositions (the few skiff changes).

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use std::io;

/// Sets `sig` to be ignored by this process.
pub fn ignore(sig: i32) -> io::Result<()> {
    set(sig, SigHandler::SigIgn)
}

/// Restores the default disposition of `sig`.
pub fn default(sig: i32) -> io::Result<()> {
    set(sig, SigHandler::SigDfl)
}

fn set(sig: i32, handler: SigHandler) -> io::Result<()> {
    let sig = Signal::try_from(sig).map_err(io::Error::from)?;
    let action = SigAction::new(handler, SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: SigIgn and SigDfl install no handler code, so no async-signal-safety
    // requirement applies; changing a disposition is process-wide and intended here.
    unsafe { sigaction(sig, &action) }.map_err(io::Error::from)?;
    Ok(())
}

/// Makes this process a child subreaper: orphaned descendants are reparented to it.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes plain integer arguments and
    // touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
