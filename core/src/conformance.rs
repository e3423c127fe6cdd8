//! The behaviour every [`Store`] must show, written once as plain functions
//! over a store. Each backend's tests call every one of them (the memory
//! store's in process, the Redis store's against a real server), so a
//! difference between backends is a failing check, not a surprise.
//!
//! Each check panics with a message on failure, like an assertion. A check
//! that needs time to pass takes a [`Harness`], so the memory store can move
//! a manual clock and a server-backed store can sleep.
//!
//! A backend's test implements [`Harness`] and calls [`run_all`] and
//! [`run_all_async`]; the memory store's `tests/conformance.rs` is the model.

use std::time::Duration;

use bytes::Bytes;

use crate::identity::{FuncId, InvocationHash};
use crate::keys::KeyPair;
use crate::policy::{IndexKind, Layout, PolicyRules, ScoreRule, Victim};
use crate::store::{
    Expiry, GetRequest, INLINE_CAPACITY, Leased, Lookup, PutRequest, Store, StoredValue,
};

/// What the checks need besides the store.
pub trait Harness {
    /// The store under test.
    type Store: Store;
    /// The store. Checks use their own key names, but expect no other
    /// writer on them.
    fn store(&self) -> &Self::Store;
    /// Lets `by` pass on the store's clock (advance a manual clock, or
    /// sleep).
    fn advance(&self, by: Duration);
    /// A time unit the store's TTLs resolve reliably: checks use TTLs of a
    /// few units and advance by units. A manual clock can use a microsecond;
    /// a real server wants tens of milliseconds.
    fn tick(&self) -> Duration;
}

const LRU: PolicyRules = PolicyRules {
    word: "lru",
    index: IndexKind::SortedSet,
    on_insert: ScoreRule::MaxPlusOne,
    on_hit: ScoreRule::MaxPlusOne,
    on_overwrite: ScoreRule::Keep,
    victim: Victim::Lowest,
};
const MRU: PolicyRules = PolicyRules {
    word: "mru",
    victim: Victim::Highest,
    ..LRU
};
const FIFO: PolicyRules = PolicyRules {
    word: "fifo",
    on_hit: ScoreRule::Keep,
    ..LRU
};
const LFU: PolicyRules = PolicyRules {
    word: "lfu",
    index: IndexKind::SortedSet,
    on_insert: ScoreRule::One,
    on_hit: ScoreRule::Increment,
    on_overwrite: ScoreRule::Keep,
    victim: Victim::Lowest,
};
const RR: PolicyRules = PolicyRules {
    word: "rr",
    index: IndexKind::Set,
    on_insert: ScoreRule::Keep,
    on_hit: ScoreRule::Keep,
    on_overwrite: ScoreRule::Keep,
    victim: Victim::Random,
};

const S3FIFO: PolicyRules = PolicyRules {
    word: "s3fifo",
    index: IndexKind::S3Fifo,
    on_insert: ScoreRule::Keep,
    on_hit: ScoreRule::Keep,
    on_overwrite: ScoreRule::Keep,
    victim: Victim::Lowest,
};
const SIEVE: PolicyRules = PolicyRules {
    word: "sieve",
    index: IndexKind::Sieve,
    ..S3FIFO
};

static CHECK: FuncId = FuncId::new("conformance", "check", 0);

fn member(k: u32) -> InvocationHash {
    CHECK.invocation_hash(&k).expect("u32 always encodes")
}

/// A pair for a check: single-pair layout, or its cluster form when the store
/// talks to a cluster (both keys in one slot).
fn pair(check: &str, rules: &PolicyRules, cluster: bool) -> KeyPair {
    let layout = if cluster {
        Layout::Cluster
    } else {
        Layout::Single
    };
    KeyPair::new("rfc-conformance:", check, rules.word, layout, &CHECK)
}

/// A long-lived, sliding pair TTL and no entry TTL.
const LONG: Expiry = Expiry {
    pair_ttl: Duration::from_secs(600),
    slide: true,
    entry_ttl: None,
};

/// The sync or async face of a store, so each check is written once.
struct Ops<'a, S: Store> {
    store: &'a S,
    pair: KeyPair,
    rules: PolicyRules,
    expiry: Expiry,
    maxsize: u64,
}

