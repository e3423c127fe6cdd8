//! The index of an S3-FIFO or SIEVE pair (SPEC §3.2), with the scores of
//! [`queue_scores`], so the pair holds exactly what the Redis scripts keep
//! in their sorted set.
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
            small: 0,
            main: 0,
            ghosts: 0,
            hand: 0,
        }
    }

    pub(crate) fn kind(&self) -> IndexKind {
        self.kind
    }

    /// A resident member's score (`None` for a ghost or a stranger).
    pub(crate) fn resident_score(&self, member: &InvocationHash) -> Option<u64> {
        self.scores
            .get(member)
            .copied()
            .filter(|&s| self.kind == IndexKind::Sieve || Queue::of(s) != Queue::Ghost)
    }

    /// Whether a hit on a member with this score changes it: SIEVE's first
    /// hit, and S3-FIFO's until the counter saturates. Later hits only read.
    pub(crate) fn hit_writes(&self, score: u64) -> bool {
        match self.kind {
            IndexKind::Sieve => score % 2 == 0,
            _ => score % 4 < MAX_FREQ,
        }
    }

    /// Applies the hit rule to a resident member.
    pub(crate) fn hit(&mut self, member: InvocationHash) {
        let Some(score) = self.resident_score(&member) else {
            return;
        };
        if self.hit_writes(score) {
            self.rescore(member, score, score + 1);
        }
    }

    fn rescore(&mut self, member: InvocationHash, old: u64, new: u64) {
        self.order.remove(&old);
        self.order.insert(new, member);
        self.scores.insert(member, new);
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

    /// The score a member appended to `queue` with `freq` gets.
    fn append_score(&self, queue: Queue, freq: u64) -> u64 {
        let newest = self.order.range(queue.range()).next_back().map(|(s, _)| *s);
        match queue {
            Queue::Ghost => newest.map_or(1, |s| s + 1),
            Queue::Small | Queue::Main => {
                let base = queue.range().start;
                let place = newest.map_or(1, |s| (s - base) / 4 + 1);
                base + 4 * place + freq
            }
        }
    }

    /// Removes a resident member (an expired entry): no ghost is left.
    pub(crate) fn remove(&mut self, member: InvocationHash) {
        if let Some(score) = self.resident_score(&member) {
            self.take(member);
            if self.kind == IndexKind::S3Fifo {
                match Queue::of(score) {
                    Queue::Small => self.small -= 1,
                    _ => self.main -= 1,
                }
            }
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
                let score = newest.map_or(2, |s| (s / 2 + 1) * 2);
                self.add(member, score);
            }
            _ => {
                let from_ghost = self
                    .scores
                    .get(&member)
                    .is_some_and(|&s| Queue::of(s) == Queue::Ghost);
                if from_ghost {
                    self.take(member);
                    self.ghosts -= 1;
                    let score = self.append_score(Queue::Main, 0);
                    self.add(member, score);
                    self.main += 1;
                } else {
                    let score = self.append_score(Queue::Small, 0);
                    self.add(member, score);
                    self.small += 1;
                }
            }
        }
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
            while let Some((score, t)) = self.oldest(Queue::Small) {
                let freq = score % 4;
                self.take(t);
                self.small -= 1;
                if freq >= 1 {
                    let moved = self.append_score(Queue::Main, freq);
                    self.add(t, moved);
                    self.main += 1;
                    if self.main > m {
                        return self.s3_evict_main();
                    }
                } else {
                    let ghost = self.append_score(Queue::Ghost, 0);
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
            let (score, t) = self.oldest(Queue::Main)?;
            let freq = score % 4;
            // The place after the newest, counting this entry (Redis's ZADD
            // moves a member in place).
            let moved = self.append_score(Queue::Main, freq.saturating_sub(1));
            self.take(t);
            if freq > 0 {
                self.add(t, moved);
            } else {
                self.main -= 1;
                return Some(t);
            }
        }
    }

    /// SIEVE's eviction: the hand clears visited bits until it meets an
    /// unvisited entry, which goes.
    fn sieve_evict(&mut self) -> Option<InvocationHash> {
        let first = || self.order.iter().next().map(|(s, m)| (*s, *m));
        let mut at = self
            .order
            .range(self.hand.saturating_mul(2)..)
            .next()
            .map(|(s, m)| (*s, *m))
            .or_else(first)?;
        // At most one lap clears every bit, so this ends within n + 1 steps.
        while at.0 % 2 == 1 {
            let (score, member) = at;
            self.rescore(member, score, score - 1);
            at = match self.order.range(score + 1..).next() {
                Some((s, m)) => (*s, *m),
                None => self.order.iter().next().map(|(s, m)| (*s, *m))?,
            };
        }
        let (score, victim) = at;
        self.take(victim);
        let newest = self.order.range(score..).next().is_none();
        self.hand = if newest { 0 } else { score / 2 + 1 };
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
        assert!(q.resident_score(&m(1)).is_none(), "1 is a ghost now");
        // 2 was hit: it moves to the main queue, and 3 goes instead.
        assert_eq!(q.insert(m(1), 10, 10), vec![m(3)]);
        assert!(
            q.resident_score(&m(1)).unwrap() >= MAIN_BASE,
            "back into main"
        );
        assert!(q.resident_score(&m(2)).unwrap() >= MAIN_BASE, "promoted");
    }
}
