//! The memory store against an independent oracle written from SPEC §3's
//! table (a few lines per rule, linear scans, no shared code with the store),
//! with proptest over random sequences and exhaustively over small scopes.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use redis_func_cache_core::clock::ManualClock;
use redis_func_cache_core::policy::{PolicyRules, Victim};
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
}

/// What a step observed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Read(Option<u8>),
    Evicted(Vec<InvocationHash>),
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
        let req = GetRequest {
            pair: &self.pair,
            member: member(k),
            rules: &self.rules,
            expiry: EXPIRY,
        };
        self.store.get(&req).unwrap().map(|b| b[0])
    }

    fn put(&self, k: u8, v: u8) -> Vec<InvocationHash> {
        let req = PutRequest {
            pair: &self.pair,
            member: member(k),
            value: Bytes::copy_from_slice(&[v]),
            rules: &self.rules,
            maxsize: self.maxsize,
            expiry: EXPIRY,
        };
        self.store.put(&req).unwrap().evicted
    }

    fn len(&self) -> u64 {
        self.store.len(&self.pair).unwrap()
    }
}

/// Replays `ops` on the store and the oracle; every observation and the
/// final contents must agree exactly.
fn check_exact(rules: PolicyRules, maxsize: u64, ops: &[Op]) -> Result<(), String> {
    let mut s = Subject::new(rules, maxsize);
    let mut o = Oracle {
        rules,
        entries: vec![],
    };
    for (step, op) in ops.iter().enumerate() {
        let now = s.clock.now_micros_for_test();
        let (got, want) = match *op {
            Op::Get(k) => (Seen::Read(s.get(k)), Seen::Read(o.get(member(k), now))),
            Op::Put(k, v) => (
                Seen::Evicted(s.put(k, v)),
                Seen::Evicted(o.put(member(k), v, s.maxsize, now)),
            ),
            Op::Call(k) => {
                let got = match s.get(k) {
                    Some(v) => Seen::Read(Some(v)),
                    None => Seen::Evicted(s.put(k, k)),
                };
                let want = match o.get(member(k), now) {
                    Some(v) => Seen::Read(Some(v)),
                    None => Seen::Evicted(o.put(member(k), k, s.maxsize, now)),
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
        };
        if got != want {
            return Err(format!(
                "{} maxsize {maxsize}: step {step} {op:?}: store saw {got:?}, oracle {want:?}; ops {ops:?}",
                rules.word
            ));
        }
    }
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

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..12).prop_map(Op::Get),
        3 => (0u8..12, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => (0u8..12).prop_map(Op::Call),
        1 => (1u64..8).prop_map(Op::Resize),
        2 => (0u64..3).prop_map(Op::Tick),
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
            check_invariants(rules::RR, maxsize, &ops).unwrap();
        }
    });
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
