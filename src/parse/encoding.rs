//! Request-body `Content-Encoding`, as upstream 1.11 decodes it for every request of the main
//! router: `gzip` and framed `snappy` (any letter case); anything else is passed through.
//!
//! Decompression is flate2's and snap's; this module only maps their errors onto the texts
//! Go's readers give, which upstream returns verbatim with the 400.

use std::borrow::Cow;
use std::io::{self, Read};

/// Why a body could not be decoded. `Display` gives Go's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecodeError {
    /// The gzip body was empty.
    Eof,
    /// The gzip stream ended early.
    UnexpectedEof,
    /// Not a gzip stream.
    GzipInvalidHeader,
    /// The gzip trailer's checksum does not match.
    GzipInvalidChecksum,
    /// The deflate data inside the gzip stream is corrupt.
    FlateCorrupt,
    /// Not a valid framed snappy stream.
    SnappyCorrupt,
    /// The decoded body is larger than the configured limit.
    TooLarge { limit: usize },
}

impl std::fmt::Display for BodyDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyDecodeError::Eof => f.write_str("EOF"),
            BodyDecodeError::UnexpectedEof => f.write_str("unexpected EOF"),
            BodyDecodeError::GzipInvalidHeader => f.write_str("gzip: invalid header"),
            BodyDecodeError::GzipInvalidChecksum => f.write_str("gzip: invalid checksum"),
            BodyDecodeError::FlateCorrupt => f.write_str("flate: corrupt input"),
            BodyDecodeError::SnappyCorrupt => f.write_str("snappy: corrupt input"),
            BodyDecodeError::TooLarge { limit } => {
                write!(f, "request body exceeds {limit} bytes once decoded")
            }
        }
    }
}

impl std::error::Error for BodyDecodeError {}

/// Decodes `body` per its Content-Encoding. `limit` caps the decoded size (a gzip bomb stops
/// there); `None` means no cap.
pub fn decode_body<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: Option<usize>,
) -> Result<Cow<'a, [u8]>, BodyDecodeError> {
    let encoding = content_encoding.map(str::trim);
    if encoding.is_some_and(|e| e.eq_ignore_ascii_case("gzip")) {
        if body.is_empty() {
            return Err(BodyDecodeError::Eof);
        }
        let decoder = flate2::read::MultiGzDecoder::new(body);
        read_limited(decoder, limit)
            .map(Cow::Owned)
            .map_err(gzip_error)
    } else if encoding.is_some_and(|e| e.eq_ignore_ascii_case("snappy")) {
        let decoder = snap::read::FrameDecoder::new(body);
        read_limited(decoder, limit)
            .map(Cow::Owned)
            .map_err(|e| match e {
                ReadError::TooLarge(limit) => BodyDecodeError::TooLarge { limit },
                ReadError::Io(_) => BodyDecodeError::SnappyCorrupt,
            })
    } else {
        match limit {
            Some(limit) if body.len() > limit => Err(BodyDecodeError::TooLarge { limit }),
            _ => Ok(Cow::Borrowed(body)),
        }
    }
}

