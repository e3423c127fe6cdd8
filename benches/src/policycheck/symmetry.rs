//! Symmetry reduction over key renamings: two states that differ only in
//! which key is called what behave alike, so the search keeps one of them.
//!
//! A key is only a name when the policy never compares keys: its scores
//! never tie (LRU, MRU, FIFO, S3-FIFO's places, SIEVE's sequence numbers)
//! or its victim is random and every choice is explored (RR). A rule that
//! can tie (LFU's counts, TLRU's clock within one tick, `one`, `increment`)
//! breaks ties by the members' bytes (SPEC §3), so which key is which
//! matters, and the search runs without the reduction
//! ([`PolicyModel::symmetric`]).
//!
//! Renaming a key also renames the value a call of it stores (`f(k)` is
//! `k`); the values bare puts store are not keys' and stay. Each state is
//! replaced by a representative: its keys renamed in the order of what
//! each key is in the state (its place in the pair, its flag, its value,
//! its place in the ghost, the last value put for it, …). Keys that come
//! out equal are alike in every respect, so which of them gets which name
//! does not change the representative.
//!
//! stateright's breadth-first search takes no representative function, so
//! the models return representatives from `next_state`; the shortest paths
//! it finds are then sequences of operations in each state's own names,
//! and [`Renaming`]s carry them back to the names of the first state
//! (`original_*` in [`super::checks`]).

use super::model::{CacheState, Key, MAX_KEYS, PolicyModel, call_value};
use super::ops::{Observed, Op};

/// A renaming of keys: key `k` is called `to[k]` after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renaming {
    to: Vec<Key>,
}

impl Renaming {
    /// Every key keeps its name.
    pub fn identity(keys: u8) -> Renaming {
        Renaming {
            to: (0..keys).collect(),
        }
    }

    /// The renaming that gives key `order[i]` the name `i`.
    ///
    /// # Panics
    ///
    /// When `order` is not a permutation of `0..order.len()`.
    pub fn from_order(order: &[Key]) -> Renaming {
        let mut to = vec![Key::MAX; order.len()];
        for (new, &old) in order.iter().enumerate() {
            to[usize::from(old)] = new as Key;
        }
        assert!(to.iter().all(|&k| k != Key::MAX), "a permutation");
        Renaming { to }
    }

    /// The new name of `key`.
    pub fn key(&self, key: Key) -> Key {
        self.to[usize::from(key)]
    }

    /// A stored value renamed: a call's value is its key's, so it follows
    /// the key; a bare put's value is no key's and stays.
    pub fn value(&self, value: u8) -> u8 {
        if value < MAX_KEYS && usize::from(value) < self.to.len() && call_value(value) == value {
            call_value(self.key(value))
        } else {
            value
        }
    }

    /// The renaming that undoes this one.
    pub fn inverse(&self) -> Renaming {
        let mut to = vec![0; self.to.len()];
        for (old, &new) in self.to.iter().enumerate() {
            to[usize::from(new)] = old as Key;
        }
        Renaming { to }
    }

    /// This renaming, then `next`.
    pub fn then(&self, next: &Renaming) -> Renaming {
        Renaming {
            to: self.to.iter().map(|&k| next.key(k)).collect(),
        }
    }

    /// An operation with its keys (and a call's value) renamed.
    pub fn op(&self, op: Op) -> Op {
        match op {
            Op::Call(k) => Op::Call(self.key(k)),
            Op::Get(k) => Op::Get(self.key(k)),
            Op::Put(k, v) => Op::Put(self.key(k), self.value(v)),
            other => other,
        }
    }

    /// An observation renamed: victims keep their order (for a random
    /// victim, `sorted` puts them in key order, as the model lists them).
    pub fn observed(&self, seen: &Observed, sorted: bool) -> Observed {
        let keys = |e: &[Key]| {
            let mut out: Vec<Key> = e.iter().map(|&k| self.key(k)).collect();
            if sorted {
                out.sort_unstable();
            }
            out
        };
        match seen {
            Observed::Hit(v) => Observed::Hit(self.value(*v)),
            Observed::Miss(e) => Observed::Miss(keys(e)),
            Observed::Stored(e) => Observed::Stored(keys(e)),
            Observed::Nothing => Observed::Nothing,
        }
    }

