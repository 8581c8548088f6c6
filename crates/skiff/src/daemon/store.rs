//! Opening the daemon's store from `--store`: the embedded redb file at
//! ROOT/store.redb by default, or `etcd://host:port,...` for a cluster.

use anyhow::Context;
use skiff_store::{EtcdOptions, RedbStore, Store};
use std::path::Path;
use std::sync::Arc;

/// Where the daemon keeps its registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Embedded,
    Etcd(EtcdOptions),
}

impl std::str::FromStr for StoreSpec {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "" | "embedded" | "redb" => Ok(StoreSpec::Embedded),
            _ if s.starts_with("etcd://") => Ok(StoreSpec::Etcd(s.parse()?)),
            _ => anyhow::bail!("invalid --store {s:?}: want embedded or etcd://host:port,..."),
        }
    }
}

pub async fn open(spec: &StoreSpec, root: &Path) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match spec {
        StoreSpec::Embedded => {
            let path = root.join("store.redb");
            Arc::new(
                RedbStore::open(&path)
                    .await
                    .with_context(|| format!("open the embedded store {}", path.display()))?,
            )
        }
        StoreSpec::Etcd(opts) => Arc::new(
            skiff_store::EtcdStore::connect(opts.clone())
                .await
                .with_context(|| format!("connect to etcd at {}", opts.endpoints.join(",")))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_store_flags() {
        assert_eq!(
            "embedded".parse::<StoreSpec>().unwrap(),
            StoreSpec::Embedded
        );
        let StoreSpec::Etcd(o) = "etcd://127.0.0.1:2379,h:1".parse::<StoreSpec>().unwrap() else {
            panic!("want etcd");
        };
        assert_eq!(o.endpoints, ["http://127.0.0.1:2379", "http://h:1"]);
        assert!("consul://x".parse::<StoreSpec>().is_err());
        assert!("etcd://".parse::<StoreSpec>().is_err());
    }
}
