//! IPv4 subnets and address allocation (pure): parsing `a.b.c.d/len`, the
//! default pool 198.18.0.0/15 (reserved for benchmarking, RFC 2544, so it never
//! collides with a user's LAN or VPN the way Docker's 172.17/16 does), picking
//! the next free /24 of it, and the next free host address of a subnet.

use crate::NetError;
use std::net::Ipv4Addr;

/// `198.18.0.0/15`: where skiff's subnets come from unless a user names one.
pub const POOL: Subnet = Subnet {
    addr: Ipv4Addr::new(198, 18, 0, 0),
    prefix: 15,
};

/// The prefix length of subnets cut from [`POOL`].
pub const POOL_PREFIX: u8 = 24;

/// A network address and prefix length; host bits are always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl Subnet {
    /// Parses `a.b.c.d/len` (16 <= len <= 29, host bits zero).
    pub fn parse(s: &str) -> Result<Subnet, NetError> {
        let bad = |why: &str| NetError::Invalid(format!("invalid subnet {s:?}: {why}"));
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| bad("expected a.b.c.d/len"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| bad("prefix length is not a number"))?;
        if !(16..=29).contains(&prefix) {
            return Err(bad("prefix length must be between 16 and 29"));
        }
        if u32::from(addr) & !mask(prefix) != 0 {
            let net = Ipv4Addr::from(u32::from(addr) & mask(prefix));
            return Err(bad(&format!(
                "host bits set (did you mean {net}/{prefix}?)"
            )));
        }
        Ok(Subnet { addr, prefix })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    /// The first host address: the bridge's own (the containers' gateway and DNS server).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) + 1)
    }

    fn broadcast(&self) -> u32 {
        u32::from(self.addr) | !mask(self.prefix)
    }

    /// The lowest host address not in `used` (gateway, network and broadcast excluded).
    pub fn next_free(&self, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let first = u32::from(self.addr) + 2;
        (first..self.broadcast())
            .map(Ipv4Addr::from)
            .find(|ip| !used.contains(ip))
    }
}

/// The first /24 of [`POOL`] that overlaps none of `taken` (skiff's own networks and the
/// host's routes, so a subnet another daemon or a VPN uses is skipped).
pub fn next_pool_subnet(taken: &[Subnet]) -> Option<Subnet> {
    let size = 1u32 << (32 - POOL_PREFIX);
    let count = 1u32 << (POOL_PREFIX - POOL.prefix);
    (0..count)
        .map(|i| Subnet {
            addr: Ipv4Addr::from(u32::from(POOL.addr) + i * size),
            prefix: POOL_PREFIX,
        })
        .find(|s| !taken.iter().any(|t| t.overlaps(s)))
}

/// Destinations of the non-default routes in a `/proc/net/route` text (the subnets the
/// host already reaches directly or through a VPN).
pub fn parse_proc_routes(text: &str) -> Vec<Subnet> {
    // The kernel prints the big-endian address as a native-endian u32.
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = hex(f.get(1)?)?;
            let m = hex(f.get(7)?)?;
            let prefix = m.leading_ones() as u8;
            (prefix > 0).then(|| Subnet {
                addr: Ipv4Addr::from(dest & mask(prefix)),
                prefix,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let s = Subnet::parse("198.18.4.0/24").unwrap();
        assert_eq!(s.gateway(), Ipv4Addr::new(198, 18, 4, 1));
        assert!(s.contains(Ipv4Addr::new(198, 18, 4, 200)));
        assert!(!s.contains(Ipv4Addr::new(198, 18, 5, 1)));
        for bad in [
            "198.18.4.1/24",
            "198.18.0.0",
            "x/24",
            "198.18.0.0/8",
            "198.18.0.0/30",
        ] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
        let e = Subnet::parse("198.18.4.1/24").unwrap_err().to_string();
        assert!(e.contains("198.18.4.0/24"), "{e}");
    }

    #[test]
    fn next_free_skips_gateway_used_and_broadcast() {
        let s = Subnet::parse("198.18.0.0/29").unwrap();
        let a = Ipv4Addr::new(198, 18, 0, 2);
        assert_eq!(s.next_free(&[]), Some(a));
        let used: Vec<_> = (2..7).map(|i| Ipv4Addr::new(198, 18, 0, i)).collect();
        assert_eq!(s.next_free(&used), None, ".7 is the broadcast");
        assert_eq!(
            s.next_free(&used[1..]),
            Some(a),
            "a released address is reused"
        );
    }

    #[test]
    fn pool_skips_taken_and_overlapping() {
        let first = next_pool_subnet(&[]).unwrap();
        assert_eq!(first.to_string(), "198.18.0.0/24");
        let taken = [first, Subnet::parse("198.18.0.0/23").unwrap()];
        assert_eq!(
            next_pool_subnet(&taken).unwrap().to_string(),
            "198.18.2.0/24"
        );
        assert_eq!(next_pool_subnet(&[POOL]), None);
    }

    #[test]
    fn proc_routes() {
        let text =
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
skiff0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_routes(text),
            vec![Subnet::parse("198.18.0.0/24").unwrap()]
        );
    }
}
