//! Function identities and the stable invocation hash (SPEC §2).
//!
//! The hash must be the same in every process, on every machine and in every
//! build of the same code, so it is XXH3-128 (a published, platform-independent
//! algorithm) over a canonical bincode encoding of the arguments. Rust's
//! `DefaultHasher` is randomly seeded and is never used here.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::error::{BoxError, Error};

/// A fast [`Hasher`] for maps keyed by names the program itself chose
/// (pair names, function identities): XXH3, several times faster than the
/// default SipHash on a few dozen bytes.
///
/// It has no random seed, so it must not key a map by data from outside:
/// callers could pick keys that all collide.
///
/// ```
/// use std::collections::HashMap;
/// use redis_func_cache_core::FastNameHasher;
///
/// let mut pairs: HashMap<&str, u32, FastNameHasher> = HashMap::default();
/// pairs.insert("redis_func_cache:app:lru:0", 1);
/// assert_eq!(pairs["redis_func_cache:app:lru:0"], 1);
/// ```
pub type FastNameHasher = std::hash::BuildHasherDefault<Xxh3NameHasher>;

/// The [`Hasher`] of [`FastNameHasher`]; for stores, not for cache users.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Xxh3NameHasher(u64);

impl Hasher for Xxh3NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    // Integers (a `str`'s end marker, a length, a fingerprint) are mixed in
    // with one folded multiply instead of a whole XXH3 call each: the
    // derived `Hash` of a `str` key writes its bytes and then one `u8`.
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = folded_multiply(self.0 ^ n, 0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The high and low halves of the full product, XOR-ed: every input bit
/// reaches the high bits, which a hash table reads.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Who a cached function is: its module path, its name and a fingerprint of
/// its code. The `#[cached]` macro fills the fingerprint with a hash of the
/// function's tokens, so editing the body yields a new identity and old
/// results are never served for new code.
///
/// ```
/// use redis_func_cache::FuncId;
/// static FIB: FuncId = FuncId::with_version(module_path!(), "fib", "v1");
/// assert_eq!(FIB.name(), "fib");
/// assert_eq!(FIB.fingerprint_text().len(), 16);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FuncId {
    module: &'static str,
    name: &'static str,
    fingerprint: u64,
}

impl FuncId {
    /// An identity with an explicit fingerprint (the macro passes the hash of
    /// the function's tokens).
    pub const fn new(module: &'static str, name: &'static str, fingerprint: u64) -> Self {
        FuncId {
            module,
            name,
            fingerprint,
        }
    }

    /// An identity whose fingerprint is the hash of a version text: bump the
    /// text whenever the function's results change, for hand-written
    /// [`FuncCache::call`](crate::FuncCache::call) closures.
    pub const fn with_version(module: &'static str, name: &'static str, version: &str) -> Self {
        FuncId {
            module,
            name,
            fingerprint: xxhash_rust::const_xxh3::xxh3_64(version.as_bytes()),
        }
    }

    /// The module path, as `module_path!()` writes it.
    pub const fn module(&self) -> &'static str {
        self.module
    }

    /// The function's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The fingerprint of the function's code.
    pub const fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The fingerprint as 16 lower-case hex digits, as used in key names.
    pub fn fingerprint_text(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }

    /// The invocation hash of this function called with `args`.
    ///
    /// `args` is usually a tuple of references to the arguments; a tuple of
    /// references hashes the same as the tuple of values.
    ///
    /// ```
    /// use redis_func_cache::FuncId;
    /// static ADD: FuncId = FuncId::new("m", "add", 7);
    /// let a = ADD.invocation_hash(&(1u32, "x")).unwrap();
    /// let b = ADD.invocation_hash(&(&1u32, &"x")).unwrap();
    /// assert_eq!(a, b);
    /// assert_ne!(a, ADD.invocation_hash(&(2u32, "x")).unwrap());
    /// ```
    pub fn invocation_hash<A: Serialize + ?Sized>(
        &self,
        args: &A,
    ) -> Result<InvocationHash, Error> {
        let mut hasher = self.hasher();
        hasher.arg(args);
        hasher.finish()
    }

    /// An [`InvocationHasher`] that takes the arguments one at a time.
    ///
    /// Feeding `a` then `b` gives the hash of the tuple `(a, b)`: the
    /// encoding of a tuple is its elements' encodings one after the other.
    ///
    /// ```
    /// use redis_func_cache::FuncId;
    /// static ADD: FuncId = FuncId::new("m", "add", 7);
    /// let mut hasher = ADD.hasher();
    /// hasher.arg(&1u32);
    /// hasher.arg("x");
    /// assert_eq!(hasher.finish().unwrap(), ADD.invocation_hash(&(1u32, "x")).unwrap());
    /// ```
    pub fn hasher(&self) -> InvocationHasher {
        let mut writer = HashWriter::new();
        for part in [self.module.as_bytes(), self.name.as_bytes()] {
            writer.feed(&(part.len() as u64).to_le_bytes());
            writer.feed(part);
        }
        writer.feed(&self.fingerprint.to_le_bytes());
        InvocationHasher {
            writer,
            failure: None,
        }
    }
}