impl<'a, S: Store> Ops<'a, S> {
    fn new(store: &'a S, check: &str, rules: PolicyRules) -> Self {
        Ops {
            store,
            pair: pair(check, &rules, store.capabilities().needs_cluster_layout),
            rules,
            expiry: LONG,
            maxsize: 3,
        }
    }
    fn get_req(&self, k: u32) -> GetRequest<'_> {
        GetRequest::new(&self.pair, member(k), &self.rules, self.expiry)
    }
    fn put_req(&self, k: u32, v: &str) -> PutRequest<'_> {
        PutRequest::new(
            &self.pair,
            member(k),
            Bytes::from(crate::envelope::frame(1, v.as_bytes())),
            &self.rules,
            self.maxsize,
            self.expiry,
        )
    }
}

/// A value as the store returned it, header checked and removed: a store
/// must hand back the header the cache wrote, deadline taken out.
fn unframe(stored: &[u8]) -> String {
    match crate::envelope::open(stored, 1) {
        Ok(payload) => String::from_utf8_lossy(payload).into_owned(),
        Err(e) => panic!("the store returned {stored:?}, not the framed value it was given: {e}"),
    }
}

/// What a read found, without the value: `"hit"`, `"miss"` or `"expired"`.
fn kind_of(found: Lookup) -> &'static str {
    match found {
        Lookup::Hit(_) => "hit",
        Lookup::Miss => "miss",
        Lookup::Expired => "expired",
    }
}

