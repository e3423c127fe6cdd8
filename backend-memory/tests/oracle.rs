//! The memory store against an independent oracle written from SPEC §3's
//! table (a few lines per rule, linear scans, no shared code with the store),
//! with proptest over random sequences and exhaustively over small scopes.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::policy::{PolicyRules, ScoreRule, Victim};
use redis_func_cache_core::store::{Expiry, GetRequest, PutRequest, Store};
use redis_func_cache_core::{FuncId, InvocationHash, KeyPair, Layout};
use redis_func_cache_memory::MemoryStore;
use redis_func_cache_policies::rules;

/// One step of a scenario.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// A read of key k.
    Get(u8),
    /// A write of key k with a value.
    Put(u8, u8),
    /// What a cached call does: read, and on a miss write.
    Call(u8),
    /// Change maxsize.
    Resize(u64),
    /// Let the clock move (for tlru).
    Tick(u64),
    /// Remove key k's entry (SPEC §10's entry API).
    Remove(u8),
}

/// What a step observed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Read(Option<u8>),
    Evicted(Vec<InvocationHash>),
    Removed(bool),
    Nothing,
}

static F: FuncId = FuncId::new("oracle", "f", 0);

fn member(k: u8) -> InvocationHash {
    // Realistic, order-scrambled member bytes, so ties by bytes are exercised.
    F.invocation_hash(&k).unwrap()
}

/// The oracle: SPEC §3, literally.
struct Oracle {
    rules: PolicyRules,
    /// (member, score, value)
    entries: Vec<(InvocationHash, u64, u8)>,
}

impl Oracle {
    fn max(&self) -> u64 {
        self.entries.iter().map(|e| e.1).max().unwrap_or(0)
    }

    fn score(&self, rule: redis_func_cache_core::policy::ScoreRule, current: u64, now: u64) -> u64 {
        use redis_func_cache_core::policy::ScoreRule::*;
        match rule {
            Keep => current,
            MaxPlusOne => self.max() + 1,
            One => 1,
            Increment => current + 1,
            ClockMicros => now,
            other => panic!("the oracle does not know {other:?}"),
        }
    }

    fn get(&mut self, m: InvocationHash, now: u64) -> Option<u8> {
        let i = self.entries.iter().position(|e| e.0 == m)?;
        self.entries[i].1 = self.score(self.rules.on_hit, self.entries[i].1, now);
        Some(self.entries[i].2)
    }

    fn put(&mut self, m: InvocationHash, v: u8, maxsize: u64, now: u64) -> Vec<InvocationHash> {
        if let Some(i) = self.entries.iter().position(|e| e.0 == m) {
            self.entries[i].2 = v;
            self.entries[i].1 = self.score(self.rules.on_overwrite, self.entries[i].1, now);
            return vec![];
        }
        let mut evicted = vec![];
        while self.entries.len() as u64 >= maxsize {
            let key = |e: &&(InvocationHash, u64, u8)| (e.1, e.0);
            let victim = match self.rules.victim {
                Victim::Lowest => *self.entries.iter().min_by_key(key).unwrap(),
                Victim::Highest => *self.entries.iter().max_by_key(key).unwrap(),
                Victim::Random => unreachable!("random victims are checked by invariants"),
                other => panic!("the oracle does not know {other:?}"),
            };
            self.entries.retain(|e| e.0 != victim.0);
            evicted.push(victim.0);
        }
        let score = self.score(self.rules.on_insert, 0, now);
        self.entries.push((m, score, v));
        evicted
    }
}

struct Subject {
    store: MemoryStore,
    clock: ManualClock,
    pair: KeyPair,
    rules: PolicyRules,
    maxsize: u64,
}

const EXPIRY: Expiry = Expiry {
    pair_ttl: Duration::from_secs(3600),
    slide: true,
    entry_ttl: None,
};

impl Subject {
    fn new(rules: PolicyRules, maxsize: u64) -> Self {
        let clock = ManualClock::new(1_000_000);
        Subject {
            store: MemoryStore::with_clock(clock.clone()).with_seed(7),
            clock,
            pair: KeyPair::new("t:", "oracle", rules.word, Layout::Single, &F),
            rules,
            maxsize,
        }
    }

