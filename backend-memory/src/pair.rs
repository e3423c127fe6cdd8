//! One key pair held in memory: the value map and the index, carried out
//! from a policy description.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering::Relaxed;

use crossbeam_utils::CachePadded;
use redis_func_cache_core::clock::micros;
use redis_func_cache_core::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use redis_func_cache_core::store::{
    Expiry, GetRequest, Lookup, PairContents, PutOutcome, PutRequest, StoredValue,
};
use redis_func_cache_core::{Error, InvocationHash};

use crate::appended::AppendedIndex;
use crate::ordered::OrderedIndex;
use crate::queues::QueueIndex;
use crate::sync::AtomicU64;

/// Members are already uniform hashes, so the map hashes them by taking
/// eight of their bytes instead of running SipHash again.
#[derive(Default)]
pub(crate) struct MemberHasher(u64);

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

pub(crate) type Members<V> = HashMap<InvocationHash, V, BuildHasherDefault<MemberHasher>>;

/// A cache with per-entry TTLs reads an entry written without one as a
/// miss (SPEC §7), as the Redis get script does: it would otherwise keep it
/// forever. The put that follows overwrites it.
fn without_deadline_for(req: &GetRequest<'_>, deadline: u64) -> bool {
    req.expiry.entry_ttl.is_some() && deadline == NEVER
}

/// The deadline of an entry that has none: no clock reading reaches it.
const NEVER: u64 = u64::MAX;

#[derive(Debug)]
struct Entry {
    /// Short values inline, so a hit touches the entry and nothing else.
    value: StoredValue,
    /// Per-entry deadline in clock microseconds; [`NEVER`] when the cache
    /// sets no entry TTL (a plain `u64` keeps the entry, and so every map
    /// bucket, eight bytes smaller than an `Option`).
    deadline: u64,
    /// The score (`Index::Sorted`) or the position (`Index::Set`); in
    /// `Index::Appended` the node holds the score and this is stale.
    rank: u64,
    /// The node in `Index::Appended`.
    slot: u32,
}

#[derive(Debug)]
enum Index {
    /// A sorted set whose every score was above all others when given:
    /// kept in O(1) per change, until a score breaks that.
    Appended(AppendedIndex),
    /// Ordered by (score, member bytes), as a Redis sorted set.
    Sorted(OrderedIndex),
    /// Members in no order; positions allow O(1) random removal.
    Set(Vec<InvocationHash>),
    /// S3-FIFO's or SIEVE's queues, which keep every member's score and
    /// each resident's counter or bit.
    Queues(QueueIndex),
}

impl Index {
    fn new(kind: IndexKind) -> Self {
        match kind {
            IndexKind::SortedSet => Index::Appended(AppendedIndex::default()),
            IndexKind::Set => Index::Set(Vec::new()),
            IndexKind::S3Fifo | IndexKind::Sieve => Index::Queues(QueueIndex::new(kind)),
            // A kind this store does not know (the enum is
            // `#[non_exhaustive]`): `prepare` refuses it before any entry
            // is written, so the pair stays empty.
            _ => Index::Appended(AppendedIndex::default()),
        }
    }

    /// How many members a sorted-set index holds (0 for a set).
    fn sorted_len(&self) -> usize {
        match self {
            Index::Appended(list) => list.len(),
            Index::Sorted(set) => set.len(),
            Index::Set(_) | Index::Queues(_) => 0,
        }
    }

    /// The member at `position` in (score, member) order: O(1) at either
    /// end, a walk in between (only random victims of a sorted set ask).
    fn sorted_nth(&self, position: usize) -> Option<InvocationHash> {
        let last = self.sorted_len().checked_sub(1)?;
        let key = match self {
            Index::Appended(list) if position == 0 => list.first(),
            Index::Appended(list) if position == last => list.last(),
            Index::Appended(list) => list.iter().nth(position),
            Index::Sorted(set) if position == 0 => set.first(),
            Index::Sorted(set) if position == last => set.last(),
            Index::Sorted(set) => set.iter().nth(position),
            Index::Set(_) | Index::Queues(_) => None,
        };
        key.map(|(_, member)| member)
    }

