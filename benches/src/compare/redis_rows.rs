//! The Redis store against raw commands on the same connection kind, a bare
//! hit script, the `cached` crate and itself at two sizes.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use redis::AsyncCommands;
use redis_func_cache::store::Expiry;
use redis_func_cache::{
    EvictionPolicy, FuncCache, FuncId, LruPolicy, OnStoreError, Policy, RedisStore, by_name,
};

use super::{
    Better, CpuLimit, LatencyLimit, Row, ServerLimit, ServerWork, Settings, Spec, interleave,
    interleave_all, rate,
};

/// The cached function of every Redis comparison.
pub static F: FuncId = FuncId::with_version(module_path!(), "f", "1");

/// Keys of the sequential hit comparisons, all cached.
pub const SEQ_KEYS: u64 = 1_000;
/// Concurrent tasks of the 64-task rows.
pub const TASKS: usize = 64;
/// The raw key the `GET` baselines read: a small value, like a cached u64.
const RAW_KEY: &str = "compare:raw-get";

/// The command our store sends its scripts as, whose server time
/// `INFO commandstats` reports apart from the bare and raw scripts'
/// `EVALSHA`.
const OURS: &str = "fcall";

/// Any failure of a comparison, as text for the tool's output.
pub type Failure = String;

fn fail(what: &str) -> impl Fn(redis_func_cache::Error) -> Failure + '_ {
    move |e| format!("{what}: {e}")
}

fn redis_fail(what: &str) -> impl Fn(redis::RedisError) -> Failure + '_ {
    move |e| format!("{what}: {e}")
}

/// The server time Redis reports per command (`INFO commandstats`) and the
/// CPU of its main thread (`INFO cpu`), read around each round on a
/// connection of its own.
struct ServerTime {
    con: RefCell<redis::Connection>,
}

/// One reading of the server's counters.
#[derive(Debug, Clone, Copy)]
struct ServerReading {
    calls: u64,
    command_us: f64,
    cpu_us: f64,
    at: Instant,
}

impl ServerTime {
    fn info(&self, section: &str) -> Result<String, Failure> {
        redis::cmd("INFO")
            .arg(section)
            .query(&mut *self.con.borrow_mut())
            .map_err(|e| format!("INFO {section}: {e}"))
    }

    fn read(&self, command: &str) -> Result<ServerReading, Failure> {
        let field = |line: &str, name: &str| -> Result<f64, Failure> {
            line.split([',', ':'])
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("no {name} in {line}"))
        };
        let stats = self.info("commandstats")?;
        let prefix = format!("cmdstat_{command}:");
        let (calls, command_us) = match stats.lines().find(|l| l.starts_with(&prefix)) {
            Some(line) => (field(line, "calls")? as u64, field(line, "usec")?),
            None => (0, 0.0),
        };
        let cpu = self.info("cpu")?;
        let seconds = |name: &str| {
            cpu.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("no {name} in INFO cpu"))
        };
        let cpu_us =
            1e6 * (seconds("used_cpu_sys_main_thread")? + seconds("used_cpu_user_main_thread")?);
        Ok(ServerReading {
            calls,
            command_us,
            cpu_us,
            at: Instant::now(),
        })
    }

    /// Runs one round and adds what `command` cost the server in it.
    fn around(
        &self,
        command: &str,
        total: &Cell<ServerWork>,
        round: impl FnOnce() -> Result<f64, Failure>,
    ) -> Result<f64, Failure> {
        let before = self.read(command)?;
        let rate = round()?;
        let after = self.read(command)?;
        let mut sum = total.get();
        sum.calls += after.calls.saturating_sub(before.calls);
        sum.command_us += (after.command_us - before.command_us).max(0.0);
        sum.cpu_us += (after.cpu_us - before.cpu_us).max(0.0);
        sum.wall_us += after.at.duration_since(before.at).as_secs_f64() * 1e6;
        total.set(sum);
        Ok(rate)
    }
}

/// What the Redis comparisons share: the server, a runtime for the async
/// sides, and the caches already filled.
pub struct Bench {
    url: String,
    runtime: tokio::runtime::Runtime,
    settings: Settings,
}

type Cache = Arc<FuncCache<RedisStore>>;

