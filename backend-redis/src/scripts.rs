//! The Lua scripts and the calls of them, independent of the client that
//! sends them. Each script is also a Redis Function (a library of one
//! function, named after the script's SHA1): each client turns a
//! [`ScriptCall`] into its own `FCALL`, which costs the server about 2k
//! instructions less per call than `EVALSHA` (BENCHMARKS.md), and falls back
//! to the script as [`FunctionRoute`] decides: `EVALSHA`, and on `NOSCRIPT`
//! `EVAL` of the full text, which runs the script and caches it again in
//! one step (loading it and retrying `EVALSHA` would fail again if another
//! flush came in between).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use redis_func_cache_core::policy::{IndexKind, PolicyRules, ScoreRule, Victim, queue_scores};
use redis_func_cache_core::store::{
    Bytes, Expiry, GetRequest, Leased, Lookup, PutOutcome, PutRequest, StoredValue,
};
use redis_func_cache_core::{Error, InvocationHash, KeyPair};

use crate::BACKEND;

/// The get script's template: [`get_script`] makes one script per policy
/// from it.
const GET_TEMPLATE: &str = include_str!("lua/get.lua");
/// The lease part put in front of the get script for caches that take
/// leases.
const LEASE_PART: &str = include_str!("lua/lease.lua");

/// The get script's answer for an entry past its own deadline, which it
/// removed: the miss in a one-element array, so the caller can report the
/// removal. A leased read takes the lease there as after any miss.
const EXPIRED_MISS: &str = "return {false} -- expired";
/// The index kinds and hit rules the get script knows (see [`get_words`]).
const GET_KINDS: [&str; 3] = ["z", "s", "q"];
const GET_RULES: [&str; 7] = ["keep", "max1", "one", "incr", "clock", "freq", "visit"];
/// One get script per kind, rule, TTL slide, per-entry TTL and lease (and
/// pair TTL, see [`get_script`]).
const GET_VARIANTS: usize = GET_KINDS.len() * GET_RULES.len() * 8;
/// The get scripts, each made on its first use, for the first pair TTL a
/// process uses with the variant (most use one).
static GETS: [OnceLock<GetScript>; GET_VARIANTS] = [const { OnceLock::new() }; GET_VARIANTS];
/// The get scripts for the other pair TTLs, by variant and TTL. Each is
/// made once and kept for the life of the process: one per TTL a process
/// gives its caches, a few kilobytes each.
static OTHER_GETS: LazyLock<Mutex<HashMap<(usize, u64), &'static ScriptText>>> =
    LazyLock::new(Default::default);

/// A get script and the pair TTL written into it.
struct GetScript {
    pair_ttl_ms: u64,
    script: ScriptText,
}

/// The get script a cache of these rules and expiry sends on every call:
/// the template with the policy's words and the pair TTL written in, so
/// that a hit sends only the member (each argument costs the server time,
/// and a constant compared in Lua costs less than one read from `ARGV`).
/// Caches that take leases get the lease part in front, and every miss of
/// the get script returns `lease_miss()` there, so the two cannot drift
/// apart.
fn get_script(
    rules: &PolicyRules,
    expiry: &Expiry,
    leased: bool,
) -> Result<&'static ScriptText, Error> {
    let (kind, rule) = get_words(rules)?;
    let position = |words: &[&str], word: &str| {
        words
            .iter()
            .position(|w| *w == word)
            .ok_or_else(|| unknown(word))
    };
    let (k, r) = (position(&GET_KINDS, kind)?, position(&GET_RULES, rule)?);
    let (slide, per_entry) = (expiry.slide, expiry.entry_ttl.is_some());
    // Without the slide a hit never restarts the TTL: one text serves all.
    let pair_ttl_ms = if slide { millis(expiry.pair_ttl) } else { 0 };
    let slot = (((k * GET_RULES.len() + r) * 2 + usize::from(slide)) * 2 + usize::from(per_entry))
        * 2
        + usize::from(leased);
    let text = || get_text(kind, rule, slide, per_entry, leased, pair_ttl_ms);
    let first = GETS[slot].get_or_init(|| GetScript {
        pair_ttl_ms,
        script: ScriptText::new(text()),
    });
    if first.pair_ttl_ms == pair_ttl_ms {
        return Ok(&first.script);
    }
    let mut others = OTHER_GETS.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(*others
        .entry((slot, pair_ttl_ms))
        .or_insert_with(|| Box::leak(Box::new(ScriptText::new(text())))))
}

