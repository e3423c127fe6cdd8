//! Eviction policies as descriptions (SPEC §3).
//!
//! A policy is data, not code: how a member is scored when it is inserted, hit
//! or overwritten, and which member goes when the cache is full. Every store
//! carries the same description out (the memory store in process, the Redis
//! store in Lua), so a new policy built from these rules needs no new store
//! code.
//!
//! [`IndexKind`], [`ScoreRule`], [`Victim`] and [`Layout`] are
//! `#[non_exhaustive]`: a later version may add a part, so a match on one
//! outside this crate needs a `_` arm. A store handed a part it does not
//! carry out refuses the request with [`Error::Config`](crate::Error::Config)
//! rather than guess; the memory and Redis stores do.

/// How the index of a pair is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndexKind {
    /// Ordered by (score, member bytes), as a Redis sorted set.
    SortedSet,
    /// No order at all, as a Redis set; only a random victim makes sense.
    Set,
    /// S3-FIFO (SPEC §3.2): a small and a main FIFO queue, a ghost queue of
    /// recently evicted members and a use counter per entry, all kept in one
    /// sorted set. The index carries the whole policy: its score rules must
    /// be `Keep` and its victim `Lowest` (they are not consulted).
    S3Fifo,
    /// SIEVE (SPEC §3.2): one FIFO queue with a visited bit per entry and a
    /// hand, kept in one sorted set. The index carries the whole policy, as
    /// for [`IndexKind::S3Fifo`].
    Sieve,
}

impl IndexKind {
    /// Whether the index carries a policy of its own (S3-FIFO, SIEVE)
    /// instead of following the score rules.
    pub const fn is_queue(self) -> bool {
        matches!(self, IndexKind::S3Fifo | IndexKind::Sieve)
    }
}

/// How S3-FIFO and SIEVE keep their queues in one sorted set and their
/// counters in the value map (SPEC §3.2), so that every store holds the same
/// pair and tests can compare stores pair by pair.
///
/// Each queue is a range of scores, its order the score order: a member
/// appended to a queue takes the score after the newest one there (the
/// range's base + 1 in an empty queue). S3-FIFO's ghost holds scores from 1
/// to below [`SMALL_BASE`](queue_scores::SMALL_BASE), its small queue from
/// there to below [`MAIN_BASE`](queue_scores::MAIN_BASE), its main queue from
/// there up. SIEVE's one queue holds its sequence numbers, from 1 up; the
/// hand, when it is not 0, is the negated score of the reserved member
/// [`HAND`](queue_scores::HAND), which no invocation hash (16 bytes) equals.
///
/// S3-FIFO's use counter and SIEVE's visited bit are the **last byte of the
/// stored value**, so a hit reads them with the value it returns (one
/// command), and a hit that finds them saturated writes nothing.
///
/// ```
/// use redis_func_cache::policy::queue_scores::{MAIN_BASE, SMALL_BASE};
/// // Every score stays an exact integer in a double, as Redis keeps them.
/// assert!(SMALL_BASE < MAIN_BASE && MAIN_BASE < (1 << 53));
/// ```
pub mod queue_scores {
    /// Where S3-FIFO's small queue starts.
    pub const SMALL_BASE: u64 = 1 << 50;
    /// Where S3-FIFO's main queue starts.
    pub const MAIN_BASE: u64 = 1 << 51;
    /// The highest S3-FIFO use count.
    pub const MAX_FREQ: u64 = 3;
    /// The reserved index member that holds SIEVE's hand.
    pub const HAND: &str = "hand";
}

/// What score a member gets when it is inserted or hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScoreRule {
    /// The score stays what it was (no-op on hit).
    Keep,
    /// One more than the highest score in the index (0 when empty): a
    /// logical clock that needs no third key.
    MaxPlusOne,
    /// Exactly one (a fresh use count).
    One,
    /// The current score plus one (a use count).
    Increment,
    /// The store's clock, in whole microseconds.
    ClockMicros,
}

/// Which member leaves when room is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Victim {
    /// The lowest (score, member bytes).
    Lowest,
    /// The highest (score, member bytes).
    Highest,
    /// Any member, uniformly at random.
    Random,
}

/// The complete description of a policy's behaviour.
///
/// ```
/// use redis_func_cache::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
/// // "least recently inserted, hits do not count": FIFO.
/// let fifo = PolicyRules {
///     word: "fifo",
///     index: IndexKind::SortedSet,
///     on_insert: ScoreRule::MaxPlusOne,
///     on_hit: ScoreRule::Keep,
///     on_overwrite: ScoreRule::Keep,
///     victim: Victim::Lowest,
/// };
/// assert!(fifo.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyRules {
    /// The key word used in key names (`lru`, `fifo`, ...).
    pub word: &'static str,
    /// How the index is kept.
    pub index: IndexKind,
    /// Score of a member put for the first time.
    pub on_insert: ScoreRule,
    /// Score of a member after a hit.
    pub on_hit: ScoreRule,
    /// Score of a member that is put again while present (its value is
    /// always replaced).
    pub on_overwrite: ScoreRule,
    /// Which member is evicted.
    pub victim: Victim,
}

