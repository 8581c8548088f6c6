//! Compression sniffing: gzip, zstd or plain tar, decided by the magic bytes (not by media type
//! or file name, which the input controls), as containerd's `compression.DecompressStream` does.

use std::io::{self, Cursor, Read};

/// What a stream turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Peeks at the first bytes of `r` and returns a reader of the decompressed stream.
pub fn decoder<'a, R: Read + 'a>(mut r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let joined = Cursor::new(head[..n].to_vec()).chain(r);
    if n >= 2 && head[..2] == [0x1f, 0x8b] {
        return Ok((
            Compression::Gzip,
            Box::new(flate2::read::MultiGzDecoder::new(joined)),
        ));
    }
    if n == 4 && head == [0x28, 0xb5, 0x2f, 0xfd] {
        let d = ruzstd::decoding::StreamingDecoder::new(joined)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}")))?;
        return Ok((Compression::Zstd, Box::new(d)));
    }
    Ok((Compression::None, Box::new(joined)))
}