impl Bench {
    /// Connects to `url` and clears what earlier runs left.
    pub fn new(url: &str, settings: Settings) -> Result<Bench, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("a tokio runtime: {e}"))?;
        let bench = Bench {
            url: url.to_owned(),
            runtime,
            settings,
        };
        let mut con = bench.sync_connection()?;
        redis::cmd("FLUSHDB")
            .query::<()>(&mut con)
            .map_err(redis_fail("FLUSHDB"))?;
        redis::cmd("SET")
            .arg(RAW_KEY)
            .arg(12_345u64.to_le_bytes().as_slice())
            .query::<()>(&mut con)
            .map_err(redis_fail("SET"))?;
        Ok(bench)
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn sync_connection(&self) -> Result<redis::Connection, Failure> {
        redis::Client::open(self.url.as_str())
            .and_then(|c| c.get_connection())
            .map_err(redis_fail("connecting"))
    }

    /// The connection kind the store uses for async calls.
    fn async_connection(&self) -> Result<redis::aio::ConnectionManager, Failure> {
        let client = redis::Client::open(self.url.as_str()).map_err(redis_fail("a client"))?;
        self.runtime
            .block_on(redis::aio::ConnectionManager::new(client))
            .map_err(redis_fail("connecting"))
    }

    fn cache(&self, name: &str, maxsize: u64) -> Result<Cache, Failure> {
        self.cache_with(name, maxsize, Policy::of(&LruPolicy))
    }

    /// An empty cache of `policy` on the server.
    fn cache_with(&self, name: &str, maxsize: u64, policy: Policy) -> Result<Cache, Failure> {
        let store = RedisStore::open(self.url.as_str()).map_err(fail("opening the store"))?;
        // Store errors propagate: a row measured while calls failed open
        // (a breaker skipping the server looks fast) fails instead.
        let cache = FuncCache::builder(name)
            .policy(policy)
            .maxsize(maxsize)
            .on_store_error(OnStoreError::Propagate)
            .store(store)
            .build()
            .map_err(fail("building the cache"))?;
        cache.purge().map_err(fail("purging"))?;
        Ok(Arc::new(cache))
    }

    /// Fills `cache` with f(k) = 3k for k in 0..n, 64 calls at a time.
    fn fill(&self, cache: &Cache, n: u64) -> Result<(), Failure> {
        let next = Arc::new(AtomicU64::new(0));
        self.runtime.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let cache = cache.clone();
                    let next = next.clone();
                    tokio::spawn(async move {
                        loop {
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            if k >= n {
                                return Ok::<(), Failure>(());
                            }
                            let _: u64 = cache
                                .call_async(&F, &k, || async move { k * 3 })
                                .await
                                .map_err(fail("filling"))?;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.map_err(|e| e.to_string())??;
            }
            Ok(())
        })
    }

    /// The server's time per hit of each policy's get script (`INFO
    /// commandstats`, `usec_per_call` of `FCALL`), over a bare `HGET` +
    /// `ZADD XX` script's on a pair of the same size, keys and values,
    /// interleaved round by round: what a hit costs Redis, as the
    /// `redis_hit_server_us_{word}` rows (SIEVE, S3-FIFO and FIFO hits are
    /// read-only once warm, so they should cost no more than that minimal
    /// writing script; LRU writes a new top score).
    pub fn server_cost(&self, words: &[&'static str]) -> Result<Vec<Row>, Failure> {
        let server = self.server_time()?;
        // The bare script's pair: an LRU cache filled the same way.
        let bare_cache = self.cache("compare-cost-bare", SEQ_KEYS)?;
        self.fill(&bare_cache, SEQ_KEYS)?;
        let bare_pair = bare_cache.key_pair(&F);
        let members: Vec<[u8; 16]> = (0..SEQ_KEYS).map(member_of).collect::<Result<_, _>>()?;
        let script = redis::Script::new(BARE_LRU_HIT);
        let floor_script = redis::Script::new(LRU_HIT_FLOOR);
        let mut con = self.sync_connection()?;
        let mut con_floor = self.sync_connection()?;
        let mut rows = Vec::new();
        for &word in words {
            let policy = by_name(word, "single").ok_or_else(|| format!("no policy {word}"))?;
            let cache = self.cache_with(&format!("compare-cost-{word}"), SEQ_KEYS, policy)?;
            self.fill(&cache, SEQ_KEYS)?;
            // Warm: three hits per entry saturate S3-FIFO's counters and
            // SIEVE's bits, as on any pair that has served a while.
            for _ in 0..3 {
                for k in 0..SEQ_KEYS {
                    let _: u64 = cache
                        .call(&F, &k, || unreachable!("every key is cached"))
                        .map_err(fail("a warm hit"))?;
                }
            }
            let us_per_call = |command: &str, round: &mut dyn FnMut() -> Result<(), Failure>| {
                let before = server.read(command)?;
                let start = Instant::now();
                while start.elapsed() < self.settings.round_time {
                    round()?;
                }
                let after = server.read(command)?;
                let calls = after.calls.saturating_sub(before.calls);
                if calls == 0 {
                    return Err(format!("Redis counted no {command} in a round of {word}"));
                }
                Ok::<f64, Failure>((after.command_us - before.command_us) / calls as f64)
            };
            let (mut k, mut j, mut score) = (0u64, 0u64, 1u64 << 40);
            let mut ours = || {
                us_per_call(OURS, &mut || {
                    k = (k + 7) % SEQ_KEYS;
                    let v: u64 = cache
                        .call(&F, &k, || unreachable!("every key is cached"))
                        .map_err(fail("a hit"))?;
                    std::hint::black_box(v);
                    Ok(())
                })
            };
            let mut bare = || {
                us_per_call("evalsha", &mut || {
                    j = (j + 7) % SEQ_KEYS;
                    score += 1;
                    let v: Option<Vec<u8>> = script
                        .key(bare_pair.index())
                        .key(bare_pair.values())
                        .arg(&members[j as usize][..])
                        .arg(score)
                        .invoke(&mut con)
                        .map_err(redis_fail("the bare script"))?;
                    v.map(drop)
                        .ok_or_else(|| "the bare script missed a cached member".to_owned())
                })
            };
            // LRU's floor: the four calls SPEC asks of its hit, bare, on the
            // same pair as ours (each of them an exact LRU hit too).
            let floor_pair = cache.key_pair(&F);
            let mut f = 0u64;
            let mut floor = || {
                us_per_call("evalsha", &mut || {
                    f = (f + 7) % SEQ_KEYS;
                    let v: Option<Vec<u8>> = floor_script
                        .key(floor_pair.index())
                        .key(floor_pair.values())
                        .arg(&members[f as usize][..])
                        .invoke(&mut con_floor)
                        .map_err(redis_fail("the floor script"))?;
                    v.map(drop)
                        .ok_or_else(|| "the floor script missed a cached member".to_owned())
                })
            };
            let with_floor = word == "lru";
            let series = if with_floor {
                interleave_all(
                    self.settings.rounds,
                    &mut [&mut ours, &mut bare, &mut floor],
                )?
            } else {
                interleave_all(self.settings.rounds, &mut [&mut ours, &mut bare])?
            };
            let (ours, bare) = (&series[0], &series[1]);
            let name: &'static str = match word {
                "lru" => "redis_hit_server_us_lru",
                "fifo" => "redis_hit_server_us_fifo",
                "lfu" => "redis_hit_server_us_lfu",
                "sieve" => "redis_hit_server_us_sieve",
                "s3fifo" => "redis_hit_server_us_s3fifo",
                other => return Err(format!("no server-cost row for {other}")),
            };
            let spec = Spec {
                name,
                baseline: "bare EVALSHA of HGET + ZADD XX on an LRU pair of the same keys and values",
                unit: "server µs/hit",
                target: if word == "lru" || word == "lfu" {
                    1.3
                } else {
                    1.0
                },
                better: Better::Lower,
            };
            rows.push(spec.row(ours, bare));
            if let Some(floor) = series.get(2) {
                rows.push(
                    Spec {
                        name: "redis_hit_server_us_lru_floor",
                        baseline: "bare EVALSHA of the four calls SPEC asks of an LRU hit \
                                   (HGET, HINCRBY of the kept top, ZADD XX CH, PTTL) on the same pair",
                        unit: "server µs/hit",
                        target: 1.1,
                        better: Better::Lower,
                    }
                    .row(ours, floor),
                );
            }
            cache.purge().map_err(fail("purging"))?;
        }
        bare_cache.purge().map_err(fail("purging"))?;
        Ok(rows)
    }

    fn seq_cache(&self) -> Result<Cache, Failure> {
        let cache = self.cache("compare-seq", SEQ_KEYS)?;
        self.fill(&cache, SEQ_KEYS)?;
        Ok(cache)
    }

    /// Sequential sync hits through the public API.
    fn sync_hits(&self, cache: &Cache) -> Result<f64, Failure> {
        let mut k = 0u64;
        rate(self.settings.round_time, 1, || {
            k = (k + 1) % SEQ_KEYS;
            let v: u64 = cache
                .call(&F, &k, || unreachable!("every key is cached"))
                .map_err(fail("a hit"))?;
            std::hint::black_box(v);
            Ok(())
        })
    }

    fn server_time(&self) -> Result<ServerTime, Failure> {
        Ok(ServerTime {
            con: RefCell::new(self.sync_connection()?),
        })
    }

    /// Interleaves `ours` (`FCALL`, `round_trips` per operation) with a
    /// baseline of one `baseline_command` per call and with `raw_script`
    /// (the same scripts sent raw by the baseline's client), and gives the
    /// row the limit the server's measured work sets.
    fn latency_row(
        &self,
        spec: Spec,
        round_trips: u32,
        baseline_command: &str,
        mut ours: impl FnMut() -> Result<f64, Failure>,
        mut baseline: impl FnMut() -> Result<f64, Failure>,
        mut raw_script: impl FnMut() -> Result<f64, Failure>,
    ) -> Result<Row, Failure> {
        let server = self.server_time()?;
        let (ours_time, baseline_time) = (Cell::default(), Cell::default());
        let series = interleave_all(
            self.settings.rounds,
            &mut [
                &mut || server.around(OURS, &ours_time, &mut ours),
                &mut || server.around(baseline_command, &baseline_time, &mut baseline),
                &mut raw_script,
            ],
        )?;
        let [a, b, raw] = &series[..] else {
            unreachable!("three sides give three series")
        };
        let mut row = spec.row(a, b);
        let (ours_time, baseline_time) = (ours_time.get(), baseline_time.get());
        Self::counted(&spec, &ours_time, &baseline_time, baseline_command)?;
        let per_call = |w: ServerWork| w.command_us / w.calls as f64;
        row.limit = Some(ServerLimit::Latency(LatencyLimit::new(
            per_call(ours_time) * f64::from(round_trips),
            per_call(baseline_time),
            round_trips,
            row.baseline_value,
            spec.row(raw, b).ratio,
        )));
        Ok(row)
    }

    /// Interleaves three 64-task sides, `ours` (`FCALL`), a baseline of
    /// `baseline_command` and `raw_script` (our scripts sent raw by the same
    /// tasks), and gives the row the limit the server's one command thread
    /// sets.
    fn server_bound_row(
        &self,
        spec: Spec,
        baseline_command: &str,
        mut ours: impl FnMut() -> Result<f64, Failure>,
        mut baseline: impl FnMut() -> Result<f64, Failure>,
        mut raw_script: impl FnMut() -> Result<f64, Failure>,
    ) -> Result<Row, Failure> {
        let server = self.server_time()?;
        let (ours_time, baseline_time) = (Cell::default(), Cell::default());
        let series = interleave_all(
            self.settings.rounds,
            &mut [
                &mut || server.around(OURS, &ours_time, &mut ours),
                &mut || server.around(baseline_command, &baseline_time, &mut baseline),
                &mut raw_script,
            ],
        )?;
        let [a, b, raw] = &series[..] else {
            unreachable!("three sides give three series")
        };
        let mut row = spec.row(a, b);
        let (ours_time, baseline_time) = (ours_time.get(), baseline_time.get());
        Self::counted(&spec, &ours_time, &baseline_time, baseline_command)?;
        row.limit = Some(ServerLimit::ServerCpu(CpuLimit::new(
            ours_time,
            baseline_time,
            row.baseline_value,
            spec.row(raw, b).ratio,
        )));
        Ok(row)
    }

    /// Refuses a limit from rounds in which Redis counted no call.
    fn counted(
        spec: &Spec,
        ours: &ServerWork,
        baseline: &ServerWork,
        baseline_command: &str,
    ) -> Result<(), Failure> {
        if ours.calls == 0 || baseline.calls == 0 {
            return Err(format!(
                "{}: Redis counted no FCALL or no {baseline_command} in the rounds",
                spec.name
            ));
        }
        Ok(())
    }

    /// `redis_hit_seq_async`, `redis_hit_seq_sync` and `redis_miss_seq`.
    pub fn sequential(&self) -> Result<Vec<Row>, Failure> {
        let cache = self.seq_cache()?;
        let raw = Arc::new(RawScripts::new(&cache, SEQ_KEYS)?);
        let time = self.settings.round_time;
        let mut rows = Vec::new();

        let manager = self.async_connection()?;
        let spec = Spec::ops(
            "redis_hit_seq_async",
            "raw async GET of a small key (redis-rs ConnectionManager)",
            0.90,
        );
        rows.push(self.latency_row(
            spec,
            1,
            "get",
            || self.sequentially(|n| async_hit(cache.clone(), n % SEQ_KEYS)),
            || {
                self.sequentially(|_| {
                    let mut con = manager.clone();
                    async move {
                        let v: Vec<u8> = con.get(RAW_KEY).await.map_err(redis_fail("GET"))?;
                        std::hint::black_box(v);
                        Ok(())
                    }
                })
            },
            || self.sequentially(|n| raw.clone().async_hit(manager.clone(), n % SEQ_KEYS)),
        )?);

        let mut con = self.sync_connection()?;
        let mut raw_get = || {
            rate(time, 1, || {
                let v: Vec<u8> = redis::cmd("GET")
                    .arg(RAW_KEY)
                    .query(&mut con)
                    .map_err(redis_fail("GET"))?;
                std::hint::black_box(v);
                Ok::<(), Failure>(())
            })
        };
        let mut raw_con = self.sync_connection()?;
        let spec = Spec::ops(
            "redis_hit_seq_sync",
            "raw sync GET of a small key (redis-rs Connection)",
            0.90,
        );
        let mut k = 0;
        rows.push(self.latency_row(
            spec,
            1,
            "get",
            || self.sync_hits(&cache),
            &mut raw_get,
            || {
                rate(time, 1, || {
                    k = (k + 1) % SEQ_KEYS;
                    raw.sync_hit(&mut raw_con, k)
                })
            },
        )?);

        let full = self.cache("compare-miss", 1000)?;
        self.fill(&full, 1000)?;
        let raw_full = RawScripts::new(&full, 0)?;
        let mut next = 1000u64;
        // Far above `next`: the raw side's members are new too.
        let mut next_raw = 1u64 << 40;
        let spec = Spec::ops(
            "redis_miss_seq",
            "raw sync GET of a small key (redis-rs Connection)",
            0.45,
        );
        rows.push(self.latency_row(
            spec,
            2,
            "get",
            || self.sync_misses(&full, &mut next),
            &mut raw_get,
            || {
                rate(time, 1, || {
                    next_raw += 1;
                    raw_full.sync_miss(&mut raw_con, next_raw, 1000)
                })
            },
        )?);
        Ok(rows)
    }

    /// Sequential sync misses on a full cache, keys from `next` up: each
    /// call runs f and its put evicts one entry.
    fn sync_misses(&self, cache: &Cache, next: &mut u64) -> Result<f64, Failure> {
        rate(self.settings.round_time, 1, || {
            let k = *next;
            *next += 1;
            let v: u64 = cache.call(&F, &k, || k * 3).map_err(fail("a miss"))?;
            std::hint::black_box(v);
            Ok(())
        })
    }

    /// Runs `op(i)` for i = 0, 1, … one after another for one round; ops/s.
    fn sequentially<Fut>(&self, mut op: impl FnMut(u64) -> Fut) -> Result<f64, Failure>
    where
        Fut: Future<Output = Result<(), Failure>>,
    {
        let time = self.settings.round_time;
        self.runtime.block_on(async move {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < time {
                op(n).await?;
                n += 1;
            }
            Ok(n as f64 / start.elapsed().as_secs_f64())
        })
    }

    /// Runs `op(task, i)` on 64 tasks for one round; total ops/s.
    fn concurrently<Fut>(
        &self,
        op: impl Fn(usize, u64) -> Fut + Send + Sync + Clone + 'static,
    ) -> Result<f64, Failure>
    where
        Fut: Future<Output = Result<(), Failure>> + Send,
    {
        let time = self.settings.round_time;
        self.runtime.block_on(async move {
            let start = Instant::now();
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let op = op.clone();
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        while start.elapsed() < time {
                            op(t, n).await?;
                            n += 1;
                        }
                        Ok::<u64, Failure>(n)
                    })
                })
                .collect();
            let mut total = 0;
            for task in tasks {
                total += task.await.map_err(|e| e.to_string())??;
            }
            Ok(total as f64 / start.elapsed().as_secs_f64())
        })
    }

    /// `redis_hit_conc64`: 64 tasks hitting a full LRU cache of
    /// `conc_entries`, against a bare `EVALSHA` of `HGET` + `ZADD XX` on the
    /// same pair, members and connection kind.
    pub fn concurrent_hits(&self) -> Result<Row, Failure> {
        let n = self.settings.conc_entries;
        let cache = self.cache("compare-conc", n)?;
        self.fill(&cache, n)?;
        let pair = cache.key_pair(&F);
        let members: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..n)
                .map(|k| {
                    F.invocation_hash(&k)
                        .map(|h| h.as_bytes().to_vec())
                        .map_err(fail("hashing"))
                })
                .collect::<Result<_, _>>()?,
        );
        let script = Arc::new(redis::Script::new(BARE_LRU_HIT));
        let manager = self.async_connection()?;
        let index: Arc<str> = pair.index().into();
        let values: Arc<str> = pair.values().into();
        let clock = Arc::new(AtomicU64::new(1 << 40));
        let spread = move |t: usize, i: u64| (t as u64 * 7919 + i * 104_729) % n;

        let ours = {
            let cache = cache.clone();
            move || {
                let cache = cache.clone();
                self.concurrently(move |t, i| async_hit(cache.clone(), spread(t, i)))
            }
        };
        let bare = || {
            let (script, manager, index, values, members, clock) = (
                script.clone(),
                manager.clone(),
                index.clone(),
                values.clone(),
                members.clone(),
                clock.clone(),
            );
            self.concurrently(move |t, i| {
                let (script, mut con, index, values, members, clock) = (
                    script.clone(),
                    manager.clone(),
                    index.clone(),
                    values.clone(),
                    members.clone(),
                    clock.clone(),
                );
                async move {
                    let member = &members[spread(t, i) as usize];
                    let score = clock.fetch_add(1, Ordering::Relaxed);
                    let v: Option<Vec<u8>> = script
                        .key(&*index)
                        .key(&*values)
                        .arg(member.as_slice())
                        .arg(score)
                        .invoke_async(&mut con)
                        .await
                        .map_err(redis_fail("EVALSHA"))?;
                    if v.is_none() {
                        return Err("the bare script missed a cached member".to_owned());
                    }
                    Ok(())
                }
            })
        };
        let raw = Arc::new(RawScripts::new(&cache, n)?);
        let raw_script = || {
            let (raw, manager) = (raw.clone(), manager.clone());
            self.concurrently(move |t, i| raw.clone().async_hit(manager.clone(), spread(t, i)))
        };
        let spec = Spec::ops(
            "redis_hit_conc64",
            "bare EVALSHA of HGET + ZADD XX, same pair, members, tasks and connection kind",
            0.85,
        );
        self.server_bound_row(spec, "evalsha", ours, bare, raw_script)
    }

    /// `redis_hit_vs_cached` (sequential) and `redis_hit_vs_cached_conc64`:
    /// async hits against the `cached` crate's `AsyncRedisCache` (one `GET`
    /// per hit, no eviction) on the same server and keys.
    pub fn versus_cached(&self) -> Result<Vec<Row>, Failure> {
        use cached::ConcurrentCachedAsync;
        let cache = self.seq_cache()?;
        let theirs: Arc<cached::AsyncRedisCache<u64, u64>> = Arc::new(
            self.runtime
                .block_on(
                    cached::AsyncRedisCache::builder("compare-cached")
                        .connection_string(&self.url)
                        .build(),
                )
                .map_err(|e| format!("the cached crate's store: {e}"))?,
        );
        self.runtime.block_on(async {
            for k in 0..SEQ_KEYS {
                theirs
                    .async_cache_set(k, k * 3)
                    .await
                    .map_err(|e| format!("filling the cached crate's store: {e}"))?;
            }
            Ok::<(), Failure>(())
        })?;
        let mut rows = Vec::new();
        let raw = Arc::new(RawScripts::new(&cache, SEQ_KEYS)?);
        let manager = self.async_connection()?;

        let spec = Spec::ops(
            "redis_hit_vs_cached",
            "cached::AsyncRedisCache::async_cache_get, one task",
            1.0,
        );
        rows.push(self.latency_row(
            spec,
            1,
            "get",
            || self.sequentially(|n| async_hit(cache.clone(), n % SEQ_KEYS)),
            || {
                self.sequentially(|n| {
                    let theirs = theirs.clone();
                    async move {
                        let k = n % SEQ_KEYS;
                        let v = theirs
                            .async_cache_get(&k)
                            .await
                            .map_err(|e| format!("cached: {e}"))?;
                        if v != Some(k * 3) {
                            return Err(format!("cached returned {v:?} for {k}"));
                        }
                        Ok(())
                    }
                })
            },
            || self.sequentially(|n| raw.clone().async_hit(manager.clone(), n % SEQ_KEYS)),
        )?);

        let spec = Spec::ops(
            "redis_hit_vs_cached_conc64",
            "cached::AsyncRedisCache::async_cache_get, 64 tasks",
            1.0,
        );
        rows.push(self.server_bound_row(
            spec,
            "get",
            || {
                let cache = cache.clone();
                self.concurrently(move |t, i| {
                    async_hit(cache.clone(), (t as u64 * 31 + i) % SEQ_KEYS)
                })
            },
            || {
                let theirs = theirs.clone();
                self.concurrently(move |t, i| {
                    let theirs = theirs.clone();
                    async move {
                        let k = (t as u64 * 31 + i) % SEQ_KEYS;
                        let v = theirs
                            .async_cache_get(&k)
                            .await
                            .map_err(|e| format!("cached: {e}"))?;
                        std::hint::black_box(v);
                        Ok(())
                    }
                })
            },
            || {
                let (raw, manager) = (raw.clone(), manager.clone());
                self.concurrently(move |t, i| {
                    raw.clone()
                        .async_hit(manager.clone(), (t as u64 * 31 + i) % SEQ_KEYS)
                })
            },
        )?);
        Ok(rows)
    }

    /// `redis_put_scaling`: sequential puts (misses that evict) on a full
    /// cache of `scaling_entries` against a full cache of 1000.
    pub fn put_scaling(&self) -> Result<Row, Failure> {
        let big_n = self.settings.scaling_entries;
        let big = self.cache("compare-put-big", big_n)?;
        self.fill(&big, big_n)?;
        let small = self.cache("compare-put-small", 1000)?;
        self.fill(&small, 1000)?;
        let (mut next_big, mut next_small) = (big_n, 1000u64);
        let spec = Spec::ops(
            "redis_put_scaling",
            "the same puts on a full cache of 1000 entries",
            0.7,
        );
        let (a, b) = interleave(
            self.settings.rounds,
            || self.sync_misses(&big, &mut next_big),
            || self.sync_misses(&small, &mut next_small),
        )?;
        let len = big.len(&F).map_err(fail("len"))?;
        if len != big_n {
            return Err(format!("the big cache holds {len} entries, not {big_n}"));
        }
        big.purge().map_err(fail("purging"))?;
        Ok(spec.row(&a, &b))
    }

    /// Our pair's `MEMORY USAGE` per entry, with `bytes_entries` entries of
    /// f(k) = 3k.
    pub fn our_bytes_per_entry(&self) -> Result<f64, Failure> {
        let n = self.settings.bytes_entries;
        let cache = self.cache("compare-bytes", n)?;
        self.fill(&cache, n)?;
        let pair = cache.key_pair(&F);
        let bytes = self.memory_usage(&[pair.index(), pair.values()])?;
        cache.purge().map_err(fail("purging"))?;
        Ok(bytes as f64 / n as f64)
    }

    /// The exact `MEMORY USAGE` (every element sampled) of `keys`, summed.
    pub fn memory_usage(&self, keys: &[&str]) -> Result<u64, Failure> {
        let mut con = self.sync_connection()?;
        let mut total = 0;
        for key in keys {
            let bytes: Option<u64> = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(*key)
                .arg("SAMPLES")
                .arg(0)
                .query(&mut con)
                .map_err(redis_fail("MEMORY USAGE"))?;
            total += bytes.ok_or_else(|| format!("{key} does not exist"))?;
        }
        Ok(total)
    }

    /// Sequential sync hits on a cache of [`SEQ_KEYS`] entries, for the
    /// Python comparison: returns a measuring closure.
    pub fn sync_hit_rounds(&self) -> Result<impl FnMut() -> Result<f64, Failure> + '_, Failure> {
        let cache = self.seq_cache()?;
        Ok(move || self.sync_hits(&cache))
    }

    /// `redis_bytes_per_entry` from both measurements.
    pub fn bytes_row(ours: f64, python: f64) -> Row {
        Spec {
            name: "redis_bytes_per_entry",
            baseline: "the Python redis-func-cache's pair, same values",
            unit: "bytes/entry",
            target: 1.0,
            better: Better::Lower,
        }
        .row(&[ours], &[python])
    }
}