/// The text of one get script (see [`get_script`]).
fn get_text(
    kind: &str,
    rule: &str,
    slide: bool,
    per_entry: bool,
    leased: bool,
    pair_ttl_ms: u64,
) -> String {
    let mut words = vec![kind, rule];
    words.extend(slide.then_some("slide"));
    words.extend(per_entry.then_some("per_entry"));
    // SPEC §6: restarted once it has run down by 1/16 of itself.
    let renew_at = pair_ttl_ms - pair_ttl_ms / 16;
    let ttl = format!("'{pair_ttl_ms}', {renew_at}");
    let get = parts_for(GET_TEMPLATE, &words).replace("PAIR_TTL", &ttl);
    if leased {
        format!(
            "{LEASE_PART}{}",
            get.replace("return false", "return lease_miss()")
                .replace(EXPIRED_MISS, "return {lease_miss()} -- expired")
        )
    } else {
        get
    }
}

/// The lines of `template` that a script of `words` runs: a line `--@ a b`
/// starts a part that only a script with the word `a` or `b` keeps, up to
/// the next such line, and `--@ end` ends it. What a word decides is so
/// settled when the text is made, not tested on every call (each test, and
/// even code that never runs, costs the server time on every hit).
fn parts_for(template: &str, words: &[&str]) -> String {
    let mut text = String::with_capacity(template.len());
    let mut kept = true;
    for line in template.lines() {
        match line.strip_prefix("--@ ") {
            Some("end") => kept = true,
            Some(part) => kept = part.split_whitespace().any(|w| words.contains(&w)),
            None if kept => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    text
}

/// The text of the get script the Redis stores send for a cache of these
/// rules and expiry (with `leased`, for a cache that takes leases), for the
/// benchmarks that call it bare. Not part of the API.
#[doc(hidden)]
pub fn get_script_text(
    rules: &PolicyRules,
    expiry: &Expiry,
    leased: bool,
) -> Result<&'static str, Error> {
    Ok(&get_script(rules, expiry, leased)?.text)
}

/// The same get script as the library the stores load with `FUNCTION
/// LOAD` (see [`get_script_text`]), for the tests that load every variant.
/// Not part of the API.
#[doc(hidden)]
pub fn get_script_library(
    rules: &PolicyRules,
    expiry: &Expiry,
    leased: bool,
) -> Result<&'static str, Error> {
    Ok(&get_script(rules, expiry, leased)?.library)
}

/// Evict, insert or replace, set TTLs.
static PUT: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(include_str!("lua/put.lua")));
/// Read (no hit rule) or remove one entry.
static ENTRY: LazyLock<ScriptText> =
    LazyLock::new(|| ScriptText::new(include_str!("lua/entry.lua")));
/// Count a pair's entries.
static LEN: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(include_str!("lua/len.lua")));
/// Remove a pair.
static PURGE: LazyLock<ScriptText> =
    LazyLock::new(|| ScriptText::new(include_str!("lua/purge.lua")));

/// A script's text and SHA1, and the same script as a Redis Function.
pub(crate) struct ScriptText {
    pub(crate) text: String,
    pub(crate) sha: String,
    /// The function's name (and its library's): `rfc_` and the SHA1, so a
    /// name always means one text, and loading it again with `REPLACE`
    /// changes nothing that another process runs.
    pub(crate) function: String,
    /// `FUNCTION LOAD`'s text: a library that registers the script as the
    /// function, `KEYS` and `ARGV` its arguments. No flags: a function
    /// without `allow-oom` is refused whole while the server is out of
    /// memory, and the call then goes as a script, whose writes are refused
    /// one by one (a hit is still served).
    pub(crate) library: String,
}

impl ScriptText {
    fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let sha = sha1_smol::Sha1::from(&text).digest().to_string();
        let function = format!("rfc_{sha}");
        let library = format!(
            "#!lua name={function}\n\
             redis.register_function('{function}', function(KEYS, ARGV)\n{text}\nend)\n"
        );
        ScriptText {
            text,
            sha,
            function,
            library,
        }
    }
}

/// Whether a store sends its scripts as functions (`FCALL`) or as scripts
/// (`EVALSHA`), shared by every call of the store. Functions first (unless
/// [`RedisOptions::functions`](crate::RedisOptions::functions) is off); a
/// server that does not know them (Redis 6.2), a user whose ACL refuses
/// them or a server that cannot compile the library turns the store to
/// scripts for good, on the first refusal; a server that refuses writes, or
/// refuses the library's load for any other reason (one still loading its
/// data, one busy with a slow script), for [`SCRIPTS_AFTER_REFUSAL_FOR`].
#[derive(Debug)]
pub(crate) struct FunctionRoute {
    scripts_only: AtomicBool,
    /// Milliseconds after `created` until which calls go as scripts,
    /// because a server that refuses writes refused a function, or a load
    /// was refused for a reason that may pass (0: none was; see
    /// [`Refusal::WritesRefused`]). A server that refuses writes refuses every
    /// function that may write, whatever the call would do, but runs a
    /// script and refuses only its writes, so a hit is served; it may take
    /// writes again, so functions are tried again later.
    scripts_until_ms: AtomicU64,
    created: Instant,
}

