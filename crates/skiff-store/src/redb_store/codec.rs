//! The redb backend's on-disk record format: a fixed little-endian layout,
//! versioned by the table names. Decoding never trusts lengths blindly; a
//! malformed record is reported as corruption with where it was found.

use crate::engine::LogEvent;
use crate::{KeyValue, Revision, StoreError};

const TAG_PUT_NEW: u8 = 0;
const TAG_PUT_REPLACE: u8 = 1;
const TAG_DELETE: u8 = 2;

/// A kv-table value: create, mod, version, lease (0 = none), then the value.
pub(crate) fn encode_value(kv: &KeyValue, out: &mut Vec<u8>) {
    for n in [
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        kv.lease.unwrap_or(0),
    ] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&kv.value);
}

pub(crate) fn decode_value(key: &str, bytes: &[u8]) -> Result<KeyValue, StoreError> {
    let mut r = Reader {
        bytes,
        at: 0,
        what: key,
    };
    let create_revision = r.i64()?;
    let mod_revision = r.i64()?;
    let version = r.i64()?;
    let lease = r.i64()?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: bytes[r.at..].to_vec(),
        create_revision,
        mod_revision,
        version,
        lease: (lease != 0).then_some(lease),
    })
}

fn encode_kv(kv: &KeyValue, out: &mut Vec<u8>) {
    out.extend_from_slice(&(kv.key.len() as u32).to_le_bytes());
    out.extend_from_slice(kv.key.as_bytes());
    let mut value = Vec::with_capacity(32 + kv.value.len());
    encode_value(kv, &mut value);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&value);
}

/// A log-table value: the events of one revision.
pub(crate) fn encode_events(events: &[LogEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for event in events {
        match event {
            LogEvent::Put { kv, prev: None } => {
                out.push(TAG_PUT_NEW);
                encode_kv(kv, &mut out);
            }
            LogEvent::Put {
                kv,
                prev: Some(prev),
            } => {
                out.push(TAG_PUT_REPLACE);
                encode_kv(kv, &mut out);
                encode_kv(prev, &mut out);
            }
            LogEvent::Delete { prev } => {
                out.push(TAG_DELETE);
                encode_kv(prev, &mut out);
            }
        }
    }
    out
}

pub(crate) fn decode_events(revision: Revision, bytes: &[u8]) -> Result<Vec<LogEvent>, StoreError> {
    let what = format!("log row {revision}");
    let mut r = Reader {
        bytes,
        at: 0,
        what: &what,
    };
    let count = r.u32()?;
    let mut events = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let event = match r.u8()? {
            TAG_PUT_NEW => LogEvent::Put {
                kv: r.kv()?,
                prev: None,
            },
            TAG_PUT_REPLACE => LogEvent::Put {
                kv: r.kv()?,
                prev: Some(r.kv()?),
            },
            TAG_DELETE => LogEvent::Delete { prev: r.kv()? },
            tag => return Err(r.corrupt(&format!("unknown event tag {tag}"))),
        };
        events.push(event);
    }
    Ok(events)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'a str,
}

impl Reader<'_> {
    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::internal(format!(
            "corrupt record {:?} at byte {}: {detail}",
            self.what, self.at
        ))
    }

    fn take(&mut self, n: usize) -> Result<&[u8], StoreError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| self.corrupt("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        let mut buf = [0u8; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(buf))
    }

    fn i64(&mut self) -> Result<i64, StoreError> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(buf))
    }

    fn kv(&mut self) -> Result<KeyValue, StoreError> {
        let key_len = self.u32()? as usize;
        let key = match std::str::from_utf8(self.take(key_len)?) {
            Ok(key) => key.to_owned(),
            Err(_) => return Err(self.corrupt("key is not UTF-8")),
        };
        let value_len = self.u32()? as usize;
        let value = self.take(value_len)?;
        decode_value(&key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &[u8], lease: Option<i64>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.into(),
            create_revision: 2,
            mod_revision: 7,
            version: 3,
            lease,
        }
    }

    #[test]
    fn events_round_trip() {
        let events = vec![
            LogEvent::Put {
                kv: kv("/a", b"1", None),
                prev: None,
            },
            LogEvent::Put {
                kv: kv("/b", b"", Some(9)),
                prev: Some(kv("/b", b"old", None)),
            },
            LogEvent::Delete {
                prev: kv("/c", b"x", Some(1)),
            },
        ];
        let decoded = decode_events(7, &encode_events(&events));
        assert_eq!(decoded, Ok(events));
    }

    #[test]
    fn truncated_record_is_corruption_not_panic() {
        let bytes = encode_events(&[LogEvent::Delete {
            prev: kv("/c", b"x", None),
        }]);
        for cut in 0..bytes.len() {
            assert!(matches!(
                decode_events(1, &bytes[..cut]),
                Err(StoreError::Internal { .. })
            ));
        }
        assert!(decode_value("/k", &[0; 5]).is_err());
    }
}