    fn get(&self, k: u8) -> Option<u8> {
        let req = GetRequest::new(&self.pair, member(k), &self.rules, EXPIRY);
        self.store.get(&req).unwrap().into_value().map(|b| b[0])
    }

    fn put(&self, k: u8, v: u8) -> Vec<InvocationHash> {
        let req = PutRequest::new(
            &self.pair,
            member(k),
            Bytes::copy_from_slice(&[v]),
            &self.rules,
            self.maxsize,
            EXPIRY,
        );
        self.store.put(&req).unwrap().evicted
    }

    fn len(&self) -> u64 {
        self.store.len(&self.pair).unwrap()
    }

    fn remove(&self, k: u8) -> bool {
        let req = GetRequest::new(&self.pair, member(k), &self.rules, EXPIRY);
        self.store.remove(&req).unwrap()
    }
}

/// What the oracles answer, so one loop replays ops on a store and a model.
trait Model {
    fn get(&mut self, m: InvocationHash, now: u64) -> Option<u8>;
    fn put(&mut self, m: InvocationHash, v: u8, maxsize: u64, now: u64) -> Vec<InvocationHash>;
    /// Removes a resident entry; whether there was one.
    fn remove(&mut self, m: InvocationHash) -> bool;
    /// How many entries are resident.
    fn size(&self) -> u64;
}

impl Model for Oracle {
    fn get(&mut self, m: InvocationHash, now: u64) -> Option<u8> {
        Oracle::get(self, m, now)
    }
    fn put(&mut self, m: InvocationHash, v: u8, maxsize: u64, now: u64) -> Vec<InvocationHash> {
        Oracle::put(self, m, v, maxsize, now)
    }
    fn remove(&mut self, m: InvocationHash) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.0 != m);
        self.entries.len() != before
    }
    fn size(&self) -> u64 {
        self.entries.len() as u64
    }
}

/// Replays `ops` on the store and the model: every observation must agree
/// exactly, and so must the size after every step.
fn replay_both(s: &mut Subject, model: &mut impl Model, ops: &[Op]) -> Result<(), String> {
    let (word, maxsize) = (s.rules.word, s.maxsize);
    for (step, op) in ops.iter().enumerate() {
        let now = s.clock.now_micros_for_test();
        let (got, want) = match *op {
            Op::Get(k) => (Seen::Read(s.get(k)), Seen::Read(model.get(member(k), now))),
            Op::Put(k, v) => (
                Seen::Evicted(s.put(k, v)),
                Seen::Evicted(model.put(member(k), v, s.maxsize, now)),
            ),
            Op::Call(k) => {
                let got = match s.get(k) {
                    Some(v) => Seen::Read(Some(v)),
                    None => Seen::Evicted(s.put(k, k)),
                };
                let want = match model.get(member(k), now) {
                    Some(v) => Seen::Read(Some(v)),
                    None => Seen::Evicted(model.put(member(k), k, s.maxsize, now)),
                };
                (got, want)
            }
            Op::Resize(n) => {
                s.maxsize = n;
                (Seen::Nothing, Seen::Nothing)
            }
            Op::Tick(us) => {
                s.clock.advance(Duration::from_micros(us));
                (Seen::Nothing, Seen::Nothing)
            }
            Op::Remove(k) => (
                Seen::Removed(s.remove(k)),
                Seen::Removed(model.remove(member(k))),
            ),
        };
        if got != want {
            return Err(format!(
                "{word} maxsize {maxsize}: step {step} {op:?}: store saw {got:?}, oracle {want:?}; ops {ops:?}"
            ));
        }
        if s.len() != model.size() {
            return Err(format!(
                "{word}: size {} != {}; ops {ops:?}",
                s.len(),
                model.size()
            ));
        }
    }
    Ok(())
}

