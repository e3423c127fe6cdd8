//! The ordered index of a sorted-set pair: (score, member) pairs in Redis
//! sorted-set order, as a skip list whose nodes live in one arena.
//!
//! A hit removes a member and inserts it again with its new score; with a
//! free list the node's slot is reused at once, so in steady state neither a
//! hit nor an evicting put allocates. (A `BTreeSet` splits and merges nodes,
//! allocating on hits.) Expected cost is O(log n) per operation; first and
//! last are O(1).

use redis_func_cache_core::InvocationHash;

/// Tallest tower; with p = 1/4 this serves far more than 2^24 entries.
const MAX_HEIGHT: usize = 12;
/// No node.
const NIL: u32 = u32::MAX;
/// The head sentinel's slot.
const HEAD: u32 = 0;

#[derive(Debug, Clone)]
struct Node {
    score: u64,
    member: InvocationHash,
    next: [u32; MAX_HEIGHT],
    /// The previous node on level 0 (`HEAD` for the first).
    prev: u32,
    height: u8,
}

/// (score, member) pairs ordered as a Redis sorted set orders them.
#[derive(Debug, Clone)]
pub(crate) struct OrderedIndex {
    nodes: Vec<Node>,
    free: Vec<u32>,
    height: usize,
    len: usize,
    tail: u32,
    /// The last node of each level (`HEAD` for an empty level): the
    /// predecessors of a key above every key, so appending (what an LRU hit
    /// and an LRU or FIFO insert do) needs no search.
    last_at: [u32; MAX_HEIGHT],
    seed: u64,
}

impl Default for OrderedIndex {
    fn default() -> Self {
        OrderedIndex {
            nodes: vec![Node {
                score: 0,
                member: InvocationHash::from_bytes([0; 16]),
                next: [NIL; MAX_HEIGHT],
                prev: NIL,
                height: MAX_HEIGHT as u8,
            }],
            free: Vec::new(),
            height: 1,
            len: 0,
            tail: NIL,
            last_at: [HEAD; MAX_HEIGHT],
            seed: 0x2545_F491_4F6C_DD1D,
        }
    }
}

impl OrderedIndex {
    /// An empty index whose arena holds `len` pairs before it grows: a pair
    /// leaving its linked list knows how many it brings.
    pub(crate) fn with_capacity(len: usize) -> Self {
        let mut index = OrderedIndex::default();
        index.nodes.reserve_exact(len);
        index
    }

    fn key(&self, slot: u32) -> (u64, InvocationHash) {
        let node = &self.nodes[slot as usize];
        (node.score, node.member)
    }

    /// A tower height with P(h) = (3/4)(1/4)^(h-1).
    fn random_height(&mut self) -> usize {
        // xorshift64*: tower heights need no better randomness.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        let r = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (1 + (r.trailing_zeros() as usize) / 2).min(MAX_HEIGHT)
    }

    /// For each level, the last node whose key is below `key`.
    fn predecessors(&self, key: (u64, InvocationHash)) -> [u32; MAX_HEIGHT] {
        let mut preds = [HEAD; MAX_HEIGHT];
        let mut x = HEAD;
        for level in (0..self.height).rev() {
            loop {
                let next = self.nodes[x as usize].next[level];
                if next == NIL || self.key(next) >= key {
                    break;
                }
                x = next;
            }
            preds[level] = x;
        }
        preds
    }

