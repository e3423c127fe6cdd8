//! The index of an S3-FIFO or SIEVE pair (SPEC §3.2), with the scores and
//! flags of
//! [`queue_scores`](redis_func_cache_core::policy::queue_scores), so the
//! pair holds exactly what the Redis scripts keep in their sorted set and
//! at the end of each value.
//!
//! Every score in one index is distinct (a queue's places, a ghost's place
//! and a SIEVE sequence are each given once), so a map from score to member
//! is the sorted set's (score, member) order. The index keeps every member's
//! score itself, ghosts included; the pair's entries keep only values.

use std::collections::BTreeMap;

use redis_func_cache_core::InvocationHash;
use redis_func_cache_core::policy::IndexKind;
use redis_func_cache_core::policy::queue_scores::{MAIN_BASE, MAX_FREQ, SMALL_BASE};

use crate::pair::Members;

/// Which S3-FIFO queue a score lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Ghost,
    Small,
    Main,
}

impl Queue {
    fn of(score: u64) -> Queue {
        if score < SMALL_BASE {
            Queue::Ghost
        } else if score < MAIN_BASE {
            Queue::Small
        } else {
            Queue::Main
        }
    }

    /// The scores this queue's members hold.
    fn range(self) -> std::ops::Range<u64> {
        match self {
            Queue::Ghost => 0..SMALL_BASE,
            Queue::Small => SMALL_BASE..MAIN_BASE,
            Queue::Main => MAIN_BASE..u64::MAX,
        }
    }
}

/// The queues of one S3-FIFO or SIEVE pair.
#[derive(Debug)]
pub(crate) struct QueueIndex {
    kind: IndexKind,
    /// Every member of the index (ghosts too), by score.
    order: BTreeMap<u64, InvocationHash>,
    /// Every member's score.
    scores: Members<u64>,
    /// Each resident's use counter (S3-FIFO) or visited bit (SIEVE).
    flags: Members<u8>,
    small: u64,
    main: u64,
    ghosts: u64,
    /// SIEVE's hand: a sequence number.
    hand: u64,
}

impl QueueIndex {
    pub(crate) fn new(kind: IndexKind) -> Self {
        debug_assert!(kind.is_queue());
        QueueIndex {
            kind,
            order: BTreeMap::new(),
            scores: Members::default(),
            flags: Members::default(),
            small: 0,
            main: 0,
            ghosts: 0,
            hand: 0,
        }
    }

    pub(crate) fn kind(&self) -> IndexKind {
        self.kind
    }

    /// A resident member's counter or bit (`None` for a ghost or a
    /// stranger).
    pub(crate) fn flag(&self, member: &InvocationHash) -> Option<u8> {
        self.flags.get(member).copied()
    }

    /// The highest counter (S3-FIFO) or 1 (SIEVE's bit).
    fn cap(&self) -> u8 {
        match self.kind {
            IndexKind::Sieve => 1,
            _ => MAX_FREQ as u8,
        }
    }

    /// Whether a hit on a member with this flag changes it: SIEVE's first
    /// hit, and S3-FIFO's until the counter saturates. Later hits only read.
    pub(crate) fn hit_writes(&self, flag: u8) -> bool {
        flag < self.cap()
    }

    /// Applies the hit rule to a resident member.
    pub(crate) fn hit(&mut self, member: InvocationHash) {
        let cap = self.cap();
        if let Some(flag) = self.flags.get_mut(&member) {
            *flag = (*flag + 1).min(cap);
        }
    }

    fn add(&mut self, member: InvocationHash, score: u64) {
        self.order.insert(score, member);
        self.scores.insert(member, score);
    }

    fn take(&mut self, member: InvocationHash) -> Option<u64> {
        let score = self.scores.remove(&member)?;
        self.order.remove(&score);
        Some(score)
    }

    fn oldest(&self, queue: Queue) -> Option<(u64, InvocationHash)> {
        self.order
            .range(queue.range())
            .next()
            .map(|(s, m)| (*s, *m))
    }

    /// The score a member appended to `queue` gets: the place after the
    /// newest one there (Redis's ZADD moves a member in place, so the newest
    /// may be the member itself).
    fn append_score(&self, queue: Queue) -> u64 {
        let newest = self.order.range(queue.range()).next_back().map(|(s, _)| *s);
        let base = match queue {
            Queue::Ghost => 0,
            _ => queue.range().start,
        };
        newest.map_or(base + 1, |s| s + 1)
    }

    /// Removes a resident member (an expired or invalidated entry): no
    /// ghost is left. SIEVE's hand, left past every remaining entry, goes
    /// back to 0 (the oldest), as the paper's hand steps off a removed
    /// entry: an entry added later must not take it.
    pub(crate) fn remove(&mut self, member: InvocationHash) {
        if self.flags.remove(&member).is_none() {
            return;
        }
        let Some(score) = self.take(member) else {
            return;
        };
        match self.kind {
            IndexKind::S3Fifo => match Queue::of(score) {
                Queue::Small => self.small -= 1,
                _ => self.main -= 1,
            },
            _ if self.hand > 0 && self.order.range(self.hand..).next().is_none() => {
                self.hand = 0;
            }
            _ => {}
        }
    }