/// Replays `ops` on the store and the oracle; every observation and the
/// final contents must agree exactly.
fn check_exact(rules: PolicyRules, maxsize: u64, ops: &[Op]) -> Result<(), String> {
    let mut s = Subject::new(rules, maxsize);
    let mut o = Oracle {
        rules,
        entries: vec![],
    };
    replay_both(&mut s, &mut o, ops)?;
    let mut want: Vec<_> = o.entries.iter().map(|e| (e.1, e.0)).collect();
    want.sort();
    let contents = s.store.contents(&s.pair);
    let got: Vec<_> = contents
        .index
        .iter()
        .map(|(m, sc)| (sc.unwrap(), *m))
        .collect();
    if got != want {
        return Err(format!(
            "{}: final index {got:?} != oracle {want:?}; ops {ops:?}",
            rules.word
        ));
    }
    let mut want_values: Vec<_> = o.entries.iter().map(|e| (e.0, vec![e.2])).collect();
    want_values.sort();
    let got_values: Vec<_> = contents
        .values
        .iter()
        .map(|(m, v)| (*m, v.to_vec()))
        .collect();
    if got_values != want_values {
        return Err(format!("{}: final values differ; ops {ops:?}", rules.word));
    }
    Ok(())
}

/// For policies with random victims: SPEC §3's invariants.
fn check_invariants(rules: PolicyRules, maxsize: u64, ops: &[Op]) -> Result<(), String> {
    let mut s = Subject::new(rules, maxsize);
    let mut resident: std::collections::BTreeMap<InvocationHash, u8> = Default::default();
    let read = |s: &Subject, resident: &std::collections::BTreeMap<_, _>, k: u8| {
        let got = s.get(k);
        match got == resident.get(&member(k)).copied() {
            true => Ok(got),
            false => Err(format!("get {k}: {got:?} but resident {resident:?}")),
        }
    };
    let write = |s: &Subject, resident: &mut std::collections::BTreeMap<_, _>, k: u8, v: u8| {
        let was_new = !resident.contains_key(&member(k));
        let size = resident.len() as u64;
        let evicted = s.put(k, v);
        let expected = if was_new && size >= s.maxsize {
            size - s.maxsize + 1
        } else {
            0
        };
        if evicted.len() as u64 != expected {
            return Err(format!("put {k}: evicted {} not {expected}", evicted.len()));
        }
        for victim in &evicted {
            if resident.remove(victim).is_none() || *victim == member(k) {
                return Err(format!("victim {victim:?} was not resident"));
            }
        }
        resident.insert(member(k), v);
        Ok(())
    };
    for op in ops {
        match *op {
            Op::Get(k) => {
                read(&s, &resident, k)?;
            }
            Op::Put(k, v) => write(&s, &mut resident, k, v)?,
            Op::Call(k) => {
                if read(&s, &resident, k)?.is_none() {
                    write(&s, &mut resident, k, k)?;
                }
            }
            Op::Resize(n) => s.maxsize = n,
            Op::Tick(us) => s.clock.advance(Duration::from_micros(us)),
            Op::Remove(k) => {
                if s.remove(k) != resident.remove(&member(k)).is_some() {
                    return Err(format!("remove {k}: the store and the residents disagree"));
                }
            }
        }
        if s.len() != resident.len() as u64 {
            return Err(format!("size {} != {}", s.len(), resident.len()));
        }
    }
    Ok(())
}

trait NowForTest {
    fn now_micros_for_test(&self) -> u64;
}
impl NowForTest for ManualClock {
    fn now_micros_for_test(&self) -> u64 {
        redis_func_cache_core::clock::Clock::now_micros(self)
    }
}

const EXACT: [PolicyRules; 5] = [rules::LRU, rules::MRU, rules::FIFO, rules::LFU, rules::TLRU];

/// Rule sets no built-in policy has, so every score rule is met on insert,
/// hit and overwrite (a user's policy may combine them any way).
const CUSTOM: [PolicyRules; 3] = [
    // Puts count as uses.
    PolicyRules {
        word: "lfuput",
        on_overwrite: ScoreRule::Increment,
        ..rules::LFU
    },
    // A hit resets the count; an overwrite raises to the top; the top goes.
    PolicyRules {
        word: "oddone",
        on_insert: ScoreRule::MaxPlusOne,
        on_hit: ScoreRule::One,
        on_overwrite: ScoreRule::MaxPlusOne,
        victim: Victim::Highest,
        ..rules::LRU
    },
    // New entries start at one; hits raise them; overwrites drop to one.
    PolicyRules {
        word: "lowone",
        on_insert: ScoreRule::One,
        on_hit: ScoreRule::MaxPlusOne,
        on_overwrite: ScoreRule::One,
        ..rules::LRU
    },
];

