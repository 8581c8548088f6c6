//! The three files skiff writes for every container and bind-mounts over the
//! image's: /etc/hosts, /etc/hostname, /etc/resolv.conf (pure rendering, plus a
//! writer). They live in the container's own directory, so they go with `rm`.
//!
//! On a skiff network the only nameserver is the network's gateway, where the
//! embedded DNS server answers container names and forwards everything else
//! (to the container's `--dns` servers if given, else the host's resolvers).

use crate::NetError;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// What the files say.
#[derive(Debug, Clone, Default)]
pub struct FilesSpec {
    pub hostname: String,
    /// The container's own names (container name, aliases) and its address on its
    /// first network, if it has one.
    pub own: Option<(Ipv4Addr, Vec<String>)>,
    /// `--add-host NAME:IP`, as typed (validated by [`parse_add_host`]).
    pub add_hosts: Vec<(String, String)>,
    /// Nameserver lines; empty means copy the host's.
    pub nameservers: Vec<String>,
    /// The host's resolv.conf text (its `search`/`options` lines are kept).
    pub host_resolv: String,
}

/// `NAME:IP` (IPv4 or IPv6; `host-gateway` is not supported).
pub fn parse_add_host(s: &str) -> Result<(String, String), NetError> {
    let bad = || NetError::Invalid(format!("invalid --add-host {s:?}: expected NAME:IP"));
    let (name, ip) = s.split_once(':').ok_or_else(bad)?;
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    ip.parse::<std::net::IpAddr>().map_err(|_| bad())?;
    Ok((name.to_string(), ip.to_string()))
}

pub fn hosts(spec: &FilesSpec) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in &spec.add_hosts {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    match &spec.own {
        Some((ip, names)) => {
            let mut all = vec![spec.hostname.clone()];
            all.extend(names.iter().filter(|n| **n != spec.hostname).cloned());
            out.push_str(&format!("{ip}\t{}\n", all.join(" ")));
        }
        None => out.push_str(&format!("127.0.1.1\t{}\n", spec.hostname)),
    }
    out
}

pub fn resolv_conf(spec: &FilesSpec) -> String {
    if spec.nameservers.is_empty() {
        return spec.host_resolv.clone();
    }
    let mut out = String::new();
    for ns in &spec.nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    for line in spec.host_resolv.lines() {
        let l = line.trim_start();
        if l.starts_with("search ") || l.starts_with("options ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Writes the three files into `dir` and returns (container path, host path) pairs to bind.
pub fn write(dir: &Path, spec: &FilesSpec) -> Result<Vec<(String, PathBuf)>, NetError> {
    let files = [
        ("/etc/hosts", "hosts", hosts(spec)),
        ("/etc/hostname", "hostname", format!("{}\n", spec.hostname)),
        ("/etc/resolv.conf", "resolv.conf", resolv_conf(spec)),
    ];
    let mut out = Vec::new();
    for (dest, name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| NetError::io(format!("write {}", path.display()))(e))?;
        out.push((dest.to_string(), path));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders() {
        let spec = FilesSpec {
            hostname: "web".into(),
            own: Some((
                Ipv4Addr::new(198, 18, 0, 2),
                vec!["web".into(), "www".into()],
            )),
            add_hosts: vec![parse_add_host("db.local:198.18.9.9").unwrap()],
            nameservers: vec!["198.18.0.1".into()],
            host_resolv: "nameserver 127.0.0.53\nsearch corp\noptions edns0\n".into(),
        };
        let h = hosts(&spec);
        assert!(h.contains("198.18.0.2\tweb www\n"), "{h}");
        assert!(h.contains("198.18.9.9\tdb.local\n"), "{h}");
        let r = resolv_conf(&spec);
        assert_eq!(r, "nameserver 198.18.0.1\nsearch corp\noptions edns0\n");
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("a:notanip").is_err());
    }
}