/// One check, runnable on either face of the store.
macro_rules! checks {
    ($(
        $(#[$doc:meta])*
        fn $name:ident / $async_name:ident ($h:ident, $ops:ident) $body:block
    )*) => {
        $(
            $(#[$doc])*
            pub fn $name<H: Harness>($h: &H) {
                #[allow(unused_macros)]
                macro_rules! get { ($o:expr, $k:expr) => { $o.store.get(&$o.get_req($k)).expect("get").into_value().map(|b: StoredValue| unframe(&b)) } }
                #[allow(unused_macros)]
                macro_rules! lookup { ($o:expr, $k:expr) => { kind_of($o.store.get(&$o.get_req($k)).expect("get")) } }
                #[allow(unused_macros)]
                macro_rules! put { ($o:expr, $k:expr, $v:expr) => { $o.store.put(&$o.put_req($k, $v)).expect("put").evicted.len() } }
                #[allow(unused_macros)]
                macro_rules! put_outcome { ($o:expr, $k:expr, $v:expr) => { $o.store.put(&$o.put_req($k, $v)).expect("put") } }
                #[allow(unused_macros)]
                macro_rules! lease { ($o:expr, $k:expr, $d:expr) => { $o.store.get_or_lease(&$o.get_req($k), $d).expect("get_or_lease") } }
                #[allow(unused_macros)]
                macro_rules! peek { ($o:expr, $k:expr) => { $o.store.peek(&$o.get_req($k)).expect("peek").map(|b: StoredValue| unframe(&b)) } }
                #[allow(unused_macros)]
                macro_rules! remove { ($o:expr, $k:expr) => { $o.store.remove(&$o.get_req($k)).expect("remove") } }
                #[allow(unused_macros)]
                macro_rules! put_releasing { ($o:expr, $k:expr, $v:expr) => { $o.store.put(&$o.put_req($k, $v).releasing_lease(true)).expect("put").evicted.len() } }
                #[allow(unused_macros)]
                macro_rules! len { ($o:expr) => { $o.store.len(&$o.pair).expect("len") } }
                #[allow(unused_macros)]
                macro_rules! purge { ($o:expr) => { $o.store.purge(&$o.pair).expect("purge") } }
                #[allow(unused_macros)]
                macro_rules! purge_prefix { ($o:expr, $p:expr) => { $o.store.purge_prefix($p).expect("purge_prefix") } }
                let $ops = |check: &str, rules: PolicyRules| {
                    let o = Ops::new($h.store(), &format!("sync-{check}"), rules);
                    $h.store().purge(&o.pair).expect("purge before the check");
                    o
                };
                $body
            }

            $(#[$doc])*
            /// (Async face.)
            pub async fn $async_name<H: Harness>($h: &H) {
                #[allow(unused_macros)]
                macro_rules! get { ($o:expr, $k:expr) => { $o.store.get_async(&$o.get_req($k)).await.expect("get").into_value().map(|b: StoredValue| unframe(&b)) } }
                #[allow(unused_macros)]
                macro_rules! lookup { ($o:expr, $k:expr) => { kind_of($o.store.get_async(&$o.get_req($k)).await.expect("get")) } }
                #[allow(unused_macros)]
                macro_rules! put { ($o:expr, $k:expr, $v:expr) => { $o.store.put_async(&$o.put_req($k, $v)).await.expect("put").evicted.len() } }
                #[allow(unused_macros)]
                macro_rules! put_outcome { ($o:expr, $k:expr, $v:expr) => { $o.store.put_async(&$o.put_req($k, $v)).await.expect("put") } }
                #[allow(unused_macros)]
                macro_rules! lease { ($o:expr, $k:expr, $d:expr) => { $o.store.get_or_lease_async(&$o.get_req($k), $d).await.expect("get_or_lease") } }
                #[allow(unused_macros)]
                macro_rules! peek { ($o:expr, $k:expr) => { $o.store.peek_async(&$o.get_req($k)).await.expect("peek").map(|b: StoredValue| unframe(&b)) } }
                #[allow(unused_macros)]
                macro_rules! remove { ($o:expr, $k:expr) => { $o.store.remove_async(&$o.get_req($k)).await.expect("remove") } }
                #[allow(unused_macros)]
                macro_rules! put_releasing { ($o:expr, $k:expr, $v:expr) => { $o.store.put_async(&$o.put_req($k, $v).releasing_lease(true)).await.expect("put").evicted.len() } }
                #[allow(unused_macros)]
                macro_rules! len { ($o:expr) => { $o.store.len_async(&$o.pair).await.expect("len") } }
                #[allow(unused_macros)]
                macro_rules! purge { ($o:expr) => { $o.store.purge_async(&$o.pair).await.expect("purge") } }
                #[allow(unused_macros)]
                macro_rules! purge_prefix { ($o:expr, $p:expr) => { $o.store.purge_prefix_async($p).await.expect("purge_prefix") } }
                let $ops = |check: &str, rules: PolicyRules| {
                    let o = Ops::new($h.store(), &format!("async-{check}"), rules);
                    $h.store().purge(&o.pair).expect("purge before the check");
                    o
                };
                $body
            }
        )*

        /// Runs every sync check.
        pub fn run_all<H: Harness>(h: &H) {
            $( $name(h); )*
        }

        /// Runs every async check. Each check's future is boxed: together
        /// in one state machine they outgrow a test thread's stack in debug
        /// builds.
        pub async fn run_all_async<H: Harness>(h: &H) {
            $( Box::pin($async_name(h)).await; )*
        }
    };
}

checks! {
    /// A miss, a put, then a hit that returns exactly the bytes put.
    fn miss_put_hit / miss_put_hit_async(h, ops) {
        let o = ops("miss-put-hit", LRU);
        assert_eq!(get!(o, 1), None, "an empty pair is a miss");
        assert_eq!(put!(o, 1, "one"), 0);
        assert_eq!(get!(o, 1).as_deref(), Some("one"));
        assert_eq!(len!(o), 1);
    }

    /// Values of every size come back exactly: empty, either side of the
    /// longest value a store may keep inline, and large; an overwrite may
    /// move a value from one form to the other.
    fn values_of_every_size / values_of_every_size_async(h, ops) {
        let mut o = ops("sizes", LRU);
        o.maxsize = 16;
        let sizes = [0, 1, INLINE_CAPACITY - 1, INLINE_CAPACITY, INLINE_CAPACITY + 1, 1000, 100_000];
        let text = |size: usize| -> String { (0..size).map(|i| char::from(b'a' + (i % 26) as u8)).collect() };
        for (k, size) in (0u32..).zip(sizes) {
            assert_eq!(put!(o, k, &text(size)), 0);
            assert_eq!(get!(o, k).as_deref(), Some(text(size).as_str()), "{size} bytes, just put");
        }
        for (k, size) in (0u32..).zip(sizes) {
            assert_eq!(get!(o, k).map(|v| v.len()), Some(size), "{size} bytes, read again");
        }
        let (short, long) = (text(2), text(INLINE_CAPACITY + 1));
        put!(o, 0, &long);
        assert_eq!(get!(o, 0).as_deref(), Some(long.as_str()), "short value replaced by a long one");
        put!(o, 0, &short);
        assert_eq!(get!(o, 0).as_deref(), Some(short.as_str()), "long value replaced by a short one");
    }

    /// A maxsize of 0 keeps one entry, as 1 does: the first put into an
    /// empty pair has nothing to evict, whatever picks the victims.
    fn maxsize_zero_keeps_one / maxsize_zero_keeps_one_async(h, ops) {
        for rules in [LRU, RR, SIEVE, S3FIFO] {
            let mut o = ops("maxsize-zero", rules);
            o.maxsize = 0;
            assert_eq!(put!(o, 1, "a"), 0, "{}: nothing to evict", rules.word);
            assert_eq!(len!(o), 1, "{}", rules.word);
            assert_eq!(put!(o, 2, "b"), 1, "{}: one evicted", rules.word);
            assert_eq!(len!(o), 1, "{}", rules.word);
            assert_eq!(get!(o, 2).as_deref(), Some("b"), "{}", rules.word);
        }
    }

    /// Putting a present member replaces its value and never evicts.
    fn overwrite_replaces / overwrite_replaces_async(h, ops) {
        let mut o = ops("overwrite", LRU);
        o.maxsize = 1;
        assert_eq!(put!(o, 1, "a"), 0);
        assert_eq!(put!(o, 1, "b"), 0, "an overwrite evicts nothing");
        assert_eq!(get!(o, 1).as_deref(), Some("b"));
        assert_eq!(len!(o), 1);
    }

    /// The size never exceeds maxsize, each put of a new member into a full
    /// pair evicts exactly one, and a lower maxsize evicts the surplus at
    /// once on the next new put.
    fn size_is_bounded / size_is_bounded_async(h, ops) {
        let mut o = ops("bounded", LRU);
        o.maxsize = 4;
        for k in 0..4 {
            assert_eq!(put!(o, k, "v"), 0);
        }
        assert_eq!(put!(o, 10, "v"), 1);
        assert_eq!(len!(o), 4);
        o.maxsize = 2;
        assert_eq!(put!(o, 11, "v"), 3, "size 4 -> maxsize 2 evicts 4 - 2 + 1");
        assert_eq!(len!(o), 2);
    }

    /// LRU evicts the least recently used; a hit protects an entry.
    fn lru_keeps_touched / lru_keeps_touched_async(h, ops) {
        let o = ops("lru", LRU);
        for k in 0..3 { put!(o, k, "v"); }
        assert!(get!(o, 0).is_some());
        assert_eq!(put!(o, 3, "v"), 1);
        assert!(get!(o, 0).is_some(), "the touched entry stays");
        assert!(get!(o, 1).is_none(), "the least recently used went");
    }

    /// MRU evicts the most recently used.
    fn mru_evicts_recent / mru_evicts_recent_async(h, ops) {
        let o = ops("mru", MRU);
        for k in 0..3 { put!(o, k, "v"); }
        assert!(get!(o, 0).is_some());
        assert_eq!(put!(o, 3, "v"), 1);
        assert!(get!(o, 0).is_none(), "the most recently used went");
        assert!(get!(o, 1).is_some() && get!(o, 2).is_some() && get!(o, 3).is_some());
    }

    /// FIFO evicts the oldest insert even after hits on it.
    fn fifo_ignores_hits / fifo_ignores_hits_async(h, ops) {
        let o = ops("fifo", FIFO);
        for k in 0..3 { put!(o, k, "v"); }
        for _ in 0..5 { assert!(get!(o, 0).is_some()); }
        assert_eq!(put!(o, 3, "v"), 1);
        assert!(get!(o, 0).is_none(), "the first in went first");
    }

    /// LFU evicts the least used.
    fn lfu_evicts_least_used / lfu_evicts_least_used_async(h, ops) {
        let o = ops("lfu", LFU);
        for k in 0..3 { put!(o, k, "v"); }
        for k in [0, 0, 1, 1, 2] { assert!(get!(o, k).is_some()); }
        assert_eq!(put!(o, 3, "v"), 1);
        assert!(get!(o, 2).is_none(), "the least used went");
        assert!(get!(o, 0).is_some() && get!(o, 1).is_some());
    }

    /// SIEVE spares an entry hit since the hand last passed it, and the
    /// hand moves on from its victim (SPEC §3.2).
    fn sieve_second_chance / sieve_second_chance_async(h, ops) {
        let o = ops("sieve", SIEVE);
        for k in 0..3 { put!(o, k, "v"); }
        assert!(get!(o, 0).is_some());
        assert_eq!(put!(o, 3, "v"), 1);
        assert!(get!(o, 0).is_some() && get!(o, 1).is_none(), "0 was visited: 1 went");
        assert_eq!(put!(o, 4, "v"), 1);
        assert!(get!(o, 2).is_none(), "the hand went on to 2, not back to 0");
        assert_eq!(len!(o), 3);
    }

    /// S3-FIFO: a one-hit wonder leaves through the small queue into the
    /// ghost, and comes back into the main queue, where a hit entry survives
    /// a scan of new keys (SPEC §3.2).
    fn s3fifo_resists_a_scan / s3fifo_resists_a_scan_async(h, ops) {
        let mut o = ops("s3fifo", S3FIFO);
        o.maxsize = 10;
        for k in 0..10 { put!(o, k, "v"); }
        assert!(get!(o, 1).is_some(), "1 is hit while in the small queue");
        assert_eq!(put!(o, 10, "v"), 1);
        assert!(get!(o, 0).is_none(), "0 was never hit: the oldest of S goes");
        assert_eq!(put!(o, 0, "again"), 1, "0 comes back from the ghost");
        for k in 100..130 { put!(o, k, "scan"); }
        assert_eq!(get!(o, 0).as_deref(), Some("again"), "0 is in main, safe from the scan");
        assert_eq!(len!(o), 10);
    }

    /// RR keeps the size bounded and only evicts residents.
    fn rr_bounded / rr_bounded_async(h, ops) {
        let o = ops("rr", RR);
        for k in 0..20 { put!(o, k, "v"); }
        assert_eq!(len!(o), 3);
        let mut resident = 0;
        for k in 0..20 {
            resident += usize::from(get!(o, k).is_some());
        }
        assert_eq!(resident, 3);
    }

    /// A pair expires `pair_ttl` after its last use when sliding.
    fn pair_ttl_slides / pair_ttl_slides_async(h, ops) {
        let mut o = ops("ttl-slide", LRU);
        let tick = h.tick();
        o.expiry = Expiry { pair_ttl: tick * 4, slide: true, entry_ttl: None };
        put!(o, 1, "v");
        for _ in 0..3 {
            h.advance(tick * 2);
            assert!(get!(o, 1).is_some(), "each hit restarts the TTL");
        }
        h.advance(tick * 5);
        assert!(get!(o, 1).is_none(), "idle past the TTL: gone");
        assert_eq!(len!(o), 0);
    }

    /// A hit restarts the pair's TTL only once it has run down by 1/16 of
    /// itself (SPEC §6): a hit right after the put leaves the deadline alone.
    fn early_hit_keeps_the_deadline / early_hit_keeps_the_deadline_async(h, ops) {
        let mut o = ops("ttl-early", LRU);
        let tick = h.tick();
        o.expiry = Expiry { pair_ttl: tick * 32, slide: true, entry_ttl: None };
        put!(o, 1, "v");
        h.advance(tick);
        assert!(get!(o, 1).is_some(), "a hit within the first 1/16");
        h.advance(tick * 63 / 2);
        assert!(get!(o, 1).is_none(), "the early hit did not push the deadline back");
    }

    /// Without sliding, a pair expires a fixed time after it was created.
    fn pair_ttl_fixed / pair_ttl_fixed_async(h, ops) {
        let mut o = ops("ttl-fixed", LRU);
        let tick = h.tick();
        o.expiry = Expiry { pair_ttl: tick * 4, slide: false, entry_ttl: None };
        put!(o, 1, "v");
        h.advance(tick * 2);
        assert!(get!(o, 1).is_some());
        put!(o, 2, "v");
        h.advance(tick * 3);
        assert!(get!(o, 1).is_none() && get!(o, 2).is_none(), "fixed TTL ran out for the whole pair");
    }

    /// An entry past its own deadline is a miss and is removed, while its
    /// neighbours stay.
    fn entry_ttl_expires / entry_ttl_expires_async(h, ops) {
        let mut o = ops("entry-ttl", LRU);
        let tick = h.tick();
        o.expiry = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 4) };
        put!(o, 1, "old");
        h.advance(tick * 2);
        put!(o, 2, "new");
        h.advance(tick * 3);
        assert_eq!(lookup!(o, 1), "expired", "past its deadline: this read removes it");
        assert_eq!(lookup!(o, 1), "miss", "removed: the next read finds nothing");
        assert_eq!(get!(o, 2).as_deref(), Some("new"));
        assert_eq!(len!(o), 1, "the expired entry was removed");
        put!(o, 1, "again");
        assert_eq!(get!(o, 1).as_deref(), Some("again"));
    }

    /// A put that evicts an entry past its per-entry deadline says so
    /// (`PutOutcome::expired`), for the eviction listener; live victims are
    /// not counted. Through the sorted-set path (FIFO) and the queues
    /// (SIEVE).
    fn expired_victims_are_counted / expired_victims_are_counted_async(h, ops) {
        let tick = h.tick();
        for rules in [FIFO, SIEVE] {
            let mut o = ops(&format!("expired-victims-{}", rules.word), rules);
            o.maxsize = 2;
            o.expiry = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 4) };
            put!(o, 1, "a");
            put!(o, 2, "b");
            h.advance(tick * 5);
            let first = put_outcome!(o, 3, "c");
            assert_eq!((first.evicted, first.expired), (vec![member(1)], 1), "{}: 1 had expired", rules.word);
            let second = put_outcome!(o, 4, "d");
            assert_eq!((second.evicted, second.expired), (vec![member(2)], 1), "{}: 2 had expired", rules.word);
            let third = put_outcome!(o, 5, "e");
            assert_eq!((third.evicted, third.expired), (vec![member(3)], 0), "{}: 3 was live", rules.word);
        }
    }

    /// SIEVE's hand steps off removed entries: left past every remaining
    /// entry it points at the oldest again, so entries added later (whose
    /// sequence numbers may reach it) do not take it.
    fn sieve_hand_steps_off_removed_entries / sieve_hand_steps_off_removed_entries_async(h, ops) {
        let o = ops("sieve-hand-removed", SIEVE);
        for k in 1..=3 {
            put!(o, k, "v");
        }
        assert!(get!(o, 1).is_some());
        let first = put_outcome!(o, 4, "v");
        assert_eq!(first.evicted, vec![member(2)], "1 was visited: 2 goes, the hand points at 3");
        assert!(remove!(o, 3) && remove!(o, 4), "both resident");
        put!(o, 5, "v");
        put!(o, 6, "v");
        let last = put_outcome!(o, 7, "v");
        assert_eq!(last.evicted, vec![member(1)], "the hand starts at the oldest again");
    }

    /// The same when a read removes expired entries (per-entry TTL).
    fn sieve_hand_steps_off_expired_entries / sieve_hand_steps_off_expired_entries_async(h, ops) {
        let tick = h.tick();
        let mut o = ops("sieve-hand-expired", SIEVE);
        o.expiry = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 4) };
        for k in 1..=3 {
            put!(o, k, "v");
        }
        assert!(get!(o, 1).is_some());
        assert_eq!(put_outcome!(o, 4, "v").evicted, vec![member(2)], "the hand points at 3");
        h.advance(tick * 2);
        put!(o, 1, "again"); // 1 lives on; 3 and 4 do not
        h.advance(tick * 3);
        assert_eq!((lookup!(o, 3), lookup!(o, 4)), ("expired", "expired"), "expired, and removed");
        put!(o, 5, "v");
        put!(o, 6, "v");
        let last = put_outcome!(o, 7, "v");
        assert_eq!(last.evicted, vec![member(1)], "the hand starts at the oldest again");
    }

    /// A peek, like a read, finds nothing in a pair whose TTL ran out.
    fn peek_misses_in_an_expired_pair / peek_misses_in_an_expired_pair_async(h, ops) {
        let tick = h.tick();
        let mut o = ops("peek-expired-pair", LRU);
        o.expiry = Expiry { pair_ttl: tick * 4, slide: false, entry_ttl: None };
        put!(o, 1, "v");
        assert_eq!(peek!(o, 1).as_deref(), Some("v"));
        h.advance(tick * 5);
        assert!(peek!(o, 1).is_none(), "the pair expired");
        assert_eq!(lookup!(o, 1), "miss", "a pair's TTL is the server's: no entry to report");
    }

    /// SPEC §7: a deadline travels with its value. A reader without
    /// per-entry TTLs still honours one another process wrote; a reader
    /// with them misses a value written without one (and overwrites it).
    fn entry_deadlines_cross_readers / entry_deadlines_cross_readers_async(h, ops) {
        let mut o = ops("entry-ttl-mix", LRU);
        let tick = h.tick();
        let with = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 4) };
        let without = Expiry { entry_ttl: None, ..with };
        o.expiry = with;
        put!(o, 1, "timed");
        o.expiry = without;
        assert_eq!(get!(o, 1).as_deref(), Some("timed"), "read without the deadline digits");
        put!(o, 2, "untimed");
        o.expiry = with;
        assert_eq!(lookup!(o, 2), "miss", "no deadline: a miss for a reader that wants one, kept");
        put!(o, 2, "timed too");
        assert_eq!(get!(o, 2).as_deref(), Some("timed too"));
        h.advance(tick * 5);
        o.expiry = without;
        assert_eq!(lookup!(o, 1), "expired", "the writer's deadline holds for a reader without one");
    }

    /// Purging a pair removes it and reports how many entries it held;
    /// purging by prefix removes every matching pair and no other.
    fn purge_pairs / purge_pairs_async(h, ops) {
        let a = ops("purge-a", LRU);
        let b = ops("purge-b", LRU);
        let c = ops("other-c", LRU);
        for k in 0..2 { put!(a, k, "v"); put!(b, k, "v"); put!(c, k, "v"); }
        put!(a, 9, "v");
        assert_eq!(purge!(a), 3);
        assert_eq!(len!(a), 0);
        assert_eq!(purge!(a), 0);
        let index = b.pair.index();
        let prefix = &index[..index.find("purge-b").expect("the check's name") + "purge-".len()];
        put!(a, 1, "v");
        assert_eq!(purge_prefix!(b, prefix), 3);
        assert_eq!((len!(a), len!(b), len!(c)), (0, 0, 2));
        purge!(c);
    }

    /// SPEC §9: a miss takes the member's lease unless a live one is held,
    /// and says how long the holder has; a put releases it; a holder that
    /// never puts delays others by at most the lease time; a hit takes no
    /// lease and applies the hit rule as a plain read does.
    fn leases_go_to_one_caller / leases_go_to_one_caller_async(h, ops) {
        let mut o = ops("leases", LRU);
        o.maxsize = 8;
        let tick = h.tick();
        let lease = tick * 4;
        assert_eq!(lease!(o, 1, lease), Leased::Granted, "the first miss holds the lease");
        match lease!(o, 1, lease) {
            Leased::Held(left) => assert!(left > Duration::ZERO && left <= lease, "held for {left:?}"),
            other => panic!("a second caller must wait for the holder, not {other:?}"),
        }
        assert_eq!(lease!(o, 2, lease), Leased::Granted, "leases are per member");
        put_releasing!(o, 1, "one");
        match lease!(o, 1, lease) {
            Leased::Hit(v) => assert_eq!(unframe(&v), "one"),
            other => panic!("the holder's put must be read back, not {other:?}"),
        }
        // Member 2's holder never puts: once its lease ends, another takes it.
        h.advance(lease + tick);
        assert_eq!(lease!(o, 2, lease), Leased::Granted, "an ended lease passes on");
        put_releasing!(o, 2, "two");
        // A released lease is gone: after an entry is evicted, its next miss
        // is granted at once.
        o.maxsize = 1;
        put!(o, 3, "three");
        assert_eq!(get!(o, 1), None);
        assert_eq!(lease!(o, 1, lease), Leased::Granted, "released by the put");
        put_releasing!(o, 1, "one again");
        // A hit through the leased read applies the hit rule: LRU keeps 1.
        assert!(matches!(lease!(o, 1, lease), Leased::Hit(_)));
        assert_eq!(len!(o), 1);
    }

    /// A leased read that finds an entry past its own TTL removes it, says
    /// so (for the eviction listener), and leases as after any miss: the
    /// next caller waits for the holder.
    fn leased_read_of_an_expired_entry / leased_read_of_an_expired_entry_async(h, ops) {
        let mut o = ops("lease-expired", LRU);
        let tick = h.tick();
        let lease = tick * 4;
        o.expiry = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 4) };
        put!(o, 1, "old");
        put!(o, 2, "live");
        h.advance(tick * 5);
        put!(o, 2, "live");
        assert_eq!(lease!(o, 1, lease), Leased::Expired(Box::new(Leased::Granted)), "removed, then leased");
        match lease!(o, 1, lease) {
            Leased::Held(_) => {}
            other => panic!("the next caller must wait for the holder, not {other:?}"),
        }
        assert_eq!(len!(o), 1, "only the live entry is left");
        assert!(matches!(lease!(o, 2, lease), Leased::Hit(_)), "a live entry is a hit");
    }

    /// SPEC §10: a peek reads an entry without the hit rule (an LRU peek
    /// does not save the entry from eviction), and a removal deletes one
    /// member, in every index kind.
    fn peek_and_remove / peek_and_remove_async(h, ops) {
        let mut o = ops("entries", LRU);
        o.maxsize = 2;
        assert_eq!(peek!(o, 1), None);
        put!(o, 1, "one");
        put!(o, 2, "two");
        assert_eq!(peek!(o, 1).as_deref(), Some("one"));
        assert_eq!(put!(o, 3, "three"), 1, "1 is still the least recently used");
        assert_eq!(get!(o, 1), None);
        assert!(remove!(o, 2));
        assert!(!remove!(o, 2), "already gone");
        assert_eq!(get!(o, 2), None);
        assert_eq!(len!(o), 1);
        for (check, rules) in [("entries-rr", RR), ("entries-sieve", SIEVE), ("entries-s3", S3FIFO)] {
            let o = ops(check, rules);
            put!(o, 1, "a");
            put!(o, 2, "b");
            assert_eq!(peek!(o, 2).as_deref(), Some("b"), "{check}");
            assert!(remove!(o, 1), "{check}");
            assert_eq!((peek!(o, 1), len!(o)), (None, 1), "{check}");
            assert_eq!(get!(o, 2).as_deref(), Some("b"), "{check}");
        }
        // A per-entry deadline: past it, a peek misses.
        let mut o = ops("entries-ttl", LRU);
        let tick = h.tick();
        o.expiry = Expiry { pair_ttl: Duration::from_secs(600), slide: true, entry_ttl: Some(tick * 3) };
        put!(o, 1, "short");
        assert_eq!(peek!(o, 1).as_deref(), Some("short"));
        h.advance(tick * 4);
        assert_eq!(peek!(o, 1), None);
    }

    /// A cache's fleet counters (`add_counters`, `read_counters`,
    /// `remove_counters`): additions sum per field, hashes are separate,
    /// a missing hash reads as none, and a removed one is gone.
    fn counters_add_up / counters_add_up_async(h, ops) {
        let o = ops("counters", LRU);
        let key = format!("{}counters", o.pair.index());
        let other = format!("{}other", o.pair.index());
        let read = |key: &str| {
            let mut counts = o.store.read_counters(key).expect("read_counters");
            counts.sort();
            counts
        };
        o.store.remove_counters(&key).expect("remove_counters");
        o.store.remove_counters(&other).expect("remove_counters");
        assert_eq!(read(&key), vec![], "a hash never written holds no counters");
        o.store.add_counters(&key, &[("hits", 2), ("misses", 1)]).expect("add_counters");
        o.store.add_counters(&key, &[("hits", 5), ("writes", 0)]).expect("add_counters");
        o.store.add_counters(&other, &[("hits", 100)]).expect("add_counters");
        // (A store may keep a field added as 0, or not.)
        let nonzero = |key: &str| read(key).into_iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>();
        assert_eq!(
            nonzero(&key),
            vec![("hits".to_owned(), 7), ("misses".to_owned(), 1)],
            "counts add up per field"
        );
        assert_eq!(nonzero(&other), vec![("hits".to_owned(), 100)], "hashes are separate");
        o.store.remove_counters(&key).expect("remove_counters");
        assert_eq!(read(&key), vec![], "a removed hash is gone");
        assert_eq!(nonzero(&other), vec![("hits".to_owned(), 100)]);
        o.store.remove_counters(&other).expect("remove_counters");
    }

    /// Two pairs never see each other's entries.
    fn pairs_are_isolated / pairs_are_isolated_async(h, ops) {
        let mut a = ops("iso-a", LRU);
        let b = ops("iso-b", LRU);
        a.maxsize = 1;
        put!(a, 1, "a");
        put!(b, 1, "b");
        put!(a, 2, "a2");
        assert_eq!(get!(b, 1).as_deref(), Some("b"));
        assert_eq!(len!(b), 1);
    }
}
