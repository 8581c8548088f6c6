//! Passing file descriptors between skiff processes over unix sockets
//! (SCM_RIGHTS), and the conversions of received raw fds into owned ones.
//!
//! The keeper hands container stdio pipes to the daemon this way, so a
//! restarted daemon picks up the very pipes a container is writing into.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The most fds one message may carry (the kernel's SCM_MAX_FD is 253).
pub const MAX_FDS: usize = 16;

/// Sends `data` (one datagram on a SEQPACKET socket) with `fds` attached.
pub fn send_with_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many fds for one message",
        ));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [IoSlice::new(data)];
    let cmsgs = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage<'_>] = if raw.is_empty() { &[] } else { &cmsgs };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives one message into `buf`; returns its length (0 = peer closed) and the fds it carried.
pub fn recv_with_fds(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut cmsg_space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg_space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => break m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            for fd in raw {
                // SAFETY: the kernel just installed this descriptor in our table for
                // this message (SCM_RIGHTS); nothing else owns it yet.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
    let len = msg.bytes;
    if truncated {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message larger than buffer",
        ));
    }
    Ok((len, fds))
}

/// Takes ownership of a descriptor a nix call returned as a raw fd (e.g. `accept4`).
///
/// The caller must pass a descriptor that was just created for it and that
/// nothing else owns; every call site in skiff passes a fresh syscall result.
pub fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: per the contract above, `fd` is a fresh, open descriptor with no
    // other owner, so wrapping it in an OwnedFd gives it exactly one owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn a_pipe_crosses_a_socket() {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_with_fds(a.as_fd(), b"hello", &[r.as_fd()]).unwrap();
        drop(r);
        let mut buf = [0u8; 64];
        let (n, mut fds) = recv_with_fds(b.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(fds.len(), 1);
        std::fs::File::from(w).write_all(b"x").unwrap();
        let mut got = [0u8; 1];
        std::fs::File::from(fds.remove(0))
            .read_exact(&mut got)
            .unwrap();
        assert_eq!(&got, b"x");
    }
}
