//! Container ids and names, validated as Docker validates them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an id or a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("invalid container id {0:?}: want 64 lowercase hex characters")]
    BadId(String),
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed")]
    BadName(String),
}

/// A container's full id: 64 lowercase hex characters, like Docker's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerId(String);

impl ContainerId {
    /// Builds an id from 32 random bytes the caller drew.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut s = String::with_capacity(64);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        ContainerId(s)
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(ContainerId(s.to_string()))
        } else {
            Err(IdError::BadId(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-character form `ps` shows.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl TryFrom<String> for ContainerId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        ContainerId::parse(&s)
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user-chosen (or generated) container name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContainerName(String);

impl ContainerName {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.strip_prefix('/').unwrap_or(s);
        let mut bytes = s.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok = s.len() >= 2
            && s.len() <= 128
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-');
        if first_ok && rest_ok {
            Ok(ContainerName(s.to_string()))
        } else {
            Err(IdError::BadName(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ContainerName {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        ContainerName::parse(&s)
    }
}

impl From<ContainerName> for String {
    fn from(n: ContainerName) -> String {
        n.0
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_shorten() {
        let id = ContainerId::from_bytes([0xab; 32]);
        assert_eq!(id.as_str().len(), 64);
        assert_eq!(id.short(), "abababababab");
        assert_eq!(ContainerId::parse(id.as_str()).unwrap(), id);
        assert!(ContainerId::parse("xyz").is_err());
        assert!(ContainerId::parse(&"A".repeat(64)).is_err());
    }

    #[test]
    fn names_follow_docker_rules() {
        assert!(ContainerName::parse("web-1").is_ok());
        assert_eq!(ContainerName::parse("/web").unwrap().as_str(), "web");
        for bad in ["", "a", "-web", "we b", "web/1", "wéb"] {
            assert!(ContainerName::parse(bad).is_err(), "{bad}");
        }
    }
}