/// How long a store sends its calls as scripts after a server that refuses
/// writes refused a function (see [`Refusal::WritesRefused`]), or refused
/// its load for a reason that may pass: a store pointed at a replica, at a
/// primary that a failover demoted, or at one out of memory or unable to
/// save, then pays one refused `FCALL` per period instead of one per call.
pub(crate) const SCRIPTS_AFTER_REFUSAL_FOR: Duration = Duration::from_secs(10);

impl FunctionRoute {
    /// Functions first if `functions`, else scripts only.
    pub(crate) fn new(functions: bool) -> Self {
        FunctionRoute {
            scripts_only: AtomicBool::new(!functions),
            scripts_until_ms: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// Whether the next call goes as `FCALL`.
    pub(crate) fn functions(&self) -> bool {
        self.functions_at(Instant::now)
    }

    /// [`functions`](Self::functions), with the clock read only when a
    /// server refused writes (`now` is called at most once).
    fn functions_at(&self, now: impl FnOnce() -> Instant) -> bool {
        if self.scripts_only.load(Ordering::Relaxed) {
            return false;
        }
        let until = self.scripts_until_ms.load(Ordering::Relaxed);
        until == 0 || self.millis(now()) >= until
    }

    /// Milliseconds from `created` to `at`, at least 1 (0 means unset).
    fn millis(&self, at: Instant) -> u64 {
        let ms = at.saturating_duration_since(self.created).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX).max(1)
    }

    /// A server refused a function at `at` for a reason that may pass
    /// (it refuses writes; it refused the load): scripts until
    /// [`SCRIPTS_AFTER_REFUSAL_FOR`] later.
    fn scripts_for_a_while(&self, at: Instant) {
        self.scripts_until_ms.store(
            self.millis(at + SCRIPTS_AFTER_REFUSAL_FOR),
            Ordering::Relaxed,
        );
    }

    /// What to do after `FCALL` (or `FUNCTION LOAD`) failed with `message`
    /// (the error's code and text, e.g. `ERR Function not found`): `None`
    /// when the error is the call's own answer (the script ran, or the
    /// server refused it for a reason a script would meet too), to be
    /// returned to the caller.
    pub(crate) fn after_refusal(&self, message: &str) -> Option<Refusal> {
        let lower = message.to_ascii_lowercase();
        if lower.contains("function not found") {
            return Some(Refusal::NotLoaded);
        }
        if functions_unsupported(&lower) {
            self.scripts_only.store(true, Ordering::Relaxed);
            return Some(Refusal::Unsupported);
        }
        if refuses_writes(&lower) {
            self.scripts_for_a_while(Instant::now());
            return Some(Refusal::WritesRefused);
        }
        None
    }
}

/// Whether a server's error (lower case) says it takes no writes now: out
/// of memory under `noeviction`, a read-only replica, a primary short of
/// `min-replicas-to-write`, or one that cannot save its data
/// (`MISCONF`: a failed RDB save under `stop-writes-on-bgsave-error`, or a
/// failed AOF write; a full disk, say).
fn refuses_writes(lower: &str) -> bool {
    ["oom", "readonly", "noreplicas", "misconf"]
        .iter()
        .any(|code| lower.starts_with(code))
}

/// Whether a server's error (lower case) says that it, or the user's ACL,
/// has no functions: every later call would meet the same refusal.
/// (Redis 6.2 quotes an unknown command with backticks, 7 with quotes; ACL
/// names FUNCTION's subcommands as 'function|load'. An ACL refusal inside
/// the function names the refused command, not these.)
fn functions_unsupported(lower: &str) -> bool {
    let unknown = ["'fcall'", "`fcall`", "'function'", "`function`"]
        .iter()
        .any(|name| lower.contains(&format!("unknown command {name}")));
    let denied =
        lower.starts_with("noperm") && (lower.contains("'fcall'") || lower.contains("'function|"));
    unknown || denied
}

impl FunctionRoute {
    /// After the server refused `FUNCTION LOAD` with `message` (a server's
    /// answer, not a lost connection): scripts for good if every later load
    /// would be refused too (a server or an ACL without functions, a server
    /// that cannot compile the library), so no call pays for the attempt;
    /// else for a while. A refusal that may pass must not keep the store
    /// on scripts for good: a server that refuses writes (a replica whose
    /// primary may load the function, one out of memory or unable to save),
    /// one still loading its data after a restart (`LOADING`), one busy
    /// with another client's slow script (`BUSY`); and an error this code
    /// does not know costs one refused load per period at most.
    pub(crate) fn after_load_refused(&self, message: &str) {
        let lower = message.to_ascii_lowercase();
        if functions_unsupported(&lower) || lower.contains("error compiling") {
            self.scripts_only.store(true, Ordering::Relaxed);
        } else {
            self.scripts_for_a_while(Instant::now());
        }
    }
}

/// Why `FCALL` did not run a function; the call then goes as a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server has no such function (a new or flushed server, a node
    /// that joined a cluster): load it (`FUNCTION LOAD REPLACE`), and send
    /// this call as a script; the next goes as `FCALL` again.
    NotLoaded,
    /// The server or the user's ACL has no functions: scripts from now on.
    Unsupported,
    /// The server takes no writes now (out of memory under `noeviction`,
    /// a read-only replica, too few replicas for `min-replicas-to-write`):
    /// it refuses a function without flags whole, but runs a script and
    /// refuses its writes one by one, so a hit is served. Calls go as
    /// scripts for [`SCRIPTS_AFTER_REFUSAL_FOR`].
    WritesRefused,
}

