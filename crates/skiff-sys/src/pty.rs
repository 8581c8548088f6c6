//! Pseudo-terminals for `-t` containers.
//!
//! [`open_pty`] allocates the pty on a private devpts instance made with the new mount API
//! (fsopen/fsmount, never attached anywhere on the host), so the slave is `/dev/pts/0` of that
//! instance. When such a slave is given to [`crate::spawn::spawn`] as `Stdio::Tty`, the child
//! attaches the same instance as its `/dev/pts`: `tty` inside prints `/dev/pts/0`, as under
//! Docker, and the container's ptys never share a namespace with the host's. The instance is
//! kept (keyed by the slave's device) until `spawn` takes it; if the new mount API is not
//! available it falls back to the host's /dev/ptmx.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::errno::Errno;

use crate::spawn::sys;

/// Detached devpts mounts from [`open_pty`], keyed by the st_dev of their slave.
static INSTANCES: Mutex<Vec<(u64, OwnedFd)>> = Mutex::new(Vec::new());

fn owned(fd: i64) -> nix::Result<OwnedFd> {
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: fd is a fresh descriptor returned by the kernel and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn fsconfig(
    fs: RawFd,
    cmd: libc::c_uint,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: key/value are NUL-terminated or NULL, as the command requires.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs, cmd, p(key), p(value), 0) };
    Errno::result(r).map(drop)
}

/// A new devpts instance as a detached mount fd.
fn private_devpts() -> nix::Result<OwnedFd> {
    // SAFETY: the name is NUL-terminated; the result is checked.
    let fs =
        owned(unsafe { libc::syscall(libc::SYS_fsopen, c"devpts".as_ptr(), sys::FSOPEN_CLOEXEC) })?;
    for (k, v) in [(c"ptmxmode", c"0666"), (c"mode", c"0620"), (c"gid", c"5")] {
        fsconfig(fs.as_raw_fd(), sys::FSCONFIG_SET_STRING, Some(k), Some(v))?;
    }
    fsconfig(fs.as_raw_fd(), sys::FSCONFIG_CMD_CREATE, None, None)?;
    let attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NOEXEC;
    // SAFETY: integer-only syscall on an fd we own.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            sys::FSMOUNT_CLOEXEC,
            attrs,
        )
    })
}

fn unlock_and_peer(master: &OwnedFd) -> nix::Result<OwnedFd> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, which is valid.
    Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes integer open flags and returns a new fd.
    owned(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) } as i64)
}

fn st_dev(fd: RawFd) -> nix::Result<u64> {
    // SAFETY: stat is plain data; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is valid and st outlives the call.
    Errno::result(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st.st_dev)
}

/// Opens a new pty: (master, slave). See the module docs.
pub fn open_pty() -> Result<(OwnedFd, OwnedFd), nix::Error> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    if let Ok(mnt) = private_devpts() {
        // SAFETY: "ptmx" is NUL-terminated; mnt is the instance's root.
        let master =
            owned(unsafe { libc::openat(mnt.as_raw_fd(), c"ptmx".as_ptr(), flags) } as i64)?;
        let slave = unlock_and_peer(&master)?;
        let dev = st_dev(slave.as_raw_fd())?;
        if let Ok(mut list) = INSTANCES.lock() {
            list.push((dev, mnt));
        }
        return Ok((master, slave));
    }
    // SAFETY: the path is NUL-terminated; the result is checked.
    let master = owned(unsafe { libc::open(c"/dev/ptmx".as_ptr(), flags) } as i64)?;
    let slave = unlock_and_peer(&master)?;
    Ok((master, slave))
}

/// Opens a new pty on the devpts instance of the container whose init is `pid` (for `exec -t`:
/// the program then sees a /dev/pts/N of its own container). The container's `dev/pts/ptmx`
/// is resolved with RESOLVE_IN_ROOT (a symlink planted there cannot point at the host) and must
/// be the ptmx character device (5:2).
pub fn open_pty_in_container(pid: i32) -> Result<(OwnedFd, OwnedFd), nix::Error> {
    let root_path =
        std::ffi::CString::new(format!("/proc/{pid}/root")).map_err(|_| Errno::EINVAL)?;
    // SAFETY: the path is NUL-terminated; the result is checked.
    let root = owned(unsafe {
        libc::open(
            root_path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    } as i64)?;
    let resolve = crate::spawn::sys::RESOLVE_IN_ROOT | crate::spawn::sys::RESOLVE_NO_MAGICLINKS;
    let flags = libc::O_RDWR | libc::O_NOCTTY;
    let fd = crate::spawn::sys::openat2(root.as_raw_fd(), c"dev/pts/ptmx", flags, resolve)
        .map_err(Errno::from_raw)?;
    let master = owned(fd as i64)?;
    // SAFETY: stat is plain data; fstat fills it from a valid fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: master is open and st outlives the call.
    Errno::result(unsafe { libc::fstat(master.as_raw_fd(), &mut st) })?;
    let is_ptmx = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(st.st_rdev) == 5
        && libc::minor(st.st_rdev) == 2;
    if !is_ptmx {
        return Err(Errno::EPERM);
    }
    let slave = unlock_and_peer(&master)?;
    Ok((master, slave))
}

/// Takes the devpts instance `slave` lives on, if [`open_pty`] made it (used by spawn).
pub(crate) fn take_devpts(slave: &OwnedFd) -> Option<OwnedFd> {
    let dev = st_dev(slave.as_raw_fd()).ok()?;
    let mut list = INSTANCES.lock().ok()?;
    let i = list.iter().position(|(d, _)| *d == dev)?;
    Some(list.swap_remove(i).1)
}

/// Sets the terminal size (TIOCSWINSZ) on a master or slave.
pub fn set_winsize(fd: impl AsFd, rows: u16, cols: u16) -> Result<(), nix::Error> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid.
    Errno::result(unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pty_roundtrip_and_winsize() {
        let (master, slave) = match open_pty() {
            Ok(p) => p,
            Err(e) => panic!("open_pty: {e}"),
        };
        set_winsize(&master, 40, 120).expect("winsize");
        let mut ws: libc::winsize = unsafe_zero();
        // SAFETY: TIOCGWINSZ writes one winsize to a valid pointer.
        let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(r, 0);
        assert_eq!((ws.ws_row, ws.ws_col), (40, 120));
        assert!(take_devpts(&slave).is_some() || !nix::unistd::Uid::effective().is_root());
    }

    fn unsafe_zero() -> libc::winsize {
        libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }
    }
}