/// SPEC §3.2, literally, on vectors: S3-FIFO's queues (oldest first, each
/// entry with its counter) and ghost, or SIEVE's queue (with a sequence
/// number from a counter of its own and a visited bit) and hand. Shares
/// nothing with the store, which keeps scores in one ordered map.
#[derive(Debug, Default)]
struct QueueOracle {
    sieve: bool,
    values: std::collections::BTreeMap<InvocationHash, u8>,
    small: Vec<(InvocationHash, u64)>,
    main: Vec<(InvocationHash, u64)>,
    ghost: Vec<InvocationHash>,
    /// SIEVE: (member, sequence, visited), oldest first.
    queue: Vec<(InvocationHash, u64, bool)>,
    hand: u64,
    next_seq: u64,
}

impl Model for QueueOracle {
    fn get(&mut self, m: InvocationHash, _now: u64) -> Option<u8> {
        QueueOracle::get(self, m)
    }
    fn put(&mut self, m: InvocationHash, v: u8, maxsize: u64, _now: u64) -> Vec<InvocationHash> {
        QueueOracle::put(self, m, v, maxsize)
    }
    /// A resident entry leaves its queue; a ghost stays (it has no entry).
    /// SIEVE's hand steps off a removed entry to the next newer one, as in
    /// the paper: left past every remaining entry, it points at the oldest.
    fn remove(&mut self, m: InvocationHash) -> bool {
        if self.values.remove(&m).is_none() {
            return false;
        }
        self.small.retain(|e| e.0 != m);
        self.main.retain(|e| e.0 != m);
        self.queue.retain(|e| e.0 != m);
        if !self.queue.iter().any(|e| e.1 >= self.hand) {
            self.hand = 0;
        }
        true
    }
    fn size(&self) -> u64 {
        self.values.len() as u64
    }
}

impl QueueOracle {
    fn new(sieve: bool) -> Self {
        QueueOracle {
            sieve,
            next_seq: 1,
            ..Default::default()
        }
    }

    fn get(&mut self, m: InvocationHash) -> Option<u8> {
        let v = *self.values.get(&m)?;
        if self.sieve {
            let e = self.queue.iter_mut().find(|e| e.0 == m).unwrap();
            e.2 = true;
        } else {
            let e = self
                .small
                .iter_mut()
                .chain(self.main.iter_mut())
                .find(|e| e.0 == m)
                .unwrap();
            e.1 = (e.1 + 1).min(3);
        }
        Some(v)
    }

    fn put(&mut self, m: InvocationHash, v: u8, maxsize: u64) -> Vec<InvocationHash> {
        if let Some(present) = self.values.get_mut(&m) {
            *present = v;
            return vec![];
        }
        if self.values.is_empty() {
            // No value left (the last one was removed): the index alone is
            // half a pair, which a put deletes (SPEC §5), ghost and hand
            // with it.
            *self = QueueOracle::new(self.sieve);
        }
        let mut evicted = vec![];
        while !self.values.is_empty() && self.values.len() as u64 >= maxsize {
            let victim = if self.sieve {
                self.sieve_evict()
            } else {
                self.s3_evict(maxsize)
            };
            self.values.remove(&victim);
            evicted.push(victim);
        }
        if self.sieve {
            self.queue.push((m, self.next_seq, false));
            self.next_seq += 1;
        } else if let Some(i) = self.ghost.iter().position(|g| *g == m) {
            self.ghost.remove(i);
            self.main.push((m, 0));
        } else {
            self.small.push((m, 0));
        }
        self.values.insert(m, v);
        evicted
    }

