//! Self-describing values (SPEC §7): every stored value starts with a
//! two-byte header that names the format version and the serializer that
//! wrote it, and says whether a per-entry deadline follows.
//!
//! ```text
//! byte 0: 0xFF                      (no old value began with it but a u8/i8 of 255/-1)
//! byte 1: vvv d ssss                version (3 bits), deadline follows (1 bit),
//!                                   serializer (4 bits: 1 bincode, 2 JSON, 3 MessagePack)
//! [16 ASCII digits: the deadline in µs, only when d is set]
//! [version 2 only: 8 bytes written-at, UNIX µs, and 4 bytes the
//!  computation's duration in µs, both little-endian: a refresh stamp]
//! payload                           the serializer's bytes
//! ```
//!
//! Version 2 is version 1 with a [`RefreshStamp`] before the payload: what
//! a cache with refresh-ahead (SPEC §9, XFetch) needs to decide on a hit
//! whether to recompute early. Only such caches write it; every reader of
//! this release reads both.
//!
//! The client writes the header with `d` clear. A Redis store that keeps a
//! per-entry deadline sets `d` and puts the digits after the header, and
//! takes both out again before it answers a read, so a reader without a
//! per-entry TTL still honours a deadline another process wrote; the memory
//! store keeps the deadline beside the value. A reader that finds another
//! version or serializer treats the value as a miss (counted as a decode
//! failure, then overwritten), never as its own.
//!
//! ```
//! use redis_func_cache_core::envelope;
//! let framed = envelope::frame(1, b"payload");
//! assert_eq!(envelope::open(&framed, 1), Ok(&b"payload"[..]));
//! assert!(envelope::open(&framed, 2).is_err(), "another serializer's value");
//! assert!(envelope::open(b"payload", 1).is_err(), "no header: an older release");
//! ```

use std::fmt;

/// The first byte of every stored value.
pub const MAGIC: u8 = 0xFF;
/// The format version this build writes and reads.
pub const VERSION: u8 = 1;
/// The version of values that carry a [`RefreshStamp`].
pub const VERSION_STAMPED: u8 = 2;
/// The length of a refresh stamp.
pub const STAMP_LEN: usize = 12;

/// When a value was computed and how long that took, kept with it by caches
/// that refresh ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshStamp {
    /// When the value was written, in UNIX microseconds (the writer's clock).
    pub written_at_us: u64,
    /// How long the function took to compute it, in microseconds.
    pub took_us: u32,
}
/// The bit of byte 1 that says a 16-digit deadline follows the header.
pub const DEADLINE_FOLLOWS: u8 = 0x10;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 2;

/// The header for values written by serializer `format` (1–15).
pub const fn header(format: u8) -> [u8; HEADER_LEN] {
    [MAGIC, (VERSION << 5) | (format & 0x0F)]
}

/// `payload` behind the header of serializer `format`.
pub fn frame(format: u8, payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(HEADER_LEN + payload.len());
    framed.extend_from_slice(&header(format));
    framed.extend_from_slice(payload);
    framed
}

/// `payload` behind a version-2 header of serializer `format` and `stamp`.
///
/// ```
/// use redis_func_cache_core::envelope::{self, RefreshStamp};
/// let stamp = RefreshStamp { written_at_us: 7, took_us: 3 };
/// let framed = envelope::frame_stamped(1, stamp, b"payload");
/// assert_eq!(envelope::open_stamped(&framed, 1), Ok((Some(stamp), &b"payload"[..])));
/// assert_eq!(envelope::open(&framed, 1), Ok(&b"payload"[..]));
/// ```
pub fn frame_stamped(format: u8, stamp: RefreshStamp, payload: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(HEADER_LEN + STAMP_LEN + payload.len());
    framed.extend_from_slice(&[MAGIC, (VERSION_STAMPED << 5) | (format & 0x0F)]);
    framed.extend_from_slice(&stamp.written_at_us.to_le_bytes());
    framed.extend_from_slice(&stamp.took_us.to_le_bytes());
    framed.extend_from_slice(payload);
    framed
}

