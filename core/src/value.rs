//! The bytes of one cached value, as a store hands them out on a hit.
//!
//! Most cached values are small: a number, a flag, a short string. A hit
//! that returned them as [`Bytes`] would touch two more places in memory
//! than the entry itself (the shared buffer's header and its data) and
//! write to one of them twice (its reference count), all of which shows in
//! a memory store's hit time. [`StoredValue`] keeps short values inside
//! itself, so a store that holds them that way copies a few bytes instead,
//! and shares larger ones as `Bytes` does.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// The longest value kept inline, in bytes.
pub const INLINE_CAPACITY: usize = 23;

/// An immutable byte string: short values inline, longer ones shared.
///
/// Cloning never allocates: an inline value is copied (at most
/// [`INLINE_CAPACITY`] bytes), a shared one gains a reference.
///
/// ```
/// use redis_func_cache::store::StoredValue;
/// use bytes::Bytes;
///
/// let short = StoredValue::from(Bytes::from_static(b"42"));
/// assert_eq!(&*short, b"42");
/// let long = StoredValue::from(vec![7u8; 1000]);
/// assert_eq!(long.len(), 1000);
/// assert_eq!(long.clone(), long);
/// ```
#[derive(Clone)]
pub struct StoredValue(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the value; `len <= INLINE_CAPACITY`.
    Inline {
        len: u8,
        bytes: [u8; INLINE_CAPACITY],
    },
    Shared(Bytes),
}

impl StoredValue {
    /// A value holding a copy of `bytes`.
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        Self::inline(bytes)
            .unwrap_or_else(|| StoredValue(Repr::Shared(Bytes::copy_from_slice(bytes))))
    }

    /// The bytes as [`Bytes`]: shared without a copy when they already are,
    /// copied when they were inline.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { len, bytes } => Bytes::copy_from_slice(&bytes[..usize::from(len)]),
            Repr::Shared(bytes) => bytes,
        }
    }

    /// Whether the bytes live inside this value, for tests of a store's
    /// layout.
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    fn inline(slice: &[u8]) -> Option<Self> {
        let len = u8::try_from(slice.len())
            .ok()
            .filter(|&len| usize::from(len) <= INLINE_CAPACITY)?;
        let mut bytes = [0; INLINE_CAPACITY];
        bytes[..slice.len()].copy_from_slice(slice);
        Some(StoredValue(Repr::Inline { len, bytes }))
    }
}

impl Deref for StoredValue {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(bytes) => bytes,
        }
    }
}

impl AsRef<[u8]> for StoredValue {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Short values are copied inline (dropping this reference to the
/// buffer); longer ones are shared without a copy.
impl From<Bytes> for StoredValue {
    fn from(bytes: Bytes) -> Self {
        Self::inline(&bytes).unwrap_or(StoredValue(Repr::Shared(bytes)))
    }
}

impl From<Vec<u8>> for StoredValue {
    fn from(bytes: Vec<u8>) -> Self {
        Self::inline(&bytes).unwrap_or_else(|| StoredValue(Repr::Shared(Bytes::from(bytes))))
    }
}

impl From<&[u8]> for StoredValue {
    fn from(bytes: &[u8]) -> Self {
        StoredValue::copy_from_slice(bytes)
    }
}

impl From<StoredValue> for Bytes {
    fn from(value: StoredValue) -> Self {
        value.into_bytes()
    }
}

/// Equal when the bytes are, however they are held.
impl PartialEq for StoredValue {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for StoredValue {}

impl PartialEq<[u8]> for StoredValue {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &byte in self.iter() {
            write!(f, "{}", std::ascii::escape_default(byte))?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_inline_and_long_ones_shared() {
        for len in [0, 1, INLINE_CAPACITY] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            for value in [
                StoredValue::from(bytes.clone()),
                StoredValue::from(Bytes::from(bytes.clone())),
                StoredValue::copy_from_slice(&bytes),
            ] {
                assert!(value.is_inline(), "{len} bytes");
                assert_eq!(&*value, &bytes[..]);
                assert_eq!(value.clone().into_bytes(), bytes);
                assert_eq!(value.as_ref(), &bytes[..]);
                assert_eq!(Bytes::from(value), bytes);
            }
        }
        let long: Vec<u8> = (0..=INLINE_CAPACITY as u8).collect();
        let shared = Bytes::from(long.clone());
        let value = StoredValue::from(shared.clone());
        assert!(!value.is_inline());
        assert_eq!(&*value, &long[..]);
        assert_eq!(value.as_ref(), &long[..]);
        assert_eq!(Bytes::from(value.clone()), long);
        // Shared without a copy: the same buffer comes back.
        assert_eq!(value.into_bytes().as_ptr(), shared.as_ptr());
    }

    #[test]
    fn equal_by_content_whatever_the_representation() {
        let long = vec![9u8; 100];
        assert_eq!(
            StoredValue::from(long.clone()),
            StoredValue::copy_from_slice(&long)
        );
        assert_ne!(StoredValue::from(vec![1]), StoredValue::from(vec![2]));
        let (stored, one) = (StoredValue::from(long.clone()), StoredValue::from(vec![1]));
        assert!(stored == long[..] && one == [1u8][..]);
        assert!(one != [2u8][..]);
        assert_eq!(
            format!("{:?}", StoredValue::from(b"ab".to_vec())),
            "b\"ab\""
        );
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn no_larger_than_bytes() {
        // The inline form fits beside `Bytes`'s non-null vtable pointer, so
        // keeping values this way costs a store no memory per entry.
        assert_eq!(
            std::mem::size_of::<StoredValue>(),
            std::mem::size_of::<Bytes>()
        );
    }
}