/// Builds an [`InvocationHash`] from arguments given one at a time (see
/// [`FuncId::hasher`]); the `#[cached]` macro feeds each argument through
/// its own call, so a compile error names the argument that cannot be
/// hashed.
pub struct InvocationHasher {
    writer: HashWriter,
    /// The first argument that failed to encode; later ones are ignored.
    failure: Option<Error>,
}

impl InvocationHasher {
    /// Adds one argument (or any serializable part of the key).
    pub fn arg<A: Serialize + ?Sized>(&mut self, arg: &A) {
        if self.failure.is_some() {
            return;
        }
        let encoded = bincode::serde::encode_into_std_write(
            arg,
            &mut self.writer,
            bincode::config::standard(),
        );
        if let Err(e) = encoded {
            self.failure = Some(Error::Encode {
                what: "arguments",
                source: BoxError::from(e),
            });
        }
    }

    /// The hash of everything fed, or the first encoding error.
    pub fn finish(mut self) -> Result<InvocationHash, Error> {
        match self.failure {
            Some(e) => Err(e),
            None => Ok(InvocationHash(self.writer.digest128().to_be_bytes())),
        }
    }
}

impl fmt::Debug for InvocationHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvocationHasher")
            .field("failed", &self.failure.is_some())
            .finish_non_exhaustive()
    }
}

// A per-function cache finds its function's pair by `FuncId` on every call,
// so equality and hashing read as little as they can. Identities are
// usually the same `static`, so equal addresses answer at once; otherwise
// the fingerprint, which nearly always differs between functions, is
// compared before any text. The hash reads the short name and only the
// module's length: ids equal by these rules hash equally.
impl PartialEq for FuncId {
    fn eq(&self, other: &Self) -> bool {
        fn same(a: &str, b: &str) -> bool {
            std::ptr::eq(a, b) || a == b
        }
        self.fingerprint == other.fingerprint
            && same(self.name, other.name)
            && same(self.module, other.module)
    }
}

impl Eq for FuncId {}

impl Hash for FuncId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint);
        state.write(self.name.as_bytes());
        state.write_usize(self.module.len());
    }
}

/// Bytes of encoding gathered before they go to the streaming hasher.
const HASH_BUFFER: usize = 512;

/// Hashes the canonical encoding without allocating. The bytes gather in a
/// stack buffer: an invocation that fits takes one one-shot XXH3 (setting up
/// the streaming state cost more than hashing a few dozen bytes), and a long
/// one reaches the streaming hasher in buffer-sized pieces rather than one
/// byte at a time, as serde writes a byte sequence. XXH3 gives the same
/// digest one-shot or streamed, in any split, so the hash does not depend on
/// the buffer.
struct HashWriter {
    buffer: [u8; HASH_BUFFER],
    len: usize,
    /// Boxed: the state is larger than the buffer, and moving it with the
    /// writer on every call cost more than the hash of a short invocation.
    stream: Option<Box<Xxh3>>,
}

impl HashWriter {
    fn new() -> Self {
        HashWriter {
            buffer: [0; HASH_BUFFER],
            len: 0,
            stream: None,
        }
    }

    // Inlined into its callers, where most writes have a length known at
    // compile time (a varint byte, an 8-byte length), so the copy is a
    // store or two instead of a call to `memcpy`.
    #[inline(always)]
    fn feed(&mut self, data: &[u8]) {
        let end = self.len + data.len();
        match self.buffer.get_mut(self.len..end) {
            Some(free) => {
                free.copy_from_slice(data);
                self.len = end;
            }
            None => self.feed_through_stream(data),
        }
    }

