//! Symmetry reduction in `policycheck`: merging states that differ only in
//! key names changes no verdict and no counterexample's length, explores
//! fewer states, prints counterexamples that replay in one set of names,
//! and is left off where keys are more than names (LFU's and TLRU's ties,
//! a property about one key).

use redis_func_cache::policy::PolicyRules;
use redis_func_cache::rules;
use redis_func_cache_benches::policycheck::model::{Key, PolicyModel};
use redis_func_cache_benches::policycheck::ops::{self, Op, OpSet};
use redis_func_cache_benches::policycheck::{
    Check, Report, Scope, Search, Step, StepProperty, check_with,
};

fn scope(keys: u8, depth: usize, capacities: (u64, u64), ops: OpSet) -> Scope {
    Scope::new(keys, depth, capacities, ops)
}

fn run(check: &Check, rules: PolicyRules, scope: &Scope, symmetry: bool) -> Report {
    check_with(
        check,
        rules,
        scope,
        Search {
            threads: 1,
            symmetry,
        },
    )
    .unwrap()
}

/// A call hit on the step before is not evicted (holds for LRU; FIFO, which
/// ignores hits, and MRU, which evicts the last one used, break it).
struct RecentHitsStay;

impl StepProperty for RecentHitsStay {
    fn name(&self) -> &'static str {
        "recent-hits-stay"
    }
    fn history(&self) -> usize {
        1
    }
    fn symmetric(&self) -> bool {
        true
    }
    fn check(&self, step: &Step<'_>) -> Result<(), String> {
        for (op, seen) in step.recent {
            if let (Op::Call(k), true) = (op, seen.is_hit())
                && step.observed.evicted().contains(k)
            {
                return Err(format!("{k} was hit last call and is evicted"));
            }
        }
        Ok(())
    }
}

/// Key 0 is never evicted: about one key, so not symmetric.
struct ZeroStays;

impl StepProperty for ZeroStays {
    fn name(&self) -> &'static str {
        "zero-stays"
    }
    fn history(&self) -> usize {
        0
    }
    fn symmetric(&self) -> bool {
        false
    }
    fn check(&self, step: &Step<'_>) -> Result<(), String> {
        if step.observed.evicted().contains(&0) {
            return Err("0 was evicted".into());
        }
        Ok(())
    }
}

/// Replays a counterexample on the model in its printed names: every step
/// must observe what the report says (for a random victim, one of the
/// outcomes must). The report's names are one set of names throughout, or
/// this fails.
fn replays(rules: PolicyRules, keys: u8, report: &Report) {
    let cx = report.counterexample.as_ref().expect("a counterexample");
    let model = PolicyModel::new(rules, keys).unwrap();
    for (i, &capacity) in cx.capacities.iter().enumerate() {
        let mut state = model.empty();
        let mut maxsize = capacity;
        for (n, (op, seen)) in cx.steps.iter().enumerate() {
            let outcomes = ops::apply(&model, &state, &mut maxsize, *op);
            let Some((next, _)) = outcomes.into_iter().find(|(_, o)| *o == seen[i]) else {
                panic!(
                    "step {} ({op}) does not observe {:?}: {report}",
                    n + 1,
                    seen[i]
                );
            };
            state = next;
        }
    }
}

fn same_verdict(check: &Check, rules: PolicyRules, scope: &Scope) -> (Report, Report) {
    let with = run(check, rules, scope, true);
    let without = run(check, rules, scope, false);
    assert!(with.symmetry && !without.symmetry, "{with}");
    assert_eq!(with.holds, without.holds, "{with}\n{without}");
    assert_eq!(
        with.counterexample.as_ref().map(|c| c.steps.len()),
        without.counterexample.as_ref().map(|c| c.steps.len()),
        "as short with symmetry as without:\n{with}\n{without}"
    );
    assert!(
        with.unique_states < without.unique_states,
        "fewer states: {} with, {} without",
        with.unique_states,
        without.unique_states
    );
    if !with.holds {
        replays(rules, scope.keys, &with);
    }
    (with, without)
}

#[test]
fn symmetry_changes_no_verdict_and_no_counterexample_length() {
    let symmetric = [
        rules::LRU,
        rules::MRU,
        rules::FIFO,
        rules::RR,
        rules::S3FIFO,
        rules::SIEVE,
    ];
    for policy in symmetric {
        same_verdict(&Check::Bounded, policy, &scope(3, 6, (1, 3), OpSet::All));
        let recent = same_verdict(
            &Check::property(RecentHitsStay),
            policy,
            &scope(3, 7, (2, 3), OpSet::Calls),
        );
        // LRU keeps a just-hit entry; FIFO evicts it when it is oldest.
        match policy.word {
            "lru" => assert!(recent.0.holds, "{}", recent.0),
            "fifo" | "mru" => assert!(!recent.0.holds, "{}", recent.0),
            _ => {}
        }
        if policy.word != "rr" {
            same_verdict(
                &Check::NoAnomaly,
                policy,
                &scope(5, 12, (3, 4), OpSet::Calls),
            );
        }
    }
}

#[test]
fn fifo_anomaly_with_symmetry_is_beladys_sequence_in_far_fewer_states() {
    let scope = scope(5, 12, (3, 4), OpSet::Calls);
    let (with, without) = same_verdict(&Check::NoAnomaly, rules::FIFO, &scope);
    let keys: Vec<Key> = with
        .counterexample
        .as_ref()
        .unwrap()
        .steps
        .iter()
        .map(|(op, _)| match op {
            Op::Call(k) => *k,
            other => panic!("calls only: {other}"),
        })
        .collect();
    assert_eq!(keys, [0, 1, 2, 3, 0, 1, 4, 0, 1, 2, 3, 4]);
    assert_eq!(with.counterexample.unwrap().hits, Some([3, 2]));
    assert!(
        with.unique_states * 20 < without.unique_states,
        "{} against {}",
        with.unique_states,
        without.unique_states
    );
}

#[test]
fn symmetry_is_off_where_keys_are_more_than_names() {
    let small = scope(3, 5, (1, 3), OpSet::All);
    // LFU and TLRU break ties by the members' bytes.
    for policy in [rules::LFU, rules::TLRU] {
        let report = run(&Check::Bounded, policy, &small, true);
        assert!(report.holds && !report.symmetry, "{report}");
    }
    // A property about key 0 is checked on every state.
    let report = run(&Check::property(ZeroStays), rules::LRU, &small, true);
    assert!(!report.symmetry, "{report}");
    let cx = report
        .counterexample
        .as_ref()
        .expect("LRU evicts 0 somewhere");
    assert!(cx.steps.last().unwrap().1[0].evicted().contains(&0));
    replays(rules::LRU, 3, &report);
    // The JSON says whether it applied.
    assert_eq!(report.to_json()["symmetry"], false);
}
