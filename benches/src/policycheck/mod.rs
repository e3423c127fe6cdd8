//! Model-checking eviction policies: every sequence of operations over a
//! few keys, to a depth, at a range of capacities, checked against
//! properties; a broken property comes with the shortest sequence that
//! breaks it.
//!
//! The search runs on [`model::PolicyModel`], SPEC §3 written as a small
//! hashable state, with the [`stateright`] model checker (breadth-first, so
//! the first counterexample found is a shortest one). Properties:
//!
//! - [`Check::Bounded`]: SPEC §3's invariants on every step (size, eviction
//!   counts, resident victims, a hit returns the last value put);
//! - [`Check::NoAnomaly`]: a cache one entry larger never hits less on the
//!   same calls (FIFO breaks it: Bélády's anomaly; LRU, a stack algorithm,
//!   keeps it);
//! - [`Check::Property`]: a [`StepProperty`] of your own;
//! - [`Check::Equivalent`]: a real store (the memory store, or a Redis
//!   server) gives the same observations and pair contents as the model on
//!   every path ([`equivalence`]).
//!
//! ```
//! use redis_func_cache_benches::policycheck::{Check, Scope, check};
//! use redis_func_cache_benches::policycheck::ops::OpSet;
//! use redis_func_cache::rules;
//!
//! let scope = Scope { keys: 4, depth: 6, capacities: (1, 3), ops: OpSet::All, entry_ttl: None };
//! let report = check(&Check::Bounded, rules::LFU, &scope).unwrap();
//! assert!(report.holds, "{report}");
//! ```
#![allow(clippy::module_name_repetitions)]

pub mod checks;
pub mod equivalence;
pub mod model;
pub mod ops;
pub mod symmetry;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use redis_func_cache::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use serde_json::{Value, json};
use stateright::{Checker, Model};

use checks::{AnomalyModel, Bounded, MAX_PROPERTIES, StepModel};
pub use checks::{Step, StepProperty};
use model::PolicyModel;
use ops::{Observed, Op, OpSet};

/// A rule set of your own from text, for the `policycheck` tool:
/// comma-separated `index=sorted|set`, `insert=`, `hit=`, `overwrite=`
/// (each `keep`, `max+1`, `one`, `increment` or `clock`) and
/// `victim=lowest|highest|random`; what is left out is LRU's. Its key word
/// is `custom`.
///
/// ```
/// use redis_func_cache_benches::policycheck::parse_rules;
/// use redis_func_cache::rules;
/// // FIFO, spelled out.
/// let fifo = parse_rules("insert=max+1,hit=keep,overwrite=keep,victim=lowest").unwrap();
/// assert_eq!((fifo.on_hit, fifo.victim), (rules::FIFO.on_hit, rules::FIFO.victim));
/// assert!(parse_rules("hit=sometimes").is_err());
/// ```
///
/// # Errors
///
/// For an unknown part or value, or rules that do not fit together
/// ([`PolicyRules::validate`]).
pub fn parse_rules(spec: &str) -> Result<PolicyRules, String> {
    let mut rules = PolicyRules {
        word: "custom",
        ..redis_func_cache::rules::LRU
    };
    let score = |v: &str| match v {
        "keep" => Ok(ScoreRule::Keep),
        "max+1" => Ok(ScoreRule::MaxPlusOne),
        "one" => Ok(ScoreRule::One),
        "increment" => Ok(ScoreRule::Increment),
        "clock" => Ok(ScoreRule::ClockMicros),
        other => Err(format!(
            "score rule `{other}`: want keep, max+1, one, increment or clock"
        )),
    };
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: want name=value"))?;
        match name {
            "index" => {
                rules.index = match value {
                    "sorted" => IndexKind::SortedSet,
                    "set" => IndexKind::Set,
                    other => return Err(format!("index `{other}`: want sorted or set")),
                }
            }
            "insert" => rules.on_insert = score(value)?,
            "hit" => rules.on_hit = score(value)?,
            "overwrite" => rules.on_overwrite = score(value)?,
            "victim" => {
                rules.victim = match value {
                    "lowest" => Victim::Lowest,
                    "highest" => Victim::Highest,
                    "random" => Victim::Random,
                    other => {
                        return Err(format!("victim `{other}`: want lowest, highest or random"));
                    }
                }
            }
            other => {
                return Err(format!(
                    "`{other}`: want index, insert, hit, overwrite or victim"
                ));
            }
        }
    }
    rules.validate().map_err(|e| e.to_string())?;
    Ok(rules)
}

