//! Arbitrary bytes, as a hostile or corrupted store might return them, fed to
//! every value decoder: decoding may fail, but must never panic and never
//! allocate more than the decode limit at once.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use redis_func_cache_core::serializer::{Bincode, Json, MessagePack, Serializer};
use serde::Deserialize;

/// The decode limit under test.
const LIMIT: usize = redis_func_cache_core::serializer::MIN_DECODE_LIMIT;

/// Fails the run on any single allocation larger than the limit (plus room
/// for the fuzzer's own bookkeeping, which allocates up to its max input).
struct Bounded;

const ALLOWED: usize = 4 * LIMIT;

unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        assert!(layout.size() <= ALLOWED, "allocation of {} bytes", layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        assert!(new_size <= ALLOWED, "reallocation to {new_size} bytes");
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Bounded = Bounded;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
enum Shape {
    Unit,
    Tuple(u8, i64),
    Struct { name: String, tags: Vec<String> },
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
struct Record {
    id: u64,
    scores: Vec<f64>,
    names: BTreeMap<String, Vec<u32>>,
    shape: Option<Shape>,
    raw: Vec<u8>,
}

fn decode_all<S: Serializer>(s: S, data: &[u8]) {
    let _ = s.decode::<Record>(data);
    let _ = s.decode::<Vec<Vec<u64>>>(data);
    let _ = s.decode::<(String, Option<Shape>)>(data);
    let _ = s.decode::<u64>(data);
}

fuzz_target!(|data: &[u8]| {
    decode_all(Bincode::<LIMIT>, data);
    decode_all(Json::<LIMIT>, data);
    decode_all(MessagePack::<LIMIT>, data);
});
