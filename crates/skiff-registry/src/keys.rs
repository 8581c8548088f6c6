//! The registry's key layout in the store, and the validation of service
//! names (they become DNS labels: `NAME.skiff`, `_PORT._tcp.NAME.skiff`).
//!
//! ```text
//! /skiff/services/<service>/<instance id>   JSON Instance, under the node's lease
//! /skiff/nodes/<node>                       JSON NodeRecord, under the node's lease
//! ```

use crate::RegistryError;

pub const SERVICES: &str = "/skiff/services/";
pub const NODES: &str = "/skiff/nodes/";

/// `/skiff/services/<service>/`: every instance of one service.
pub fn service_prefix(service: &str) -> String {
    format!("{SERVICES}{service}/")
}

/// `/skiff/services/<service>/<id>`.
pub fn instance_key(service: &str, id: &str) -> String {
    format!("{SERVICES}{service}/{id}")
}

/// `/skiff/nodes/<node>`.
pub fn node_key(node: &str) -> String {
    format!("{NODES}{node}")
}

/// `(service, id)` of an instance key, if it is one.
pub fn parse_instance_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(SERVICES)?;
    let (service, id) = rest.split_once('/')?;
    (!service.is_empty() && !id.is_empty()).then_some((service, id))
}

/// A service name is one DNS label: 1-63 of `[a-z0-9-]`, not starting or
/// ending with `-` (so `NAME.skiff` always resolves as written).
pub fn validate_service(name: &str) -> Result<(), RegistryError> {
    if skiff_types::is_service_name(name) {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "invalid service name {name:?}: use 1-63 lowercase letters, digits and '-' (not at either end)"
        )))
    }
}

/// Instance ids and node names are single key segments: non-empty, no `/`,
/// no whitespace or control characters.
pub fn validate_segment(what: &str, value: &str) -> Result<(), RegistryError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && !value
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "invalid {what} {value:?}: must be non-empty, without '/' or whitespace"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let k = instance_key("web", "abc-80");
        assert_eq!(k, "/skiff/services/web/abc-80");
        assert_eq!(parse_instance_key(&k), Some(("web", "abc-80")));
        assert!(k.starts_with(&service_prefix("web")));
        assert!(!k.starts_with(&service_prefix("we")));
        assert_eq!(parse_instance_key("/skiff/services/web/"), None);
        assert_eq!(parse_instance_key("/skiff/nodes/a"), None);
        assert_eq!(node_key("n1"), "/skiff/nodes/n1");
    }

    #[test]
    fn service_names_are_dns_labels() {
        for ok in ["web", "a", "api-v2", "0x", &"a".repeat(63)] {
            assert!(validate_service(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Web", "-a", "a-", "a.b", "a/b", "a b", &"a".repeat(64)] {
            assert!(validate_service(bad).is_err(), "{bad}");
        }
        assert!(validate_segment("id", "abc:80").is_ok());
        assert!(validate_segment("id", "a/b").is_err());
        assert!(validate_segment("node", "").is_err());
    }
}