    /// Puts a new member into a pair holding `size` residents; returns the
    /// members evicted first, in order.
    pub(crate) fn insert(
        &mut self,
        member: InvocationHash,
        mut size: u64,
        maxsize: u64,
    ) -> Vec<InvocationHash> {
        let mut evicted = Vec::new();
        while size >= maxsize && size > 0 {
            let victim = match self.kind {
                IndexKind::Sieve => self.sieve_evict(),
                _ => self.s3_evict(maxsize),
            };
            match victim {
                Some(victim) => evicted.push(victim),
                None => break,
            }
            size -= 1;
        }
        match self.kind {
            IndexKind::Sieve => {
                let newest = self.order.keys().next_back().copied();
                self.add(member, newest.map_or(1, |s| s + 1));
            }
            _ => {
                let from_ghost = self
                    .scores
                    .get(&member)
                    .is_some_and(|&s| Queue::of(s) == Queue::Ghost);
                if from_ghost {
                    self.take(member);
                    self.ghosts -= 1;
                    let score = self.append_score(Queue::Main);
                    self.add(member, score);
                    self.main += 1;
                } else {
                    let score = self.append_score(Queue::Small);
                    self.add(member, score);
                    self.small += 1;
                }
            }
        }
        self.flags.insert(member, 0);
        evicted
    }

    /// S3-FIFO's targets: the small queue's `s` and the main queue's `m`.
    fn targets(maxsize: u64) -> (u64, u64) {
        let s = (maxsize / 10).max(1);
        (s, maxsize.saturating_sub(s))
    }

    /// S3-FIFO's "evict one", literally.
    fn s3_evict(&mut self, maxsize: u64) -> Option<InvocationHash> {
        let (s, m) = Self::targets(maxsize);
        if self.small >= s || self.main == 0 {
            while let Some((_, t)) = self.oldest(Queue::Small) {
                let freq = self.flag(&t).unwrap_or(0);
                self.take(t);
                self.small -= 1;
                if freq >= 1 {
                    let moved = self.append_score(Queue::Main);
                    self.add(t, moved);
                    self.main += 1;
                    if self.main > m {
                        return self.s3_evict_main();
                    }
                } else {
                    self.flags.remove(&t);
                    let ghost = self.append_score(Queue::Ghost);
                    self.add(t, ghost);
                    self.ghosts += 1;
                    while self.ghosts > m.max(1) {
                        let (_, oldest) = self.oldest(Queue::Ghost)?;
                        self.take(oldest);
                        self.ghosts -= 1;
                    }
                    return Some(t);
                }
            }
        }
        self.s3_evict_main()
    }

    /// S3-FIFO's "evict from M": second chances until a counter is 0.
    fn s3_evict_main(&mut self) -> Option<InvocationHash> {
        loop {
            let (_, t) = self.oldest(Queue::Main)?;
            let moved = self.append_score(Queue::Main);
            self.take(t);
            match self.flags.get_mut(&t) {
                Some(freq) if *freq > 0 => {
                    *freq -= 1;
                    self.add(t, moved);
                }
                _ => {
                    self.flags.remove(&t);
                    self.main -= 1;
                    return Some(t);
                }
            }
        }
    }

    /// SIEVE's eviction: the hand clears visited bits until it meets an
    /// unvisited entry, which goes.
    fn sieve_evict(&mut self) -> Option<InvocationHash> {
        let first =
            |order: &BTreeMap<u64, InvocationHash>| order.iter().next().map(|(s, m)| (*s, *m));
        let mut at = self
            .order
            .range(self.hand.max(1)..)
            .next()
            .map(|(s, m)| (*s, *m))
            .or_else(|| first(&self.order))?;
        // At most one lap clears every bit, so this ends within n + 1 steps.
        while let Some(visited) = self.flags.get_mut(&at.1).filter(|v| **v == 1) {
            *visited = 0;
            let seq = at.0;
            at = match self.order.range(seq + 1..).next() {
                Some((s, m)) => (*s, *m),
                None => first(&self.order)?,
            };
        }
        let (seq, victim) = at;
        self.take(victim);
        self.flags.remove(&victim);
        let newest = self.order.range(seq..).next().is_none();
        self.hand = if newest { 0 } else { seq + 1 };
        Some(victim)
    }

    /// Every member of the index with its score, in score order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, InvocationHash)> + '_ {
        self.order.iter().map(|(s, m)| (*s, *m))
    }

    /// SIEVE's hand, when it is not 0.
    pub(crate) fn hand(&self) -> Option<u64> {
        (self.kind == IndexKind::Sieve && self.hand > 0).then_some(self.hand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(k: u8) -> InvocationHash {
        InvocationHash::from_bytes([k; 16])
    }

    #[test]
    fn sieve_spares_a_visited_entry_and_moves_its_hand() {
        let mut q = QueueIndex::new(IndexKind::Sieve);
        for k in 1..=3 {
            assert!(q.insert(m(k), u64::from(k) - 1, 3).is_empty());
        }
        q.hit(m(1));
        // 1 is visited: its bit is cleared, 2 goes, the hand points past it.
        assert_eq!(q.insert(m(4), 3, 3), vec![m(2)]);
        assert_eq!(q.hand(), Some(3));
        // The hand resumes at 3 (unvisited), the newest but one.
        assert_eq!(q.insert(m(5), 3, 3), vec![m(3)]);
    }

    #[test]
    fn s3fifo_sends_a_one_hit_wonder_to_the_ghost_and_back_to_main() {
        let mut q = QueueIndex::new(IndexKind::S3Fifo);
        for k in 1..=10 {
            assert!(q.insert(m(k), u64::from(k) - 1, 10).is_empty());
        }
        q.hit(m(2));
        assert_eq!(q.insert(m(11), 10, 10), vec![m(1)]);
        assert!(q.flag(&m(1)).is_none(), "1 is a ghost now");
        // 2 was hit: it moves to the main queue, and 3 goes instead.
        assert_eq!(q.insert(m(1), 10, 10), vec![m(3)]);
        assert!(q.scores[&m(1)] >= MAIN_BASE, "back into main");
        assert!(q.scores[&m(2)] >= MAIN_BASE, "promoted");
    }
}