/// Why a stored value is not this reader's to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// No header: written by a release before self-describing values, or
    /// by something else.
    NoHeader,
    /// Another format version.
    Version(u8),
    /// Another serializer.
    Serializer(u8),
    /// A deadline the store should have taken out.
    Deadline,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NoHeader => {
                f.write_str("the value has no header (an older release, or not ours)")
            }
            Mismatch::Version(v) => write!(
                f,
                "the value is in format version {v}, this build reads {VERSION}"
            ),
            Mismatch::Serializer(s) => write!(
                f,
                "the value was written by serializer {} ({s}), not this cache's",
                serializer_name(*s)
            ),
            Mismatch::Deadline => f.write_str("the value still carries its deadline"),
        }
    }
}

impl std::error::Error for Mismatch {}

/// A serializer's name, for messages.
pub fn serializer_name(format: u8) -> &'static str {
    match format {
        1 => "bincode",
        2 => "JSON",
        3 => "MessagePack",
        _ => "a custom serializer",
    }
}

/// The payload of a value written by serializer `format` (in either
/// version).
pub fn open(stored: &[u8], format: u8) -> Result<&[u8], Mismatch> {
    open_stamped(stored, format).map(|(_, payload)| payload)
}

/// The refresh stamp (version 2 only) and the payload of a value written by
/// serializer `format`.
pub fn open_stamped(stored: &[u8], format: u8) -> Result<(Option<RefreshStamp>, &[u8]), Mismatch> {
    let Some((&[magic, info], rest)) = stored.split_first_chunk::<HEADER_LEN>() else {
        return Err(Mismatch::NoHeader);
    };
    if magic != MAGIC {
        return Err(Mismatch::NoHeader);
    }
    let version = info >> 5;
    if version != VERSION && version != VERSION_STAMPED {
        return Err(Mismatch::Version(version));
    }
    if info & DEADLINE_FOLLOWS != 0 {
        return Err(Mismatch::Deadline);
    }
    if info & 0x0F != format {
        return Err(Mismatch::Serializer(info & 0x0F));
    }
    if version == VERSION {
        return Ok((None, rest));
    }
    let Some((stamp, payload)) = rest.split_first_chunk::<STAMP_LEN>() else {
        return Err(Mismatch::Version(version));
    };
    let (written, took) = stamp.split_at(8);
    let stamp = RefreshStamp {
        written_at_us: u64::from_le_bytes(written.try_into().unwrap_or_default()),
        took_us: u32::from_le_bytes(took.try_into().unwrap_or_default()),
    };
    Ok((Some(stamp), payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mismatch says what was found, so a miss counted as a decode
    /// failure can be told apart in logs.
    #[test]
    fn mismatches_say_what_they_found() {
        let said = |m: Mismatch| m.to_string();
        assert!(said(Mismatch::NoHeader).contains("no header"));
        assert!(said(Mismatch::Version(7)).contains("version 7"));
        let by_json = said(Mismatch::Serializer(2));
        assert!(
            by_json.contains("JSON") && by_json.contains("(2)"),
            "{by_json}"
        );
        assert!(said(Mismatch::Serializer(9)).contains("a custom serializer"));
        assert!(said(Mismatch::Deadline).contains("deadline"));
        assert_eq!(serializer_name(1), "bincode");
        assert_eq!(serializer_name(3), "MessagePack");
    }

    /// A stamped value opens with its stamp; the same value with the
    /// deadline bit set is the store's to open first.
    #[test]
    fn stamped_values_open_with_their_stamp() {
        let stamp = RefreshStamp {
            written_at_us: 1_700_000_000_000_000,
            took_us: 250,
        };
        let framed = frame_stamped(2, stamp, b"[1,2]");
        assert_eq!(open_stamped(&framed, 2), Ok((Some(stamp), &b"[1,2]"[..])));
        assert_eq!(open_stamped(&framed, 1), Err(Mismatch::Serializer(2)));
        let mut with_deadline = framed.clone();
        with_deadline[1] |= DEADLINE_FOLLOWS;
        assert_eq!(open_stamped(&with_deadline, 2), Err(Mismatch::Deadline));
        assert_eq!(open_stamped(&frame(2, b"x"), 2), Ok((None, &b"x"[..])));
    }
}