    /// An entry's score (or position, in a set).
    fn score_of(&self, entry: &Entry) -> u64 {
        match self {
            Index::Appended(list) => list.score(entry.slot),
            _ => entry.rank,
        }
    }

    fn kind(&self) -> IndexKind {
        match self {
            Index::Appended(_) | Index::Sorted(_) => IndexKind::SortedSet,
            Index::Set(_) => IndexKind::Set,
            Index::Queues(queues) => queues.kind(),
        }
    }
}

/// The state of one pair.
#[derive(Debug)]
pub(crate) struct PairState {
    entries: Members<Entry>,
    index: Index,
    /// What hits under the shared lock write, on a cache line of its own so
    /// those writes do not evict the lines every hit reads (`entries`).
    hot: CachePadded<HotFields>,
    rng: fastrand::Rng,
}

/// The fields a hit under the shared lock writes.
#[derive(Debug, Default)]
struct HotFields {
    /// When the whole pair expires, in clock microseconds; meaningful only
    /// while the pair holds entries (an empty pair is an absent one).
    expires_at: AtomicU64,
    /// The highest score, counting hits not yet applied to the index: hits
    /// take their `max + 1` from it. Equal to the index's highest score
    /// whenever no hit is pending.
    top: AtomicU64,
}

/// A hit's change to its member's score, applied later under the exclusive
/// lock (see [`crate::shared`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Touch {
    /// `max + 1`: scores drawn from `top` only grow, so the highest wins.
    /// Carries the member's node in `Index::Appended`, which stays its own
    /// until the change is applied (a removal applies pending changes
    /// first), so applying it needs no lookup.
    Raise(InvocationHash, u32, u64),
    /// The clock's time: the last one applied wins, as in Redis.
    Set(InvocationHash, u64),
    /// `+ 1`.
    Increment(InvocationHash),
    /// S3-FIFO's or SIEVE's hit rule (a counter that saturates, or a bit):
    /// each touch changes only its member's own flag, never the order, so
    /// touches commute.
    Visit(InvocationHash),
}

impl Touch {
    /// Where the change falls in the order hits took their scores in
    /// (increments commute, so any place will do).
    pub(crate) fn order(&self) -> u64 {
        match *self {
            Touch::Raise(_, _, score) | Touch::Set(_, score) => score,
            Touch::Increment(_) | Touch::Visit(_) => 0,
        }
    }
}

/// What a hit under the shared lock found.
#[derive(Debug)]
pub(crate) enum SharedGet {
    /// A miss that removed nothing.
    Miss,
    /// A hit, with the score change to apply later, if any.
    Hit(StoredValue, Option<Touch>),
    /// It must remove something or apply a rule that does not commute:
    /// run it again under the exclusive lock.
    NeedsExclusive,
}

/// [`Expiry::hit_restarts`] for a pair that expires at `expires_at`.
fn hit_restarts(expiry: &Expiry, expires_at: u64, now: u64) -> bool {
    let remaining = std::time::Duration::from_micros(expires_at.saturating_sub(now));
    expiry.hit_restarts(remaining)
}

/// `Ok` if this store carries out every part of `rules`. The policy enums
/// are `#[non_exhaustive]`, so a newer core may hand it a part it does not
/// know; that is an error, not a guess.
fn known(rules: &PolicyRules) -> Result<(), Error> {
    let index = matches!(
        rules.index,
        IndexKind::SortedSet | IndexKind::Set | IndexKind::S3Fifo | IndexKind::Sieve
    );
    let rule = |r: ScoreRule| {
        matches!(
            r,
            ScoreRule::Keep
                | ScoreRule::MaxPlusOne
                | ScoreRule::One
                | ScoreRule::Increment
                | ScoreRule::ClockMicros
        )
    };
    let victim = matches!(
        rules.victim,
        Victim::Lowest | Victim::Highest | Victim::Random
    );
    if index && rule(rules.on_insert) && rule(rules.on_hit) && rule(rules.on_overwrite) && victim {
        Ok(())
    } else {
        Err(Error::config(format!(
            "the memory store does not carry out {rules:?}; use redis-func-cache crates of one version"
        )))
    }
}