impl PolicyRules {
    /// Checks that the rules fit together: a plain set keeps no scores, and a
    /// use count cannot start from nothing.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |what: &str| {
            Err(crate::Error::config(format!(
                "policy `{}`: {what}",
                self.word
            )))
        };
        if self.word.is_empty() || !self.word.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return bad("the key word must be non-empty ASCII letters and digits");
        }
        match self.index {
            IndexKind::Set => {
                if self.victim != Victim::Random {
                    return bad("a set index has no order, so its victim must be Random");
                }
                if [self.on_insert, self.on_hit, self.on_overwrite] != [ScoreRule::Keep; 3] {
                    return bad("a set index keeps no scores, so every score rule must be Keep");
                }
            }
            IndexKind::S3Fifo | IndexKind::Sieve => {
                if [self.on_insert, self.on_hit, self.on_overwrite] != [ScoreRule::Keep; 3]
                    || self.victim != Victim::Lowest
                {
                    return bad(
                        "S3-FIFO and SIEVE indexes carry their own rules: every score rule \
                         must be Keep and the victim Lowest",
                    );
                }
            }
            IndexKind::SortedSet => {
                if matches!(self.on_insert, ScoreRule::Keep | ScoreRule::Increment) {
                    return bad(
                        "a new member needs a score: on_insert cannot be Keep or Increment",
                    );
                }
            }
        }
        Ok(())
    }
}

/// Where a cache keeps its entries: one key pair for the whole cache, or one
/// per function; with or without a cluster hash tag (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// One pair per cache.
    Single,
    /// One pair per cache and function.
    Multiple,
    /// One pair per cache, both keys under one cluster hash tag.
    Cluster,
    /// One pair per cache and function, each pair under its own hash tag.
    ClusterMultiple,
}

impl Layout {
    /// All four layouts.
    pub const ALL: [Layout; 4] = [
        Layout::Single,
        Layout::Multiple,
        Layout::Cluster,
        Layout::ClusterMultiple,
    ];

    /// Whether both keys of a pair carry one hash tag, as Redis Cluster needs.
    pub const fn is_cluster(self) -> bool {
        matches!(self, Layout::Cluster | Layout::ClusterMultiple)
    }

    /// Whether each function gets a pair of its own.
    pub const fn per_function(self) -> bool {
        matches!(self, Layout::Multiple | Layout::ClusterMultiple)
    }

    /// The layout's name as the replay tool spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layout::Single => "single",
            Layout::Multiple => "multiple",
            Layout::Cluster => "cluster",
            Layout::ClusterMultiple => "cluster-multiple",
        }
    }

    /// Parses [`Layout::as_str`].
    ///
    /// ```
    /// use redis_func_cache::Layout;
    /// assert_eq!(Layout::parse("cluster-multiple"), Some(Layout::ClusterMultiple));
    /// assert_eq!(Layout::parse("nope"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.as_str() == text)
    }

    /// The suffix added to the policy word in key names.
    pub(crate) const fn word_suffix(self) -> &'static str {
        match self {
            Layout::Single => "",
            Layout::Multiple => "-m",
            Layout::Cluster => "-c",
            Layout::ClusterMultiple => "-cm",
        }
    }
}

/// An eviction policy: rules plus a layout. The 32 policy names
/// (`LruPolicy` ... `SieveClusterMultiplePolicy`) in the policies crate
/// implement it, and so does [`Policy`], for choosing one at run time.
pub trait EvictionPolicy {
    /// The scoring and eviction rules.
    fn rules(&self) -> PolicyRules;
    /// The key layout.
    fn layout(&self) -> Layout;
}

/// A policy chosen at run time.
///
/// ```
/// use redis_func_cache::policy::{EvictionPolicy, IndexKind, Layout, Policy, PolicyRules, ScoreRule, Victim};
/// let rules = PolicyRules { word: "lfu", index: IndexKind::SortedSet, on_insert: ScoreRule::One,
///     on_hit: ScoreRule::Increment, on_overwrite: ScoreRule::Keep, victim: Victim::Lowest };
/// let p = Policy::new(rules, Layout::Cluster);
/// assert_eq!(p.layout(), Layout::Cluster);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    rules: PolicyRules,
    layout: Layout,
}