/// One async hit of f(k) through the public API.
/// The Redis store's own put script, the text it loads (its get script is
/// made per policy: [`redis_func_cache_redis::get_script_text`]).
const STORE_PUT_SCRIPT: &str = include_str!("../../../backend-redis/src/lua/put.lua");

/// A value of the size ours stores for f(k) = 3k (a 3-byte bincode varint).
const RAW_VALUE: &[u8] = &[0xfb, 0x10, 0x27];

/// Our get and put scripts on a compare cache's pair, called with
/// precomputed arguments (those the store sends for an LRU cache with the
/// default sliding TTL) by the bare redis-rs client: what the scripts cost
/// a client that does nothing else.
struct RawScripts {
    get: redis::Script,
    put: redis::Script,
    index: String,
    values: String,
    ttl_ms: u64,
    /// The members of keys 0..n, hashed beforehand.
    members: Vec<[u8; 16]>,
}

impl RawScripts {
    fn new(cache: &Cache, n: u64) -> Result<Self, Failure> {
        let pair = cache.key_pair(&F);
        Ok(RawScripts {
            get: redis::Script::new(
                redis_func_cache_redis::get_script_text(
                    &LruPolicy.rules(),
                    &Expiry {
                        pair_ttl: redis_func_cache::DEFAULT_TTL,
                        slide: true,
                        entry_ttl: None,
                    },
                    false,
                )
                .map_err(|e| e.to_string())?,
            ),
            put: redis::Script::new(STORE_PUT_SCRIPT),
            index: pair.index().to_owned(),
            values: pair.values().to_owned(),
            ttl_ms: redis_func_cache::DEFAULT_TTL.as_millis() as u64,
            members: (0..n).map(member_of).collect::<Result<_, _>>()?,
        })
    }

