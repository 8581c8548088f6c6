//! Network namespaces made ahead of time.
//!
//! Creating a network namespace costs ~2-3 ms of kernel time; done inside
//! clone3 it sits on every container's start path. `create_detached` makes one
//! (with loopback up) on the calling thread and puts the thread back where it
//! was, so a daemon thread can keep a small pool ready; the spawner then only
//! `setns`es into one ([`crate::spawn::InitSpec::join_net`]).

use crate::spawn::sys::{close, cvt, SysResult};
use nix::sched::{setns, unshare, CloneFlags};
use std::io;
use std::os::fd::OwnedFd;

/// Makes a fresh network namespace with `lo` up and returns an fd to it. The calling
/// thread is returned to its original namespace; if that fails the error says so and
/// the caller must not use this thread for anything else (it is in the new namespace).
pub fn create_detached() -> io::Result<OwnedFd> {
    let original = OwnedFd::from(std::fs::File::open("/proc/thread-self/ns/net")?);
    unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let made = std::fs::File::open("/proc/thread-self/ns/net").map(OwnedFd::from);
    let up = loopback_up().map_err(io::Error::from_raw_os_error);
    setns(&original, CloneFlags::CLONE_NEWNET).map_err(|e| {
        io::Error::other(format!(
            "cannot return this thread to its network namespace: {e}"
        ))
    })?;
    up?;
    made
}

/// Binds a TCP listener at `addr` inside the network namespace `ns` (a
/// container's), from a throwaway thread that enters the namespace and then
/// ends: the socket stays in that namespace, the caller's threads never move.
pub fn bind_tcp_in(
    ns: std::os::fd::BorrowedFd<'_>,
    addr: std::net::SocketAddr,
) -> io::Result<std::net::TcpListener> {
    let ns = ns.try_clone_to_owned()?;
    std::thread::spawn(move || {
        setns(&ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        let l = std::net::TcpListener::bind(addr)?;
        l.set_nonblocking(true)?;
        Ok(l)
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
}

/// Sets IFF_UP on `lo` with two ioctls on a throwaway socket (no netlink, no allocation).
pub(crate) fn loopback_up() -> SysResult<()> {
    // SAFETY: socket(2) with integer arguments; the fd is closed below.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own, on our socket.
    let res = unsafe {
        cvt(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req)).and_then(|_| {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            cvt(libc::ioctl(fd, libc::SIOCSIFFLAGS, &req))
        })
    };
    close(fd);
    res.map(|_| ())
}

/// The index of interface `name` in the network namespace of socket `sock`
/// (SIOCGIFINDEX answers for the namespace the socket was opened in).
pub(crate) fn ifindex_via(sock: std::os::fd::BorrowedFd<'_>, name: &str) -> io::Result<i32> {
    use std::os::fd::AsRawFd;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name too long",
        ));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFINDEX reads the name from and writes the index into the ifreq we own.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut req) }).map_err(|e| {
        io::Error::new(
            io::Error::from_raw_os_error(e).kind(),
            format!("interface {name}: {}", io::Error::from_raw_os_error(e)),
        )
    })?;
    // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listener_bound_in_a_namespace_is_not_reachable_from_the_host() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        use std::os::fd::AsFd;
        let ns = super::create_detached().unwrap();
        let l = super::bind_tcp_in(ns.as_fd(), "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        // The host's loopback has no listener on that port (the namespace's has).
        assert!(std::net::TcpStream::connect(addr).is_err());
    }

    #[test]
    fn a_detached_namespace_differs_and_the_thread_returns() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let fd = super::create_detached().unwrap();
        let after = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        assert_eq!(before, after, "the thread is back home");
        let made = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .unwrap();
        assert_ne!(made, before);
    }
}
