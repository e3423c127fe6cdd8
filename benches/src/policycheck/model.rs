//! The abstract cache: SPEC §3 as a small, hashable state and an
//! interpreter of any [`PolicyRules`], so that a model checker can explore
//! and merge states by the million.
//!
//! Written from the SPEC, not from a store: it is the reference the stores
//! are checked against. Keys are small integers; each stands for the member
//! [`member`] gives it, and ties are broken by those members' bytes, as the
//! stores break them.

use redis_func_cache::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use redis_func_cache::{FuncId, InvocationHash};

/// A key of the model: `0..keys`.
pub type Key = u8;

/// The largest `--keys` the model takes (keys are bytes, and a sequence of
/// 16 is already far past what exhaustive search covers).
pub const MAX_KEYS: u8 = 16;

/// The function whose invocations the model's keys stand for.
pub static CHECKED: FuncId = FuncId::new("policycheck", "f", 0);

/// The member a key stands for in a real store.
pub fn member(key: Key) -> InvocationHash {
    CHECKED
        .invocation_hash(&u32::from(key))
        .expect("a u32 always serialises")
}

/// The value a call of `key` stores on a miss (`f(k)` in the model).
pub const fn call_value(key: Key) -> u8 {
    key
}

/// The values a bare put may store, so a hit can be checked against the
/// last one put.
pub const PUT_VALUES: [u8; 2] = [0xA0, 0xA1];

/// S3-FIFO's queue tags, kept in the high half of a score.
const SMALL: u64 = 1 << 32;
const MAIN: u64 = 2 << 32;
const SEQ: u64 = (1 << 32) - 1;

/// One resident entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry {
    /// Which key.
    pub key: Key,
    /// Its score (sorted-set rules), its queue and place (S3-FIFO: the
    /// queue tag in the high half, the place in the low), or its sequence
    /// number (SIEVE).
    pub score: u64,
    /// S3-FIFO's use counter, SIEVE's visited bit, 0 otherwise.
    pub flag: u8,
    /// The value stored.
    pub value: u8,
    /// With a per-entry TTL: clock ticks left until the entry expires (0:
    /// expired); [`NO_DEADLINE`] without one.
    pub life: u64,
}

/// [`Entry::life`] of an entry without a per-entry TTL.
pub const NO_DEADLINE: u64 = u64::MAX;

/// What one pair holds, in a canonical form: two pairs that behave the
/// same from now on compare equal, so the checker merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CacheState {
    /// Resident entries, sorted by key.
    pub entries: Vec<Entry>,
    /// S3-FIFO's ghost, oldest first.
    pub ghost: Vec<Key>,
    /// SIEVE's hand: the sequence number it points at (0: the oldest).
    pub hand: u64,
    /// The clock, in microseconds, for [`ScoreRule::ClockMicros`].
    pub now: u64,
}

impl CacheState {
    /// How many entries are resident.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is resident.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `key`, if resident.
    pub fn entry(&self, key: Key) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Whether `key` is resident.
    pub fn contains(&self, key: Key) -> bool {
        self.entry(key).is_some()
    }

    fn position(&self, key: Key) -> Option<usize> {
        self.entries.iter().position(|e| e.key == key)
    }

    fn insert(&mut self, entry: Entry) {
        let at = self.entries.partition_point(|e| e.key < entry.key);
        self.entries.insert(at, entry);
    }

    fn remove(&mut self, key: Key) -> Option<Entry> {
        self.position(key).map(|i| self.entries.remove(i))
    }
}

/// The index kinds the model carries out: an exhaustive copy of
/// `IndexKind`, which is `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A sorted set scored by the rules.
    SortedSet,
    /// A set (random victims).
    Set,
    /// S3-FIFO's queues (SPEC §3.2).
    S3Fifo,
    /// SIEVE's queue and hand (SPEC §3.2).
    Sieve,
}