    fn s3_evict(&mut self, maxsize: u64) -> InvocationHash {
        let s = (maxsize / 10).max(1) as usize;
        let m = (maxsize as usize).saturating_sub(s);
        if self.small.len() >= s || self.main.is_empty() {
            while !self.small.is_empty() {
                let t = self.small.remove(0);
                if t.1 >= 1 {
                    self.main.push(t);
                    if self.main.len() > m {
                        return self.s3_evict_main();
                    }
                } else {
                    self.ghost.push(t.0);
                    // "At most max(1, m)": a smaller maxsize may have left
                    // more, so drop oldest until it holds.
                    while self.ghost.len() > m.max(1) {
                        self.ghost.remove(0);
                    }
                    return t.0;
                }
            }
        }
        self.s3_evict_main()
    }

    fn s3_evict_main(&mut self) -> InvocationHash {
        loop {
            let t = self.main.remove(0);
            if t.1 > 0 {
                self.main.push((t.0, t.1 - 1));
            } else {
                return t.0;
            }
        }
    }

    fn sieve_evict(&mut self) -> InvocationHash {
        let mut i = self
            .queue
            .iter()
            .position(|e| e.1 >= self.hand)
            .unwrap_or(0);
        while self.queue[i].2 {
            self.queue[i].2 = false;
            i = (i + 1) % self.queue.len();
        }
        let victim = self.queue.remove(i);
        self.hand = if i == self.queue.len() {
            0
        } else {
            victim.1 + 1
        };
        victim.0
    }

    /// Checks the store's pair against this state: values, and each queue
    /// in order with its counters (S3-FIFO), or the queue with its bits and
    /// the entry the hand points at (SIEVE).
    fn compare(&self, contents: &redis_func_cache_core::store::PairContents) -> Result<(), String> {
        use redis_func_cache_core::policy::queue_scores::{MAIN_BASE, SMALL_BASE};
        // Each stored value ends with the member's counter or bit.
        let flags: std::collections::BTreeMap<InvocationHash, u64> = contents
            .values
            .iter()
            .map(|(m, v)| (*m, u64::from(*v.last().unwrap())))
            .collect();
        let got_values: Vec<_> = contents
            .values
            .iter()
            .map(|(m, v)| (*m, v[..v.len() - 1].to_vec()))
            .collect();
        let want_values: Vec<_> = self.values.iter().map(|(m, v)| (*m, vec![*v])).collect();
        if got_values != want_values {
            return Err(format!("values {got_values:?} != {want_values:?}"));
        }
        let index: Vec<(InvocationHash, u64)> = contents
            .index
            .iter()
            .map(|(m, s)| (*m, s.unwrap()))
            .collect();
        if self.sieve {
            let got: Vec<_> = index.iter().map(|(m, _)| (*m, flags[m] == 1)).collect();
            let want: Vec<_> = self.queue.iter().map(|e| (e.0, e.2)).collect();
            if got != want {
                return Err(format!("sieve queue {got:?} != {want:?}"));
            }
            let h = contents.hand.unwrap_or(0);
            let got_at = index
                .iter()
                .find(|(_, s)| *s >= h)
                .or(index.first())
                .map(|e| e.0);
            let want_at = self
                .queue
                .iter()
                .find(|e| e.1 >= self.hand)
                .or(self.queue.first())
                .map(|e| e.0);
            if got_at != want_at {
                return Err(format!("the hand points at {got_at:?}, not {want_at:?}"));
            }
        } else {
            let queue = |lo: u64, hi: u64| -> Vec<(InvocationHash, u64)> {
                index
                    .iter()
                    .filter(|(_, s)| (lo..hi).contains(s))
                    .map(|(m, _)| (*m, flags.get(m).copied().unwrap_or(0)))
                    .collect()
            };
            let ghost: Vec<_> = queue(0, SMALL_BASE).into_iter().map(|e| e.0).collect();
            if queue(SMALL_BASE, MAIN_BASE) != self.small
                || queue(MAIN_BASE, u64::MAX) != self.main
                || ghost != self.ghost
            {
                return Err(format!(
                    "s3fifo queues differ: store {index:?}; oracle S {:?} M {:?} G {:?}",
                    self.small, self.main, self.ghost
                ));
            }
        }
        Ok(())
    }
}

