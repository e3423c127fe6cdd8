//! Results a cache returns but does not store (SPEC §7), and arguments it
//! cannot key, on the memory store: a result over the serializer's limit,
//! one that does not encode, an argument that does not encode; with the
//! cache failing open (the default) and propagating errors.

use std::sync::atomic::{AtomicUsize, Ordering};

use redis_func_cache::serializer::Bincode;
use redis_func_cache::{Error, FuncCache, FuncId, LruPolicy, MemoryStore, Mode, OnStoreError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

static F: FuncId = FuncId::with_version("unstored", "f", "1");

/// The smallest decode limit a serializer takes: 1 MiB.
const LIMIT: usize = 1 << 20;

fn cache(on_error: OnStoreError) -> FuncCache<MemoryStore, Bincode<LIMIT>> {
    FuncCache::builder("unstored")
        .policy(LruPolicy)
        .maxsize(10)
        .store(MemoryStore::new())
        .serializer(Bincode::<LIMIT>)
        .on_store_error(on_error)
        .build()
        .unwrap()
}

/// A value whose encoding always fails (as a map with non-string keys does
/// in JSON).
#[derive(Debug, Clone, PartialEq)]
struct Unencodable(u32);

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be encoded",
        ))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(Unencodable)
    }
}

/// How many times `f` ran for two calls of `key` returning `value`.
fn runs_for_two_calls<T>(c: &FuncCache<MemoryStore, Bincode<LIMIT>>, key: u32, value: T) -> usize
where
    T: Serialize + for<'de> Deserialize<'de> + Clone + PartialEq + std::fmt::Debug,
{
    let runs = AtomicUsize::new(0);
    for _ in 0..2 {
        let got = c
            .call(&F, &key, || {
                runs.fetch_add(1, Ordering::SeqCst);
                value.clone()
            })
            .unwrap();
        assert_eq!(got, value);
    }
    runs.load(Ordering::SeqCst)
}

/// bincode writes a `Vec<u8>` of 2^16 bytes or more as a 5-byte length and
/// the bytes: this many bytes encode to exactly the largest encoding the
/// cache stores.
fn at_limit() -> usize {
    use redis_func_cache::Serializer as _;
    Bincode::<LIMIT>.limit() - 5
}

#[test]
fn a_result_at_the_limit_is_stored_and_one_byte_over_is_only_returned() {
    let c = cache(OnStoreError::FailOpen);
    let at_limit = at_limit();
    let runs = runs_for_two_calls(&c, 1, vec![7u8; at_limit]);
    assert_eq!(runs, 1, "stored, and read back");
    assert_eq!(c.stats().too_large, 0);
    assert_eq!(c.stats().decode_failures, 0, "what is stored decodes");
    assert_eq!(
        runs_for_two_calls(&c, 2, vec![7u8; at_limit + 1]),
        2,
        "returned each time, never stored"
    );
    assert_eq!(c.stats().too_large, 2, "each over-limit result is counted");
}

/// The entry API stores what a call would (SPEC §10): a value at the limit
/// is inserted and read back; one byte over is refused with an error that
/// says so, and nothing is written.
#[test]
fn an_entry_insert_at_the_limit_is_stored_and_one_byte_over_is_refused() {
    let c = cache(OnStoreError::FailOpen);
    let entry = c.entry(&F, &1u32).unwrap();
    entry.insert(&vec![7u8; at_limit()]).unwrap();
    assert_eq!(
        entry.peek::<Vec<u8>>().unwrap().map(|v| v.len()),
        Some(at_limit())
    );
    let over = c.entry(&F, &2u32).unwrap();
    let err = over.insert(&vec![7u8; at_limit() + 1]).unwrap_err();
    assert!(
        err.to_string().contains("over the serializer's limit"),
        "{err}"
    );
    assert_eq!(over.peek::<Vec<u8>>().unwrap(), None);
    assert_eq!(c.stats().writes, 1);
}

#[test]
fn a_result_that_does_not_encode_is_returned_or_its_error_propagated() {
    // Failing open: the caller gets the value; nothing is stored.
    let open = cache(OnStoreError::FailOpen);
    assert_eq!(runs_for_two_calls(&open, 1, Unencodable(5)), 2);
    // Propagating: the caller gets the encoding error.
    let strict = cache(OnStoreError::Propagate);
    let err = strict.call(&F, &1u32, || Unencodable(5)).unwrap_err();
    assert!(matches!(err, Error::Encode { .. }), "{err:?}");
}

#[test]
fn a_result_that_is_not_written_is_returned_even_if_it_does_not_encode() {
    // Bypass and read-only calls never write, so an encoding error is no
    // error of theirs, even in a cache that propagates errors: whether or
    // not a read-only caller leads a flight (which would share the result).
    let strict = cache(OnStoreError::Propagate);
    for mode in [Mode::Bypass, Mode::ReadOnly] {
        let got = mode.scope(|| strict.call(&F, &1u32, || Unencodable(5)));
        assert_eq!(got.unwrap(), Unencodable(5), "{mode:?}");
    }
    let without_flights = FuncCache::builder("unstored-no-flights")
        .policy(LruPolicy)
        .store(MemoryStore::new())
        .serializer(Bincode::<LIMIT>)
        .on_store_error(OnStoreError::Propagate)
        .single_flight(false)
        .build()
        .unwrap();
    let got = Mode::ReadOnly.scope(|| without_flights.call(&F, &1u32, || Unencodable(5)));
    assert_eq!(got.unwrap(), Unencodable(5));
    // A normal call would write it: the error reaches the caller.
    assert!(strict.call(&F, &1u32, || Unencodable(5)).is_err());
}

#[test]
fn a_call_that_never_writes_does_not_encode_its_result() {
    // Nothing is encoded where nothing is written or shared, so a result
    // over the limit is not counted as one that was too large to store.
    let over = vec![7u8; at_limit() + 1];
    let c = cache(OnStoreError::FailOpen);
    let got = Mode::Bypass.scope(|| c.call(&F, &2u32, || over.clone()));
    assert_eq!(got.unwrap(), over);
    assert_eq!(c.stats().too_large, 0);
    // Written, it is counted.
    assert_eq!(c.call(&F, &2u32, || over.clone()).unwrap(), over);
    assert_eq!(c.stats().too_large, 1);
}

#[test]
fn an_argument_that_does_not_encode_is_run_uncached_in_bypass_mode() {
    // Bypass mode never keys a call, so even a cache that propagates its
    // errors runs the function.
    let strict = cache(OnStoreError::Propagate);
    let value: u32 = Mode::Bypass
        .scope(|| strict.call(&F, &Unencodable(1), || 9))
        .unwrap();
    assert_eq!(value, 9);
    // Outside it, the error reaches the caller.
    assert!(strict.call(&F, &Unencodable(1), || 9).is_err());
    // A cache failing open runs it uncached.
    let open = cache(OnStoreError::FailOpen);
    assert_eq!(open.call(&F, &Unencodable(1), || 9).unwrap(), 9);
}