    /// The buffer is full: hand it to the streaming hasher, then `data`.
    #[cold]
    #[inline(never)]
    fn feed_through_stream(&mut self, data: &[u8]) {
        let stream = self.stream.get_or_insert_with(|| Box::new(Xxh3::new()));
        stream.update(&self.buffer[..self.len]);
        self.len = 0;
        if data.len() > HASH_BUFFER {
            stream.update(data);
        } else {
            // The buffer is empty now, so this takes the copying path.
            self.feed(data);
        }
    }

    fn digest128(&mut self) -> u128 {
        match self.stream.as_mut() {
            None => xxhash_rust::xxh3::xxh3_128(&self.buffer[..self.len]),
            Some(stream) => {
                stream.update(&self.buffer[..self.len]);
                stream.digest128()
            }
        }
    }
}

impl std::io::Write for HashWriter {
    #[inline(always)]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The 128-bit hash of one invocation: the member stored in a pair's index and
/// the field of its value map, as 16 raw bytes.
///
/// ```
/// use redis_func_cache::InvocationHash;
/// let h = InvocationHash::from_bytes([7; 16]);
/// assert_eq!(h.as_bytes(), &[7; 16]);
/// assert_eq!(h.to_string(), "07".repeat(16));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InvocationHash([u8; 16]);

impl InvocationHash {
    /// Wraps raw bytes (as read back from a store).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        InvocationHash(bytes)
    }

    /// The raw bytes. Their order is the order a Redis sorted set uses for
    /// members of equal score.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Hash for InvocationHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The bytes are already a uniform hash; eight of them are plenty.
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

impl fmt::Debug for InvocationHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvocationHash({self})")
    }
}

