//! What the checker does to a cache, and what it sees.

use std::fmt;

use super::model::{CacheState, Key, PUT_VALUES, PolicyModel, call_value};

/// One operation on a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// What a cached call does: a get, and on a miss a put of `f(key)`.
    Call(Key),
    /// A bare get.
    Get(Key),
    /// A bare put of a value.
    Put(Key, u8),
    /// The cache's maxsize becomes this.
    Resize(u64),
    /// The pair is deleted.
    Purge,
    /// The clock moves one microsecond.
    Tick,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Call(k) => write!(f, "call {k}"),
            Op::Get(k) => write!(f, "get {k}"),
            Op::Put(k, v) => write!(f, "put {k}={v:#x}"),
            Op::Resize(n) => write!(f, "maxsize {n}"),
            Op::Purge => write!(f, "purge"),
            Op::Tick => write!(f, "tick"),
        }
    }
}

/// Which operations a scope explores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpSet {
    /// Cached calls only (a get, and a put on a miss).
    Calls,
    /// Calls, bare gets and puts, maxsize changes within the capacities,
    /// purges, and clock ticks when the policy reads the clock.
    All,
}

impl OpSet {
    /// Parses `calls` or `all`.
    pub fn parse(text: &str) -> Option<OpSet> {
        match text {
            "calls" => Some(OpSet::Calls),
            "all" => Some(OpSet::All),
            _ => None,
        }
    }
}

/// What one operation observed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Observed {
    /// A read that hit, with the value read.
    Hit(u8),
    /// A read that missed (for a call: followed by a put, whose victims are
    /// listed).
    Miss(Vec<Key>),
    /// A bare put, with its victims in order.
    Stored(Vec<Key>),
    /// Nothing to observe (maxsize changes, purges, ticks).
    Nothing,
}

impl Observed {
    /// The keys this operation evicted.
    pub fn evicted(&self) -> &[Key] {
        match self {
            Observed::Miss(e) | Observed::Stored(e) => e,
            _ => &[],
        }
    }

    /// Whether a read hit.
    pub fn is_hit(&self) -> bool {
        matches!(self, Observed::Hit(_))
    }
}

/// The operations possible from a state with maxsize `maxsize`.
pub fn actions(
    model: &PolicyModel,
    set: OpSet,
    capacities: (u64, u64),
    maxsize: u64,
    out: &mut Vec<Op>,
) {
    let keys = model.keys();
    out.extend((0..keys).map(Op::Call));
    if set == OpSet::Calls {
        return;
    }
    out.extend((0..keys).map(Op::Get));
    for k in 0..keys {
        out.extend(PUT_VALUES.iter().map(|v| Op::Put(k, *v)));
    }
    out.extend(
        (capacities.0..=capacities.1)
            .filter(|c| *c != maxsize)
            .map(Op::Resize),
    );
    out.push(Op::Purge);
    if model.uses_clock() {
        out.push(Op::Tick);
    }
}

/// Applies `op` to a model state, in every way it can go (more than one
/// only for a put with a random victim).
pub fn apply(
    model: &PolicyModel,
    state: &CacheState,
    maxsize: &mut u64,
    op: Op,
) -> Vec<(CacheState, Observed)> {
    let mut state = state.clone();
    match op {
        Op::Call(k) => match model.get(&mut state, k) {
            Some(v) => vec![(state, Observed::Hit(v))],
            None => model
                .put_choices(&state, k, call_value(k), *maxsize)
                .into_iter()
                .map(|(s, evicted)| (s, Observed::Miss(evicted)))
                .collect(),
        },
        Op::Get(k) => {
            let seen = match model.get(&mut state, k) {
                Some(v) => Observed::Hit(v),
                None => Observed::Miss(Vec::new()),
            };
            vec![(state, seen)]
        }
        Op::Put(k, v) => model
            .put_choices(&state, k, v, *maxsize)
            .into_iter()
            .map(|(s, evicted)| (s, Observed::Stored(evicted)))
            .collect(),
        Op::Resize(n) => {
            *maxsize = n;
            vec![(state, Observed::Nothing)]
        }
        Op::Purge => {
            model.purge(&mut state);
            vec![(state, Observed::Nothing)]
        }
        Op::Tick => {
            model.tick(&mut state);
            vec![(state, Observed::Nothing)]
        }
    }
}

/// The value a put by `op` stores, if it puts.
pub fn value_put(op: Op, seen: &Observed) -> Option<(Key, u8)> {
    match (op, seen) {
        (Op::Call(k), Observed::Miss(_)) => Some((k, call_value(k))),
        (Op::Put(k, v), _) => Some((k, v)),
        _ => None,
    }
}

/// The keys resident in `before` as `op` sees them: a read of an expired
/// entry (per-entry TTL) finds it gone (SPEC §6), so a hit on it breaks
/// [`check_bounded`] and a call that puts it again puts a new member.
pub fn live_keys(before: &CacheState, op: Op) -> Vec<Key> {
    let read = match op {
        Op::Call(k) | Op::Get(k) => Some(k),
        _ => None,
    };
    before
        .entries
        .iter()
        .filter(|e| !(Some(e.key) == read && e.life == 0))
        .map(|e| e.key)
        .collect()
}

/// Checks one step against SPEC §3's invariants, whatever the policy: a
/// put of a new member evicts exactly `size - maxsize + 1` resident
/// entries (never the one put) and leaves at most `maxsize`; other
/// operations evict nothing; a hit is a resident entry and returns the
/// last value put for it.
pub fn check_bounded(
    before: &[Key],
    last_put: &[Option<u8>],
    maxsize: u64,
    op: Op,
    seen: &Observed,
    after: &[Key],
) -> Result<(), String> {
    let key = match op {
        Op::Call(k) | Op::Get(k) | Op::Put(k, _) => Some(k),
        _ => None,
    };
    if let (Some(k), Observed::Hit(v)) = (key, seen) {
        if !before.contains(&k) {
            return Err(format!("{op}: a hit on {k}, which was not resident"));
        }
        if last_put[k as usize] != Some(*v) {
            return Err(format!(
                "{op}: the hit returned {v:#x}, the last value put was {:?}",
                last_put[k as usize]
            ));
        }
    }
    let puts = value_put(op, seen).is_some();
    let evicted = seen.evicted();
    if !puts {
        if !evicted.is_empty() {
            return Err(format!("{op}: evicted {evicted:?} without a put"));
        }
        return Ok(());
    }
    let k = key.expect("a put names its key");
    if before.contains(&k) {
        if !evicted.is_empty() {
            return Err(format!("{op}: overwriting {k} evicted {evicted:?}"));
        }
        if after.len() != before.len() {
            return Err(format!("{op}: overwriting changed the size"));
        }
        return Ok(());
    }
    let want = (before.len() + 1).saturating_sub(maxsize.max(1) as usize);
    if evicted.len() != want {
        return Err(format!(
            "{op}: evicted {} entries ({evicted:?}) at size {} and maxsize {maxsize}; the SPEC says {want}",
            evicted.len(),
            before.len()
        ));
    }
    for (i, v) in evicted.iter().enumerate() {
        if !before.contains(v) || *v == k || evicted[..i].contains(v) {
            return Err(format!("{op}: victim {v} was not a resident entry"));
        }
    }
    if after.len() as u64 > maxsize.max(1) {
        return Err(format!(
            "{op}: {} entries after a put at maxsize {maxsize}",
            after.len()
        ));
    }
    if !after.contains(&k) {
        return Err(format!("{op}: {k} is not resident after its put"));
    }
    Ok(())
}