/// How much to explore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// How many distinct keys the operations use.
    pub keys: u8,
    /// The longest sequence explored, in operations.
    pub depth: usize,
    /// The capacities (maxsizes) checked, both ends included. For
    /// `no-anomaly`, each `c` from the first to the last but one is
    /// compared with `c + 1` (with one capacity `c`, `c` with `c + 1`).
    pub capacities: (u64, u64),
    /// Which operations.
    pub ops: OpSet,
    /// A per-entry TTL of this many clock ticks (SPEC §6), explored with
    /// ticks among the operations; `None`: entries live as long as the
    /// pair.
    pub entry_ttl: Option<u64>,
}

impl Scope {
    /// A scope without per-entry TTLs.
    ///
    /// ```
    /// use redis_func_cache_benches::policycheck::{Scope, ops::OpSet};
    /// let scope = Scope::new(4, 8, (2, 3), OpSet::All);
    /// assert_eq!(scope.entry_ttl, None);
    /// ```
    pub fn new(keys: u8, depth: usize, capacities: (u64, u64), ops: OpSet) -> Scope {
        Scope {
            keys,
            depth,
            capacities,
            ops,
            entry_ttl: None,
        }
    }
}

/// What to check.
pub enum Check {
    /// SPEC §3's invariants on every step.
    Bounded,
    /// Hits at capacity `c + 1` ≥ hits at `c`, on every sequence of calls.
    NoAnomaly,
    /// The store gives what the model gives, on every path.
    Equivalent(equivalence::StoreUnderTest),
    /// A property of your own, with `bounded`.
    Property(Arc<dyn StepProperty>),
}

impl Check {
    /// [`Check::Property`] of `property`.
    pub fn property(property: impl StepProperty) -> Check {
        Check::Property(Arc::new(property))
    }

    /// The name reports give the check.
    pub fn name(&self) -> &'static str {
        match self {
            Check::Bounded => "bounded",
            Check::NoAnomaly => "no-anomaly",
            Check::Equivalent(_) => "equivalent",
            Check::Property(p) => p.name(),
        }
    }
}

/// A shortest sequence that breaks a property.
#[derive(Debug, Clone, PartialEq)]
pub struct Counterexample {
    /// The capacities it runs at (two for `no-anomaly`: `c` and `c + 1`).
    pub capacities: Vec<u64>,
    /// The operations, each with what it observed at each capacity.
    pub steps: Vec<(Op, Vec<Observed>)>,
    /// For `no-anomaly`: hits at `c` and at `c + 1`.
    pub hits: Option<[u64; 2]>,
    /// How the last step breaks the property.
    pub message: String,
}

/// The verdict of one check, with what was explored.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The property's name.
    pub property: String,
    /// Whether every sequence in scope keeps it.
    pub holds: bool,
    /// The policy's key word.
    pub policy: String,
    /// What was explored.
    pub scope: Scope,
    /// Distinct states reached.
    pub unique_states: usize,
    /// States generated, merged ones included: the checker's work.
    pub states: usize,
    /// How long the search took.
    pub seconds: f64,
    /// The search reached every state there is before the depth bound, so
    /// a property that holds holds for sequences of any length.
    pub exhaustive: bool,
    /// States that differ only in key names were merged ([`symmetry`]):
    /// the search asked for it, and the policy and the property treat keys
    /// only as names.
    pub symmetry: bool,
    /// The shortest sequence that breaks the property, when one does.
    pub counterexample: Option<Counterexample>,
}

