//! Value encodings (SPEC §7). Every decoder here refuses input larger than its
//! limit and never allocates more than that limit for hostile input, so bytes
//! read from a shared store cannot exhaust the process's memory.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{BoxError, Error, Message};

/// The default decode limit: 64 MiB.
pub const DEFAULT_DECODE_LIMIT: usize = 64 << 20;

/// The smallest decode limit: serde pre-allocates up to 1 MiB from a length
/// prefix before any decoder can check it, so a smaller limit could not be
/// kept. A serializer with a smaller `LIMIT` does not compile.
pub const MIN_DECODE_LIMIT: usize = 1 << 20;

/// Compile-time check of a serializer's limit.
const fn checked_limit(limit: usize) -> usize {
    assert!(
        limit >= MIN_DECODE_LIMIT,
        "the decode limit must be at least MIN_DECODE_LIMIT (1 MiB)"
    );
    limit
}

/// Turns values into bytes and back.
///
/// ```
/// use redis_func_cache::serializer::{Bincode, Serializer};
/// let bincode: Bincode = Bincode; // the default 64 MiB decode limit
/// let bytes = bincode.encode(&vec![1u32, 2, 3]).unwrap();
/// let back: Vec<u32> = bincode.decode(&bytes).unwrap();
/// assert_eq!(back, [1, 2, 3]);
/// ```
pub trait Serializer: Send + Sync + 'static {
    /// The serializer's number in each stored value's header (see
    /// [`envelope`](crate::envelope)): 1 bincode, 2 JSON, 3 MessagePack; a
    /// serializer of your own takes one of 8–15. A cache never decodes a
    /// value another serializer wrote: it is a miss, then overwritten.
    const FORMAT: u8;
    /// The largest encoding a cache stores, one this serializer reads back
    /// within its decode limit: a result whose encoding is larger is
    /// returned to the caller, not stored (SPEC §7).
    fn limit(&self) -> usize;
    /// Encodes a value.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error>;
    /// Decodes a value; any malformed, truncated or oversized input is an
    /// error, never a panic.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error>;
}

fn encode_error(e: impl Into<BoxError>) -> Error {
    Error::Encode {
        what: "value",
        source: e.into(),
    }
}

fn decode_error(e: impl Into<BoxError>) -> Error {
    Error::Decode { source: e.into() }
}

fn check_size(len: usize, limit: usize) -> Result<(), Error> {
    if len > limit {
        return Err(decode_error(Message(format!(
            "{len} bytes is over the decode limit of {limit}"
        ))));
    }
    Ok(())
}

/// bincode 2 through serde, the default: compact and fast. `LIMIT` bounds
/// both the input size and what decoding may allocate.
///
/// ```
/// use redis_func_cache::serializer::{Bincode, Serializer};
/// // A length prefix claiming 2^60 elements: refused, nothing allocated.
/// let hostile = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0x10];
/// assert!(Bincode::<{ 1 << 20 }>.decode::<Vec<u64>>(&hostile).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode<const LIMIT: usize = DEFAULT_DECODE_LIMIT>;

/// What bincode counts against its decode limit besides what a value
/// allocates: the bytes of a length prefix (up to 9) and a little more. A
/// cache stores encodings up to `LIMIT` less this, so that what it stores
/// (bytes, strings and the like up to the size it stores) decodes.
const BINCODE_HEADROOM: usize = 16;

impl<const LIMIT: usize> Serializer for Bincode<LIMIT> {
    const FORMAT: u8 = 1;

    /// `LIMIT` less a little headroom: bincode counts a length prefix
    /// against the same limit as the allocation it allows, so a `Vec<u8>`
    /// encoded in exactly `LIMIT` bytes would not decode.
    fn limit(&self) -> usize {
        const { checked_limit(LIMIT) - BINCODE_HEADROOM }
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(encode_error)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        check_size(bytes.len(), const { checked_limit(LIMIT) })?;
        let config = bincode::config::standard().with_limit::<LIMIT>();
        let (value, used) =
            bincode::serde::decode_from_slice(bytes, config).map_err(decode_error)?;
        if used != bytes.len() {
            return Err(decode_error(Message(format!(
                "{} bytes left over after the value",
                bytes.len() - used
            ))));
        }
        Ok(value)
    }
}

/// JSON through `serde_json`: readable in `redis-cli`, larger and slower.
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<const LIMIT: usize = DEFAULT_DECODE_LIMIT>;

#[cfg(feature = "json")]
impl<const LIMIT: usize> Serializer for Json<LIMIT> {
    const FORMAT: u8 = 2;

    fn limit(&self) -> usize {
        const { checked_limit(LIMIT) }
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(value).map_err(encode_error)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        check_size(bytes.len(), const { checked_limit(LIMIT) })?;
        serde_json::from_slice(bytes).map_err(decode_error)
    }
}

/// MessagePack through `rmp-serde`: compact and language-neutral.
#[cfg(feature = "msgpack")]
#[derive(Debug, Clone, Copy, Default)]
pub struct MessagePack<const LIMIT: usize = DEFAULT_DECODE_LIMIT>;

#[cfg(feature = "msgpack")]
impl<const LIMIT: usize> Serializer for MessagePack<LIMIT> {
    const FORMAT: u8 = 3;

    fn limit(&self) -> usize {
        const { checked_limit(LIMIT) }
    }

    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        rmp_serde::to_vec(value).map_err(encode_error)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        check_size(bytes.len(), const { checked_limit(LIMIT) })?;
        let mut rest = bytes;
        let value =
            T::deserialize(&mut rmp_serde::Deserializer::new(&mut rest)).map_err(decode_error)?;
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(decode_error(Message(
                "bytes left over after the value".into(),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip<S: Serializer>(s: S) {
        let v = (1u8, String::from("x"), vec![Some(2.5f64), None]);
        let bytes = s.encode(&v).unwrap();
        let back: (u8, String, Vec<Option<f64>>) = s.decode(&bytes).unwrap();
        assert_eq!(back, v);
        // Trailing garbage is a decode failure, not a silently different value.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(s.decode::<(u8, String, Vec<Option<f64>>)>(&longer).is_err());
        // Oversized input is refused before decoding; input of exactly the
        // limit is read.
        assert!(s.decode::<u8>(&vec![0; MIN_DECODE_LIMIT + 1]).is_err());
        assert!(check_size(MIN_DECODE_LIMIT, MIN_DECODE_LIMIT).is_ok());
        let over = check_size(MIN_DECODE_LIMIT + 1, MIN_DECODE_LIMIT).unwrap_err();
        assert!(
            over.to_string()
                .ends_with("1048577 bytes is over the decode limit of 1048576"),
            "{over}"
        );
    }

    #[test]
    fn bincode_roundtrips_and_refuses_bad_input() {
        roundtrip(Bincode::<MIN_DECODE_LIMIT>);
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_roundtrips_and_refuses_bad_input() {
        roundtrip(Json::<MIN_DECODE_LIMIT>);
    }

    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_roundtrips_and_refuses_bad_input() {
        roundtrip(MessagePack::<MIN_DECODE_LIMIT>);
    }

    proptest! {
        #[test]
        fn bincode_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = Bincode::<MIN_DECODE_LIMIT>;
            let _ = s.decode::<Vec<String>>(&bytes);
            let _ = s.decode::<(u64, Option<Vec<u8>>, std::collections::BTreeMap<String, i32>)>(&bytes);
        }
    }
}
