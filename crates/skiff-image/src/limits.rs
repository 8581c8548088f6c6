//! Limits on untrusted input. Each is checked while reading, so a bomb stops at the limit
//! instead of filling the disk first.

/// Caps applied to layers and archives; [`Limits::default`] matches what Docker tolerates in
/// practice while keeping a hostile input from exhausting the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes of one layer tar (default 8 GiB).
    pub max_layer_bytes: u64,
    /// Decompressed bytes of a whole archive given to `load` (default 64 GiB).
    pub max_archive_bytes: u64,
    /// Entries in one tar (default 1M).
    pub max_entries: u64,
    /// Bytes of one entry path or link target (default 4096, Linux's PATH_MAX).
    pub max_path_len: usize,
    /// Bytes of one JSON document: manifest, index, config (default 4 MiB).
    pub max_json_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 8 << 30,
            max_archive_bytes: 64 << 30,
            max_entries: 1_000_000,
            max_path_len: 4096,
            max_json_bytes: 4 << 20,
        }
    }
}
