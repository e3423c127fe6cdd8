//! Hostile bytes never make a decoder allocate past its limit: a counting
//! allocator records the largest single allocation made while decoding.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use redis_func_cache_core::serializer::{Bincode, MIN_DECODE_LIMIT, Serializer};

struct Counting;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const LIMIT: usize = MIN_DECODE_LIMIT;

/// The largest allocation made by `f`.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    f();
    WATCHING.store(false, Ordering::SeqCst);
    LARGEST.load(Ordering::SeqCst)
}

/// bincode's varint: 0xfd then a little-endian u64.
fn huge_length(n: u64) -> Vec<u8> {
    let mut bytes = vec![0xfd];
    bytes.extend(n.to_le_bytes());
    bytes
}

// One test function, so no other test thread allocates while watching.
#[test]
fn hostile_lengths_are_refused_without_allocating_them() {
    let s = Bincode::<LIMIT>;
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for n in [u64::MAX, 1 << 40, 1 << 20, LIMIT as u64 + 1] {
        assert!(s.decode::<Vec<u64>>(&huge_length(n)).is_err());
        assert!(s.decode::<String>(&huge_length(n)).is_err());
        cases.push(huge_length(n));
        // A short vector whose elements each claim a huge length.
        let mut nested = vec![3];
        for _ in 0..3 {
            nested.extend(huge_length(n));
        }
        cases.push(nested);
    }
    // Input over the limit is refused before decoding.
    cases.push(vec![0; LIMIT * 4]);
    for bytes in &cases {
        // Some of these decode (three varints are a fine Vec<u64>); what
        // matters is what decoding allocates.
        let largest = largest_allocation(|| {
            let _ = s.decode::<Vec<u64>>(bytes);
            let _ = s.decode::<String>(bytes);
            assert!(s.decode::<Vec<Vec<u8>>>(bytes).is_err());
            assert!(s.decode::<BTreeMap<String, Vec<u32>>>(bytes).is_err());
        });
        assert!(
            largest <= LIMIT,
            "{} bytes allocated decoding {:?}",
            largest,
            &bytes[..bytes.len().min(20)]
        );
    }
    // And a value within the limit still decodes.
    let fine = s.encode(&vec![7u64; 100]).unwrap();
    assert_eq!(s.decode::<Vec<u64>>(&fine).unwrap().len(), 100);
}