    /// Adds a pair; the caller guarantees the member is not present.
    pub(crate) fn insert(&mut self, score: u64, member: InvocationHash) {
        let above_all = self.tail == NIL || self.key(self.tail) < (score, member);
        let mut preds = if above_all {
            self.last_at
        } else {
            self.predecessors((score, member))
        };
        let height = self.random_height();
        if height > self.height {
            for pred in &mut preds[self.height..height] {
                *pred = HEAD;
            }
            self.height = height;
        }
        let node = Node {
            score,
            member,
            next: [NIL; MAX_HEIGHT],
            prev: preds[0],
            height: height as u8,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for (level, &pred) in preds.iter().enumerate().take(height) {
            let next = self.nodes[pred as usize].next[level];
            self.nodes[slot as usize].next[level] = next;
            self.nodes[pred as usize].next[level] = slot;
            if next == NIL {
                self.last_at[level] = slot;
            }
        }
        match self.nodes[slot as usize].next[0] {
            NIL => self.tail = slot,
            next => self.nodes[next as usize].prev = slot,
        }
        self.len += 1;
    }

    /// Removes a pair; returns whether it was there.
    pub(crate) fn remove(&mut self, score: u64, member: InvocationHash) -> bool {
        let preds = self.predecessors((score, member));
        let target = self.nodes[preds[0] as usize].next[0];
        if target == NIL || self.key(target) != (score, member) {
            return false;
        }
        let height = self.nodes[target as usize].height as usize;
        for (level, &pred) in preds.iter().enumerate().take(height) {
            if self.nodes[pred as usize].next[level] == target {
                let next = self.nodes[target as usize].next[level];
                self.nodes[pred as usize].next[level] = next;
                if next == NIL {
                    self.last_at[level] = pred;
                }
            }
        }
        match self.nodes[target as usize].next[0] {
            NIL => self.tail = if preds[0] == HEAD { NIL } else { preds[0] },
            next => self.nodes[next as usize].prev = preds[0],
        }
        self.free.push(target);
        self.len -= 1;
        while self.height > 1 && self.nodes[HEAD as usize].next[self.height - 1] == NIL {
            self.height -= 1;
        }
        true
    }

    /// The lowest pair.
    pub(crate) fn first(&self) -> Option<(u64, InvocationHash)> {
        match self.nodes[HEAD as usize].next[0] {
            NIL => None,
            slot => Some(self.key(slot)),
        }
    }

    /// The highest pair.
    pub(crate) fn last(&self) -> Option<(u64, InvocationHash)> {
        (self.tail != NIL).then(|| self.key(self.tail))
    }

    /// All pairs, lowest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, InvocationHash)> + '_ {
        let mut slot = self.nodes[HEAD as usize].next[0];
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let key = self.key(slot);
            slot = self.nodes[slot as usize].next[0];
            Some(key)
        })
    }

    /// How many pairs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn m(b: u8) -> InvocationHash {
        InvocationHash::from_bytes([b; 16])
    }

    /// The list stays logarithmic: towers reach a height of about
    /// log4(n), and the height falls back once the list empties. (A broken
    /// height draw or height tracking keeps the order right and only makes
    /// the list slow, which the order tests cannot see.)
    #[test]
    fn towers_grow_with_the_list_and_shrink_when_it_empties() {
        let mut list = OrderedIndex::default();
        let members: Vec<InvocationHash> = (0..4096u32)
            .map(|i| {
                let mut bytes = [0u8; 16];
                bytes[..4].copy_from_slice(&i.to_be_bytes());
                InvocationHash::from_bytes(bytes)
            })
            .collect();
        for (i, member) in members.iter().enumerate() {
            list.insert(i as u64, *member);
        }
        // P(h) = (3/4)(1/4)^(h-1): 4096 towers reach 5 almost surely, and
        // 12 almost never.
        assert!((5..12).contains(&list.height), "height {}", list.height);
        let heights: Vec<usize> = (0..64).map(|_| list.random_height()).collect();
        let ones = heights.iter().filter(|&&h| h == 1).count();
        assert!(
            (30..60).contains(&ones),
            "about 3/4 of towers are 1 high: {heights:?}"
        );
        for (i, member) in members.iter().enumerate() {
            assert!(list.remove(i as u64, *member));
        }
        assert_eq!(list.height, 1, "an empty list is one level high");
    }

    proptest! {
        /// The skip list against the standard library's ordered set.
        #[test]
        fn behaves_as_an_ordered_set(ops in proptest::collection::vec((any::<bool>(), 0u64..6, 0u8..12), 0..400)) {
            let mut ours = OrderedIndex::default();
            let mut model = BTreeSet::new();
            for (insert, score, b) in ops {
                let present = model.iter().find(|(_, mm)| *mm == m(b)).copied();
                if insert && present.is_none() {
                    ours.insert(score, m(b));
                    model.insert((score, m(b)));
                } else if let Some((s, _)) = present {
                    prop_assert!(ours.remove(s, m(b)));
                    model.remove(&(s, m(b)));
                }
                prop_assert!(!ours.remove(99, m(b)), "absent pairs are not removed");
                prop_assert_eq!(ours.len(), model.len());
                prop_assert_eq!(ours.first(), model.first().copied());
                prop_assert_eq!(ours.last(), model.last().copied());
                prop_assert!(ours.iter().eq(model.iter().copied()));
                // Reverse order through prev links matches too.
                let mut back = vec![];
                let mut slot = ours.tail;
                while slot != NIL && slot != HEAD {
                    back.push(ours.key(slot));
                    slot = ours.nodes[slot as usize].prev;
                }
                prop_assert!(back.into_iter().eq(model.iter().rev().copied()));
            }
        }
    }

    #[test]
    fn slots_are_reused() {
        let mut index = OrderedIndex::default();
        for i in 0..1000 {
            index.insert(i, m((i % 251) as u8));
        }
        let arena = index.nodes.capacity();
        for round in 0..10_000u64 {
            let (score, member) = index.first().unwrap();
            assert!(index.remove(score, member));
            index.insert(2000 + round, member);
        }
        assert_eq!(index.nodes.capacity(), arena, "no growth in steady state");
        assert_eq!(index.len(), 1000);
    }

    #[test]
    fn a_sized_index_takes_its_pairs_without_growing() {
        let mut index = OrderedIndex::with_capacity(1000);
        let arena = index.nodes.capacity();
        assert!(arena > 1000, "the head sentinel plus the pairs");
        for i in 0..1000 {
            index.insert(i, m((i % 251) as u8));
        }
        assert_eq!(index.nodes.capacity(), arena);
    }
}