/// The kind of `rules.index`, if the model carries out every part of
/// `rules`; the policy enums may gain parts a newer core knows and this
/// model does not.
fn known(rules: &PolicyRules) -> Result<Kind, String> {
    let kind = match rules.index {
        IndexKind::SortedSet => Kind::SortedSet,
        IndexKind::Set => Kind::Set,
        IndexKind::S3Fifo => Kind::S3Fifo,
        IndexKind::Sieve => Kind::Sieve,
        other => return Err(format!("the model does not know the index kind {other:?}")),
    };
    let rule_known = |r: ScoreRule| {
        matches!(
            r,
            ScoreRule::Keep
                | ScoreRule::MaxPlusOne
                | ScoreRule::One
                | ScoreRule::Increment
                | ScoreRule::ClockMicros
        )
    };
    let victim_known = matches!(
        rules.victim,
        Victim::Lowest | Victim::Highest | Victim::Random
    );
    if [rules.on_insert, rules.on_hit, rules.on_overwrite]
        .into_iter()
        .all(rule_known)
        && victim_known
    {
        Ok(kind)
    } else {
        Err(format!("the model does not know every part of {rules:?}"))
    }
}

/// The interpreter of one policy's rules over [`CacheState`]s.
#[derive(Debug, Clone)]
pub struct PolicyModel {
    rules: PolicyRules,
    /// `rules.index`, as a kind the model knows.
    kind: Kind,
    /// Each key's rank among the keys' members by bytes: the tie-break.
    ranks: Vec<u8>,
    /// Every score rule only orders (no counts, no clock), so scores can be
    /// replaced by their ranks and states that differ only in numbering
    /// merge.
    order_only: bool,
    /// The per-entry TTL, in clock ticks (SPEC §6), if entries have one.
    entry_ttl: Option<u64>,
}

/// The clock a fresh model (and the memory store it is compared with)
/// starts at.
pub const CLOCK_START: u64 = 1_000_000;

impl PolicyModel {
    /// A model of `rules` over keys `0..keys`.
    ///
    /// # Errors
    ///
    /// When the rules do not validate, or `keys` is 0 or above [`MAX_KEYS`].
    pub fn new(rules: PolicyRules, keys: u8) -> Result<Self, String> {
        rules.validate().map_err(|e| e.to_string())?;
        let kind = known(&rules)?;
        if keys == 0 || keys > MAX_KEYS {
            return Err(format!("--keys must be 1 to {MAX_KEYS}, not {keys}"));
        }
        let members: Vec<InvocationHash> = (0..keys).map(member).collect();
        let ranks = members
            .iter()
            .map(|m| {
                members
                    .iter()
                    .filter(|o| o.as_bytes() < m.as_bytes())
                    .count() as u8
            })
            .collect();
        let order_only = rules.index == IndexKind::SortedSet
            && [rules.on_insert, rules.on_hit, rules.on_overwrite]
                .iter()
                .all(|r| matches!(r, ScoreRule::Keep | ScoreRule::MaxPlusOne));
        Ok(PolicyModel {
            rules,
            kind,
            ranks,
            order_only,
            entry_ttl: None,
        })
    }

    /// This model with a per-entry TTL of `ticks` clock ticks (SPEC §6):
    /// an entry put `ticks` ticks ago or more has expired, and a read of
    /// it is a miss that removes it.
    ///
    /// # Errors
    ///
    /// For a TTL of 0 ticks (every entry expired as it is put).
    pub fn with_entry_ttl(mut self, ticks: Option<u64>) -> Result<Self, String> {
        if ticks == Some(0) {
            return Err("--entry-ttl must be at least 1 tick".into());
        }
        self.entry_ttl = ticks;
        Ok(self)
    }

    /// The per-entry TTL in clock ticks, if entries have one.
    pub fn entry_ttl(&self) -> Option<u64> {
        self.entry_ttl
    }

    /// The rules modelled.
    pub fn rules(&self) -> &PolicyRules {
        &self.rules
    }

    /// Whether every score rule only orders (no counts, no clock): scores
    /// never tie.
    pub fn order_only(&self) -> bool {
        self.order_only
    }

    /// The index kind modelled.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// How many keys the model has.
    pub fn keys(&self) -> u8 {
        self.ranks.len() as u8
    }

    /// Whether the victim is chosen at random, so a put may go several ways.
    pub fn is_random(&self) -> bool {
        self.rules.victim == Victim::Random
    }

    /// Whether the rules read the clock, so the clock is part of a state.
    pub fn scores_by_clock(&self) -> bool {
        [
            self.rules.on_insert,
            self.rules.on_hit,
            self.rules.on_overwrite,
        ]
        .contains(&ScoreRule::ClockMicros)
    }