/// One argument of a script call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Bytes(&'a [u8]),
    Text(&'static str),
    Int(u64),
}

/// One call of a script on the two keys of a pair (and, for caches that
/// take leases, the pair's lease key).
pub(crate) struct ScriptCall<'a> {
    pub(crate) script: &'static ScriptText,
    pub(crate) pair: &'a KeyPair,
    pub(crate) lease_key: Option<String>,
    pub(crate) args: Vec<Arg<'a>>,
}

impl<'a> ScriptCall<'a> {
    fn new(script: &'static ScriptText, pair: &'a KeyPair) -> Self {
        ScriptCall {
            script,
            pair,
            lease_key: None,
            args: Vec::with_capacity(10),
        }
    }

    fn arg(mut self, arg: Arg<'a>) -> Self {
        self.args.push(arg);
        self
    }

    fn with_lease_key(mut self, on: bool) -> Self {
        if on {
            self.lease_key = Some(self.pair.leases());
        }
        self
    }

    /// The keys, in order: index, values, and the lease key if any.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        [self.pair.index(), self.pair.values()]
            .into_iter()
            .chain(self.lease_key.as_deref())
    }
}

/// A rule, variant or kind this version of the scripts does not carry out
/// (the policy enums are `#[non_exhaustive]`; a newer core may add one).
fn unknown(what: impl std::fmt::Debug) -> Error {
    Error::config(format!(
        "the Redis store does not carry out the policy part {what:?}; \
         use redis-func-cache crates of one version"
    ))
}

fn rule_word(rule: ScoreRule) -> Result<&'static str, Error> {
    Ok(match rule {
        ScoreRule::Keep => "keep",
        ScoreRule::MaxPlusOne => "max1",
        ScoreRule::One => "one",
        ScoreRule::Increment => "incr",
        ScoreRule::ClockMicros => "clock",
        other => return Err(unknown(other)),
    })
}

/// The index kind, as the put script reads it.
fn kind_word(rules: &PolicyRules) -> Result<&'static str, Error> {
    Ok(match rules.index {
        IndexKind::SortedSet => "z",
        IndexKind::Set => "s",
        IndexKind::S3Fifo => "q3",
        IndexKind::Sieve => "sv",
        other => return Err(unknown(other)),
    })
}

/// The index kind and hit rule, as the get script reads them: S3-FIFO and
/// SIEVE share one hit branch that differs only in what saturates.
fn get_words(rules: &PolicyRules) -> Result<(&'static str, &'static str), Error> {
    Ok(match rules.index {
        IndexKind::S3Fifo => ("q", "freq"),
        IndexKind::Sieve => ("q", "visit"),
        _ => (kind_word(rules)?, rule_word(rules.on_hit)?),
    })
}

