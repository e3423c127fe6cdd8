//! The eviction policies of `redis-func-cache` (SPEC §3), each a description
//! that every store carries out, in the four key layouts of SPEC §4.
//!
//! The 24 seed names of the Python library, and 8 more for S3-FIFO and SIEVE
//! (SPEC §3.2), are unit types:
//!
//! ```
//! use redis_func_cache::{EvictionPolicy, Layout};
//! use redis_func_cache::{LruPolicy, MruClusterMultiplePolicy, rules};
//! assert_eq!(LruPolicy.rules(), rules::LRU);
//! assert_eq!(MruClusterMultiplePolicy.layout(), Layout::ClusterMultiple);
//! // Each also converts into the run-time form:
//! let policy = redis_func_cache::Policy::from(LruPolicy);
//! assert_eq!(policy.rules(), rules::LRU);
//! ```
#![warn(missing_docs)]

pub use redis_func_cache_core::policy::{
    EvictionPolicy, IndexKind, Layout, Policy, PolicyRules, ScoreRule, Victim,
};

/// The six rule sets, one per key word.
pub mod rules {
    use super::{IndexKind, PolicyRules, ScoreRule, Victim};

    /// Least recently used: every use moves a member to the top.
    pub const LRU: PolicyRules = PolicyRules {
        word: "lru",
        index: IndexKind::SortedSet,
        on_insert: ScoreRule::MaxPlusOne,
        on_hit: ScoreRule::MaxPlusOne,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Lowest,
    };

    /// Most recently used: the member used last is the one evicted.
    pub const MRU: PolicyRules = PolicyRules {
        victim: Victim::Highest,
        word: "mru",
        ..LRU
    };

    /// First in, first out: hits do not move a member.
    pub const FIFO: PolicyRules = PolicyRules {
        word: "fifo",
        on_hit: ScoreRule::Keep,
        ..LRU
    };

    /// Least frequently used: the score counts uses; ties go by member bytes.
    pub const LFU: PolicyRules = PolicyRules {
        word: "lfu",
        index: IndexKind::SortedSet,
        on_insert: ScoreRule::One,
        on_hit: ScoreRule::Increment,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Lowest,
    };

    /// Random replacement: a set, and a uniformly random victim.
    pub const RR: PolicyRules = PolicyRules {
        word: "rr",
        index: IndexKind::Set,
        on_insert: ScoreRule::Keep,
        on_hit: ScoreRule::Keep,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Random,
    };

    /// Time-based LRU: the score is the clock time of the last use.
    pub const TLRU: PolicyRules = PolicyRules {
        word: "tlru",
        index: IndexKind::SortedSet,
        on_insert: ScoreRule::ClockMicros,
        on_hit: ScoreRule::ClockMicros,
        on_overwrite: ScoreRule::ClockMicros,
        victim: Victim::Lowest,
    };

    /// S3-FIFO (SPEC §3.2): a small probationary FIFO queue, a main FIFO
    /// queue with second chances, and a ghost queue that remembers what left
    /// the small queue unused. Scan-resistant, with FIFO-like costs.
    pub const S3FIFO: PolicyRules = PolicyRules {
        word: "s3fifo",
        index: IndexKind::S3Fifo,
        on_insert: ScoreRule::Keep,
        on_hit: ScoreRule::Keep,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Lowest,
    };

    /// SIEVE (SPEC §3.2): one FIFO queue and a hand that spares entries
    /// visited since it last passed them.
    pub const SIEVE: PolicyRules = PolicyRules {
        word: "sieve",
        index: IndexKind::Sieve,
        ..S3FIFO
    };

    /// All eight, in the order of SPEC §3's table, then §3.2's.
    pub const ALL: [PolicyRules; 8] = [LRU, MRU, FIFO, LFU, RR, TLRU, S3FIFO, SIEVE];

    /// The policies whose hits, misses and victims are the same on every
    /// store for a given sequence (SPEC §3 and §3.2): all but `rr` (random
    /// victims) and `tlru` (the clock).
    pub const DETERMINISTIC: [PolicyRules; 6] = [LRU, MRU, FIFO, LFU, S3FIFO, SIEVE];

    /// The rules for a key word (`lru`, `mru`, `fifo`, `lfu`, `rr`, `tlru`,
    /// `s3fifo`, `sieve`).
    ///
    /// ```
    /// use redis_func_cache::rules;
    /// assert_eq!(rules::by_word("lfu"), Some(rules::LFU));
    /// assert_eq!(rules::by_word("arc"), None);
    /// ```
    pub fn by_word(word: &str) -> Option<PolicyRules> {
        ALL.into_iter().find(|r| r.word == word)
    }
}

macro_rules! seed_policies {
    ($($name:ident => $rules:ident, $layout:ident;)*) => {$(
        #[doc = concat!(
            "`", stringify!($rules), "` rules (see [`rules::", stringify!($rules), "`]) in the `",
            stringify!($layout), "` layout."
        )]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        impl EvictionPolicy for $name {
            fn rules(&self) -> PolicyRules {
                rules::$rules
            }
            fn layout(&self) -> Layout {
                Layout::$layout
            }
        }

        impl From<$name> for Policy {
            fn from(policy: $name) -> Policy {
                Policy::of(&policy)
            }
        }
    )*};
}

