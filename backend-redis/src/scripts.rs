//! The Lua scripts and how a call of one is sent.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Cmd, RedisResult};
use redis_func_cache_core::policy::{IndexKind, PolicyRules, ScoreRule, Victim};
use redis_func_cache_core::store::{Expiry, GetRequest, PutOutcome, PutRequest};
use redis_func_cache_core::{Error, InvocationHash, KeyPair};

use crate::BACKEND;

/// Read a member and apply the hit rule.
static GET: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(include_str!("lua/get.lua")));
/// Evict, insert or replace, set TTLs.
static PUT: LazyLock<ScriptText> = LazyLock::new(|| ScriptText::new(include_str!("lua/put.lua")));
/// Remove a pair.
static PURGE: LazyLock<ScriptText> =
    LazyLock::new(|| ScriptText::new(include_str!("lua/purge.lua")));

/// A script's text and SHA1.
pub(crate) struct ScriptText {
    text: &'static str,
    sha: String,
}

impl ScriptText {
    fn new(text: &'static str) -> Self {
        ScriptText {
            text,
            sha: redis::Script::new(text).get_hash().to_owned(),
        }
    }
}

/// One call of a script on the two keys of a pair.
///
/// It is sent as `EVALSHA`, whose first key routes it in a cluster. A
/// `NOSCRIPT` answer (after `SCRIPT FLUSH`, a restart, a failover or a slot
/// moving to a node that never ran it) is met with `EVAL` of the full text,
/// which runs it and caches it again in one step: loading it and retrying
/// `EVALSHA` would fail again if another flush came in between.
pub(crate) struct ScriptCall {
    script: &'static ScriptText,
    cmd: Cmd,
}

impl ScriptCall {
    fn new(script: &'static ScriptText, pair: &KeyPair) -> Self {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&script.sha)
            .arg(2)
            .arg(pair.index())
            .arg(pair.values());
        ScriptCall { script, cmd }
    }

    fn arg(mut self, arg: impl redis::ToRedisArgs) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// The same call as `EVAL` with the script's text.
    fn eval(&self) -> Cmd {
        let mut eval = redis::cmd("EVAL");
        eval.arg(self.script.text);
        for arg in self.cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                eval.arg(bytes);
            }
        }
        eval
    }

    pub(crate) fn invoke<T: redis::FromRedisValue>(
        &self,
        con: &mut dyn redis::ConnectionLike,
    ) -> RedisResult<T> {
        match self.cmd.query(con) {
            Err(e) if is_noscript(&e) => self.eval().query(con),
            other => other,
        }
    }

    pub(crate) async fn invoke_async<T, C>(&self, con: &mut C) -> RedisResult<T>
    where
        T: redis::FromRedisValue,
        C: redis::aio::ConnectionLike + Send,
    {
        match self.cmd.query_async(con).await {
            Err(e) if is_noscript(&e) => self.eval().query_async(con).await,
            other => other,
        }
    }
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

fn rule_word(rule: ScoreRule) -> &'static str {
    match rule {
        ScoreRule::Keep => "keep",
        ScoreRule::MaxPlusOne => "max1",
        ScoreRule::One => "one",
        ScoreRule::Increment => "incr",
        ScoreRule::ClockMicros => "clock",
    }
}

fn kind_word(rules: &PolicyRules) -> &'static str {
    match rules.index {
        IndexKind::SortedSet => "z",
        IndexKind::Set => "s",
    }
}

fn victim_word(victim: Victim) -> &'static str {
    match victim {
        Victim::Lowest => "low",
        Victim::Highest => "high",
        Victim::Random => "rand",
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// The get script for a request.
pub(crate) fn get_call(req: &GetRequest<'_>) -> ScriptCall {
    let expiry: Expiry = req.expiry;
    ScriptCall::new(&GET, req.pair)
        .arg(&req.member.as_bytes()[..])
        .arg(kind_word(req.rules))
        .arg(rule_word(req.rules.on_hit))
        .arg(millis(expiry.pair_ttl))
        .arg(flag(expiry.slide))
        .arg(flag(expiry.entry_ttl.is_some()))
}

/// The put script for a request.
pub(crate) fn put_call(req: &PutRequest<'_>) -> ScriptCall {
    let expiry = req.expiry;
    let entry_ttl_us = expiry.entry_ttl.map_or(0, |d| {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
    });
    ScriptCall::new(&PUT, req.pair)
        .arg(&req.member.as_bytes()[..])
        .arg(&req.value[..])
        .arg(kind_word(req.rules))
        .arg(rule_word(req.rules.on_insert))
        .arg(rule_word(req.rules.on_overwrite))
        .arg(victim_word(req.rules.victim))
        .arg(req.maxsize)
        .arg(millis(expiry.pair_ttl))
        .arg(flag(expiry.slide))
        .arg(entry_ttl_us)
}

/// The purge script for a pair.
pub(crate) fn purge_call(pair: &KeyPair) -> ScriptCall {
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

/// The put script's answer.
pub(crate) fn outcome(evicted: Vec<Vec<u8>>) -> Result<PutOutcome, Error> {
    Ok(PutOutcome {
        evicted: evicted
            .iter()
            .map(|m| member(m))
            .collect::<Result<_, _>>()?,
    })
}
