//! Protection of the skiff binary against CVE-2019-5736 (a container overwriting the host
//! runtime through `/proc/<pid>/exe`).
//!
//! [`sealed_self_exe`] copies `/proc/self/exe` into a memfd and seals it (no write, grow,
//! shrink, or further sealing). The keeper re-executes itself from that memfd
//! ([`exec_sealed`]) before it forks any container, so `/proc/<pid>/exe` of every skiff process
//! that could be reached from a container names an immutable in-memory copy, never the file on
//! disk. The spawn children additionally stay non-dumpable until their own execve.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// A sealed memfd copy of the running executable.
pub fn sealed_self_exe() -> io::Result<OwnedFd> {
    let src = std::fs::File::open("/proc/self/exe")?;
    let len = src.metadata()?.len();
    // SAFETY: the name is NUL-terminated; the result is checked below.
    let fd = unsafe {
        libc::memfd_create(
            c"skiff".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh memfd owned by nobody else.
    let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut copied: u64 = 0;
    while copied < len {
        // SAFETY: both fds are valid; NULL offsets use and advance the file positions.
        let n = unsafe {
            libc::sendfile(
                memfd.as_raw_fd(),
                src.as_raw_fd(),
                std::ptr::null_mut(),
                (len - copied) as usize,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            break;
        }
        copied += n as u64;
    }
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short copy of /proc/self/exe",
        ));
    }
    // SAFETY: F_ADD_SEALS takes an integer seal mask.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(memfd)
}

/// True if this process already runs from a sealed memfd (so no re-exec is needed).
pub fn running_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only reads fd flags.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Replaces this process with the sealed copy `exe` (execveat with AT_EMPTY_PATH), passing
/// `args` (argv[0] included) and the current environment. Returns only on failure.
pub fn exec_sealed(exe: &OwnedFd, args: &[String]) -> io::Error {
    let to_c = |s: &[u8]| {
        CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in argument"))
    };
    let argv: Result<Vec<CString>, io::Error> = args.iter().map(|a| to_c(a.as_bytes())).collect();
    let env: Result<Vec<CString>, io::Error> = std::env::vars_os()
        .map(|(k, v)| {
            use std::os::unix::ffi::OsStrExt;
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            to_c(&kv)
        })
        .collect();
    let (argv, env) = match (argv, env) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let ptrs = |v: &[CString]| {
        v.iter()
            .map(|c| c.as_ptr().cast_mut())
            .chain([std::ptr::null_mut()])
            .collect::<Vec<_>>()
    };
    let (argv_p, env_p) = (ptrs(&argv), ptrs(&env));
    // SAFETY: all arrays are NULL-terminated and point at live CStrings.
    unsafe {
        libc::execveat(
            exe.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            env_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_is_sealed_against_writes() {
        let fd = sealed_self_exe().expect("sealed copy");
        let mut f = std::fs::File::from(fd);
        use std::io::Write;
        assert!(
            f.write_all(b"x").is_err(),
            "write to a sealed memfd must fail"
        );
        // SAFETY: F_GET_SEALS only reads.
        let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
        assert_eq!(seals & SEALS, SEALS);
        assert!(!running_sealed());
    }
}