impl Policy {
    /// Combines rules and a layout.
    pub const fn new(rules: PolicyRules, layout: Layout) -> Self {
        Policy { rules, layout }
    }

    /// The rules, borrowed (what stores are handed on every call).
    pub const fn rules_ref(&self) -> &PolicyRules {
        &self.rules
    }

    /// Takes the description of any policy.
    pub fn of(policy: &impl EvictionPolicy) -> Self {
        Policy::new(policy.rules(), policy.layout())
    }
}

impl EvictionPolicy for Policy {
    fn rules(&self) -> PolicyRules {
        self.rules
    }
    fn layout(&self) -> Layout {
        self.layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LRU: PolicyRules = PolicyRules {
        word: "lru",
        index: IndexKind::SortedSet,
        on_insert: ScoreRule::MaxPlusOne,
        on_hit: ScoreRule::MaxPlusOne,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Lowest,
    };
    const RR: PolicyRules = PolicyRules {
        word: "rr",
        index: IndexKind::Set,
        on_insert: ScoreRule::Keep,
        on_hit: ScoreRule::Keep,
        on_overwrite: ScoreRule::Keep,
        victim: Victim::Random,
    };
    const SIEVE: PolicyRules = PolicyRules {
        word: "sieve",
        index: IndexKind::Sieve,
        victim: Victim::Lowest,
        ..RR
    };

    fn refused(rules: PolicyRules, why: &str) {
        let err = rules.validate().expect_err(why).to_string();
        assert!(err.contains(why), "{rules:?}: {err}");
        assert!(err.contains(&format!("`{}`", rules.word)), "{err}");
    }

    #[test]
    fn layouts_and_index_kinds_say_what_they_are() {
        let facts = Layout::ALL.map(|l| (l, l.per_function(), l.is_cluster()));
        assert_eq!(
            facts,
            [
                (Layout::Single, false, false),
                (Layout::Multiple, true, false),
                (Layout::Cluster, false, true),
                (Layout::ClusterMultiple, true, true),
            ]
        );
        let queues = [
            IndexKind::SortedSet,
            IndexKind::Set,
            IndexKind::S3Fifo,
            IndexKind::Sieve,
        ]
        .map(IndexKind::is_queue);
        assert_eq!(queues, [false, false, true, true]);
    }

    #[test]
    fn rules_that_fit_together_pass() {
        for rules in [
            LRU,
            RR,
            SIEVE,
            PolicyRules {
                index: IndexKind::S3Fifo,
                ..SIEVE
            },
        ] {
            rules.validate().unwrap();
        }
        PolicyRules {
            on_insert: ScoreRule::One,
            on_hit: ScoreRule::Increment,
            ..LRU
        }
        .validate()
        .unwrap();
        PolicyRules {
            word: "Lru2",
            on_insert: ScoreRule::ClockMicros,
            ..LRU
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn rules_that_do_not_fit_are_refused_with_the_reason() {
        for word in ["", "l-ru", "lru:", "lru ", "lrü"] {
            refused(PolicyRules { word, ..LRU }, "ASCII letters and digits");
        }
        refused(
            PolicyRules {
                victim: Victim::Lowest,
                ..RR
            },
            "victim must be Random",
        );
        for score in [ScoreRule::MaxPlusOne, ScoreRule::One] {
            refused(
                PolicyRules {
                    on_insert: score,
                    ..RR
                },
                "every score rule must be Keep",
            );
            refused(
                PolicyRules {
                    on_hit: score,
                    ..RR
                },
                "every score rule must be Keep",
            );
            refused(
                PolicyRules {
                    on_overwrite: score,
                    ..RR
                },
                "every score rule must be Keep",
            );
        }
        for index in [IndexKind::Sieve, IndexKind::S3Fifo] {
            let own = "carry their own rules";
            refused(
                PolicyRules {
                    index,
                    on_insert: ScoreRule::One,
                    ..SIEVE
                },
                own,
            );
            refused(
                PolicyRules {
                    index,
                    on_hit: ScoreRule::One,
                    ..SIEVE
                },
                own,
            );
            refused(
                PolicyRules {
                    index,
                    on_overwrite: ScoreRule::One,
                    ..SIEVE
                },
                own,
            );
            refused(
                PolicyRules {
                    index,
                    victim: Victim::Highest,
                    ..SIEVE
                },
                own,
            );
            refused(
                PolicyRules {
                    index,
                    victim: Victim::Random,
                    ..SIEVE
                },
                own,
            );
        }
        for score in [ScoreRule::Keep, ScoreRule::Increment] {
            refused(
                PolicyRules {
                    on_insert: score,
                    ..LRU
                },
                "on_insert cannot be",
            );
        }
    }
}
