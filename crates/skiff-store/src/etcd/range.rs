//! Reading a prefix from etcd in pages. One unpaged range answers in one
//! gRPC message, and the client refuses messages over 4 MiB (tonic's
//! default): a controller reading ~10k allocations would fail on every pass.
//! So the range is read [`PAGE`] keys at a time, every page pinned to the
//! revision of the first one, which gives the same consistent snapshot an
//! unpaged read would (as Kubernetes' list with limit/continue does).

use std::time::Duration;

use etcd_client::{Client, GetOptions};

use super::errors::{bounded, ErrCtx};
use super::{convert_kv, header_revision};
use crate::{KeyValue, Revision, StoreError};

/// Keys per request.
pub(crate) const PAGE: i64 = 500;

/// The first key after every key starting with `prefix` (etcd's range end
/// for a prefix; `\0` = to the end of the keyspace).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Reads everything under `prefix` at `at` (default: now), `page` keys per request.
pub(crate) async fn range_paged(
    client: &Client,
    timeout: Duration,
    prefix: &str,
    at: Option<Revision>,
    page: i64,
) -> Result<(Vec<KeyValue>, Revision), StoreError> {
    let end = prefix_end(prefix.as_bytes());
    // etcd refuses an empty key; "\0" is the first key there is.
    let mut from = match prefix.as_bytes() {
        [] => vec![0],
        p => p.to_vec(),
    };
    let mut revision = at;
    let mut out = Vec::new();
    loop {
        let mut options = GetOptions::new().with_range(end.clone()).with_limit(page);
        if let Some(r) = revision {
            options = options.with_revision(r);
        }
        let ctx = ErrCtx::revision("range", revision.unwrap_or_default());
        let resp = bounded(timeout, ctx, || {
            let (mut kv, options, key) = (client.kv_client(), options.clone(), from.clone());
            async move { kv.get(key, Some(options)).await }
        })
        .await?;
        if revision.is_none() {
            revision = Some(header_revision(resp.header())?);
        }
        for kv in resp.kvs() {
            out.push(convert_kv(kv)?);
        }
        let Some(last) = resp.kvs().last().filter(|_| resp.more()) else {
            break;
        };
        // The next page starts just after the last key read.
        from = last.key().to_vec();
        from.push(0);
    }
    Ok((out, revision.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"/skiff/"), b"/skiff0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