    /// A pair with its keys and call values renamed.
    pub fn cache(&self, state: &CacheState) -> CacheState {
        let mut entries: Vec<_> = state
            .entries
            .iter()
            .map(|e| {
                let mut e = *e;
                e.key = self.key(e.key);
                e.value = self.value(e.value);
                e
            })
            .collect();
        entries.sort_unstable_by_key(|e| e.key);
        CacheState {
            entries,
            ghost: state.ghost.iter().map(|&k| self.key(k)).collect(),
            hand: state.hand,
            now: state.now,
        }
    }

    /// The last value put for each key, renamed.
    pub fn last_put(&self, last_put: &[Option<u8>]) -> Vec<Option<u8>> {
        let mut out = vec![None; last_put.len()];
        for (k, v) in last_put.iter().enumerate() {
            out[usize::from(self.key(k as Key))] = v.map(|v| self.value(v));
        }
        out
    }
}

/// What a stored value is, whatever the key's name: its own call value, or
/// a bare put's value.
pub(crate) fn value_class(key: Key, value: u8) -> u16 {
    if value == call_value(key) {
        0
    } else {
        1 + u16::from(value)
    }
}

/// What `key` is in a pair, in terms that do not name it: resident (with
/// its score, flag, value and life), in the ghost (with its place) or absent.
pub fn cache_signature(state: &CacheState, key: Key) -> (u8, u64, u8, u16, u64) {
    if let Some(e) = state.entry(key) {
        return (2, e.score, e.flag, value_class(key, e.value), e.life);
    }
    match state.ghost.iter().position(|&g| g == key) {
        Some(at) => (1, at as u64, 0, 0, 0),
        None => (0, 0, 0, 0, 0),
    }
}

/// What `key` is in an observation: whether the operation named it, where
/// it stands among the victims, and the class of a value read or put.
pub fn step_signature(key: Key, op: Op, seen: &Observed) -> (bool, u8, u16) {
    let named = match op {
        Op::Call(k) | Op::Get(k) | Op::Put(k, _) => k == key,
        _ => false,
    };
    let victim = seen
        .evicted()
        .iter()
        .position(|&v| v == key)
        .map_or(u8::MAX, |at| at as u8);
    let value = match (named, op, seen) {
        (true, _, Observed::Hit(v)) => value_class(key, *v),
        (true, Op::Put(_, v), _) => value_class(key, v),
        _ => 0,
    };
    (named, victim, value)
}

/// The renaming to a representative: keys sorted by `signature`, which
/// must describe every way the state mentions a key.
pub fn canonical_renaming<S: Ord>(keys: u8, signature: impl Fn(Key) -> S) -> Renaming {
    let signatures: Vec<S> = (0..keys).map(&signature).collect();
    let mut order: Vec<Key> = (0..keys).collect();
    order.sort_by(|a, b| signatures[usize::from(*a)].cmp(&signatures[usize::from(*b)]));
    Renaming::from_order(&order)
}

