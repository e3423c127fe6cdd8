//! The properties checked on the model, as `stateright` models: the
//! checker's breadth-first search explores every sequence to the depth and
//! reports the shortest one that breaks a property.

use std::collections::VecDeque;
use std::fmt;

use stateright::{Model, Property};

use super::model::{CacheState, Key, PolicyModel};
use super::ops::{self, Observed, Op, OpSet};
use super::symmetry::{Renaming, cache_signature, canonical_renaming, step_signature, value_class};

/// One step of a sequence, as a property sees it.
#[derive(Debug)]
pub struct Step<'a> {
    /// The operation.
    pub op: Op,
    /// What it observed.
    pub observed: &'a Observed,
    /// The pair before it.
    pub before: &'a CacheState,
    /// The pair after it.
    pub after: &'a CacheState,
    /// The maxsize it ran at.
    pub maxsize: u64,
    /// The last value put for each key before this step.
    pub last_put: &'a [Option<u8>],
    /// The operations just before this one, oldest first, with what they
    /// observed: as many as the longest [`StepProperty::history`] asks for
    /// (fewer at the start of a sequence).
    pub recent: &'a [(Op, Observed)],
}

/// A property of every step of every sequence, written in Rust by a user
/// of the library, checked with the built-in ones.
///
/// "An entry hit within the last call is not evicted" holds for LRU at
/// capacity 2 or more and breaks for FIFO (the README's example):
///
/// ```
/// use redis_func_cache::rules;
/// use redis_func_cache_benches::policycheck::ops::{Op, OpSet};
/// use redis_func_cache_benches::policycheck::{Check, Scope, Step, StepProperty, check};
///
/// struct RecentHitsStay;
///
/// impl StepProperty for RecentHitsStay {
///     fn name(&self) -> &'static str { "recent-hits-stay" }
///     fn history(&self) -> usize { 1 }
///     fn symmetric(&self) -> bool { true }
///     fn check(&self, step: &Step<'_>) -> Result<(), String> {
///         for (op, seen) in step.recent {
///             if let (Op::Call(k), true) = (op, seen.is_hit()) {
///                 if step.observed.evicted().contains(k) {
///                     return Err(format!("{k} was hit last call and is evicted"));
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
///
/// let scope = Scope { keys: 4, depth: 7, capacities: (2, 3), ops: OpSet::Calls, entry_ttl: None };
/// let lru = check(&Check::property(RecentHitsStay), rules::LRU, &scope).unwrap();
/// assert!(lru.holds, "{lru}");
/// let fifo = check(&Check::property(RecentHitsStay), rules::FIFO, &scope).unwrap();
/// assert!(!fifo.holds);
/// println!("{fifo}"); // the shortest sequence where FIFO evicts a just-hit entry
/// ```
pub trait StepProperty: Send + Sync + 'static {
    /// The property's name, as reports print it.
    fn name(&self) -> &'static str;
    /// How many earlier steps [`Step::recent`] must hold.
    fn history(&self) -> usize;
    /// Whether the property treats keys only as names, so renaming the
    /// keys (a call's value with its key) never changes its verdict. Then,
    /// for a policy to which keys are only names too, the search keeps one
    /// state of each set that differs only in key names
    /// ([symmetry reduction](super::symmetry)). A property about a
    /// particular key ("key 0 is never evicted") must say `false`.
    fn symmetric(&self) -> bool;
    /// Whether the step keeps the property; the error says how it breaks it.
    fn check(&self, step: &Step<'_>) -> Result<(), String>;
}

/// An operation and which of its outcomes (for a random victim) was taken.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Choice {
    /// The operation.
    pub op: Op,
    /// Which outcome, in [`ops::apply`]'s order.
    pub branch: u8,
}

impl fmt::Debug for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.branch == 0 {
            write!(f, "{}", self.op)
        } else {
            write!(f, "{} (outcome {})", self.op, self.branch)
        }
    }
}

