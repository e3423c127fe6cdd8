// The policy enums are `#[non_exhaustive]`: a later version may add a
// layout, an index kind, a score rule or a victim, so a match outside this
// crate needs a `_` arm, and adding one is not a breaking change.
use redis_func_cache::policy::{IndexKind, Layout, ScoreRule, Victim};

fn layout(l: Layout) -> u8 {
    match l {
        Layout::Single => 0,
        Layout::Multiple => 1,
        Layout::Cluster => 2,
        Layout::ClusterMultiple => 3,
    }
}

fn index(k: IndexKind) -> u8 {
    match k {
        IndexKind::SortedSet => 0,
        IndexKind::Set => 1,
        IndexKind::S3Fifo => 2,
        IndexKind::Sieve => 3,
    }
}

fn rule(r: ScoreRule) -> u8 {
    match r {
        ScoreRule::Keep => 0,
        ScoreRule::MaxPlusOne => 1,
        ScoreRule::One => 2,
        ScoreRule::Increment => 3,
        ScoreRule::ClockMicros => 4,
    }
}

fn victim(v: Victim) -> u8 {
    match v {
        Victim::Lowest => 0,
        Victim::Highest => 1,
        Victim::Random => 2,
    }
}

fn main() {
    let _ = (layout, index, rule, victim);
}