seed_policies! {
    FifoPolicy => FIFO, Single;
    FifoMultiplePolicy => FIFO, Multiple;
    FifoClusterPolicy => FIFO, Cluster;
    FifoClusterMultiplePolicy => FIFO, ClusterMultiple;
    LfuPolicy => LFU, Single;
    LfuMultiplePolicy => LFU, Multiple;
    LfuClusterPolicy => LFU, Cluster;
    LfuClusterMultiplePolicy => LFU, ClusterMultiple;
    LruPolicy => LRU, Single;
    LruMultiplePolicy => LRU, Multiple;
    LruClusterPolicy => LRU, Cluster;
    LruClusterMultiplePolicy => LRU, ClusterMultiple;
    MruPolicy => MRU, Single;
    MruMultiplePolicy => MRU, Multiple;
    MruClusterPolicy => MRU, Cluster;
    MruClusterMultiplePolicy => MRU, ClusterMultiple;
    RrPolicy => RR, Single;
    RrMultiplePolicy => RR, Multiple;
    RrClusterPolicy => RR, Cluster;
    RrClusterMultiplePolicy => RR, ClusterMultiple;
    TLruPolicy => TLRU, Single;
    TLruMultiplePolicy => TLRU, Multiple;
    TLruClusterPolicy => TLRU, Cluster;
    TLruClusterMultiplePolicy => TLRU, ClusterMultiple;
    S3FifoPolicy => S3FIFO, Single;
    S3FifoMultiplePolicy => S3FIFO, Multiple;
    S3FifoClusterPolicy => S3FIFO, Cluster;
    S3FifoClusterMultiplePolicy => S3FIFO, ClusterMultiple;
    SievePolicy => SIEVE, Single;
    SieveMultiplePolicy => SIEVE, Multiple;
    SieveClusterPolicy => SIEVE, Cluster;
    SieveClusterMultiplePolicy => SIEVE, ClusterMultiple;
}

/// A policy from its key word and layout name, for run-time choice (the
/// replay tool's `--policy` and `--layout`).
///
/// ```
/// use redis_func_cache::{by_name, EvictionPolicy, Layout};
/// let p = by_name("fifo", "cluster").unwrap();
/// assert_eq!((p.rules().word, p.layout()), ("fifo", Layout::Cluster));
/// assert!(by_name("fifo", "ring").is_none());
/// ```
pub fn by_name(word: &str, layout: &str) -> Option<Policy> {
    Some(Policy::new(rules::by_word(word)?, Layout::parse(layout)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_set_is_valid_and_words_are_unique() {
        let mut words: Vec<_> = rules::ALL.iter().map(|r| r.word).collect();
        for r in rules::ALL {
            r.validate().unwrap();
        }
        words.sort();
        words.dedup();
        assert_eq!(words.len(), 8);
    }

    #[test]
    fn seed_names_cover_every_rule_and_layout() {
        let seeds: Vec<Policy> = vec![
            Policy::of(&FifoPolicy),
            Policy::of(&FifoMultiplePolicy),
            Policy::of(&FifoClusterPolicy),
            Policy::of(&FifoClusterMultiplePolicy),
            Policy::of(&LfuPolicy),
            Policy::of(&LfuMultiplePolicy),
            Policy::of(&LfuClusterPolicy),
            Policy::of(&LfuClusterMultiplePolicy),
            Policy::of(&LruPolicy),
            Policy::of(&LruMultiplePolicy),
            Policy::of(&LruClusterPolicy),
            Policy::of(&LruClusterMultiplePolicy),
            Policy::of(&MruPolicy),
            Policy::of(&MruMultiplePolicy),
            Policy::of(&MruClusterPolicy),
            Policy::of(&MruClusterMultiplePolicy),
            Policy::of(&RrPolicy),
            Policy::of(&RrMultiplePolicy),
            Policy::of(&RrClusterPolicy),
            Policy::of(&RrClusterMultiplePolicy),
            Policy::of(&TLruPolicy),
            Policy::of(&TLruMultiplePolicy),
            Policy::of(&TLruClusterPolicy),
            Policy::of(&TLruClusterMultiplePolicy),
            Policy::of(&S3FifoPolicy),
            Policy::of(&S3FifoMultiplePolicy),
            Policy::of(&S3FifoClusterPolicy),
            Policy::of(&S3FifoClusterMultiplePolicy),
            Policy::of(&SievePolicy),
            Policy::of(&SieveMultiplePolicy),
            Policy::of(&SieveClusterPolicy),
            Policy::of(&SieveClusterMultiplePolicy),
        ];
        for rules in rules::ALL {
            for layout in Layout::ALL {
                let count = seeds
                    .iter()
                    .filter(|p| **p == Policy::new(rules, layout))
                    .count();
                assert_eq!(count, 1, "{} {:?}", rules.word, layout);
            }
        }
    }

    #[test]
    fn mru_evicts_the_highest_unlike_the_python_bug() {
        assert_eq!(MruPolicy.rules().victim, Victim::Highest);
        assert_eq!(LruPolicy.rules().victim, Victim::Lowest);
    }
}