    /// Whether the clock matters (scores by it, or per-entry TTLs), so
    /// ticks are operations.
    pub fn uses_clock(&self) -> bool {
        self.scores_by_clock() || self.entry_ttl.is_some()
    }

    fn life(&self) -> u64 {
        self.entry_ttl.unwrap_or(NO_DEADLINE)
    }

    /// An empty pair.
    pub fn empty(&self) -> CacheState {
        CacheState {
            now: CLOCK_START,
            ..CacheState::default()
        }
    }

    /// A read of `key`: its value on a hit, with the hit rule applied. An
    /// expired entry is a miss, and is removed (SPEC §6; not an eviction).
    pub fn get(&self, state: &mut CacheState, key: Key) -> Option<u8> {
        let i = state.position(key)?;
        if state.entries[i].life == 0 {
            state.remove(key);
            self.normalize(state);
            return None;
        }
        match self.kind {
            Kind::SortedSet => {
                let score = self.score(state, self.rules.on_hit, state.entries[i].score);
                state.entries[i].score = score;
                self.normalize(state);
            }
            Kind::Set => {}
            Kind::S3Fifo => {
                let e = &mut state.entries[i];
                e.flag = (e.flag + 1).min(3);
            }
            Kind::Sieve => state.entries[i].flag = 1,
        }
        Some(state.entries[i].value)
    }

    /// A put of `value` for `key` at `maxsize`, for a policy whose victims
    /// are determined: the keys evicted, in order.
    ///
    /// # Panics
    ///
    /// For a random victim: use [`PolicyModel::put_choices`].
    pub fn put(&self, state: &mut CacheState, key: Key, value: u8, maxsize: u64) -> Vec<Key> {
        assert!(!self.is_random(), "random victims: use put_choices");
        let mut evicted = Vec::new();
        self.put_with(state, key, value, maxsize, &mut evicted, &mut |_| {
            unreachable!("determined victims")
        });
        evicted
    }

    /// Every way a put can go: for a random victim, one outcome per choice
    /// of victims; otherwise the one outcome of [`PolicyModel::put`].
    pub fn put_choices(
        &self,
        state: &CacheState,
        key: Key,
        value: u8,
        maxsize: u64,
    ) -> Vec<(CacheState, Vec<Key>)> {
        if !self.is_random() {
            let mut next = state.clone();
            let evicted = self.put(&mut next, key, value, maxsize);
            return vec![(next, evicted)];
        }
        // Victims are removed one at a time; which ones go, not in what
        // order, decides the state, so enumerate sets.
        let surplus = self.surplus(state, key, maxsize);
        let resident: Vec<Key> = state.entries.iter().map(|e| e.key).collect();
        let mut outcomes = Vec::new();
        for chosen in combinations(&resident, surplus) {
            let mut next = state.clone();
            let mut evicted = Vec::new();
            let mut queue = chosen.clone().into_iter();
            self.put_with(&mut next, key, value, maxsize, &mut evicted, &mut |_| {
                queue.next().expect("as many victims as the surplus")
            });
            outcomes.push((next, evicted));
        }
        outcomes
    }

    /// A put whose random victims are the ones `choose` names (in a replay
    /// of a real store's choices).
    pub fn put_chosen(
        &self,
        state: &mut CacheState,
        key: Key,
        value: u8,
        maxsize: u64,
        chosen: &[Key],
    ) -> Result<Vec<Key>, String> {
        if !self.is_random() {
            return Ok(self.put(state, key, value, maxsize));
        }
        let surplus = self.surplus(state, key, maxsize);
        if chosen.len() != surplus {
            return Err(format!(
                "evicted {} entries where the SPEC says {surplus}",
                chosen.len()
            ));
        }
        for k in chosen {
            if !state.contains(*k) || *k == key {
                return Err(format!("victim {k} was not a resident entry"));
            }
        }
        let mut evicted = Vec::new();
        let mut queue = chosen.iter().copied();
        self.put_with(state, key, value, maxsize, &mut evicted, &mut |_| {
            queue.next().expect("checked above")
        });
        Ok(evicted)
    }

    /// How many entries a put of `key` must evict first (SPEC §3).
    pub fn surplus(&self, state: &CacheState, key: Key, maxsize: u64) -> usize {
        if state.contains(key) {
            0
        } else {
            (state.len() + 1).saturating_sub(maxsize.max(1) as usize)
        }
    }