/// Whether an evicted entry counts as expired: its per-entry deadline had
/// passed, for a put of a cache with per-entry TTLs (as the put script
/// counts them).
fn counts_expired(req: &PutRequest<'_>, entry: &Entry, now: u64) -> bool {
    req.expiry.entry_ttl.is_some() && now >= entry.deadline
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
            hot: CachePadded::default(),
            rng,
        }
    }

    /// Drops everything if the pair's TTL has run out, as Redis would.
    fn expire(&mut self, now: u64) {
        if !self.entries.is_empty() && now >= *self.hot.expires_at.get_mut() {
            // New maps, not cleared ones: an expired pair gives its memory
            // back, as Redis drops the keys.
            self.entries = Members::default();
            self.index = Index::new(self.index.kind());
        }
    }

    /// Frees the pair's entries if its TTL has run out (the store's sweep).
    pub(crate) fn free_if_expired(&mut self, now: u64) {
        self.expire(now);
    }

    /// Refuses rules this store does not carry out, expires, then checks
    /// the index kind (an empty pair takes any kind).
    fn prepare(&mut self, rules: &PolicyRules, now: u64) -> Result<(), Error> {
        known(rules)?;
        let kind = rules.index;
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
            Index::Appended(list) => list.last().map_or(0, |(score, _)| score),
            Index::Sorted(set) => set.last().map_or(0, |(score, _)| score),
            Index::Set(_) | Index::Queues(_) => 0,
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
            // Unknown rules were refused by `prepare`.
            _ => None,
        }
    }

    /// Moves an appended index into the skip list, for a score that is not
    /// above all the others.
    fn switch_to_skip_list(&mut self) {
        if let Index::Appended(list) = &self.index {
            let mut set = OrderedIndex::with_capacity(list.len());
            for (score, member) in list.iter() {
                set.insert(score, member);
                if let Some(entry) = self.entries.get_mut(&member) {
                    entry.rank = score;
                }
            }
            self.index = Index::Sorted(set);
        }
    }

    fn rescore(&mut self, member: InvocationHash, old: u64, new: u64) {
        let Some(entry) = self.entries.get_mut(&member) else {
            return;
        };
        match &mut self.index {
            Index::Appended(list) => {
                if !list.move_to_back(entry.slot, new) {
                    self.switch_to_skip_list();
                    self.rescore(member, old, new);
                }
            }
            Index::Sorted(set) => {
                set.remove(old, member);
                set.insert(new, member);
                entry.rank = new;
            }
            Index::Set(_) | Index::Queues(_) => {}
        }
    }

    fn remove(&mut self, member: InvocationHash) {
        let Some(entry) = self.entries.remove(&member) else {
            return;
        };
        match &mut self.index {
            Index::Appended(list) => list.remove(entry.slot),
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
            Index::Queues(queues) => queues.remove(member),
        }
    }

    fn slide(&mut self, expiry: &Expiry, now: u64) {
        *self.hot.expires_at.get_mut() = now.saturating_add(micros(expiry.pair_ttl));
    }

    /// A read that changes nothing but atomics, so it can run under a
    /// shared lock: the score change comes back as a [`Touch`] to apply
    /// with [`PairState::apply`] before the next exclusive operation.
    pub(crate) fn shared_get(&self, req: &GetRequest<'_>, now: u64) -> SharedGet {
        if self.entries.is_empty() || now >= self.hot.expires_at.load(Relaxed) {
            return SharedGet::Miss;
        }
        if self.index.kind() != req.rules.index {
            return SharedGet::NeedsExclusive;
        }
        let member = req.member;
        let Some(entry) = self.entries.get(&member) else {
            return SharedGet::Miss;
        };
        if now >= entry.deadline {
            return SharedGet::NeedsExclusive;
        }
        if without_deadline_for(req, entry.deadline) {
            return SharedGet::Miss;
        }
        let touch = match (&self.index, req.rules.on_hit) {
            (Index::Queues(queues), _) => queues
                .flag(&member)
                .filter(|&flag| queues.hit_writes(flag))
                .map(|_| Touch::Visit(member)),
            (Index::Set(_), _) | (_, ScoreRule::Keep) => None,
            (_, ScoreRule::MaxPlusOne) => {
                let score = self.hot.top.fetch_add(1, Relaxed) + 1;
                Some(Touch::Raise(member, entry.slot, score))
            }
            (_, ScoreRule::Increment) => Some(Touch::Increment(member)),
            (_, ScoreRule::ClockMicros) => Some(Touch::Set(member, now)),
            // One, and rules this store does not know: the exclusive path
            // (which refuses the latter).
            (_, _) => return SharedGet::NeedsExclusive,
        };
        if req.expiry.slide {
            // Only once the TTL has run down by 1/16 (SPEC §6), so hits on a
            // hot pair write nothing here. Set, not raised, as PEXPIRE does.
            // Two racing hits leave the deadline of whichever stored last;
            // their clock readings differ by the microseconds between them.
            let expires_at = self.hot.expires_at.load(Relaxed);
            if hit_restarts(&req.expiry, expires_at, now) {
                let until = now.saturating_add(micros(req.expiry.pair_ttl));
                self.hot.expires_at.store(until, Relaxed);
            }
        }
        SharedGet::Hit(entry.value.clone(), touch)
    }

    /// Applies a hit's score change (a member gone since is skipped).
    pub(crate) fn apply(&mut self, touch: Touch) {
        if let Touch::Visit(member) = touch {
            if let Index::Queues(queues) = &mut self.index {
                queues.hit(member);
            }
            return;
        }
        if let (Touch::Raise(_, slot, score), Index::Appended(list)) = (touch, &mut self.index)
            && (score <= list.score(slot) || list.move_to_back(slot, score))
        {
            return;
        }
        let member = match touch {
            Touch::Raise(m, _, _) | Touch::Set(m, _) | Touch::Increment(m) | Touch::Visit(m) => m,
        };
        let Some(old) = self.entries.get(&member).map(|e| self.index.score_of(e)) else {
            return;
        };
        let new = match touch {
            Touch::Raise(_, _, score) => score.max(old),
            Touch::Set(_, score) => score,
            Touch::Increment(_) | Touch::Visit(_) => old + 1,
        };
        if new != old {
            self.rescore(member, old, new);
        }
    }

    /// Makes `top` the index's highest score again, after an exclusive
    /// operation (which may have removed the top member).
    pub(crate) fn sync_top(&mut self) {
        *self.hot.top.get_mut() = self.max_score();
    }

    pub(crate) fn get(&mut self, req: &GetRequest<'_>, now: u64) -> Result<Lookup, Error> {
        self.prepare(req.rules, now)?;
        let member = req.member;
        let Some(entry) = self.entries.get(&member) else {
            return Ok(Lookup::Miss);
        };
        if now >= entry.deadline {
            self.remove(member);
            return Ok(Lookup::Expired);
        }
        if without_deadline_for(req, entry.deadline) {
            return Ok(Lookup::Miss);
        }
        let (value, old) = (entry.value.clone(), self.index.score_of(entry));
        if let Index::Queues(queues) = &mut self.index {
            queues.hit(member);
        } else if let Some(new) = self.score(req.rules.on_hit, Some(old), now) {
            self.rescore(member, old, new);
        }
        if hit_restarts(&req.expiry, *self.hot.expires_at.get_mut(), now) {
            self.slide(&req.expiry, now);
        }
        Ok(Lookup::Hit(value))
    }

    /// What [`PairState::get`] would return, changing nothing (SPEC §10):
    /// no hit rule, no TTL slide, and an expired entry is a miss but stays
    /// until a read or a put removes it, as on Redis.
    pub(crate) fn peek(&self, req: &GetRequest<'_>, now: u64) -> Option<StoredValue> {
        if self.entries.is_empty() || now >= self.hot.expires_at.load(Relaxed) {
            return None;
        }
        let entry = self.entries.get(&req.member)?;
        if now >= entry.deadline || without_deadline_for(req, entry.deadline) {
            return None;
        }
        Some(entry.value.clone())
    }

    /// Removes one member; returns whether the pair held it.
    pub(crate) fn remove_member(&mut self, member: InvocationHash, now: u64) -> bool {
        self.expire(now);
        if !self.entries.contains_key(&member) {
            return false;
        }
        self.remove(member);
        true
    }

    pub(crate) fn put(&mut self, req: &PutRequest<'_>, now: u64) -> Result<PutOutcome, Error> {
        let rules = req.rules;
        self.prepare(rules, now)?;
        let created = self.entries.is_empty();
        let deadline = req
            .expiry
            .entry_ttl
            .map_or(NEVER, |ttl| now.saturating_add(micros(ttl)));
        let value = StoredValue::from(req.value.clone());
        let mut outcome = PutOutcome::default();
        if let Some(entry) = self.entries.get_mut(&req.member) {
            entry.value = value;
            entry.deadline = deadline;
            let old = self.index.score_of(entry);
            if let Some(new) = self.score(rules.on_overwrite, Some(old), now) {
                self.rescore(req.member, old, new);
            }
        } else {
            let size = self.entries.len() as u64;
            if let Index::Queues(queues) = &mut self.index {
                if created {
                    // Ghosts and the hand outlive the last value only as an
                    // index key without its value map, which Redis's put
                    // deletes as half a pair: so must this store.
                    *queues = QueueIndex::new(queues.kind());
                }
                outcome.evicted = queues.insert(req.member, size, req.maxsize);
                for victim in &outcome.evicted {
                    if let Some(gone) = self.entries.remove(victim) {
                        outcome.expired += u64::from(counts_expired(req, &gone, now));
                    }
                }
            } else if size >= req.maxsize {
                (outcome.evicted, outcome.expired) = self.evict(req, size - req.maxsize + 1, now);
            }
            self.insert(rules, req.member, value, deadline, now);
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
        value: StoredValue,
        deadline: u64,
        now: u64,
    ) {
        let score = match self.index {
            Index::Set(_) | Index::Queues(_) => 0,
            // Validation forbids Keep on insert; treat it as 0 regardless.
            _ => self.score(rules.on_insert, None, now).unwrap_or(0),
        };
        if let Index::Appended(list) = &self.index
            && !list.fits_at_back(score)
        {
            self.switch_to_skip_list();
        }
        let (rank, slot) = match &mut self.index {
            // The queues placed the member already.
            Index::Queues(_) => (0, 0),
            Index::Set(members) => {
                members.push(member);
                (members.len() as u64 - 1, 0)
            }
            Index::Appended(list) => {
                let slot = list
                    .push(score, member)
                    .expect("the score fits at the back");
                (score, slot)
            }
            Index::Sorted(set) => {
                set.insert(score, member);
                (score, 0)
            }
        };
        self.entries.insert(
            member,
            Entry {
                value,
                deadline,
                rank,
                slot,
            },
        );
    }

    /// Evicts `count` victims; returns them, and how many had expired.
    fn evict(&mut self, req: &PutRequest<'_>, count: u64, now: u64) -> (Vec<InvocationHash>, u64) {
        let rules = req.rules;
        let mut victims = Vec::with_capacity(count as usize);
        let mut expired = 0;
        for _ in 0..count {
            let victim = match &self.index {
                Index::Set(members) => {
                    let n = members.len();
                    (n > 0).then(|| members[self.rng.usize(..n)])
                }
                _ => {
                    let n = self.index.sorted_len();
                    let position = match rules.victim {
                        Victim::Lowest => 0,
                        Victim::Highest => n.saturating_sub(1),
                        Victim::Random if n > 0 => self.rng.usize(..n),
                        Victim::Random => 0,
                        // Unknown victims were refused by `prepare`.
                        _ => 0,
                    };
                    self.index.sorted_nth(position)
                }
            };
            let Some(victim) = victim else { break };
            if let Some(entry) = self.entries.get(&victim) {
                expired += u64::from(counts_expired(req, entry, now));
            }
            self.remove(victim);
            victims.push(victim);
        }
        (victims, expired)
    }

    /// Removes every entry, as deleting both keys would; returns how many
    /// were live.
    pub(crate) fn clear(&mut self, now: u64) -> u64 {
        let live = self.live_len(now);
        self.entries = Members::default();
        self.index = Index::new(self.index.kind());
        live
    }

    /// How many entries the pair holds now.
    pub(crate) fn live_len(&mut self, now: u64) -> u64 {
        self.expire(now);
        self.entries.len() as u64
    }

    pub(crate) fn contents(&mut self, now: u64) -> PairContents {
        self.expire(now);
        let index = match &self.index {
            Index::Appended(list) => list.iter().map(|(score, m)| (m, Some(score))).collect(),
            Index::Sorted(set) => set.iter().map(|(score, m)| (m, Some(score))).collect(),
            Index::Set(members) => {
                let mut sorted: Vec<_> = members.iter().map(|m| (*m, None)).collect();
                sorted.sort();
                sorted
            }
            Index::Queues(queues) => queues.iter().map(|(score, m)| (m, Some(score))).collect(),
        };
        let hand = match &self.index {
            Index::Queues(queues) => queues.hand(),
            _ => None,
        };
        let mut values: Vec<_> = self
            .entries
            .iter()
            .map(|(m, e)| {
                let value = e.value.clone().into_bytes();
                match &self.index {
                    // S3-FIFO's counter or SIEVE's bit ends the stored value.
                    Index::Queues(queues) => {
                        let mut with_flag = value.to_vec();
                        with_flag.push(queues.flag(m).unwrap_or(0));
                        (*m, with_flag.into())
                    }
                    _ => (*m, value),
                }
            })
            .collect();
        values.sort();
        PairContents {
            index,
            values,
            hand,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Members spread over the map's buckets: distinct members hash apart
    /// (a constant hash keeps every lookup right and makes each one a walk).
    #[test]
    fn members_hash_apart() {
        use std::hash::BuildHasher;
        let hasher = BuildHasherDefault::<MemberHasher>::default();
        let hashes: std::collections::HashSet<u64> = (0..1000u32)
            .map(|i| {
                hasher.hash_one(InvocationHash::from_bytes([
                    i as u8,
                    (i >> 8) as u8,
                    3,
                    4,
                    5,
                    6,
                    7,
                    8,
                    9,
                    10,
                    11,
                    12,
                    13,
                    14,
                    15,
                    16,
                ]))
            })
            .collect();
        assert_eq!(hashes.len(), 1000);
    }

    /// Any position of a sorted index, not only its ends, in both of its
    /// forms (random victims ask for positions in between).
    #[test]
    fn sorted_nth_finds_every_position() {
        let member = |i: u8| InvocationHash::from_bytes([i; 16]);
        let mut appended = AppendedIndex::default();
        let mut sorted = OrderedIndex::default();
        for i in 0..10u8 {
            appended.push(u64::from(i) + 1, member(i));
            sorted.insert(u64::from(i) + 1, member(i));
        }
        for index in [Index::Appended(appended), Index::Sorted(sorted)] {
            for i in 0..10u8 {
                assert_eq!(index.sorted_nth(usize::from(i)), Some(member(i)));
            }
            assert_eq!(index.sorted_nth(10), None);
        }
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_entry_is_seven_words() {
        // Hits read entries scattered over the map, so the bucket size
        // (member + entry) decides how many fit in the CPU's caches.
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        assert_eq!(std::mem::size_of::<(InvocationHash, Entry)>(), 72);
    }
}