fn victim_word(victim: Victim) -> Result<&'static str, Error> {
    Ok(match victim {
        Victim::Lowest => "low",
        Victim::Highest => "high",
        Victim::Random => "rand",
        other => return Err(unknown(other)),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn flag(on: bool) -> Arg<'static> {
    Arg::Text(if on { "1" } else { "0" })
}

/// The get script for a request, or an error for a policy part the
/// scripts do not know.
pub(crate) fn get_call<'a>(req: &'a GetRequest<'a>) -> Result<ScriptCall<'a>, Error> {
    get_call_of(req, false)
}

fn get_call_of<'a>(req: &'a GetRequest<'a>, leased: bool) -> Result<ScriptCall<'a>, Error> {
    let expiry: Expiry = req.expiry;
    Ok(
        ScriptCall::new(get_script(req.rules, &expiry, leased)?, req.pair)
            .arg(Arg::Bytes(&req.member.as_bytes()[..])),
    )
}

/// The get script that also takes the lease on a miss.
pub(crate) fn get_leased_call<'a>(
    req: &'a GetRequest<'a>,
    lease: Duration,
) -> Result<ScriptCall<'a>, Error> {
    Ok(get_call_of(req, true)?
        .with_lease_key(true)
        .arg(Arg::Int(millis(lease))))
}

/// What a get script answered, in client-neutral form.
pub(crate) enum GetAnswer {
    /// A hit's value (for S3-FIFO and SIEVE, with the flag byte on).
    Value(Bytes),
    /// An integer, from the leased script: 0 granted, else the holder's ms
    /// left.
    Number(i64),
    /// A miss (from the leased script: no lease could be recorded).
    Nothing,
    /// A miss that removed an entry past its own deadline, and what the
    /// script answered after that: [`GetAnswer::Nothing`], or the leased
    /// script's lease answer. Never a value, never nested.
    Expired(Box<GetAnswer>),
}

impl GetAnswer {
    /// The answer in a one-element array, which the script gives after
    /// removing an expired entry; `inner` is that element, read.
    pub(crate) fn expired(inner: Result<GetAnswer, Error>) -> Result<GetAnswer, Error> {
        match inner? {
            GetAnswer::Value(_) | GetAnswer::Expired(_) => Err(Error::backend(
                BACKEND,
                "the get script answered an expiry with a value",
            )),
            then => Ok(GetAnswer::Expired(Box::new(then))),
        }
    }
}

/// What a plain get's answer says.
pub(crate) fn looked_up(rules: &PolicyRules, answer: GetAnswer) -> Result<Lookup, Error> {
    Ok(match answer {
        GetAnswer::Value(v) => hit_value(rules, v).map_or(Lookup::Miss, Lookup::Hit),
        GetAnswer::Nothing => Lookup::Miss,
        GetAnswer::Expired(_) => Lookup::Expired,
        GetAnswer::Number(n) => {
            return Err(Error::backend(
                BACKEND,
                format!("the get script answered {n}"),
            ));
        }
    })
}

/// The lease outcome of a leased get's answer.
pub(crate) fn leased(rules: &PolicyRules, answer: GetAnswer) -> Result<Leased, Error> {
    Ok(match answer {
        GetAnswer::Value(v) => match hit_value(rules, v) {
            Some(value) => Leased::Hit(value),
            None => Leased::Unleased,
        },
        GetAnswer::Number(0) => Leased::Granted,
        GetAnswer::Number(ms) if ms > 0 => Leased::Held(Duration::from_millis(ms as u64)),
        GetAnswer::Number(n) => {
            return Err(Error::backend(
                BACKEND,
                format!("the get script answered {n} for a lease"),
            ));
        }
        GetAnswer::Nothing => Leased::Unleased,
        GetAnswer::Expired(then) => Leased::Expired(Box::new(leased(rules, *then)?)),
    })
}

/// The put script for a request, or an error for a policy part the
/// scripts do not know.
pub(crate) fn put_call<'a>(req: &'a PutRequest<'a>) -> Result<ScriptCall<'a>, Error> {
    let expiry = req.expiry;
    let entry_ttl_us = expiry.entry_ttl.map_or(0, |d| {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
    });
    Ok(ScriptCall::new(&PUT, req.pair)
        .arg(Arg::Bytes(&req.member.as_bytes()[..]))
        .arg(Arg::Bytes(&req.value[..]))
        .arg(Arg::Text(kind_word(req.rules)?))
        .arg(Arg::Text(rule_word(req.rules.on_insert)?))
        .arg(Arg::Text(rule_word(req.rules.on_overwrite)?))
        .arg(Arg::Text(victim_word(req.rules.victim)?))
        .arg(Arg::Int(req.maxsize))
        .arg(Arg::Int(millis(expiry.pair_ttl)))
        .arg(flag(expiry.slide))
        .arg(Arg::Int(entry_ttl_us))
        .with_lease_key(req.release_lease))
}

