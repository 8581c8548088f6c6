//! Real netlink against private namespaces only: nothing is created on the host.

use super::Rtnl;
use crate::netns::create_detached;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};

fn root() -> bool {
    let r = nix::unistd::Uid::effective().is_root();
    if !r {
        eprintln!("skipped: needs root");
    }
    r
}

fn in_ns<T: Send + 'static>(ns: &OwnedFd, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.try_clone().unwrap();
    std::thread::spawn(move || {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn bridge_and_veth_peer_born_in_its_namespace_carry_tcp() {
    if !root() {
        return;
    }
    let host = create_detached().unwrap();
    let box_ns = create_detached().unwrap();
    let mut h = Rtnl::open_in(host.as_fd()).unwrap();
    h.add_bridge("sktest0", 1500).unwrap();
    let again = h.add_bridge("sktest0", 1500).unwrap_err();
    assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists, "{again}");
    let gw = Ipv4Addr::new(198, 18, 255, 1);
    h.add_addr("sktest0", gw, 24).unwrap();
    let br = h.index("sktest0").unwrap();
    h.add_veth("vtest0", br, "eth0", box_ns.as_fd(), [2, 0x42, 0, 0, 0, 2])
        .unwrap();
    assert!(
        h.index("eth0").is_err(),
        "the peer is not in the host namespace"
    );
    let mut c = Rtnl::open_in(box_ns.as_fd()).unwrap();
    assert!(c.index("eth0").unwrap() > 1);
    c.configure_peer("eth0", Ipv4Addr::new(198, 18, 255, 2), 24, gw)
        .unwrap();

    let listener = in_ns(&host, move || TcpListener::bind((gw, 0)).unwrap());
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        (buf, peer.ip())
    });
    in_ns(&box_ns, move || {
        let mut s = TcpStream::connect((gw, port)).unwrap();
        s.write_all(b"ping").unwrap();
    });
    let (buf, peer) = server.join().unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(peer, Ipv4Addr::new(198, 18, 255, 2));

    h.del_link("vtest0").unwrap();
    assert!(
        c.index("eth0").is_err(),
        "deleting the host end removes the peer"
    );
    let gone = h.del_link("vtest0").unwrap_err();
    assert_eq!(gone.kind(), std::io::ErrorKind::NotFound, "{gone}");
}

#[test]
fn bad_interface_names_are_refused_before_the_kernel() {
    let mut h = match Rtnl::open() {
        Ok(h) => h,
        Err(_) => return,
    };
    let e = h.add_bridge("this-name-is-too-long", 1500).unwrap_err();
    assert!(e.to_string().contains("invalid interface name"), "{e}");
    assert!(h.del_link("a b").is_err());
}
