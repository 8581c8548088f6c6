//! `-p [IP:]HOST:CONTAINER[/tcp|udp]` and `-P` (pure parsing), plus the one
//! impure check: the host port must be free (bindable) right now.
//!
//! Published ports are nftables DNAT rules (see `nft.rs`): no process per port
//! and no copy through user space, where a userland proxy (docker-proxy) needs
//! both; the side-by-side measurement is still to be done (BENCHMARKS.md).
//! Host-loopback access (`127.0.0.1:HOST`) works through an OUTPUT-chain DNAT
//! plus `route_localnet` on the bridge and a masquerade of 127/8 towards it, as
//! netavark does.

use crate::state::{PortMap, Proto};
use crate::NetError;
use std::net::Ipv4Addr;

/// Parses one `-p` value. `HOST` may be empty (`-p 80` or `-p :80`): a free port is picked.
pub fn parse_publish(s: &str) -> Result<PortMap, NetError> {
    let bad = |why: &str| {
        NetError::Invalid(format!(
            "invalid port spec {s:?}: {why} (expected [IP:]HOST:CONTAINER[/tcp|udp])"
        ))
    };
    let (ports, proto) = match s.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some(_) => return Err(bad("protocol must be tcp or udp")),
        None => (s, Proto::Tcp),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (ip, host, cont) = match parts.as_slice() {
        [c] => (None, "", *c),
        [h, c] => (None, *h, *c),
        [ip, h, c] => (Some(*ip), *h, *c),
        _ => return Err(bad("too many ':'")),
    };
    let port = |p: &str, what: &str| -> Result<u16, NetError> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad(&format!("{what} port {p:?} is not 1-65535"))),
            Ok(n) => Ok(n),
        }
    };
    let host_ip = match ip {
        None | Some("") | Some("0.0.0.0") => None,
        Some(ip) => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?,
        ),
    };
    Ok(PortMap {
        host_ip,
        host_port: if host.is_empty() {
            0
        } else {
            port(host, "host")?
        },
        container_port: port(cont, "container")?,
        proto,
    })
}

/// Parses an image's `ExposedPorts` key (`80/tcp`, `53/udp`, `8080`) for `-P`.
pub fn parse_exposed(s: &str) -> Result<PortMap, NetError> {
    let (p, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    parse_publish(&format!(":{p}/{proto}"))
}

/// Checks the host port is free by binding it (and picks one when `host_port` is 0).
pub fn claim_host_port(p: &mut PortMap) -> Result<(), NetError> {
    let ip = p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let res = match p.proto {
        Proto::Tcp => std::net::TcpListener::bind((ip, p.host_port)).and_then(|l| l.local_addr()),
        Proto::Udp => std::net::UdpSocket::bind((ip, p.host_port)).and_then(|l| l.local_addr()),
    };
    match res {
        Ok(addr) => {
            p.host_port = addr.port();
            Ok(())
        }
        Err(e) => Err(NetError::Conflict(format!(
            "cannot publish {ip}:{}/{}: the host port is not available ({e})",
            p.host_port,
            p.proto.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = parse_publish("8080:80").unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.container_port, p.proto),
            (None, 8080, 80, Proto::Tcp)
        );
        let p = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            (p.host_port, p.container_port, p.proto),
            (53, 5353, Proto::Udp)
        );
        assert_eq!(parse_publish("80").unwrap().host_port, 0);
        assert_eq!(parse_exposed("443/tcp").unwrap().container_port, 443);
        for bad in [
            "", "a:80", "80:0", "1:2:3:4", "80/sctp", "x.y:1:2", "70000:80",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }
}
