//! `policycheck`: model-checks an eviction policy over every sequence of
//! operations in a small scope, and prints the shortest counterexample when
//! a property breaks.
//!
//! ```text
//! cargo run --release -p redis-func-cache-benches --bin policycheck -- \
//!     --policy fifo --property no-anomaly --keys 5 --depth 12 --capacities 3-4
//! ```
//!
//! Exit status: 0 when the property holds, 1 when it breaks, 2 when the
//! arguments or the store are wrong.

use std::process::ExitCode;

use clap::Parser;
use redis_func_cache::rules;
use redis_func_cache_benches::policycheck::equivalence::StoreUnderTest;
use redis_func_cache_benches::policycheck::ops::OpSet;
use redis_func_cache_benches::policycheck::{
    Check, Scope, Search, check_with, explore, parse_rules,
};

/// Model-checks an eviction policy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// lru, mru, fifo, lfu, rr, tlru, s3fifo or sieve; or `custom` with
    /// --rules.
    #[arg(long)]
    policy: String,
    /// With --policy custom: your own rules, e.g.
    /// `insert=one,hit=increment,overwrite=keep,victim=highest` (parts:
    /// index=sorted|set, insert/hit/overwrite=keep|max+1|one|increment|clock,
    /// victim=lowest|highest|random; what is left out is LRU's).
    #[arg(long)]
    rules: Option<String>,
    /// bounded (SPEC §3's invariants), no-anomaly (a larger cache never
    /// hits less) or equivalent (a store gives what the model gives).
    #[arg(long, default_value = "bounded")]
    property: String,
    /// How many distinct keys.
    #[arg(long, default_value_t = 4)]
    keys: u8,
    /// The longest sequence, in operations.
    #[arg(long, default_value_t = 8)]
    depth: usize,
    /// The capacities, `A-B` or `A` (no-anomaly compares each c in A..B
    /// with c+1).
    #[arg(long, default_value = "2-3")]
    capacities: String,
    /// calls (get, and put on a miss) or all (bare gets and puts, maxsize
    /// changes, purges, clock ticks too). Default: calls for no-anomaly,
    /// all otherwise.
    #[arg(long)]
    ops: Option<String>,
    /// A per-entry TTL of this many clock ticks (1 µs each), explored with
    /// ticks among the operations; 0: none (entries live as long as the
    /// pair). Not with no-anomaly; on the memory store only for
    /// equivalent.
    #[arg(long, default_value_t = 0)]
    entry_ttl: u64,
    /// For equivalent: memory or redis.
    #[arg(long, default_value = "memory")]
    store: String,
    /// For --store redis: the server, or with --cluster any node.
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// --redis-url is a Redis Cluster node.
    #[arg(long)]
    cluster: bool,
    /// For --store redis: the client the store uses, redis-rs or fred.
    #[arg(long, default_value = "redis-rs")]
    client: String,
    /// Checker threads. One finds a shortest counterexample and every state
    /// within the depth; with more, a state first reached by a longer path
    /// may be cut off at the depth.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Merge states that differ only in key names (symmetry reduction):
    /// on or off. Applied only where sound: policies whose scores never
    /// tie (lru, mru, fifo, s3fifo, sieve) or with random victims (rr);
    /// never for equivalent.
    #[arg(long, default_value = "on")]
    symmetry: String,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
    /// Serve stateright's Explorer on this loopback address (e.g.
    /// 127.0.0.1:3000) instead of checking.
    #[arg(long)]
    explore: Option<String>,
}

fn capacities(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--capacities {text}: want A-B or A");
    match text.split_once('-') {
        Some((a, b)) => Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)),
        None => {
            let a = text.parse().map_err(|_| bad())?;
            Ok((a, a))
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let policy = match (args.policy.as_str(), &args.rules) {
        ("custom", Some(spec)) => parse_rules(spec).map_err(|e| format!("--rules: {e}"))?,
        ("custom", None) => return Err("--policy custom needs --rules".into()),
        (_, Some(_)) => return Err("--rules goes with --policy custom".into()),
        (word, None) => rules::by_word(word).ok_or_else(|| {
            format!(
                "--policy {word}: want one of {}, or custom with --rules",
                rules::ALL.map(|r| r.word).join(", ")
            )
        })?,
    };
    let check = match args.property.as_str() {
        "bounded" => Check::Bounded,
        "no-anomaly" => Check::NoAnomaly,
        "equivalent" => {
            let url = args.redis_url.clone();
            Check::Equivalent(
                match (args.store.as_str(), args.client.as_str(), args.cluster) {
                    ("memory", "redis-rs", false) => StoreUnderTest::Memory,
                    ("redis", "redis-rs", false) => StoreUnderTest::Redis(url),
                    ("redis", "redis-rs", true) => StoreUnderTest::Cluster(url),
                    ("redis", "fred", false) => StoreUnderTest::Fred(url),
                    ("redis", "fred", true) => StoreUnderTest::FredCluster(url),
                    (_, "redis-rs" | "fred", _) => {
                        return Err(format!(
                            "--store {}: want memory or redis (--cluster and --client fred need redis)",
                            args.store
                        ));
                    }
                    (_, other, _) => {
                        return Err(format!("--client {other}: want redis-rs or fred"));
                    }
                },
            )
        }
        other => {
            return Err(format!(
                "--property {other}: want bounded, no-anomaly or equivalent"
            ));
        }
    };
    let default_ops = if matches!(check, Check::NoAnomaly) {
        "calls"
    } else {
        "all"
    };
    let ops_text = args.ops.as_deref().unwrap_or(default_ops);
    let ops =
        OpSet::parse(ops_text).ok_or_else(|| format!("--ops {ops_text}: want calls or all"))?;
    let scope = Scope {
        keys: args.keys,
        depth: args.depth,
        capacities: capacities(&args.capacities)?,
        ops,
        entry_ttl: match args.entry_ttl {
            0 => None,
            ticks => Some(ticks),
        },
    };
    if let Some(address) = &args.explore {
        let ip: std::net::SocketAddr = address
            .parse()
            .map_err(|_| format!("--explore {address}: want IP:PORT"))?;
        if !ip.ip().is_loopback() {
            return Err(format!("--explore {address}: serve on a loopback address"));
        }
        eprintln!("serving the Explorer on http://{address}/ (Ctrl-C stops it)");
        explore(&check, policy, &scope, address)?;
        return Ok(true);
    }
    let report = check_with(
        &check,
        policy,
        &scope,
        Search {
            threads: args.threads,
            symmetry: match args.symmetry.as_str() {
                "on" => true,
                "off" => false,
                other => return Err(format!("--symmetry {other}: want on or off")),
            },
        },
    )?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    Ok(report.holds)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("policycheck: {e}");
            ExitCode::from(2)
        }
    }
}