/// The entry script: `peek` reads a member without the hit rule, `remove`
/// deletes it.
pub(crate) fn entry_call<'a>(req: &'a GetRequest<'a>, remove: bool) -> ScriptCall<'a> {
    ScriptCall::new(&ENTRY, req.pair)
        .arg(Arg::Bytes(&req.member.as_bytes()[..]))
        .arg(Arg::Text(if remove { "remove" } else { "peek" }))
        .arg(Arg::Text(match req.rules.index {
            IndexKind::Set => "s",
            IndexKind::Sieve => "sv",
            _ => "z",
        }))
        .arg(flag(req.expiry.entry_ttl.is_some()))
}

/// The script that counts a pair's entries (`HLEN` would also count the
/// top score get.lua keeps in the values hash).
pub(crate) fn len_call(pair: &KeyPair) -> ScriptCall<'_> {
    ScriptCall::new(&LEN, pair)
}

/// The purge script for a pair.
pub(crate) fn purge_call(pair: &KeyPair) -> ScriptCall<'_> {
    ScriptCall::new(&PURGE, pair)
}

/// A member read back from the server.
pub(crate) fn member(bytes: &[u8]) -> Result<InvocationHash, Error> {
    let raw: [u8; 16] = bytes.try_into().map_err(|_| {
        Error::backend(
            BACKEND,
            format!(
                "a member of {} bytes is not an invocation hash",
                bytes.len()
            ),
        )
    })?;
    Ok(InvocationHash::from_bytes(raw))
}

/// What a get script's answer holds for the caller: S3-FIFO's and SIEVE's
/// values end with their counter or bit (see [`queue_scores`]), which the
/// script leaves on so it need not copy the value; it is dropped here.
pub(crate) fn hit_value(rules: &PolicyRules, value: Bytes) -> Option<StoredValue> {
    if !rules.index.is_queue() {
        return Some(StoredValue::from(value));
    }
    let len = value.len().checked_sub(1)?;
    Some(StoredValue::from(value.slice(..len)))
}

/// An index's members with their scores, as [`PairContents`] holds them.
///
/// [`PairContents`]: redis_func_cache_core::store::PairContents
pub(crate) type IndexEntries = Vec<(InvocationHash, Option<u64>)>;

/// A sorted-set index read back as (member, score) pairs, in the form the
/// memory store reports it: SIEVE's hand member (see [`queue_scores`])
/// becomes the hand, every other member an invocation hash.
pub(crate) fn sorted_index(
    pairs: Vec<(Vec<u8>, f64)>,
) -> Result<(IndexEntries, Option<u64>), Error> {
    let mut hand = None;
    let mut index = Vec::with_capacity(pairs.len());
    for (m, score) in pairs {
        if m == queue_scores::HAND.as_bytes() {
            hand = Some((-score) as u64);
        } else {
            index.push((member(&m)?, Some(score as u64)));
        }
    }
    Ok((index, hand))
}

