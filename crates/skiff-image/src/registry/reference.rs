//! Image references as Docker writes them: `[HOST[:PORT]/]NAME[:TAG][@sha256:HEX]`.
//!
//! The first path component is a registry host when it contains a `.` or a `:` or is
//! `localhost` (Docker's rule). skiff has no default registry: a short name such as
//! `busybox` would mean Docker Hub, which skiff does not assume, so it is refused with an error
//! that shows the form to use.

use std::fmt;

use crate::digest::Digest;
use crate::ops::normalize_name;
use crate::registry::error::{RegistryError, Result};

/// A parsed registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path inside the registry (`ns/name`).
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference; a missing tag (and digest) means `latest`.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |reason: &str| RegistryError::Reference {
            reference: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() || s.len() > 512 {
            return Err(bad("empty or longer than 512 bytes"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d).map_err(|e| bad(&e))?)),
            None => (s, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((h, p)) if h.contains('.') || h.contains(':') || h == "localhost" => (h, p),
            _ => {
                return Err(bad(
                    "no registry host: skiff has no default registry; name one, \
                     e.g. localhost:5000/busybox:1 or registry.example.com/ns/app:tag",
                ))
            }
        };
        if !valid_host(registry) {
            return Err(bad("registry must be HOST or HOST:PORT"));
        }
        let last = path.rsplit('/').next().unwrap_or(path);
        let (repository, tag) = match last.rfind(':') {
            Some(i) => (&path[..path.len() - last.len() + i], Some(&last[i + 1..])),
            None => (path, None),
        };
        if !valid_repository(repository) {
            return Err(bad(
                "repository must be lowercase [a-z0-9] components joined by . _ - and /",
            ));
        }
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(bad("tag must be [A-Za-z0-9_.-], at most 128 bytes"));
            }
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag
                .map(str::to_string)
                .or_else(|| digest.is_none().then(|| "latest".into())),
            digest,
        })
    }

    /// What goes after `/manifests/`: the digest when given, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The store name this reference tags (`host/repo:tag`), if it has a tag.
    pub fn store_name(&self) -> Option<String> {
        let tag = self.tag.as_ref()?;
        normalize_name(&format!("{}/{}:{tag}", self.registry, self.repository)).ok()
    }

    /// The host without the port (for `localhost` and `certs.d` look-ups).
    pub fn host_name(&self) -> &str {
        host_only(&self.registry)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `host` of `host:port` (and of `[v6]:port`).
pub(crate) fn host_only(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

fn valid_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !h.starts_with('[') || host.ends_with(']') => (host, Some(port)),
        _ => (h, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_repo_tag_digest() {
        let r = Reference::parse("localhost:5000/busybox:1").expect("parse");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "busybox");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.manifest_ref(), "1");
        assert_eq!(r.store_name().as_deref(), Some("localhost:5000/busybox:1"));
        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("127.0.0.1:5000/ns/app@{d}")).expect("parse");
        assert_eq!(r.repository, "ns/app");
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), d.to_string());
        assert_eq!(r.store_name(), None);
        let r = Reference::parse("registry.example.com/a/b").expect("parse");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.host_name(), "registry.example.com");
    }

    #[test]
    fn refuses_short_names_and_junk() {
        let e = Reference::parse("busybox:1").expect_err("short name");
        assert!(e.to_string().contains("no registry host"), "{e}");
        assert!(Reference::parse("library/busybox").is_err());
        assert!(Reference::parse("localhost:5000/BusyBox").is_err());
        assert!(Reference::parse("localhost:5000/a//b").is_err());
        assert!(Reference::parse("localhost:99999/a").is_err());
        assert!(Reference::parse("localhost:5000/a:b@sha256:00").is_err());
        assert!(Reference::parse("localhost:5000/a:").is_err());
        assert!(Reference::parse("localhost:5000/../a").is_err());
    }
}