/// Replays `ops` on the store and [`QueueOracle`]: every observation (hits,
/// victims in order, sizes) and the final queues must agree exactly.
fn check_queues(rules: PolicyRules, maxsize: u64, ops: &[Op]) -> Result<(), String> {
    let mut s = Subject::new(rules, maxsize);
    let mut o = QueueOracle::new(rules.word == "sieve");
    replay_both(&mut s, &mut o, ops)?;
    o.compare(&s.store.contents(&s.pair))
        .map_err(|e| format!("{} maxsize {maxsize}: {e}; ops {ops:?}", rules.word))
}

const QUEUES: [PolicyRules; 2] = [rules::S3FIFO, rules::SIEVE];

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12).prop_map(Op::Get),
        3 => (0u8..12, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => (0u8..12).prop_map(Op::Call),
        1 => (1u64..8).prop_map(Op::Resize),
        2 => (0u64..3).prop_map(Op::Tick),
        1 => (0u8..12).prop_map(Op::Remove),
    ]
}

/// Calls, reads, writes and removals over 48 keys, for larger capacities.
fn wide_op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..48).prop_map(Op::Get),
        2 => (0u8..48, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        8 => (0u8..48).prop_map(Op::Call),
        1 => (0u8..48).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn deterministic_policies_match_the_oracle(
        policy in 0usize..EXACT.len(),
        maxsize in 1u64..6,
        ops in proptest::collection::vec(op_strategy(), 0..80),
    ) {
        check_exact(EXACT[policy], maxsize, &ops).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn custom_rule_sets_match_the_oracle(
        policy in 0usize..CUSTOM.len(),
        maxsize in 1u64..6,
        ops in proptest::collection::vec(op_strategy(), 0..80),
    ) {
        for rules in &CUSTOM {
            rules.validate().map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        check_exact(CUSTOM[policy], maxsize, &ops).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn s3fifo_and_sieve_match_the_oracle(
        policy in 0usize..QUEUES.len(),
        maxsize in 1u64..14,
        ops in proptest::collection::vec(op_strategy(), 0..120),
    ) {
        check_queues(QUEUES[policy], maxsize, &ops).map_err(TestCaseError::fail)?;
    }

    /// Capacities of 20 and more, so S3-FIFO's small queue has a target
    /// of 2 or more and a partly full small queue meets a full main one
    /// (below 20 the target is 1); 48 keys to fill them.
    #[test]
    fn s3fifo_with_a_small_queue_of_several_matches_the_oracle(
        maxsize in 20u64..34,
        ops in proptest::collection::vec(wide_op_strategy(), 0..400),
    ) {
        check_queues(rules::S3FIFO, maxsize, &ops).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn random_replacement_keeps_the_invariants(
        maxsize in 1u64..6,
        ops in proptest::collection::vec(op_strategy(), 0..80),
    ) {
        check_invariants(rules::RR, maxsize, &ops).map_err(TestCaseError::fail)?;
    }
}

/// Every sequence of `len` ops drawn from `alphabet`, as indices.
fn for_every_sequence(alphabet: usize, len: usize, mut f: impl FnMut(&[usize])) {
    let mut seq = vec![0usize; len];
    loop {
        f(&seq);
        let mut i = 0;
        loop {
            if i == len {
                return;
            }
            seq[i] += 1;
            if seq[i] < alphabet {
                break;
            }
            seq[i] = 0;
            i += 1;
        }
    }
}

/// Small-scope model checking: every sequence of 8 calls over 4 keys (each
/// prefix is checked on the way), at capacities 1 to 3, for every policy.
#[test]
fn every_call_sequence_of_eight_over_four_keys() {
    let mut sequences = 0u64;
    for_every_sequence(4, 8, |seq| {
        let ops: Vec<Op> = seq.iter().map(|&k| Op::Call(k as u8)).collect();
        for maxsize in 1..=3 {
            for rules in EXACT {
                check_exact(rules, maxsize, &ops).unwrap();
            }
            for rules in QUEUES {
                check_queues(rules, maxsize, &ops).unwrap();
            }
            check_invariants(rules::RR, maxsize, &ops).unwrap();
        }
        sequences += 1;
    });
    assert_eq!(sequences, 4u64.pow(8));
}

/// Every sequence of 5 raw gets and puts over 4 keys, at capacities 1 to 3,
/// with the clock standing still (so tlru ties break by member bytes).
#[test]
fn every_get_put_sequence_of_five_over_four_keys() {
    let alphabet: Vec<Op> = (0..4u8)
        .flat_map(|k| [Op::Get(k), Op::Put(k, k + 10)])
        .collect();
    for_every_sequence(alphabet.len(), 5, |seq| {
        let ops: Vec<Op> = seq.iter().map(|&i| alphabet[i]).collect();
        for maxsize in 1..=3 {
            for rules in EXACT {
                check_exact(rules, maxsize, &ops).unwrap();
            }
            for rules in QUEUES {
                check_queues(rules, maxsize, &ops).unwrap();
            }
            check_invariants(rules::RR, maxsize, &ops).unwrap();
        }
    });
}

/// S3-FIFO's small queue is a tenth of the cache, so its paths (promotion,
/// the ghost's return, second chances in main) need capacities of 10 and
/// more: every call sequence of 14 over 12 keys is too many, so every
/// sequence of 6 calls over 3 keys is run after a fixed warm-up that fills
/// a cache of 10 and hits some of it.
#[test]
fn every_call_sequence_of_six_after_a_warm_up_at_capacity_ten_and_eleven() {
    let warm: Vec<Op> = (0..10u8)
        .map(Op::Call)
        .chain([
            Op::Call(1),
            Op::Call(3),
            Op::Call(3),
            Op::Call(10),
            Op::Call(11),
        ])
        .collect();
    for_every_sequence(4, 6, |seq| {
        let mut ops = warm.clone();
        // keys 0 (a ghost by now), 1 (hit), 12 and 13 (new)
        ops.extend(seq.iter().map(|&k| Op::Call([0u8, 1, 12, 13][k])));
        for maxsize in [10, 11] {
            for rules in QUEUES {
                check_queues(rules, maxsize, &ops).unwrap();
            }
        }
    });
}

/// The queue oracle can fail: SIEVE judged as FIFO (no second chance) and
/// S3-FIFO judged with no ghost are told apart on short sequences.
#[test]
fn the_queue_oracle_tells_policies_apart() {
    let ops = [
        Op::Call(0),
        Op::Call(1),
        Op::Call(0),
        Op::Call(2),
        Op::Call(1),
    ];
    let fifo_like = check_queues(rules::SIEVE, 2, &ops);
    assert!(fifo_like.is_ok(), "{fifo_like:?}");
    // Judge the FIFO store by the SIEVE oracle: it must fail.
    let mut s = Subject::new(rules::FIFO, 2);
    let mut o = QueueOracle::new(true);
    let mut differs = false;
    for op in ops {
        if let Op::Call(k) = op {
            let got = s.get(k).map_or_else(|| s.put(k, k), |_| vec![]);
            let want = o
                .get(member(k))
                .map_or_else(|| o.put(member(k), k, 2), |_| vec![]);
            differs |= got != want;
        }
    }
    s.maxsize = 2;
    assert!(differs, "FIFO must be told apart from SIEVE");
}

/// The oracle can fail: a store that evicted the lowest for MRU (the Python
/// library's bug) is caught on the smallest case.
#[test]
fn the_oracle_catches_mru_behaving_as_lru() {
    let mut wrong = rules::MRU;
    wrong.victim = Victim::Lowest;
    let ops = [Op::Call(0), Op::Call(1), Op::Call(2)];
    // The store follows the rules it is given; judge it by true MRU.
    let s = Subject::new(wrong, 2);
    let mut o = Oracle {
        rules: rules::MRU,
        entries: vec![],
    };
    let mut differs = false;
    for op in ops {
        if let Op::Call(k) = op {
            let got = s.get(k).map_or_else(|| s.put(k, k), |_| vec![]);
            let want = o
                .get(member(k), 0)
                .map_or_else(|| o.put(member(k), k, 2, 0), |_| vec![]);
            differs |= got != want;
        }
    }
    assert!(differs, "an LRU-evicting MRU must be told apart from MRU");
}