/// A model whose states may stand for every renaming of their keys.
trait Reduced {
    type State;
    /// Whether states are replaced by representatives.
    fn symmetry(&self) -> bool;
    fn keys(&self) -> u8;
    /// The representative of `state`, and the renaming that gives it.
    fn representative(&self, state: &Self::State) -> (Self::State, Renaming);

    /// `state`'s representative when the search uses symmetry, else
    /// `state` itself; with the renaming applied.
    fn reduced(&self, state: Self::State) -> (Self::State, Renaming) {
        if self.symmetry() {
            self.representative(&state)
        } else {
            (state, Renaming::identity(self.keys()))
        }
    }
}

/// One step of a path replayed in the names of its first state.
pub(crate) struct Replayed {
    pub(crate) op: Op,
    pub(crate) observed: Observed,
    /// The property this step broke and how, if it broke one.
    pub(crate) broken: Option<(usize, String)>,
}

/// A state of [`StepModel`]: the pair and what the properties need.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StepState {
    /// The pair.
    pub cache: CacheState,
    /// The maxsize now.
    pub maxsize: u64,
    /// The last value put for each key.
    pub last_put: Vec<Option<u8>>,
    /// The last operations with what they observed.
    pub recent: VecDeque<(Op, Observed)>,
    /// The property the step into this state broke (index into the
    /// model's properties) and how.
    pub broken: Option<(usize, String)>,
}

/// The `bounded` property and users' step properties, over every sequence
/// of a scope.
pub struct StepModel {
    pub(crate) policy: PolicyModel,
    pub(crate) ops: OpSet,
    pub(crate) capacities: (u64, u64),
    pub(crate) properties: Vec<std::sync::Arc<dyn StepProperty>>,
    pub(crate) history: usize,
    /// States are replaced by their representatives under key renamings.
    pub(crate) symmetry: bool,
}

/// The largest number of properties one run checks (bounded included).
pub const MAX_PROPERTIES: usize = 8;

fn keeps<const I: usize>(_: &StepModel, state: &StepState) -> bool {
    state.broken.as_ref().is_none_or(|(i, _)| *i != I)
}

const KEEPS: [fn(&StepModel, &StepState) -> bool; MAX_PROPERTIES] = [
    keeps::<0>, keeps::<1>, keeps::<2>, keeps::<3>, keeps::<4>, keeps::<5>, keeps::<6>, keeps::<7>,
];

/// SPEC §3's invariants as a step property.
pub struct Bounded;

impl StepProperty for Bounded {
    fn name(&self) -> &'static str {
        "bounded"
    }
    fn history(&self) -> usize {
        0
    }
    fn symmetric(&self) -> bool {
        true
    }
    fn check(&self, step: &Step<'_>) -> Result<(), String> {
        let keys = |s: &CacheState| s.entries.iter().map(|e| e.key).collect::<Vec<Key>>();
        ops::check_bounded(
            &ops::live_keys(step.before, step.op),
            step.last_put,
            step.maxsize,
            step.op,
            step.observed,
            &keys(step.after),
        )
    }
}

impl StepModel {
    fn outcomes(&self, state: &StepState, op: Op) -> Vec<(CacheState, Observed, u64)> {
        let mut maxsize = state.maxsize;
        ops::apply(&self.policy, &state.cache, &mut maxsize, op)
            .into_iter()
            .map(|(c, o)| (c, o, maxsize))
            .collect()
    }

    fn init(&self) -> Vec<StepState> {
        (self.capacities.0..=self.capacities.1)
            .map(|maxsize| StepState {
                cache: self.policy.empty(),
                maxsize,
                last_put: vec![None; usize::from(self.policy.keys())],
                recent: VecDeque::new(),
                broken: None,
            })
            .collect()
    }

    fn choices(&self, state: &StepState, actions: &mut Vec<Choice>) {
        if state.broken.is_some() {
            return;
        }
        let mut ops = Vec::new();
        ops::actions(
            &self.policy,
            self.ops,
            self.capacities,
            state.maxsize,
            &mut ops,
        );
        for op in ops {
            let branches = if self.policy.is_random() {
                self.outcomes(state, op).len()
            } else {
                1
            };
            actions.extend((0..branches).map(|b| Choice {
                op,
                branch: b as u8,
            }));
        }
    }

