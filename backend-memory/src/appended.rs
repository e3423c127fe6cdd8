//! The index of a sorted-set pair while every score it was given was above
//! all the others: a doubly linked list in insertion order, which is then
//! exactly the (score, member) order of a Redis sorted set.
//!
//! LRU, MRU and FIFO only ever give `max + 1`, so their pairs stay in this
//! form for good: a hit moves a node to the back and an eviction unlinks the
//! front or the back, each in O(1) with no search. A score that would break
//! the order (an LFU insert at 1, two equal clock readings) is refused, and
//! the pair moves to the skip list ([`crate::ordered`]).

use redis_func_cache_core::InvocationHash;

/// No node.
const NIL: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Link {
    score: u64,
    member: InvocationHash,
    prev: u32,
    next: u32,
}

/// (score, member) pairs with strictly increasing scores, lowest first.
#[derive(Debug, Clone)]
pub(crate) struct AppendedIndex {
    links: Vec<Link>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
}

impl Default for AppendedIndex {
    fn default() -> Self {
        AppendedIndex {
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl AppendedIndex {
    /// Whether `score` may go at the back: above every score held.
    pub(crate) fn fits_at_back(&self, score: u64) -> bool {
        self.last().is_none_or(|(top, _)| score > top)
    }

    /// Adds a pair at the back and returns its slot, or `None` (and changes
    /// nothing) when `score` is not above every score held.
    pub(crate) fn push(&mut self, score: u64, member: InvocationHash) -> Option<u32> {
        if !self.fits_at_back(score) {
            return None;
        }
        let link = Link {
            score,
            member,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.links[slot as usize] = link;
                slot
            }
            None => {
                self.links.push(link);
                u32::try_from(self.links.len() - 1).expect("fewer than 2^32 entries per pair")
            }
        };
        self.link_at_back(slot);
        self.len += 1;
        Some(slot)
    }

    fn link_at_back(&mut self, slot: u32) {
        let old_tail = self.tail;
        {
            let link = &mut self.links[slot as usize];
            link.prev = old_tail;
            link.next = NIL;
        }
        match old_tail {
            NIL => self.head = slot,
            tail => self.links[tail as usize].next = slot,
        }
        self.tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let link = &self.links[slot as usize];
            (link.prev, link.next)
        };
        match prev {
            NIL => self.head = next,
            prev => self.links[prev as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.links[next as usize].prev = prev,
        }
    }

    /// Gives the pair at `slot` a new score and moves it to the back, or
    /// returns `false` (and changes nothing) when `score` would not be the
    /// highest.
    pub(crate) fn move_to_back(&mut self, slot: u32, score: u64) -> bool {
        let above_others = if self.tail == slot {
            let prev = self.links[slot as usize].prev;
            prev == NIL || score > self.links[prev as usize].score
        } else {
            self.fits_at_back(score)
        };
        if !above_others {
            return false;
        }
        self.unlink(slot);
        self.links[slot as usize].score = score;
        self.link_at_back(slot);
        true
    }

    /// Removes the pair at `slot`, a slot `push` returned and not removed.
    pub(crate) fn remove(&mut self, slot: u32) {
        self.unlink(slot);
        self.free.push(slot);
        self.len -= 1;
    }

    /// The score of the pair at `slot`.
    pub(crate) fn score(&self, slot: u32) -> u64 {
        self.links[slot as usize].score
    }

    /// The lowest pair.
    pub(crate) fn first(&self) -> Option<(u64, InvocationHash)> {
        (self.head != NIL).then(|| self.key(self.head))
    }

    /// The highest pair.
    pub(crate) fn last(&self) -> Option<(u64, InvocationHash)> {
        (self.tail != NIL).then(|| self.key(self.tail))
    }

    fn key(&self, slot: u32) -> (u64, InvocationHash) {
        let link = &self.links[slot as usize];
        (link.score, link.member)
    }

    /// All pairs, lowest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, InvocationHash)> + '_ {
        let mut slot = self.head;
        std::iter::from_fn(move || {
            if slot == NIL {
                return None;
            }
            let key = self.key(slot);
            slot = self.links[slot as usize].next;
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
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;

    fn m(b: u8) -> InvocationHash {
        InvocationHash::from_bytes([b; 16])
    }

    proptest! {
        /// Against the standard library's ordered set: every accepted change
        /// keeps the same pairs in the same order, and a refused one
        /// changes nothing.
        #[test]
        fn behaves_as_an_ordered_set(ops in proptest::collection::vec((0u8..3, 0u64..40, 0u8..10), 0..300)) {
            let mut ours = AppendedIndex::default();
            let mut model = BTreeSet::new();
            let mut slots: HashMap<u8, (u32, u64)> = HashMap::new();
            for (op, score, b) in ops {
                match (op, slots.get(&b).copied()) {
                    (0, None) => {
                        let fits = model.last().is_none_or(|&(top, _)| score > top);
                        let slot = ours.push(score, m(b));
                        prop_assert_eq!(slot.is_some(), fits);
                        if let Some(slot) = slot {
                            model.insert((score, m(b)));
                            slots.insert(b, (slot, score));
                        }
                    }
                    (1, Some((slot, old))) => {
                        let fits = model.iter().filter(|(_, mm)| *mm != m(b)).all(|&(s, _)| score > s);
                        prop_assert_eq!(ours.move_to_back(slot, score), fits);
                        if fits {
                            model.remove(&(old, m(b)));
                            model.insert((score, m(b)));
                            slots.insert(b, (slot, score));
                        }
                    }
                    (_, Some((slot, old))) => {
                        ours.remove(slot);
                        model.remove(&(old, m(b)));
                        slots.remove(&b);
                    }
                    _ => {}
                }
                prop_assert_eq!(ours.len(), model.len());
                prop_assert_eq!(ours.first(), model.first().copied());
                prop_assert_eq!(ours.last(), model.last().copied());
                prop_assert!(ours.iter().eq(model.iter().copied()));
            }
        }
    }

    #[test]
    fn slots_are_reused() {
        let mut index = AppendedIndex::default();
        let mut slots: Vec<u32> = (0..1000)
            .map(|i| index.push(i, m(i as u8)).unwrap())
            .collect();
        let arena = index.links.capacity();
        for round in 0..10_000u64 {
            let slot = slots.remove(0);
            index.remove(slot);
            slots.push(index.push(2000 + round, m(1)).unwrap());
        }
        assert_eq!(index.links.capacity(), arena, "no growth in steady state");
        assert_eq!(index.len(), 1000);
    }
}
