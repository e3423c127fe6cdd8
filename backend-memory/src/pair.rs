//! One key pair held in memory: the value map and the index, carried out
//! from a policy description.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use redis_func_cache_core::clock::micros;
use redis_func_cache_core::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use redis_func_cache_core::store::{Expiry, GetRequest, PairContents, PutOutcome, PutRequest};
use redis_func_cache_core::{Error, InvocationHash};

use crate::ordered::OrderedIndex;

/// Members are already uniform hashes, so the map hashes them by taking
/// eight of their bytes instead of running SipHash again.
#[derive(Default)]
struct MemberHasher(u64);

impl Hasher for MemberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Members<V> = HashMap<InvocationHash, V, BuildHasherDefault<MemberHasher>>;

#[derive(Debug)]
struct Entry {
    value: Bytes,
    /// Per-entry deadline in clock microseconds, if the cache sets one.
    deadline: Option<u64>,
    /// The score (sorted-set index) or the position in `Index::Set`.
    rank: u64,
}

#[derive(Debug)]
enum Index {
    /// Ordered by (score, member bytes), as a Redis sorted set.
    Sorted(OrderedIndex),
    /// Members in no order; positions allow O(1) random removal.
    Set(Vec<InvocationHash>),
}

impl Index {
    fn new(kind: IndexKind) -> Self {
        match kind {
            IndexKind::SortedSet => Index::Sorted(OrderedIndex::default()),
            IndexKind::Set => Index::Set(Vec::new()),
        }
    }

    fn kind(&self) -> IndexKind {
        match self {
            Index::Sorted(_) => IndexKind::SortedSet,
            Index::Set(_) => IndexKind::Set,
        }
    }
}

/// The state of one pair.
#[derive(Debug)]
pub(crate) struct PairState {
    entries: Members<Entry>,
    index: Index,
    /// When the whole pair expires, in clock microseconds; meaningful only
    /// while the pair holds entries (an empty pair is an absent one).
    expires_at: u64,
    rng: fastrand::Rng,
}

fn wrong_type(expected: IndexKind, found: IndexKind) -> Error {
    Error::backend(
        "memory",
        format!("WRONGTYPE: the pair's index is a {found:?}, but the policy keeps a {expected:?}"),
    )
}

impl PairState {
    pub(crate) fn new(kind: IndexKind, rng: fastrand::Rng) -> Self {
        PairState {
            entries: Members::default(),
            index: Index::new(kind),
            expires_at: 0,
            rng,
        }
    }

    /// Drops everything if the pair's TTL has run out, as Redis would.
    fn expire(&mut self, now: u64) {
        if !self.entries.is_empty() && now >= self.expires_at {
            self.entries.clear();
            self.index = Index::new(self.index.kind());
        }
    }

    /// Expires, then checks the index kind (an empty pair takes any kind).
    fn prepare(&mut self, kind: IndexKind, now: u64) -> Result<(), Error> {
        self.expire(now);
        if self.index.kind() != kind {
            if !self.entries.is_empty() {
                return Err(wrong_type(kind, self.index.kind()));
            }
            self.index = Index::new(kind);
        }
        Ok(())
    }

    fn max_score(&self) -> u64 {
        match &self.index {
            Index::Sorted(set) => set.last().map_or(0, |(score, _)| score),
            Index::Set(_) => 0,
        }
    }

    /// The score a rule gives, or `None` when it keeps the current one.
    fn score(&self, rule: ScoreRule, current: Option<u64>, now: u64) -> Option<u64> {
        match rule {
            ScoreRule::Keep => None,
            ScoreRule::MaxPlusOne => Some(self.max_score() + 1),
            ScoreRule::One => Some(1),
            ScoreRule::Increment => Some(current.unwrap_or(0) + 1),
            ScoreRule::ClockMicros => Some(now),
        }
    }

    fn rescore(&mut self, member: InvocationHash, old: u64, new: u64) {
        if let Index::Sorted(set) = &mut self.index {
            set.remove(old, member);
            set.insert(new, member);
            if let Some(entry) = self.entries.get_mut(&member) {
                entry.rank = new;
            }
        }
    }

    fn remove(&mut self, member: InvocationHash) {
        let Some(entry) = self.entries.remove(&member) else {
            return;
        };
        match &mut self.index {
            Index::Sorted(set) => {
                set.remove(entry.rank, member);
            }
            Index::Set(members) => {
                let pos = entry.rank as usize;
                members.swap_remove(pos);
                if let Some(moved) = members.get(pos)
                    && let Some(e) = self.entries.get_mut(moved)
                {
                    e.rank = pos as u64;
                }
            }
        }
    }