    fn put_with(
        &self,
        state: &mut CacheState,
        key: Key,
        value: u8,
        maxsize: u64,
        evicted: &mut Vec<Key>,
        random: &mut dyn FnMut(&CacheState) -> Key,
    ) {
        if let Some(i) = state.position(key) {
            // Present, expired or not: the value is replaced and its
            // deadline restarts.
            state.entries[i].value = value;
            state.entries[i].life = self.life();
            if self.rules.index == IndexKind::SortedSet {
                let score = self.score(state, self.rules.on_overwrite, state.entries[i].score);
                state.entries[i].score = score;
                self.normalize(state);
            }
            return;
        }
        if state.is_empty() {
            // No value left (the last one expired and was read away): the
            // index holds only S3-FIFO's ghost, half a pair, which a put
            // removes before it writes (SPEC §5), ghost and all.
            state.ghost.clear();
            state.hand = 0;
        }
        while !state.is_empty() && state.len() as u64 >= maxsize {
            let victim = match self.kind {
                Kind::SortedSet => self.lowest_or_highest(state),
                Kind::Set => random(state),
                Kind::S3Fifo => s3fifo_evict(state, maxsize),
                Kind::Sieve => sieve_evict(state),
            };
            state.remove(victim);
            evicted.push(victim);
        }
        let entry = match self.kind {
            Kind::SortedSet => Entry {
                key,
                score: self.score(state, self.rules.on_insert, 0),
                flag: 0,
                value,
                life: self.life(),
            },
            Kind::Set => Entry {
                key,
                score: 0,
                flag: 0,
                value,
                life: self.life(),
            },
            Kind::S3Fifo => {
                let queue = match state.ghost.iter().position(|g| *g == key) {
                    Some(at) => {
                        state.ghost.remove(at);
                        MAIN
                    }
                    None => SMALL,
                };
                Entry {
                    key,
                    score: queue | (newest(state, queue) + 1),
                    flag: 0,
                    value,
                    life: self.life(),
                }
            }
            Kind::Sieve => Entry {
                key,
                score: state.entries.iter().map(|e| e.score).max().unwrap_or(0) + 1,
                flag: 0,
                value,
                life: self.life(),
            },
        };
        state.insert(entry);
        self.normalize(state);
    }

    /// Removes every entry (a purge): the pair is deleted.
    pub fn purge(&self, state: &mut CacheState) {
        let now = state.now;
        *state = CacheState {
            now,
            ..CacheState::default()
        };
    }

    /// Lets the clock move by one microsecond (one tick): entries come a
    /// tick closer to their deadlines. The clock itself is kept only when
    /// scores read it, so that states of other policies still merge.
    pub fn tick(&self, state: &mut CacheState) {
        if self.scores_by_clock() {
            state.now += 1;
        }
        for e in &mut state.entries {
            if e.life != NO_DEADLINE {
                e.life = e.life.saturating_sub(1);
            }
        }
    }

    fn score(&self, state: &CacheState, rule: ScoreRule, current: u64) -> u64 {
        match rule {
            ScoreRule::Keep => current,
            ScoreRule::MaxPlusOne => state.entries.iter().map(|e| e.score).max().unwrap_or(0) + 1,
            ScoreRule::One => 1,
            ScoreRule::Increment => current + 1,
            ScoreRule::ClockMicros => state.now,
            other => unreachable!("Model::new refuses {other:?}"),
        }
    }

    fn lowest_or_highest(&self, state: &CacheState) -> Key {
        let order = |e: &&Entry| (e.score, self.ranks[e.key as usize]);
        let pick = match self.rules.victim {
            Victim::Highest => state.entries.iter().max_by_key(order),
            _ => state.entries.iter().min_by_key(order),
        };
        pick.expect("a full pair has entries").key
    }

    /// Renumbers scores that only order (LRU, MRU, FIFO), S3-FIFO's places
    /// and SIEVE's sequence numbers, keeping their order, so that states
    /// reached by different paths merge.
    fn normalize(&self, state: &mut CacheState) {
        match self.kind {
            Kind::SortedSet if self.order_only => renumber(state, |_, n| n),
            Kind::S3Fifo => renumber(state, |s, n| (s & !SEQ) | n),
            Kind::Sieve => {
                let pointed = sieve_pointed(state);
                renumber(state, |_, n| n);
                state.hand = match pointed {
                    Some(key) if Some(key) != oldest(state) => {
                        state.entry(key).map_or(0, |e| e.score)
                    }
                    _ => 0,
                };
            }
            _ => {}
        }
    }
}