impl Report {
    /// States generated per second.
    pub fn states_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.states as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The report as one JSON object: for a broken `no-anomaly`,
    /// `{"property","holds":false,"policy","capacities":[c,c+1],"sequence":[keys…],"hits":[h_c,h_c1]}`
    /// (each key a call: a get, and a put on a miss); for other broken
    /// properties `sequence` lists the operations as text; when the
    /// property holds, the scope explored. Both carry the search's figures.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "property": self.property,
            "holds": self.holds,
            "policy": self.policy,
            "keys": self.scope.keys,
            "depth": self.scope.depth,
            "ops": match self.scope.ops { OpSet::Calls => "calls", OpSet::All => "all" },
            "unique_states": self.unique_states,
            "states": self.states,
            "seconds": self.seconds,
            "states_per_second": self.states_per_second().round(),
            "exhaustive": self.exhaustive,
            "symmetry": self.symmetry,
            "entry_ttl": self.scope.entry_ttl,
        });
        match &self.counterexample {
            None => {
                out["capacities"] = json!([self.scope.capacities.0, self.scope.capacities.1]);
            }
            Some(cx) => {
                out["capacities"] = json!(cx.capacities);
                let calls_only = cx.steps.iter().all(|(op, _)| matches!(op, Op::Call(_)));
                out["sequence"] = if calls_only && cx.hits.is_some() {
                    json!(
                        cx.steps
                            .iter()
                            .map(|(op, _)| match op {
                                Op::Call(k) => *k,
                                _ => unreachable!("calls only"),
                            })
                            .collect::<Vec<_>>()
                    )
                } else {
                    json!(
                        cx.steps
                            .iter()
                            .map(|(op, _)| op.to_string())
                            .collect::<Vec<_>>()
                    )
                };
                if let Some(hits) = cx.hits {
                    out["hits"] = json!(hits);
                }
                out["message"] = json!(cx.message);
            }
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.scope;
        writeln!(
            f,
            "{} on {}: {} keys, depth {}, capacities {}-{}, {} ops{}",
            self.property,
            self.policy,
            s.keys,
            s.depth,
            s.capacities.0,
            s.capacities.1,
            match s.ops {
                OpSet::Calls => "calls",
                OpSet::All => "all",
            },
            match s.entry_ttl {
                Some(t) => format!(", entry TTL {t} ticks"),
                None => String::new(),
            }
        )?;
        writeln!(
            f,
            "explored {} states ({} distinct{}) in {:.2} s: {:.0} states/s",
            self.states,
            self.unique_states,
            if self.symmetry {
                " up to key renaming"
            } else {
                ""
            },
            self.seconds,
            self.states_per_second()
        )?;
        match &self.counterexample {
            None if self.exhaustive => write!(
                f,
                "holds, for sequences of any length: every reachable state was explored"
            ),
            None => write!(f, "holds"),
            Some(cx) => {
                writeln!(f, "BROKEN: {}", cx.message)?;
                let caps: Vec<String> = cx
                    .capacities
                    .iter()
                    .map(|c| format!("maxsize {c}"))
                    .collect();
                writeln!(
                    f,
                    "shortest counterexample ({} steps; {}):",
                    cx.steps.len(),
                    caps.join(" | ")
                )?;
                for (i, (op, seen)) in cx.steps.iter().enumerate() {
                    let seen: Vec<String> = seen.iter().map(describe).collect();
                    writeln!(
                        f,
                        "  {:>3}. {:<12} {}",
                        i + 1,
                        op.to_string(),
                        seen.join(" | ")
                    )?;
                }
                if let Some([small, large]) = cx.hits {
                    write!(
                        f,
                        "hits: {small} at maxsize {}, {large} at maxsize {}",
                        cx.capacities[0], cx.capacities[1]
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn describe(seen: &Observed) -> String {
    match seen {
        Observed::Hit(v) => format!("hit {v:#x}"),
        Observed::Miss(e) if e.is_empty() => "miss".to_string(),
        Observed::Miss(e) => format!("miss, evicts {e:?}"),
        Observed::Stored(e) if e.is_empty() => "stored".to_string(),
        Observed::Stored(e) => format!("stored, evicts {e:?}"),
        Observed::Nothing => "-".to_string(),
    }
}

/// stateright counts an initial state as depth 1 and skips a state whose
/// depth reaches its target before checking it: a sequence of `d`
/// operations ends at depth `d + 1`, so the target is `d + 2`.
const CHECKER_DEPTH_OFFSET: usize = 2;

/// How the search is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Search {
    /// Checker threads. With one (the default) the counterexample found is
    /// a shortest one and every state within the depth is reached; with
    /// more, a state first reached by a longer path may be cut off at the
    /// depth, and the counterexample may be longer.
    pub threads: usize,
    /// Merge states that differ only in key names ([`symmetry`]; on by
    /// default). It applies only where it is sound: a policy whose scores
    /// never tie or whose victim is random, and properties that say they
    /// treat keys only as names ([`StepProperty::symmetric`]); `equivalent`
    /// and the Explorer never use it. Counterexamples are printed in one
    /// set of names either way, and are as short.
    pub symmetry: bool,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            threads: 1,
            symmetry: true,
        }
    }
}

/// Checks `check` for the policy `rules` over `scope`, single-threaded.
///
/// # Errors
///
/// When the scope or the rules cannot be checked (say, `no-anomaly` with a
/// random victim, which has no one hit count per sequence).
pub fn check(check: &Check, rules: PolicyRules, scope: &Scope) -> Result<Report, String> {
    check_with(check, rules, scope, Search::default())
}

/// [`check`] with search settings.
pub fn check_with(
    check: &Check,
    rules: PolicyRules,
    scope: &Scope,
    search: Search,
) -> Result<Report, String> {
    validate(scope)?;
    let policy = PolicyModel::new(rules, scope.keys)?.with_entry_ttl(scope.entry_ttl)?;
    match check {
        Check::NoAnomaly => {
            let model = anomaly_model(policy, scope, search.symmetry)?;
            Ok(run_anomaly(model, scope, search))
        }
        Check::Bounded => {
            let model = step_model(policy, scope, None, search.symmetry)?;
            Ok(run_steps(model, scope, search))
        }
        Check::Property(p) => {
            let model = step_model(policy, scope, Some(Arc::clone(p)), search.symmetry)?;
            Ok(run_steps(model, scope, search))
        }
        Check::Equivalent(store) => equivalence::run(store, policy, scope),
    }
}

fn validate(scope: &Scope) -> Result<(), String> {
    if scope.depth == 0 {
        return Err("--depth must be at least 1".into());
    }
    let (a, b) = scope.capacities;
    if a == 0 || b < a {
        return Err(format!("--capacities {a}-{b}: want 1 ≤ A ≤ B"));
    }
    if b - a > 64 {
        return Err("--capacities spans at most 65 values".into());
    }
    Ok(())
}

/// The capacities `no-anomaly` compares with the next one up.
fn anomaly_capacities(scope: &Scope) -> Vec<u64> {
    let (a, b) = scope.capacities;
    if a == b { vec![a] } else { (a..b).collect() }
}

fn anomaly_model(
    policy: PolicyModel,
    scope: &Scope,
    symmetry: bool,
) -> Result<AnomalyModel, String> {
    if policy.is_random() {
        return Err(format!(
            "no-anomaly needs one hit count per sequence; `{}` picks victims at random",
            policy.rules().word
        ));
    }
    if scope.ops != OpSet::Calls {
        return Err("no-anomaly compares sequences of calls: use --ops calls".into());
    }
    if scope.entry_ttl.is_some() {
        return Err(
            "no-anomaly compares sequences of calls, without ticks: leave out --entry-ttl".into(),
        );
    }
    Ok(AnomalyModel {
        symmetry: symmetry && policy.symmetric(),
        policy,
        capacities: anomaly_capacities(scope),
    })
}

fn step_model(
    policy: PolicyModel,
    scope: &Scope,
    extra: Option<Arc<dyn StepProperty>>,
    symmetry: bool,
) -> Result<StepModel, String> {
    let mut properties: Vec<Arc<dyn StepProperty>> = vec![Arc::new(Bounded)];
    properties.extend(extra);
    if properties.len() > MAX_PROPERTIES {
        return Err(format!("at most {MAX_PROPERTIES} properties per run"));
    }
    let history = properties.iter().map(|p| p.history()).max().unwrap_or(0);
    let symmetry = symmetry && policy.symmetric() && properties.iter().all(|p| p.symmetric());
    Ok(StepModel {
        symmetry,
        policy,
        ops: scope.ops,
        capacities: scope.capacities,
        properties,
        history,
    })
}

/// Runs stateright's breadth-first search over the scope; how long it took.
fn breadth_first<M>(model: M, scope: &Scope, search: Search) -> (impl Checker<M>, f64)
where
    M: Model + Send + Sync + 'static,
    M::State: std::hash::Hash + Send + Sync + Clone + PartialEq + fmt::Debug + 'static,
    M::Action: Send + Sync + Clone + PartialEq + fmt::Debug + 'static,
{
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(search.threads.max(1))
        .target_max_depth(scope.depth + CHECKER_DEPTH_OFFSET)
        .spawn_bfs()
        .join();
    (checker, started.elapsed().as_secs_f64())
}

fn report<M: Model>(
    property: &str,
    policy: &PolicyModel,
    scope: &Scope,
    (checker, seconds, symmetry): (&impl Checker<M>, f64, bool),
    counterexample: Option<Counterexample>,
) -> Report {
    Report {
        property: property.into(),
        holds: counterexample.is_none(),
        policy: policy.rules().word.into(),
        scope: *scope,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        seconds,
        exhaustive: checker.max_depth() < scope.depth + CHECKER_DEPTH_OFFSET,
        symmetry,
        counterexample,
    }
}

fn run_anomaly(model: AnomalyModel, scope: &Scope, search: Search) -> Report {
    let policy = model.policy.clone();
    let symmetry = model.symmetry;
    let (checker, seconds) = breadth_first(model, scope, search);
    let counterexample = checker.discovery("no-anomaly").map(|path| {
        let states = path.clone().into_states();
        let capacity = states[0].capacity;
        let calls = checker
            .model()
            .original_calls(&states[0], &path.into_actions());
        anomaly_counterexample(&policy, capacity, &calls)
    });
    report(
        "no-anomaly",
        &policy,
        scope,
        (&checker, seconds, symmetry),
        counterexample,
    )
}

/// Replays calls at `capacity` and `capacity + 1` for the report.
fn anomaly_counterexample(policy: &PolicyModel, capacity: u64, ops: &[Op]) -> Counterexample {
    let (mut small, mut large) = (policy.empty(), policy.empty());
    let mut hits = [0u64; 2];
    let mut steps = Vec::new();
    for &op in ops {
        let mut seen = Vec::new();
        for (i, (state, maxsize)) in [(&mut small, capacity), (&mut large, capacity + 1)]
            .into_iter()
            .enumerate()
        {
            let mut m = maxsize;
            let (next, observed) = ops::apply(policy, state, &mut m, op)
                .into_iter()
                .next()
                .expect("a determined policy has one outcome");
            *state = next;
            hits[i] += u64::from(observed.is_hit());
            seen.push(observed);
        }
        steps.push((op, seen));
    }
    Counterexample {
        capacities: vec![capacity, capacity + 1],
        steps,
        hits: Some(hits),
        message: format!(
            "{} hits at maxsize {} but only {} at maxsize {}",
            hits[0],
            capacity,
            hits[1],
            capacity + 1
        ),
    }
}

fn run_steps(model: StepModel, scope: &Scope, search: Search) -> Report {
    let policy = model.policy.clone();
    let symmetry = model.symmetry;
    let names: Vec<&'static str> = model.properties.iter().map(|p| p.name()).collect();
    let (checker, seconds) = breadth_first(model, scope, search);
    // The user's property when there is one, else bounded; a broken one
    // wins over one that holds.
    let mut property = *names.last().expect("bounded is always checked");
    let mut counterexample = None;
    for name in names.iter().rev() {
        if let Some(path) = checker.discovery(name) {
            let states = path.clone().into_states();
            // In the names of the first state (the search's states are
            // representatives, each in its own names).
            let replayed = checker
                .model()
                .original_steps(&states[0], &path.into_actions());
            let message = replayed
                .last()
                .and_then(|step| step.broken.as_ref())
                .map(|(_, m)| m.clone())
                .unwrap_or_default();
            let steps = replayed
                .into_iter()
                .map(|step| (step.op, vec![step.observed]))
                .collect();
            property = name;
            counterexample = Some(Counterexample {
                capacities: vec![states[0].maxsize],
                steps,
                hits: None,
                message,
            });
            break;
        }
    }
    report(
        property,
        &policy,
        scope,
        (&checker, seconds, symmetry),
        counterexample,
    )
}

/// Serves stateright's Explorer for `check` on `address` (a web page to
/// walk the states step by step). Never returns while the server runs.
///
/// # Errors
///
/// For a check the Explorer does not show (`equivalent`), or an address
/// that cannot be bound.
pub fn explore(
    check: &Check,
    rules: PolicyRules,
    scope: &Scope,
    address: &str,
) -> Result<(), String> {
    validate(scope)?;
    // Bind first, so a taken address is an error, not the Explorer's panic.
    drop(std::net::TcpListener::bind(address).map_err(|e| format!("--explore {address}: {e}"))?);
    let policy = PolicyModel::new(rules, scope.keys)?.with_entry_ttl(scope.entry_ttl)?;
    match check {
        Check::NoAnomaly => {
            // Without symmetry: the Explorer shows states in their own names.
            let model = anomaly_model(policy, scope, false)?;
            model
                .checker()
                .target_max_depth(scope.depth + CHECKER_DEPTH_OFFSET)
                .serve(address);
        }
        Check::Bounded => {
            let model = step_model(policy, scope, None, false)?;
            model
                .checker()
                .target_max_depth(scope.depth + CHECKER_DEPTH_OFFSET)
                .serve(address);
        }
        Check::Property(_) | Check::Equivalent(_) => {
            return Err("--explore shows bounded and no-anomaly".into());
        }
    }
    Ok(())
}