    /// One step from `state`, in its names: the next state (not a
    /// representative) and what the step observed.
    fn step(&self, state: &StepState, choice: Choice) -> Option<(StepState, Observed)> {
        let (cache, observed, maxsize) = self
            .outcomes(state, choice.op)
            .into_iter()
            .nth(usize::from(choice.branch))?;
        let recent: Vec<(Op, Observed)> = state.recent.iter().cloned().collect();
        let step = Step {
            op: choice.op,
            observed: &observed,
            before: &state.cache,
            after: &cache,
            maxsize,
            last_put: &state.last_put,
            recent: &recent,
        };
        let broken = self
            .properties
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.check(&step).err().map(|e| (i, e)));
        let mut last_put = state.last_put.clone();
        if let Some((k, v)) = ops::value_put(choice.op, &observed) {
            last_put[usize::from(k)] = Some(v);
        }
        let mut recent = state.recent.clone();
        if self.history > 0 {
            if recent.len() == self.history {
                recent.pop_front();
            }
            recent.push_back((choice.op, observed.clone()));
        }
        let next = StepState {
            cache,
            maxsize,
            last_put,
            recent,
            broken,
        };
        Some((next, observed))
    }
}

impl Reduced for StepModel {
    type State = StepState;
    fn symmetry(&self) -> bool {
        self.symmetry
    }
    fn keys(&self) -> u8 {
        self.policy.keys()
    }
    fn representative(&self, state: &StepState) -> (StepState, Renaming) {
        let renaming = canonical_renaming(self.policy.keys(), |k| {
            (
                cache_signature(&state.cache, k),
                state.last_put[usize::from(k)].map(|v| value_class(k, v)),
                state
                    .recent
                    .iter()
                    .map(|(op, seen)| step_signature(k, *op, seen))
                    .collect::<Vec<_>>(),
            )
        });
        let sorted = self.policy.is_random();
        let renamed = StepState {
            cache: renaming.cache(&state.cache),
            maxsize: state.maxsize,
            last_put: renaming.last_put(&state.last_put),
            recent: state
                .recent
                .iter()
                .map(|(op, seen)| (renaming.op(*op), renaming.observed(seen, sorted)))
                .collect(),
            broken: state.broken.clone(),
        };
        (renamed, renaming)
    }
}

impl StepModel {
    /// A path the search found (each choice in the names of the state it
    /// was taken from), replayed in the names of its first state: each
    /// operation, what it observed, and the property it broke and how.
    pub(crate) fn original_steps(&self, first: &StepState, choices: &[Choice]) -> Vec<Replayed> {
        let sorted = self.policy.is_random();
        let mut on_path = first.clone();
        let mut original = first.clone();
        let mut back = Renaming::identity(self.policy.keys());
        let mut steps = Vec::new();
        for &choice in choices {
            let Some((next, seen)) = self.step(&on_path, choice) else {
                break;
            };
            let op = back.op(choice.op);
            let want = back.observed(&seen, sorted);
            let outcomes = self.outcomes(&original, op).len();
            let Some((next_original, seen_original)) = (0..outcomes)
                .filter_map(|branch| {
                    self.step(
                        &original,
                        Choice {
                            op,
                            branch: branch as u8,
                        },
                    )
                })
                .find(|(_, o)| Renaming::identity(self.policy.keys()).observed(o, sorted) == want)
            else {
                break;
            };
            steps.push(Replayed {
                op,
                observed: seen_original,
                broken: next_original.broken.clone(),
            });
            original = next_original;
            let (next, renaming) = self.reduced(next);
            back = renaming.inverse().then(&back);
            on_path = next;
        }
        steps
    }
}

impl Model for StepModel {
    type State = StepState;
    type Action = Choice;

    fn init_states(&self) -> Vec<StepState> {
        self.init()
    }

    fn actions(&self, state: &StepState, actions: &mut Vec<Choice>) {
        self.choices(state, actions);
    }