impl fmt::Display for InvocationHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static F: FuncId = FuncId::new("crate::m", "f", 1);

    fn name_hash(id: &FuncId) -> u64 {
        let mut hasher = Xxh3NameHasher::default();
        id.hash(&mut hasher);
        hasher.finish()
    }

    /// Text with the same content as a literal but at another address.
    fn copied(text: &str) -> &'static str {
        Box::leak(text.to_owned().into_boxed_str())
    }

    #[test]
    fn ids_are_equal_by_content_not_address() {
        let copy = FuncId::new(copied("crate::m"), copied("f"), 1);
        assert!(!std::ptr::eq(copy.module(), F.module()));
        assert_eq!(copy, F);
        assert_eq!(name_hash(&copy), name_hash(&F));
        for other in [
            FuncId::new("crate::m", "f", 2),
            FuncId::new("crate::m", "g", 1),
            FuncId::new("crate::n", "f", 1),
            FuncId::new(copied("crate::n"), copied("f"), 1),
        ] {
            assert_ne!(other, F, "{other:?}");
        }
    }

    #[test]
    fn integer_writes_of_the_name_hasher_spread() {
        let hashes: std::collections::HashSet<u64> = (0..10_000u64)
            .map(|n| {
                let mut hasher = Xxh3NameHasher::default();
                hasher.write_u64(n);
                // A hash table picks buckets by the low bits and control
                // bytes by the top seven: both must vary.
                hasher.finish()
            })
            .collect();
        assert_eq!(hashes.len(), 10_000);
        let low: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0x3ff).collect();
        let top: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 900, "{} of 1024 low patterns", low.len());
        assert_eq!(top.len(), 128);
    }

    /// Every kind of write changes the hash, and a change in an integer's
    /// top bit reaches many bits of it (the folded multiply's high half),
    /// not just the top one.
    #[test]
    fn every_write_of_the_name_hasher_mixes_its_input() {
        fn hash(write: impl Fn(&mut Xxh3NameHasher)) -> u64 {
            let mut hasher = Xxh3NameHasher::default();
            write(&mut hasher);
            hasher.finish()
        }
        assert_ne!(hash(|h| h.write(b"pair-a")), hash(|h| h.write(b"pair-b")));
        assert_ne!(hash(|h| h.write_u8(1)), hash(|h| h.write_u8(2)));
        assert_ne!(hash(|h| h.write_u32(1)), hash(|h| h.write_u32(2)));
        assert_ne!(hash(|h| h.write_usize(1)), hash(|h| h.write_usize(2)));
        let spread = hash(|h| h.write_u64(0)) ^ hash(|h| h.write_u64(1 << 63));
        assert!(spread.count_ones() > 8, "{spread:#066b}");
        assert_ne!(name_hash(&F), name_hash(&FuncId::new("crate::m", "g", 1)));
        assert_ne!(name_hash(&F), name_hash(&FuncId::new("crate::m", "f", 2)));
    }

    /// Many writes in a row stay apart: each mixes into the state with XOR,
    /// which loses nothing (OR would let set bits hide the next input's).
    #[test]
    fn sequences_of_integer_writes_do_not_collide() {
        let mut seen = std::collections::HashSet::new();
        for a in 0..64u64 {
            for b in 0..64u64 {
                let mut hasher = Xxh3NameHasher::default();
                hasher.write_u64(a);
                hasher.write_u64(b);
                assert!(seen.insert(hasher.finish()), "({a}, {b}) collides");
            }
        }
    }

    #[test]
    fn hashes_and_hashers_print_what_they_are() {
        let h = F.invocation_hash(&(1u64, "a")).unwrap();
        assert_eq!(format!("{h:?}"), format!("InvocationHash({STABLE_VECTOR})"));
        let hasher = F.hasher();
        assert!(format!("{hasher:?}").starts_with("InvocationHasher { failed: false"));
    }

    #[test]
    fn fingerprints_are_kept_as_given_or_hashed_from_the_version() {
        assert_eq!(FuncId::new("m", "f", 0xfeed).fingerprint(), 0xfeed);
        assert_eq!(
            FuncId::new("m", "f", 0xfeed).fingerprint_text(),
            "000000000000feed"
        );
        let v1 = FuncId::with_version("m", "f", "v1");
        assert_eq!(v1.fingerprint(), xxhash_rust::xxh3::xxh3_64(b"v1"));
        assert_ne!(
            v1.fingerprint(),
            FuncId::with_version("m", "f", "v2").fingerprint()
        );
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // A fixed vector: if this changes, every deployed cache is invalidated.
        let h = F.invocation_hash(&(1u64, "a")).unwrap();
        assert_eq!(h.to_string(), STABLE_VECTOR);
    }

    /// XXH3-128 of `8u64 LE ++ "crate::m" ++ 1u64 LE ++ "f" ++ 1u64 LE ++
    /// [1, 1, b'a']` (bincode's varint 1, then the string "a"), computed
    /// independently with Python's `xxhash.xxh3_128_hexdigest`.
    const STABLE_VECTOR: &str = "1f7c64e236714948312402764084424f";

    /// The buffered writer must give the digest of the plain byte string
    /// whatever the arguments' length: below, at and across the buffer, and
    /// for byte sequences, which serde writes a byte at a time.
    #[test]
    fn long_arguments_hash_as_the_whole_encoding_would() {
        for len in [
            0usize, 1, 400, 470, 471, 472, 511, 512, 513, 1024, 5000, 70_000,
        ] {
            // A Vec<u8> is written one byte at a time; a string in one
            // write, which for the long ones overflows the buffer at once.
            assert_hashes_as_encoded(&(vec![7u8; len], "tail"));
            assert_hashes_as_encoded(&(3u8, "s".repeat(len), 9u64));
        }
    }

    fn assert_hashes_as_encoded<A: Serialize + fmt::Debug>(args: &A) {
        let mut expected = Vec::new();
        for part in ["crate::m", "f"] {
            expected.extend_from_slice(&(part.len() as u64).to_le_bytes());
            expected.extend_from_slice(part.as_bytes());
        }
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend(bincode::serde::encode_to_vec(args, bincode::config::standard()).unwrap());
        let want = xxhash_rust::xxh3::xxh3_128(&expected).to_be_bytes();
        assert_eq!(
            F.invocation_hash(args).unwrap().as_bytes(),
            &want,
            "{} encoded bytes",
            expected.len()
        );
    }

    #[test]
    fn identity_parts_all_matter() {
        let base = F.invocation_hash(&1u8).unwrap();
        assert_ne!(
            base,
            FuncId::new("crate::n", "f", 1)
                .invocation_hash(&1u8)
                .unwrap()
        );
        assert_ne!(
            base,
            FuncId::new("crate::m", "g", 1)
                .invocation_hash(&1u8)
                .unwrap()
        );
        assert_ne!(
            base,
            FuncId::new("crate::m", "f", 2)
                .invocation_hash(&1u8)
                .unwrap()
        );
        // Length prefixes keep ("ab","c") apart from ("a","bc").
        assert_ne!(
            FuncId::new("ab", "c", 0).invocation_hash(&()).unwrap(),
            FuncId::new("a", "bc", 0).invocation_hash(&()).unwrap()
        );
    }
}