/// Checks that `body` decodes per its Content-Encoding, decoding at most `probe` bytes: for a
/// request whose route takes no body. Upstream decodes every request's body and answers 400
/// when that fails; a short broken body still gets that answer here, but a large body is never
/// inflated in full just to be thrown away.
pub fn check_encoding(
    content_encoding: Option<&str>,
    body: &[u8],
    probe: usize,
) -> Result<(), BodyDecodeError> {
    match decode_body(content_encoding, body, Some(probe)) {
        Ok(_) | Err(BodyDecodeError::TooLarge { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

enum ReadError {
    TooLarge(usize),
    Io(io::Error),
}

fn read_limited(reader: impl Read, limit: Option<usize>) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    match limit {
        Some(limit) => {
            // One byte past the limit tells "exactly at the limit" from "over it".
            reader
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(ReadError::Io)?;
            if out.len() > limit {
                return Err(ReadError::TooLarge(limit));
            }
        }
        None => {
            let mut reader = reader;
            reader.read_to_end(&mut out).map_err(ReadError::Io)?;
        }
    }
    Ok(out)
}

fn gzip_error(e: ReadError) -> BodyDecodeError {
    let e = match e {
        ReadError::TooLarge(limit) => return BodyDecodeError::TooLarge { limit },
        ReadError::Io(e) => e,
    };
    let message = e.to_string().to_ascii_lowercase();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        BodyDecodeError::UnexpectedEof
    } else if message.contains("header") {
        BodyDecodeError::GzipInvalidHeader
    } else if message.contains("crc") || message.contains("checksum") {
        BodyDecodeError::GzipInvalidChecksum
    } else {
        BodyDecodeError::FlateCorrupt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn snappy(data: &[u8]) -> Vec<u8> {
        let mut enc = snap::write::FrameEncoder::new(Vec::new());
        enc.write_all(data).unwrap();
        enc.into_inner().unwrap()
    }

    #[test]
    fn gzip_is_decoded_whatever_the_letter_case() {
        let body = gzip(b"a 1\n");
        for name in ["gzip", "GZIP", "Gzip"] {
            assert_eq!(decode_body(Some(name), &body, None).unwrap(), &b"a 1\n"[..]);
        }
    }

    #[test]
    fn concatenated_gzip_members_are_read_like_go() {
        let mut body = gzip(b"a 1\n");
        body.extend(gzip(b"b 2\n"));
        assert_eq!(
            decode_body(Some("gzip"), &body, None).unwrap(),
            &b"a 1\nb 2\n"[..]
        );
    }

    #[test]
    fn broken_gzip_gives_gos_error_texts() {
        assert_eq!(
            decode_body(Some("gzip"), b"", None)
                .unwrap_err()
                .to_string(),
            "EOF"
        );
        let body = gzip(b"some text that is long enough\n");
        assert_eq!(
            decode_body(Some("gzip"), &body[..body.len() - 6], None)
                .unwrap_err()
                .to_string(),
            "unexpected EOF"
        );
        assert_eq!(
            decode_body(Some("gzip"), b"definitely not gzip", None)
                .unwrap_err()
                .to_string(),
            "gzip: invalid header"
        );
        assert_eq!(
            decode_body(Some("gzip"), &body[..5], None)
                .unwrap_err()
                .to_string(),
            "unexpected EOF"
        );
    }

    #[test]
    fn framed_snappy_is_decoded_and_garbage_rejected() {
        let body = snappy(b"a 1\n");
        assert_eq!(
            decode_body(Some("SNAPPY"), &body, None).unwrap(),
            &b"a 1\n"[..]
        );
        assert!(decode_body(Some("snappy"), b"", None).unwrap().is_empty());
        assert_eq!(
            decode_body(Some("snappy"), b"not snappy", None)
                .unwrap_err()
                .to_string(),
            "snappy: corrupt input"
        );
        // A raw (unframed) snappy block is not what upstream reads either.
        let raw = snap::raw::Encoder::new().compress_vec(b"a 1\n").unwrap();
        assert!(decode_body(Some("snappy"), &raw, None).is_err());
    }

    #[test]
    fn other_encodings_pass_the_body_through() {
        for name in [None, Some("br"), Some("deflate"), Some("x-gzip")] {
            assert!(matches!(
                decode_body(name, b"x", None).unwrap(),
                Cow::Borrowed(b"x")
            ));
        }
    }

    #[test]
    fn the_limit_applies_to_the_decoded_size() {
        let bomb = gzip(&vec![b'a'; 100_000]);
        assert!(bomb.len() < 1_000);
        assert_eq!(
            decode_body(Some("gzip"), &bomb, Some(10_000)).unwrap_err(),
            BodyDecodeError::TooLarge { limit: 10_000 }
        );
        assert_eq!(
            decode_body(Some("gzip"), &bomb, Some(100_000))
                .unwrap()
                .len(),
            100_000
        );
        assert!(decode_body(None, b"12345", Some(4)).is_err());
        assert!(decode_body(None, b"1234", Some(4)).is_ok());
    }

    #[test]
    fn a_check_reads_only_the_probe_of_a_bomb_and_still_finds_broken_bodies() {
        let bomb = gzip(&vec![0u8; 16 << 20]);
        let started = std::time::Instant::now();
        assert_eq!(check_encoding(Some("gzip"), &bomb, 1024), Ok(()));
        // Inflating 16 MiB takes far longer than reading 1 KiB of it, even in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            check_encoding(Some("gzip"), b"", 1024),
            Err(BodyDecodeError::Eof)
        );
        assert_eq!(
            check_encoding(Some("gzip"), b"definitely not gzip", 1024),
            Err(BodyDecodeError::GzipInvalidHeader)
        );
        assert_eq!(check_encoding(None, &[b'x'; 5000], 1024), Ok(()));
    }
}