    fn slide(&mut self, expiry: &Expiry, now: u64) {
        self.expires_at = now.saturating_add(micros(expiry.pair_ttl));
    }

    pub(crate) fn get(&mut self, req: &GetRequest<'_>, now: u64) -> Result<Option<Bytes>, Error> {
        self.prepare(req.rules.index, now)?;
        let member = req.member;
        let Some(entry) = self.entries.get(&member) else {
            return Ok(None);
        };
        if entry.deadline.is_some_and(|deadline| now >= deadline) {
            self.remove(member);
            return Ok(None);
        }
        let (value, old) = (entry.value.clone(), entry.rank);
        if let Some(new) = self.score(req.rules.on_hit, Some(old), now) {
            self.rescore(member, old, new);
        }
        if req.expiry.slide {
            self.slide(&req.expiry, now);
        }
        Ok(Some(value))
    }

    pub(crate) fn put(&mut self, req: &PutRequest<'_>, now: u64) -> Result<PutOutcome, Error> {
        let rules = req.rules;
        self.prepare(rules.index, now)?;
        let created = self.entries.is_empty();
        let deadline = req
            .expiry
            .entry_ttl
            .map(|ttl| now.saturating_add(micros(ttl)));
        let mut outcome = PutOutcome::default();
        if let Some(entry) = self.entries.get_mut(&req.member) {
            entry.value = req.value.clone();
            entry.deadline = deadline;
            let old = entry.rank;
            if let Some(new) = self.score(rules.on_overwrite, Some(old), now) {
                self.rescore(req.member, old, new);
            }
        } else {
            let size = self.entries.len() as u64;
            if size >= req.maxsize {
                outcome.evicted = self.evict(rules, size - req.maxsize + 1);
            }
            self.insert(rules, req.member, req.value.clone(), deadline, now);
        }
        if created || req.expiry.slide {
            self.slide(&req.expiry, now);
        }
        Ok(outcome)
    }

    fn insert(
        &mut self,
        rules: &PolicyRules,
        member: InvocationHash,
        value: Bytes,
        deadline: Option<u64>,
        now: u64,
    ) {
        let rank = match &mut self.index {
            Index::Set(members) => {
                members.push(member);
                members.len() as u64 - 1
            }
            Index::Sorted(_) => {
                // Validation forbids Keep on insert; treat it as 0 regardless.
                let score = self.score(rules.on_insert, None, now).unwrap_or(0);
                if let Index::Sorted(set) = &mut self.index {
                    set.insert(score, member);
                }
                score
            }
        };
        self.entries.insert(
            member,
            Entry {
                value,
                deadline,
                rank,
            },
        );
    }

    fn evict(&mut self, rules: &PolicyRules, count: u64) -> Vec<InvocationHash> {
        let mut victims = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let victim = match (&mut self.index, rules.victim) {
                (Index::Sorted(set), Victim::Lowest) => set.first().map(|(_, m)| m),
                (Index::Sorted(set), Victim::Highest) => set.last().map(|(_, m)| m),
                (Index::Sorted(set), Victim::Random) => {
                    let n = set.len();
                    (n > 0)
                        .then(|| self.rng.usize(..n))
                        .and_then(|k| set.iter().nth(k).map(|(_, m)| m))
                }
                (Index::Set(members), _) => {
                    let n = members.len();
                    (n > 0).then(|| members[self.rng.usize(..n)])
                }
            };
            let Some(victim) = victim else { break };
            self.remove(victim);
            victims.push(victim);
        }
        victims
    }

    /// How many entries the pair holds now.
    pub(crate) fn live_len(&mut self, now: u64) -> u64 {
        self.expire(now);
        self.entries.len() as u64
    }

    pub(crate) fn contents(&mut self, now: u64) -> PairContents {
        self.expire(now);
        let index = match &self.index {
            Index::Sorted(set) => set.iter().map(|(score, m)| (m, Some(score))).collect(),
            Index::Set(members) => {
                let mut sorted: Vec<_> = members.iter().map(|m| (*m, None)).collect();
                sorted.sort();
                sorted
            }
        };
        let mut values: Vec<_> = self
            .entries
            .iter()
            .map(|(m, e)| (*m, e.value.clone()))
            .collect();
        values.sort();
        PairContents { index, values }
    }
}