    fn get_call(&self, member: &[u8]) -> redis::ScriptInvocation<'_> {
        let mut call = self.get.key(&self.index);
        call.key(&self.values).arg(member);
        call
    }

    fn put_call(&self, member: &[u8], maxsize: u64) -> redis::ScriptInvocation<'_> {
        let mut call = self.put.key(&self.index);
        call.key(&self.values)
            .arg(member)
            .arg(RAW_VALUE)
            .arg("z")
            .arg("max1")
            .arg("keep")
            .arg("low")
            .arg(maxsize)
            .arg(self.ttl_ms)
            .arg("1")
            .arg("0");
        call
    }

    async fn async_hit(
        self: Arc<Self>,
        mut con: redis::aio::ConnectionManager,
        k: u64,
    ) -> Result<(), Failure> {
        let v: Option<Vec<u8>> = self
            .get_call(&self.members[k as usize])
            .invoke_async(&mut con)
            .await
            .map_err(redis_fail("our get script, raw"))?;
        v.map(std::hint::black_box)
            .map(drop)
            .ok_or_else(|| format!("our get script, sent raw, missed key {k}"))
    }

    fn sync_hit(&self, con: &mut redis::Connection, k: u64) -> Result<(), Failure> {
        let v: Option<Vec<u8>> = self
            .get_call(&self.members[k as usize])
            .invoke(con)
            .map_err(redis_fail("our get script, raw"))?;
        v.map(std::hint::black_box)
            .map(drop)
            .ok_or_else(|| format!("our get script, sent raw, missed key {k}"))
    }

    /// A miss of new key `k` on the full pair: the get script, then the put
    /// script, which must evict one member.
    fn sync_miss(&self, con: &mut redis::Connection, k: u64, maxsize: u64) -> Result<(), Failure> {
        let member = member_of(k)?;
        let v: Option<Vec<u8>> = self
            .get_call(&member)
            .invoke(con)
            .map_err(redis_fail("our get script, raw"))?;
        if v.is_some() {
            return Err(format!("our get script, sent raw, hit new key {k}"));
        }
        let evicted: Vec<Vec<u8>> = self
            .put_call(&member, maxsize)
            .invoke(con)
            .map_err(redis_fail("our put script, raw"))?;
        if evicted.len() != 1 {
            return Err(format!(
                "our put script, sent raw on a full pair, evicted {}",
                evicted.len()
            ));
        }
        Ok(())
    }
}