/// Gives scores 1, 2, 3… in their order (per S3-FIFO queue: the count
/// restarts at each queue tag); `new` makes the score from the old one and
/// the count.
fn renumber(state: &mut CacheState, new: fn(u64, u64) -> u64) {
    let mut by_score: Vec<(u64, usize)> = state
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.score, i))
        .collect();
    by_score.sort_unstable();
    let mut n = 0;
    let mut tag = None;
    for (score, i) in by_score {
        let this_tag = score & !SEQ;
        if tag != Some(this_tag) {
            tag = Some(this_tag);
            n = 0;
        }
        n += 1;
        state.entries[i].score = new(score, n);
    }
}

fn newest(state: &CacheState, queue: u64) -> u64 {
    state
        .entries
        .iter()
        .filter(|e| e.score & !SEQ == queue)
        .map(|e| e.score & SEQ)
        .max()
        .unwrap_or(0)
}

fn oldest_in(state: &CacheState, queue: u64) -> Option<Key> {
    state
        .entries
        .iter()
        .filter(|e| e.score & !SEQ == queue)
        .min_by_key(|e| e.score)
        .map(|e| e.key)
}

fn oldest(state: &CacheState) -> Option<Key> {
    state.entries.iter().min_by_key(|e| e.score).map(|e| e.key)
}

fn count_in(state: &CacheState, queue: u64) -> usize {
    state
        .entries
        .iter()
        .filter(|e| e.score & !SEQ == queue)
        .count()
}

/// Moves `key` to the newest end of `queue`.
fn append(state: &mut CacheState, key: Key, queue: u64) {
    let place = newest(state, queue) + 1;
    if let Some(i) = state.position(key) {
        state.entries[i].score = queue | place;
    }
}

/// S3-FIFO's "evict one" (SPEC §3.2); the victim stays resident for the
/// caller to remove.
fn s3fifo_evict(state: &mut CacheState, maxsize: u64) -> Key {
    let s = (maxsize / 10).max(1) as usize;
    let m = (maxsize as usize).saturating_sub(s);
    if count_in(state, SMALL) >= s || count_in(state, MAIN) == 0 {
        while let Some(t) = oldest_in(state, SMALL) {
            let freq = state.entry(t).map_or(0, |e| e.flag);
            if freq >= 1 {
                append(state, t, MAIN);
                if count_in(state, MAIN) > m {
                    return s3fifo_evict_main(state);
                }
            } else {
                state.ghost.push(t);
                while state.ghost.len() > m.max(1) {
                    state.ghost.remove(0);
                }
                return t;
            }
        }
    }
    s3fifo_evict_main(state)
}

fn s3fifo_evict_main(state: &mut CacheState) -> Key {
    loop {
        let t = oldest_in(state, MAIN).expect("S3-FIFO evicts from a non-empty main queue");
        let i = state.position(t).expect("resident");
        if state.entries[i].flag > 0 {
            state.entries[i].flag -= 1;
            append(state, t, MAIN);
        } else {
            return t;
        }
    }
}

/// The entry SIEVE's hand points at: the oldest whose sequence number is at
/// least the hand, else the oldest.
fn sieve_pointed(state: &CacheState) -> Option<Key> {
    state
        .entries
        .iter()
        .filter(|e| e.score >= state.hand)
        .min_by_key(|e| e.score)
        .or_else(|| state.entries.iter().min_by_key(|e| e.score))
        .map(|e| e.key)
}

/// SIEVE's eviction (SPEC §3.2): the victim stays resident for the caller
/// to remove; the hand moves past it.
fn sieve_evict(state: &mut CacheState) -> Key {
    let mut queue: Vec<usize> = (0..state.entries.len()).collect();
    queue.sort_unstable_by_key(|&i| state.entries[i].score);
    let start = sieve_pointed(state).expect("a full pair has entries");
    let mut at = queue
        .iter()
        .position(|&i| state.entries[i].key == start)
        .expect("resident");
    while state.entries[queue[at]].flag == 1 {
        state.entries[queue[at]].flag = 0;
        at = (at + 1) % queue.len();
    }
    let victim = state.entries[queue[at]];
    state.hand = if at + 1 == queue.len() {
        0
    } else {
        victim.score + 1
    };
    victim.key
}