impl PolicyModel {
    /// Whether keys are only names to this policy, so that states differing
    /// only in key names behave alike and the search may merge them: no two
    /// scores ever tie (ties are broken by the members' bytes), or the
    /// victim is random and every choice is explored.
    pub fn symmetric(&self) -> bool {
        use super::model::Kind;
        match self.kind() {
            Kind::Set | Kind::S3Fifo | Kind::Sieve => true,
            Kind::SortedSet => self.order_only(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policycheck::model::PUT_VALUES;
    use crate::policycheck::ops::{self, OpSet};
    use redis_func_cache::rules;

    /// States reached by `depth` operations of every kind from an empty
    /// pair at capacity 3 (and maxsize changes within 1-3).
    fn reachable(model: &PolicyModel, depth: usize) -> Vec<(CacheState, u64)> {
        let mut all = vec![(model.empty(), 3)];
        let mut frontier = all.clone();
        for _ in 0..depth {
            let mut next = Vec::new();
            for (state, maxsize) in &frontier {
                let mut acts = Vec::new();
                ops::actions(model, OpSet::All, (1, 3), *maxsize, &mut acts);
                for op in acts {
                    let mut m = *maxsize;
                    for (s, _) in ops::apply(model, state, &mut m, op) {
                        if !all.contains(&(s.clone(), m)) {
                            all.push((s.clone(), m));
                            next.push((s, m));
                        }
                    }
                }
            }
            frontier = next;
        }
        all
    }

    fn sorted_outcomes(mut outcomes: Vec<(CacheState, Observed)>) -> Vec<(CacheState, Observed)> {
        outcomes.sort_by_key(|(s, o)| format!("{s:?}{o:?}"));
        outcomes
    }

    /// Whether every operation from every reachable state commutes with
    /// every renaming: renaming then operating gives what operating then
    /// renaming gives.
    fn commutes(model: &PolicyModel, depth: usize) -> Result<(), String> {
        let keys = model.keys();
        let renamings = [
            Renaming::from_order(&[1, 0, 2]),
            Renaming::from_order(&[2, 0, 1]),
            Renaming::from_order(&[0, 2, 1]),
        ];
        let sorted = model.is_random();
        for (state, maxsize) in reachable(model, depth) {
            let mut acts = Vec::new();
            ops::actions(model, OpSet::All, (1, 3), maxsize, &mut acts);
            for op in acts {
                for r in &renamings {
                    let (mut m1, mut m2) = (maxsize, maxsize);
                    let renamed_after: Vec<_> = ops::apply(model, &state, &mut m1, op)
                        .into_iter()
                        .map(|(s, o)| (r.cache(&s), r.observed(&o, sorted)))
                        .collect();
                    let renamed_first: Vec<_> =
                        ops::apply(model, &r.cache(&state), &mut m2, r.op(op))
                            .into_iter()
                            .map(|(s, o)| (s, Renaming::identity(keys).observed(&o, sorted)))
                            .collect();
                    if sorted_outcomes(renamed_after) != sorted_outcomes(renamed_first) {
                        return Err(format!("{op} from {state:?} under {r:?}"));
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn the_policies_called_symmetric_commute_with_renamings() {
        for rules in [
            rules::LRU,
            rules::MRU,
            rules::FIFO,
            rules::RR,
            rules::S3FIFO,
            rules::SIEVE,
        ] {
            let model = PolicyModel::new(rules, 3).unwrap();
            assert!(model.symmetric(), "{}", rules.word);
            commutes(&model, 4).unwrap_or_else(|e| panic!("{}: {e}", rules.word));
            // Per-entry TTLs count down whatever the keys are called.
            let model = model.with_entry_ttl(Some(2)).unwrap();
            commutes(&model, 4).unwrap_or_else(|e| panic!("{} with TTLs: {e}", rules.word));
        }
    }

    /// LFU's ties go by the members' bytes, so renaming keys changes its
    /// victims: the reduction would be wrong, and it is off.
    #[test]
    fn policies_whose_ties_name_keys_are_not_symmetric() {
        for rules in [rules::LFU, rules::TLRU] {
            let model = PolicyModel::new(rules, 3).unwrap();
            assert!(!model.symmetric(), "{}", rules.word);
        }
        let lfu = PolicyModel::new(rules::LFU, 3).unwrap();
        assert!(commutes(&lfu, 3).is_err(), "LFU's tie-break names keys");
    }

    #[test]
    fn renamings_compose_and_undo() {
        let r = Renaming::from_order(&[2, 0, 1]);
        assert_eq!((r.key(2), r.key(0), r.key(1)), (0, 1, 2));
        assert_eq!(r.then(&r.inverse()), Renaming::identity(3));
        assert_eq!(r.value(call_value(2)), call_value(0));
        assert_eq!(r.value(PUT_VALUES[0]), PUT_VALUES[0]);
        assert_eq!(r.op(Op::Put(1, PUT_VALUES[1])), Op::Put(2, PUT_VALUES[1]));
    }
}
