//! A small rtnetlink client: just the link, address and route messages skiff's
//! networking needs (bridges, veth pairs, addresses, a default route), written
//! by hand over a `NETLINK_ROUTE` socket instead of pulling in an async netlink
//! stack. Every request asks for an ACK and waits for it, so an error names
//! the step that failed. No `ip` binary is ever run.
//!
//! A socket talks to the network namespace it was opened in; [`Rtnl::open_in`]
//! opens one inside another namespace (from a short-lived thread that `setns`es
//! and then exits, so no thread of the caller ever changes namespace).
//!
//! The veth's container end is created directly inside the container's
//! namespace (`IFLA_NET_NS_FD` on the peer): moving an interface between
//! namespaces afterwards costs the kernel tens of milliseconds.

use nix::sys::socket::{
    bind, recv, send, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_REPLACE: u16 = 0x100;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;

const IFF_UP: u32 = 0x1;
const NLA_F_NESTED: u16 = 0x8000;

/// An rtnetlink socket bound to one network namespace.
pub struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

/// A request being built: header placeholder, fixed part, then attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // seq, patched in `finish`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // pid
        Msg { buf }
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) -> &mut Self {
        self.buf
            .extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
        self
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    fn str_attr(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    /// Opens a nested attribute; returns its offset for `end_nest`.
    fn nest(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end_nest(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

fn check_ifname(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() < 16
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?} (1-15 of [A-Za-z0-9._-])"),
        ))
    }
}