    fn next_state(&self, state: &StepState, choice: Choice) -> Option<StepState> {
        let (next, _) = self.step(state, choice)?;
        Some(self.reduced(next).0)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        self.properties
            .iter()
            .enumerate()
            .map(|(i, p)| Property::always(p.name(), KEEPS[i]))
            .collect()
    }
}

/// A state of [`AnomalyModel`]: one pair at capacity `c` and one at `c+1`,
/// fed the same calls.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AnomalyState {
    /// The smaller capacity.
    pub capacity: u64,
    /// The pair at `capacity`.
    pub small: CacheState,
    /// The pair at `capacity + 1`.
    pub large: CacheState,
    /// Hits of the larger pair minus hits of the smaller, so far.
    pub lead: i32,
}

/// `no-anomaly`: on every sequence of calls, a larger cache hits at least
/// as often (Bélády's anomaly is the opposite).
pub struct AnomalyModel {
    pub(crate) policy: PolicyModel,
    pub(crate) capacities: Vec<u64>,
    /// States are replaced by their representatives under key renamings.
    pub(crate) symmetry: bool,
}

fn no_anomaly(_: &AnomalyModel, state: &AnomalyState) -> bool {
    state.lead >= 0
}

/// One call on a pair at `maxsize`: whether it hit.
pub(crate) fn call(policy: &PolicyModel, state: &mut CacheState, key: Key, maxsize: u64) -> bool {
    if policy.get(state, key).is_some() {
        return true;
    }
    policy.put(state, key, super::model::call_value(key), maxsize);
    false
}

impl AnomalyModel {
    /// One call on both pairs, in the state's names.
    fn step(&self, state: &AnomalyState, op: Op) -> Option<AnomalyState> {
        let Op::Call(key) = op else { return None };
        let mut next = state.clone();
        let small = call(&self.policy, &mut next.small, key, state.capacity);
        let large = call(&self.policy, &mut next.large, key, state.capacity + 1);
        next.lead += i32::from(large) - i32::from(small);
        Some(next)
    }
}

/// Both pairs are renamed alike.
impl Reduced for AnomalyModel {
    type State = AnomalyState;
    fn symmetry(&self) -> bool {
        self.symmetry
    }
    fn keys(&self) -> u8 {
        self.policy.keys()
    }
    fn representative(&self, state: &AnomalyState) -> (AnomalyState, Renaming) {
        let renaming = canonical_renaming(self.policy.keys(), |k| {
            (
                cache_signature(&state.small, k),
                cache_signature(&state.large, k),
            )
        });
        let renamed = AnomalyState {
            capacity: state.capacity,
            small: renaming.cache(&state.small),
            large: renaming.cache(&state.large),
            lead: state.lead,
        };
        (renamed, renaming)
    }
}

impl AnomalyModel {
    /// A path the search found (each call in the names of the state it was
    /// made from), as calls in the names of its first state.
    pub(crate) fn original_calls(&self, first: &AnomalyState, ops: &[Op]) -> Vec<Op> {
        let mut on_path = first.clone();
        let mut back = Renaming::identity(self.policy.keys());
        let mut calls = Vec::new();
        for &op in ops {
            let Some(next) = self.step(&on_path, op) else {
                break;
            };
            calls.push(back.op(op));
            let (next, renaming) = self.reduced(next);
            back = renaming.inverse().then(&back);
            on_path = next;
        }
        calls
    }
}

impl Model for AnomalyModel {
    type State = AnomalyState;
    type Action = Op;

    fn init_states(&self) -> Vec<AnomalyState> {
        self.capacities
            .iter()
            .map(|&capacity| AnomalyState {
                capacity,
                small: self.policy.empty(),
                large: self.policy.empty(),
                lead: 0,
            })
            .collect()
    }

    fn actions(&self, state: &AnomalyState, actions: &mut Vec<Op>) {
        if state.lead >= 0 {
            actions.extend((0..self.policy.keys()).map(Op::Call));
        }
    }

    fn next_state(&self, state: &AnomalyState, op: Op) -> Option<AnomalyState> {
        let next = self.step(state, op)?;
        Some(self.reduced(next).0)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always("no-anomaly", no_anomaly)]
    }
}