/// The put script's answer. A member that is not an invocation hash (put
/// there by something else) was evicted all the same; it is left out of
/// the report, so a put that succeeded never reports failure.
pub(crate) fn outcome(evicted: Vec<Vec<u8>>) -> Result<PutOutcome, Error> {
    let mut outcome = PutOutcome::default();
    for reply in &evicted {
        // put.lua marks a victim that had expired with a leading 'x'.
        let (bytes, expired) = match reply.split_first() {
            Some((b'x', rest)) if rest.len() == 16 => (rest, true),
            _ => (&reply[..], false),
        };
        // A foreign member (not 16 bytes) is dropped: not one of ours.
        if let Ok(m) = member(bytes) {
            outcome.evicted.push(m);
            outcome.expired += u64::from(expired);
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusals that send a call as a script, told apart from the
    /// errors that are the call's own answer.
    #[test]
    fn refusals_of_functions() {
        let cases = [
            ("ERR Function not found", Some(Refusal::NotLoaded), true),
            (
                "ERR unknown command 'FCALL', with args beginning with: 'rfc_0' '2' ",
                Some(Refusal::Unsupported),
                false,
            ),
            (
                "ERR unknown command `FCALL`, with args beginning with: `rfc_0`, ",
                Some(Refusal::Unsupported),
                false,
            ),
            (
                "ERR unknown command 'FUNCTION', with args beginning with: 'LOAD' ",
                Some(Refusal::Unsupported),
                false,
            ),
            (
                "NOPERM this user has no permissions to run the 'fcall' command",
                Some(Refusal::Unsupported),
                false,
            ),
            (
                "NOPERM this user has no permissions to run the 'function|load' command",
                Some(Refusal::Unsupported),
                false,
            ),
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                Some(Refusal::WritesRefused),
                false,
            ),
            // The call's own answers: a script would meet them too.
            (
                "ERR The user executing the script can't run this command or \
                 subcommand script: rfc_0, on @user_function:175.",
                None,
                true,
            ),
            (
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                None,
                true,
            ),
            (
                "ERR unknown command 'HSETEX', with args beginning with: ",
                None,
                true,
            ),
            ("BUSY Redis is busy running a script.", None, true),
            (
                "READONLY You can't write against a read only replica.",
                Some(Refusal::WritesRefused),
                false,
            ),
            (
                "NOREPLICAS Not enough good replicas to write.",
                Some(Refusal::WritesRefused),
                false,
            ),
            (
                "MISCONF Redis is configured to save RDB snapshots, but it's \
                 currently unable to persist to disk. Commands that may modify \
                 the data set are disabled, ...",
                Some(Refusal::WritesRefused),
                false,
            ),
            (
                "MISCONF Errors writing to the AOF file: No space left on device",
                Some(Refusal::WritesRefused),
                false,
            ),
            // Refused whole, as a script would be.
            ("LOADING Redis is loading the dataset in memory", None, true),
            (
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data \
                 is set to 'no'.",
                None,
                true,
            ),
        ];
        for (message, refusal, functions_after) in cases {
            let route = FunctionRoute::new(true);
            assert!(route.functions());
            assert_eq!(route.after_refusal(message), refusal, "{message}");
            assert_eq!(route.functions(), functions_after, "{message}");
        }
    }

    /// A refused load turns the store to scripts: for good if every later
    /// load would be refused too, else for a while.
    #[test]
    fn refused_loads() {
        for (message, for_good) in [
            (
                "OOM command not allowed when used memory > 'maxmemory'.",
                false,
            ),
            (
                "READONLY You can't write against a read only replica.",
                false,
            ),
            ("NOREPLICAS Not enough good replicas to write.", false),
            (
                "MISCONF Redis is configured to save RDB snapshots, but it's \
                 currently unable to persist to disk. ...",
                false,
            ),
            ("LOADING Redis is loading the dataset in memory", false),
            (
                "BUSY Redis is busy running a script. You can only call \
                 SCRIPT KILL or SHUTDOWN NOSAVE.",
                false,
            ),
            (
                "TRYAGAIN Multiple keys request during rehashing of slot",
                false,
            ),
            ("SOMETHING new that this code does not know", false),
            ("ERR Error compiling function: user_function:1: ...", true),
            (
                "NOPERM this user has no permissions to run the 'function|load' command",
                true,
            ),
            (
                "ERR unknown command 'FUNCTION', with args beginning with: 'LOAD' ",
                true,
            ),
        ] {
            let route = FunctionRoute::new(true);
            route.after_load_refused(message);
            assert!(!route.functions(), "{message}");
            let later = route.created + SCRIPTS_AFTER_REFUSAL_FOR * 2;
            assert_eq!(route.functions_at(|| later), !for_good, "{message}");
        }
        assert!(!FunctionRoute::new(false).functions());
    }

    /// After a refusal of writes, calls go as scripts for
    /// `SCRIPTS_AFTER_REFUSAL_FOR`, then as functions again; a refusal
    /// later starts the period again.
    #[test]
    fn scripts_for_a_while_after_writes_were_refused() {
        let route = FunctionRoute::new(true);
        let t0 = route.created + Duration::from_secs(3);
        route.scripts_for_a_while(t0);
        let after = |d: Duration| route.functions_at(|| t0 + d);
        assert!(!after(Duration::ZERO));
        assert!(!after(SCRIPTS_AFTER_REFUSAL_FOR - Duration::from_millis(1)));
        assert!(after(SCRIPTS_AFTER_REFUSAL_FOR));
        assert!(after(SCRIPTS_AFTER_REFUSAL_FOR * 5));
        let t1 = t0 + SCRIPTS_AFTER_REFUSAL_FOR * 5;
        route.scripts_for_a_while(t1);
        assert!(!route.functions_at(|| t1 + Duration::from_secs(1)));
        assert!(route.functions_at(|| t1 + SCRIPTS_AFTER_REFUSAL_FOR));
        // Scripts for good stay so.
        let only = FunctionRoute::new(false);
        only.scripts_for_a_while(only.created);
        assert!(!only.functions_at(|| only.created + SCRIPTS_AFTER_REFUSAL_FOR * 2));
    }

    /// A script's function is named after its SHA1 and registers the text
    /// whole, `KEYS` and `ARGV` its arguments.
    #[test]
    fn a_script_as_a_function() {
        let script = ScriptText::new("return KEYS[1] .. ARGV[1]");
        assert_eq!(script.sha.len(), 40);
        assert_eq!(script.function, format!("rfc_{}", script.sha));
        assert_eq!(
            script.library,
            format!(
                "#!lua name={0}\nredis.register_function('{0}', function(KEYS, ARGV)\n\
                 return KEYS[1] .. ARGV[1]\nend)\n",
                script.function
            )
        );
    }

    /// The index kinds and hit rules that valid policies give the get
    /// script (`PolicyRules::validate`: a set keeps no scores, S3-FIFO and
    /// SIEVE bring their own rules).
    const GET_WORDS: [(&str, &str); 8] = [
        ("z", "keep"),
        ("z", "max1"),
        ("z", "one"),
        ("z", "incr"),
        ("z", "clock"),
        ("s", "keep"),
        ("q", "freq"),
        ("q", "visit"),
    ];

    /// Every get script made from the template keeps only its policy's
    /// parts, has its TTL written in where it slides, and the leased ones
    /// answer every miss with the lease part. (Each compiles: the Redis
    /// tests load all of them.)
    #[test]
    fn every_get_script_is_whole() {
        for (kind, rule) in GET_WORDS {
            for flags in 0..8u8 {
                let (slide, per_entry, leased) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
                let text = get_text(kind, rule, slide, per_entry, leased, 3_600_000);
                let case = format!("{kind} {rule} {flags}");
                // (The lease part in front has its own PTTL and PEXPIRE.)
                let text = &text[if leased { LEASE_PART.len() } else { 0 }..];
                assert!(
                    !text.lines().any(|l| l.trim_start().starts_with("--@")),
                    "{case}"
                );
                assert!(!text.contains("PAIR_TTL"), "{case}");
                assert_eq!(text.contains("= '3600000', 3375000\n"), slide, "{case}");
                assert_eq!(text.contains("'PEXPIRE'"), slide, "{case}");
                let reads_ttl = slide || rule == "keep" || kind == "q";
                assert_eq!(text.contains("'PTTL', index"), reads_ttl, "{case}");
                // Each hit rule's own call, and no other rule's.
                for (other, call) in [
                    ("max1", "'HINCRBY'"),
                    ("incr", "'INCR'"),
                    ("clock", "string.format('%d', now)"),
                    ("one", "local new = 1"),
                    ("freq", "if flag < 3 then"),
                    ("visit", "if flag < 1 then"),
                ] {
                    assert_eq!(text.contains(call), rule == other, "{case}: {call}");
                }
                assert_eq!(text.contains("'SREM'"), kind == "s", "{case}");
                assert_eq!(
                    text.contains("Written without a deadline"),
                    per_entry,
                    "{case}"
                );
                if leased {
                    assert!(!text.contains("return false"), "{case}: a bare miss");
                    let unleased = get_text(kind, rule, slide, per_entry, false, 3_600_000);
                    assert_eq!(
                        text.matches("return lease_miss()").count(),
                        unleased.matches("return false").count(),
                        "{case}"
                    );
                    assert!(text.contains("return {lease_miss()} -- expired"), "{case}");
                }
            }
        }
    }

    /// A part runs up to the next part's line; `--@ end` ends it, and a
    /// script keeps a part if it has any of its words.
    #[test]
    fn parts_of_a_template() {
        let template = "a\n--@ x y\nb\n--@ z\nc\n--@ end\nd\n";
        assert_eq!(parts_for(template, &["x"]), "a\nb\nd\n");
        assert_eq!(parts_for(template, &["y", "z"]), "a\nb\nc\nd\n");
        assert_eq!(parts_for(template, &["w"]), "a\nd\n");
    }

    /// A cache's pair TTL is written into its get script: caches with
    /// different TTLs get different scripts, caches with the same one share
    /// it, and without the slide the TTL plays no part.
    #[test]
    fn each_pair_ttl_has_its_get_script() {
        use redis_func_cache_core::EvictionPolicy;
        let rules = redis_func_cache_policies::LruPolicy.rules();
        let expiry = |secs: u64, slide: bool| Expiry {
            pair_ttl: Duration::from_secs(secs),
            slide,
            entry_ttl: None,
        };
        let script = |secs, slide| get_script(&rules, &expiry(secs, slide), false).unwrap();
        let (an_hour, a_minute) = (script(3600, true), script(60, true));
        assert!(an_hour.text.contains("= '3600000', 3375000\n"));
        assert!(a_minute.text.contains("= '60000', 56250\n"));
        assert_ne!(an_hour.sha, a_minute.sha);
        assert!(std::ptr::eq(an_hour, script(3600, true)));
        assert!(std::ptr::eq(a_minute, script(60, true)));
        assert!(std::ptr::eq(script(3600, false), script(60, false)));
    }
}