impl Rtnl {
    /// A socket in the caller's network namespace.
    pub fn open() -> io::Result<Rtnl> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Rtnl { fd, seq: 1 })
    }

    /// A socket in the network namespace `ns` (an fd to /proc/PID/ns/net or a pool namespace).
    pub fn open_in(ns: BorrowedFd<'_>) -> io::Result<Rtnl> {
        let ns = ns.try_clone_to_owned()?;
        std::thread::Builder::new()
            .name("rtnl-open".into())
            .spawn(move || {
                // This thread exists only for this: it never returns to the caller's namespace.
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
                Rtnl::open()
            })?
            .join()
            .map_err(|_| io::Error::other("netlink opener thread panicked"))?
    }

    /// The index of link `name` in this socket's namespace (`if_nametoindex` would answer
    /// for the caller's namespace, which may not be this socket's).
    pub fn index(&self, name: &str) -> io::Result<i32> {
        check_ifname(name)?;
        crate::netns::ifindex_via(self.fd.as_fd(), name)
    }

    fn request(&mut self, msg: Msg, what: &str) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty())
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{what}: send: {e}")))?;
        let mut buf = vec![0u8; 8192];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let mut off = 0;
            while off + 16 <= n {
                let len =
                    u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap_or_default()) as usize;
                let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
                let rseq =
                    u32::from_ne_bytes(buf[off + 8..off + 12].try_into().unwrap_or_default());
                if len < 16 || off + len > n {
                    return Err(io::Error::other(format!("{what}: malformed netlink reply")));
                }
                if kind == NLMSG_ERROR && rseq == seq && len >= 20 {
                    let code =
                        i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap_or_default());
                    if code == 0 {
                        return Ok(());
                    }
                    let e = io::Error::from_raw_os_error(-code);
                    let kind = match -code {
                        libc::ENODEV => io::ErrorKind::NotFound,
                        _ => e.kind(),
                    };
                    return Err(io::Error::new(kind, format!("{what}: {e}")));
                }
                off += (len + 3) & !3;
            }
        }
    }

    /// Creates bridge `name` (up), with the given MTU. EEXIST if it already exists.
    ///
    /// The bridge gets a fixed MAC (locally administered, derived from its name): a
    /// bridge whose MAC the kernel chose follows the lowest MAC among its ports, so a
    /// container leaving would change it and every other container's ARP entry for
    /// the gateway would go stale (replies to the host black-holed for up to a minute).
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> io::Result<()> {
        check_ifname(name)?;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let x = h.to_le_bytes();
        let mac = [0x02, 0x5b, x[0], x[1], x[2], x[3]];
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP)
            .str_attr(IFLA_IFNAME, name)
            .attr(IFLA_MTU, &mtu.to_ne_bytes())
            .attr(IFLA_ADDRESS, &mac);
        let info = m.nest(IFLA_LINKINFO);
        m.str_attr(IFLA_INFO_KIND, "bridge");
        m.end_nest(info);
        self.request(m, &format!("create bridge {name}"))
    }

    /// Sets link `name` up.
    pub fn set_up(&mut self, name: &str) -> io::Result<()> {
        let index = self.index(name)?;
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index, IFF_UP, IFF_UP);
        self.request(m, &format!("set {name} up"))
    }

    /// Creates a veth pair: `host` (up, enslaved to bridge index `master`) here, and its
    /// peer `peer` (down, with MAC `mac`) directly inside the namespace `peer_ns`.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: i32,
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        mac: [u8; 6],
    ) -> io::Result<()> {
        check_ifname(host)?;
        check_ifname(peer)?;
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP)
            .str_attr(IFLA_IFNAME, host)
            .attr(IFLA_MASTER, &master.to_ne_bytes());
        let info = m.nest(IFLA_LINKINFO);
        m.str_attr(IFLA_INFO_KIND, "veth");
        let data = m.nest(IFLA_INFO_DATA);
        let peer_at = m.nest(VETH_INFO_PEER);
        // Not up yet: the kernel opens the peer before pairing it (ENOTCONN); `configure_peer` does.
        m.ifinfo(0, 0, 0)
            .str_attr(IFLA_IFNAME, peer)
            .attr(IFLA_ADDRESS, &mac)
            .attr(IFLA_NET_NS_FD, &peer_ns.as_fd().as_raw_fd().to_ne_bytes());
        m.end_nest(peer_at);
        m.end_nest(data);
        m.end_nest(info);
        self.request(m, &format!("create veth {host} <-> {peer}"))
    }

    /// Deletes link `name` (a veth's other end goes with it). NotFound if absent.
    pub fn del_link(&mut self, name: &str) -> io::Result<()> {
        check_ifname(name)?;
        let mut m = Msg::new(RTM_DELLINK, 0);
        m.ifinfo(0, 0, 0).str_attr(IFLA_IFNAME, name);
        self.request(m, &format!("delete link {name}"))
    }

    /// Adds `addr/prefix` to link `name` (replacing an identical one).
    pub fn add_addr(&mut self, name: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let index = self.index(name)?;
        self.add_addr_index(index, addr, prefix, name)
    }

    fn add_addr_index(
        &mut self,
        index: i32,
        addr: Ipv4Addr,
        prefix: u8,
        name: &str,
    ) -> io::Result<()> {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        // struct ifaddrmsg
        m.buf
            .extend_from_slice(&[libc::AF_INET as u8, prefix, 0, 0]);
        m.buf.extend_from_slice(&index.to_ne_bytes());
        let bcast = u32::from(addr) | (u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0));
        m.attr(IFA_LOCAL, &addr.octets())
            .attr(IFA_ADDRESS, &addr.octets())
            .attr(IFA_BROADCAST, &Ipv4Addr::from(bcast).octets());
        self.request(m, &format!("add {addr}/{prefix} to {name}"))
    }

    /// Adds a default route via `gateway` out of link `name`.
    pub fn add_default_route(&mut self, name: &str, gateway: Ipv4Addr) -> io::Result<()> {
        let index = self.index(name)?;
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; flags
        m.buf.extend_from_slice(&[
            libc::AF_INET as u8,
            0,
            0,
            0,
            libc::RT_TABLE_MAIN,
            libc::RTPROT_BOOT,
            libc::RT_SCOPE_UNIVERSE,
            libc::RTN_UNICAST,
        ]);
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.attr(RTA_GATEWAY, &gateway.octets())
            .attr(RTA_OIF, &index.to_ne_bytes());
        self.request(m, &format!("default route via {gateway}"))
    }

    /// Configures the container end of a veth from inside its namespace: address,
    /// link up, then the default route through the bridge's gateway.
    pub fn configure_peer(
        &mut self,
        name: &str,
        addr: Ipv4Addr,
        prefix: u8,
        gateway: Ipv4Addr,
    ) -> io::Result<()> {
        let index = self.index(name)?;
        self.add_addr_index(index, addr, prefix, name)?;
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index, IFF_UP, IFF_UP);
        self.request(m, &format!("set {name} up"))?;
        self.add_default_route(name, gateway)
    }
}

/// Names of the links in the caller's namespace (from /sys/class/net).
pub fn link_names() -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/class/net")? {
        out.push(e?.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
