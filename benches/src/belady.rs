//! Bélády's optimum: the most hits any cache of a given capacity can get on
//! a trace, by evicting the entry whose next use is farthest away (or that
//! is never used again). It needs the future, so no real cache can reach it;
//! it is the upper bound a policy's hit ratio is read against.

use std::collections::{BTreeSet, HashMap};

/// Hits of the optimal offline cache of `capacity` entries on `keys`.
pub fn optimal_hits(keys: &[i64], capacity: u64) -> u64 {
    if capacity == 0 {
        return 0;
    }
    // next[i]: where keys[i] is asked for again (usize::MAX: never).
    let mut next = vec![usize::MAX; keys.len()];
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for (i, &k) in keys.iter().enumerate().rev() {
        if let Some(&j) = seen.get(&k) {
            next[i] = j;
        }
        seen.insert(k, i);
    }
    // The cache, ordered by next use; ties cannot happen (one position, one key).
    let mut by_next: BTreeSet<(usize, i64)> = BTreeSet::new();
    let mut next_of: HashMap<i64, usize> = HashMap::new();
    let mut hits = 0;
    for (i, &k) in keys.iter().enumerate() {
        if let Some(old) = next_of.get(&k).copied() {
            hits += 1;
            by_next.remove(&(old, k));
        } else if next_of.len() as u64 >= capacity {
            let farthest = *by_next
                .iter()
                .next_back()
                .expect("a full cache has entries");
            by_next.remove(&farthest);
            next_of.remove(&farthest.1);
        }
        // Never used again: keep it only while there is room, which is
        // what evicting it first (it has the largest next use) amounts to.
        // `usize::MAX` would collide between keys, so use MAX - i.
        let at = if next[i] == usize::MAX {
            usize::MAX - i
        } else {
            next[i]
        };
        by_next.insert((at, k));
        next_of.insert(k, at);
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every eviction choice, tried: the most hits any policy can get.
    fn brute_force(keys: &[i64], capacity: usize) -> u64 {
        fn go(keys: &[i64], capacity: usize, cache: &mut Vec<i64>) -> u64 {
            let Some((&k, rest)) = keys.split_first() else {
                return 0;
            };
            if cache.contains(&k) {
                return 1 + go(rest, capacity, cache);
            }
            if cache.len() < capacity {
                cache.push(k);
                let h = go(rest, capacity, cache);
                cache.pop();
                return h;
            }
            let mut best = 0;
            for i in 0..cache.len() {
                let old = std::mem::replace(&mut cache[i], k);
                best = best.max(go(rest, capacity, cache));
                cache[i] = old;
            }
            best
        }
        go(keys, capacity, &mut Vec::new())
    }

    #[test]
    fn the_optimum_matches_every_choice_tried_on_small_traces() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..300 {
            let len = rng.usize(0..12);
            let keys: Vec<i64> = (0..len).map(|_| rng.i64(0..5)).collect();
            for capacity in 1..4 {
                assert_eq!(
                    optimal_hits(&keys, capacity as u64),
                    brute_force(&keys, capacity),
                    "{keys:?} at {capacity}"
                );
            }
        }
    }

    #[test]
    fn a_loop_one_longer_than_the_cache() {
        // 0 1 2 0 1 2 … at capacity 2: LRU never hits; the optimum misses
        // once every other request after the first three.
        let keys: Vec<i64> = (0..15).map(|i| i % 3).collect();
        assert_eq!(optimal_hits(&keys, 2), brute_force(&keys, 2));
        assert_eq!(optimal_hits(&keys, 2), 6);
        assert_eq!(optimal_hits(&keys, 3), 12);
        assert_eq!(optimal_hits(&keys, 0), 0);
    }
}