/// The member of f(k).
fn member_of(k: u64) -> Result<[u8; 16], Failure> {
    F.invocation_hash(&k)
        .map(|h| *h.as_bytes())
        .map_err(fail("hashing"))
}

async fn async_hit(cache: Cache, k: u64) -> Result<(), Failure> {
    let v: u64 = cache
        .call_async(&F, &k, || async { unreachable!("every key is cached") })
        .await
        .map_err(fail("a hit"))?;
    std::hint::black_box(v);
    Ok(())
}

/// The calls SPEC asks of an LRU hit and nothing else: read the value,
/// move the kept top score on (§3's "max + 1"), move the member to it, read
/// the pair's remaining TTL (§6's 1/16 slide decides by it). No header, no
/// healing, no TTL restart: what no LRU get script can do without.
const LRU_HIT_FLOOR: &str = r"
local v = redis.call('HGET', KEYS[2], ARGV[1])
local top = redis.call('HINCRBY', KEYS[2], '', '1')
redis.call('ZADD', KEYS[1], 'XX', 'CH', top, ARGV[1])
redis.call('PTTL', KEYS[1])
return v
";

/// The smallest exact LRU hit: read the value and, if there is one, move the
/// member to the given score. Nothing else (no TTL, no healing, no modes).
const BARE_LRU_HIT: &str = r"
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v then redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1]) end
return v
";