/// Every `k`-element subset of `items`, in order.
fn combinations(items: &[Key], k: usize) -> Vec<Vec<Key>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    if items.len() < k {
        return Vec::new();
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        for mut rest in combinations(&items[i + 1..], k - 1) {
            rest.insert(0, *first);
            all.push(rest);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_func_cache::rules;

    fn calls(model: &PolicyModel, maxsize: u64, keys: &[Key]) -> Vec<bool> {
        let mut state = model.empty();
        keys.iter()
            .map(|&k| {
                let hit = model.get(&mut state, k).is_some();
                if !hit {
                    model.put(&mut state, k, call_value(k), maxsize);
                }
                hit
            })
            .collect()
    }

    #[test]
    fn lru_keeps_the_recently_used_and_fifo_does_not() {
        let lru = PolicyModel::new(rules::LRU, 4).unwrap();
        let fifo = PolicyModel::new(rules::FIFO, 4).unwrap();
        // 0 1 0 2 0: LRU keeps 0 (hit last); FIFO evicts it at 2.
        assert_eq!(
            calls(&lru, 2, &[0, 1, 0, 2, 0]),
            [false, false, true, false, true]
        );
        assert_eq!(
            calls(&fifo, 2, &[0, 1, 0, 2, 0]),
            [false, false, true, false, false]
        );
    }

    #[test]
    fn normalized_states_merge() {
        let lru = PolicyModel::new(rules::LRU, 4).unwrap();
        let (mut a, mut b) = (lru.empty(), lru.empty());
        for k in [0, 1, 0, 1] {
            if lru.get(&mut a, k).is_none() {
                lru.put(&mut a, k, k, 3);
            }
        }
        for k in [0, 1] {
            lru.put(&mut b, k, k, 3);
        }
        assert_eq!(a, b, "LRU's order is all that matters");
    }

    #[test]
    fn random_puts_branch_over_every_resident_victim() {
        let rr = PolicyModel::new(rules::RR, 4).unwrap();
        let mut state = rr.empty();
        for k in 0..3 {
            let mut outcomes = rr.put_choices(&state, k, k, 3);
            state = outcomes.remove(0).0;
        }
        let outcomes = rr.put_choices(&state, 3, 3, 3);
        let mut victims: Vec<Key> = outcomes.iter().map(|(_, e)| e[0]).collect();
        victims.sort_unstable();
        assert_eq!(victims, [0, 1, 2]);
    }

    #[test]
    fn sieve_keeps_visited_entries_and_moves_its_hand() {
        let sieve = PolicyModel::new(rules::SIEVE, 5).unwrap();
        // 0 1 2, hit 0, put 3: 0 is visited, 1 goes; hand moves past 1.
        let mut state = sieve.empty();
        for k in 0..3 {
            sieve.put(&mut state, k, k, 3);
        }
        sieve.get(&mut state, 0);
        assert_eq!(sieve.put(&mut state, 3, 3, 3), [1]);
        // Next: the hand is at 2, unvisited: 2 goes.
        assert_eq!(sieve.put(&mut state, 4, 4, 3), [2]);
    }

    #[test]
    fn s3fifo_sends_a_ghost_back_to_main() {
        let s3 = PolicyModel::new(rules::S3FIFO, 4).unwrap();
        let mut state = s3.empty();
        for k in 0..3 {
            s3.put(&mut state, k, k, 3);
        }
        // Full: S = [0, 1, 2], s = 1, m = 2; 0 is evicted into the ghost.
        assert_eq!(s3.put(&mut state, 3, 3, 3), [0]);
        assert_eq!(state.ghost, [0]);
        // Putting 0 evicts 1 first (ghost [0, 1]), then 0 leaves the ghost
        // for the main queue.
        assert_eq!(s3.put(&mut state, 0, 0, 3), [1]);
        assert_eq!(state.ghost, [1]);
        assert_eq!(state.entry(0).unwrap().score & !SEQ, MAIN);
    }
}
