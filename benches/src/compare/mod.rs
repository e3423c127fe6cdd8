//! Side-by-side comparisons: ours and a baseline measured in the same run,
//! interleaved round by round (A B A B …), on the same server and data.
//!
//! Each comparison is a [`Row`]: the median of our per-round values, the
//! median of the baseline's, and the median of the per-round ratios, which
//! is what the target is checked against. Interleaving puts both sides under
//! the same noise (another process, a CPU frequency change) in every round;
//! the median of the per-round ratios then drops the rounds that noise hit
//! hardest.

pub mod memory_rows;
pub mod python;
pub mod redis_rows;
pub mod stampede;

use std::time::{Duration, Instant};

use serde::Serialize;

/// How big and how long the comparisons run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Rounds per comparison (each round measures ours, then the baseline).
    pub rounds: usize,
    /// How long one side of one round runs.
    pub round_time: Duration,
    /// Entries for the "1M" side of the scaling rows.
    pub scaling_entries: u64,
    /// Entries of the 64-task hit comparison's cache.
    pub conc_entries: u64,
    /// Entries of the bytes-per-entry comparison.
    pub bytes_entries: u64,
    /// Whether these are the `--quick` sizes.
    pub quick: bool,
}

impl Settings {
    /// The sizes the comparison table names.
    pub fn full() -> Settings {
        Settings {
            rounds: 7,
            round_time: Duration::from_millis(1000),
            scaling_entries: 1_000_000,
            conc_entries: 100_000,
            bytes_entries: 100_000,
            quick: false,
        }
    }

    /// Smaller sizes and shorter rounds: the whole run in under a minute on
    /// two cores.
    pub fn quick() -> Settings {
        Settings {
            rounds: 5,
            round_time: Duration::from_millis(200),
            scaling_entries: 100_000,
            conc_entries: 20_000,
            bytes_entries: 10_000,
            quick: true,
        }
    }

    /// One line that says which sizes ran.
    pub fn describe(&self) -> String {
        format!(
            "{} run: {} rounds of {} ms per side; scaling rows at {} entries against 1000; 64-task hits over {} entries; bytes per entry over {} entries",
            if self.quick { "quick" } else { "full" },
            self.rounds,
            self.round_time.as_millis(),
            self.scaling_entries,
            self.conc_entries,
            self.bytes_entries
        )
    }
}

/// Whether a bigger or a smaller ratio is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Throughput: ours / baseline should reach the target.
    Higher,
    /// Size: ours / baseline should stay at or under the target.
    Lower,
}

/// One comparison's result: the line `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The comparison's name.
    pub name: String,
    /// Our median value.
    pub ours: f64,
    /// What the baseline is.
    pub baseline: String,
    /// The baseline's median value.
    pub baseline_value: f64,
    /// The unit of both values.
    pub unit: String,
    /// The median of the per-round ratios ours / baseline.
    pub ratio: f64,
    /// The target for the ratio.
    pub target: f64,
    /// Whether the ratio must be at least or at most the target.
    pub better: Better,
    /// Whether the target is met.
    pub met: bool,
    /// Rounds measured.
    pub rounds: usize,
    /// For the Redis rows with a measured bound (sequential and 64-task):
    /// the ratio the server's own work allows, measured in the same rounds.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub limit: Option<ServerLimit>,
    /// For `stampede_p99`: how many times the function ran (the worst
    /// round), which must be 1 for the target to be met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<u64>,
}

/// What the server's work allows a Redis row, measured in its rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "bound", rename_all = "snake_case")]
pub enum ServerLimit {
    /// A sequential row: each round trip waits for the one before.
    Latency(LatencyLimit),
    /// A 64-task row: the server's one command thread is the bottleneck.
    ServerCpu(CpuLimit),
}

/// What the server's work alone allows a sequential Redis row, from the
/// server time Redis reports (`INFO commandstats`) during the rounds.
///
/// One operation of ours makes `round_trips` round trips. Each costs at
/// least what a baseline call costs minus the baseline's server time (the
/// network and both clients), and the server spends `server_us_ours` on
/// the whole operation, so even a client that cost nothing could not pass
/// `ceiling = t / (round_trips * (t - server_us_baseline) + server_us_ours)`,
/// where `t` is the baseline's time per call.
///
/// `raw_script_ratio` measures the same bound another way, in the same
/// rounds: our scripts sent with precomputed arguments by a bare redis-rs
/// client of the baseline's kind (no hashing, encoding or decoding), over
/// the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyLimit {
    /// Server time per operation of ours, µs (all its round trips).
    pub server_us_ours: f64,
    /// Server time per baseline call, µs.
    pub server_us_baseline: f64,
    /// Round trips per operation of ours.
    pub round_trips: u32,
    /// The highest ratio the server's work allows.
    pub ceiling: f64,
    /// The median per-round ratio of our scripts sent raw to the baseline.
    pub raw_script_ratio: f64,
}

impl LatencyLimit {
    /// The limit for a baseline that ran at `baseline_ops` calls/s, with
    /// `raw_script_ratio` measured beside it.
    pub fn new(
        server_us_ours: f64,
        server_us_baseline: f64,
        round_trips: u32,
        baseline_ops: f64,
        raw_script_ratio: f64,
    ) -> Self {
        let t = 1e6 / baseline_ops;
        let ceiling = t / (f64::from(round_trips) * (t - server_us_baseline) + server_us_ours);
        LatencyLimit {
            server_us_ours,
            server_us_baseline,
            round_trips,
            ceiling,
            raw_script_ratio,
        }
    }
}

/// What the server's one command thread allows a concurrent Redis row.
///
/// Redis runs every command on one thread, which also reads, parses and
/// answers the requests. Per baseline call that thread spends
/// `server_cpu_us_baseline` of CPU (`INFO cpu`, main thread), of which
/// `server_us_baseline` in the command itself (`INFO commandstats`); the
/// rest is the cost of a request on the wire. An operation of ours costs at
/// least that same wire cost (its request is no smaller) plus the
/// `server_us_ours` its script takes, so even a free client, with the
/// server's thread busy all the time, reaches at most
/// `1e6 / (server_cpu_us_baseline - server_us_baseline + server_us_ours)`
/// operations per second. The ceiling is that over the baseline's rate.
///
/// That bound holds only while the server's thread is the bottleneck, so
/// `raw_script_ratio` measures the ceiling directly in the same rounds: our
/// scripts sent with precomputed arguments by the same 64 tasks on a bare
/// redis-rs client (no hashing, encoding or decoding), over the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuLimit {
    /// Command time per operation of ours, µs.
    pub server_us_ours: f64,
    /// Command time per baseline call, µs.
    pub server_us_baseline: f64,
    /// The server thread's CPU per operation of ours, µs.
    pub server_cpu_us_ours: f64,
    /// The server thread's CPU per baseline call, µs.
    pub server_cpu_us_baseline: f64,
    /// The share of our rounds' wall time the server's thread was busy.
    pub server_busy_ours: f64,
    /// The share of the baseline rounds' wall time the server's thread was
    /// busy.
    pub server_busy_baseline: f64,
    /// The highest ratio the server's thread allows.
    pub ceiling: f64,
    /// The median per-round ratio of our scripts sent raw to the baseline.
    pub raw_script_ratio: f64,
}

/// What Redis spent on one side of a concurrent row, over all its rounds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerWork {
    /// Operations (calls of the measured command).
    pub calls: u64,
    /// Time inside the measured command, µs.
    pub command_us: f64,
    /// CPU of the server's main thread, µs.
    pub cpu_us: f64,
    /// Wall time of the rounds, µs.
    pub wall_us: f64,
}

impl CpuLimit {
    /// The limit from what both sides cost the server, for a baseline that
    /// ran at `baseline_ops` calls/s, with `raw_script_ratio` measured
    /// beside it.
    pub fn new(
        ours: ServerWork,
        baseline: ServerWork,
        baseline_ops: f64,
        raw_script_ratio: f64,
    ) -> Self {
        let per = |w: ServerWork, x: f64| x / w.calls.max(1) as f64;
        let server_us_ours = per(ours, ours.command_us);
        let server_us_baseline = per(baseline, baseline.command_us);
        let server_cpu_us_baseline = per(baseline, baseline.cpu_us);
        let wire_us = (server_cpu_us_baseline - server_us_baseline).max(0.0);
        let ceiling = 1e6 / (wire_us + server_us_ours) / baseline_ops;
        CpuLimit {
            server_us_ours,
            server_us_baseline,
            server_cpu_us_ours: per(ours, ours.cpu_us),
            server_cpu_us_baseline,
            server_busy_ours: ours.cpu_us / ours.wall_us.max(1.0),
            server_busy_baseline: baseline.cpu_us / baseline.wall_us.max(1.0),
            ceiling,
            raw_script_ratio,
        }
    }
}

/// A comparison before its result: name, baseline, unit and target.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The comparison's name.
    pub name: &'static str,
    /// What the baseline is.
    pub baseline: &'static str,
    /// The unit of both values.
    pub unit: &'static str,
    /// The target for the ratio.
    pub target: f64,
    /// Which way the ratio should go.
    pub better: Better,
}

impl Spec {
    /// A throughput comparison (ops/s, higher is better).
    pub const fn ops(name: &'static str, baseline: &'static str, target: f64) -> Spec {
        Spec {
            name,
            baseline,
            unit: "ops/s",
            target,
            better: Better::Higher,
        }
    }

    /// The row from per-round measurements of both sides.
    pub fn row(&self, ours: &[f64], baseline: &[f64]) -> Row {
        let ratios: Vec<f64> = ours.iter().zip(baseline).map(|(a, b)| a / b).collect();
        let ratio = median(&ratios);
        let met = match self.better {
            Better::Higher => ratio >= self.target,
            Better::Lower => ratio <= self.target,
        };
        Row {
            name: self.name.to_owned(),
            ours: median(ours),
            baseline: self.baseline.to_owned(),
            baseline_value: median(baseline),
            unit: self.unit.to_owned(),
            ratio,
            target: self.target,
            better: self.better,
            met,
            rounds: ratios.len(),
            limit: None,
            runs: None,
        }
    }
}

/// The median (the mean of the middle two for an even count); NaN if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs `ours` then `baseline`, `rounds` times, and returns both series.
pub fn interleave<E>(
    rounds: usize,
    mut ours: impl FnMut() -> Result<f64, E>,
    mut baseline: impl FnMut() -> Result<f64, E>,
) -> Result<(Vec<f64>, Vec<f64>), E> {
    let mut series = interleave_all(rounds, &mut [&mut ours, &mut baseline])?.into_iter();
    match (series.next(), series.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => unreachable!("two sides give two series"),
    }
}

/// Runs each side in turn, `rounds` times (A B C A B C …), and returns a
/// series per side.
pub fn interleave_all<E>(
    rounds: usize,
    sides: &mut [&mut dyn FnMut() -> Result<f64, E>],
) -> Result<Vec<Vec<f64>>, E> {
    let mut series = vec![Vec::with_capacity(rounds); sides.len()];
    for _ in 0..rounds {
        for (side, out) in sides.iter_mut().zip(&mut series) {
            out.push(side()?);
        }
    }
    Ok(series)
}

/// Calls `op` until `time` has passed; returns operations per second. `op`
/// does `batch` operations per call, so the clock is read once per batch.
pub fn rate<E>(
    time: Duration,
    batch: u64,
    mut op: impl FnMut() -> Result<(), E>,
) -> Result<f64, E> {
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < time {
        op()?;
        done += batch;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// Below the table: for each row with a measured server limit, what the
/// server's work allows.
pub fn limits(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        match r.limit {
            Some(ServerLimit::Latency(l)) => out.push_str(&format!(
                "- `{}`: server time {:.2} µs per operation of ours ({} round trip{}), {:.2} µs per baseline call; the server's work alone allows at most {:.3}; our scripts sent raw (precomputed arguments, a bare redis-rs client) reached {:.3} (measured {:.3})\n",
                r.name,
                l.server_us_ours,
                l.round_trips,
                if l.round_trips == 1 { "" } else { "s" },
                l.server_us_baseline,
                l.ceiling,
                l.raw_script_ratio,
                r.ratio,
            )),
            Some(ServerLimit::ServerCpu(l)) => out.push_str(&format!(
                "- `{}`: the server's thread spent {:.2} µs per operation of ours ({:.2} in the script; busy {:.0} % of the time) and {:.2} µs per baseline call ({:.2} in the command; busy {:.0} %); one thread allows at most {:.3}; our scripts sent raw by the same 64 tasks (precomputed arguments, a bare redis-rs client) reached {:.3} (measured {:.3})\n",
                r.name,
                l.server_cpu_us_ours,
                l.server_us_ours,
                100.0 * l.server_busy_ours,
                l.server_cpu_us_baseline,
                l.server_us_baseline,
                100.0 * l.server_busy_baseline,
                l.ceiling,
                l.raw_script_ratio,
                r.ratio,
            )),
            None => {}
        }
    }
    out
}

/// A row as one JSON line (no newline), as `--json` and `--save` write it.
pub fn json_line(row: &Row) -> String {
    serde_json::to_string(row).expect("a row serializes")
}

/// The table the tool prints without `--json`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| name | ours | baseline | baseline value | unit | ratio | target | met |\n");
    out.push_str("|---|---:|---|---:|---|---:|---|---|\n");
    for r in rows {
        let target = match r.better {
            Better::Higher => format!("≥ {:.2}", r.target),
            Better::Lower => format!("≤ {:.2} (lower is better)", r.target),
        };
        let ours = match r.runs {
            Some(runs) => format!(
                "{} ({runs} run{})",
                number(r.ours),
                if runs == 1 { "" } else { "s" }
            ),
            None => number(r.ours),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.4} | {} | {} |\n",
            r.name,
            ours,
            r.baseline,
            number(r.baseline_value),
            r.unit,
            r.ratio,
            target,
            if r.met { "met" } else { "NOT MET" }
        ));
    }
    out
}

fn number(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_limit_adds_our_server_time_to_each_round_trip() {
        // A baseline call of 100 µs, 1 µs of it on the server: 99 µs of
        // network and clients per round trip.
        let hit = LatencyLimit::new(12.0, 1.0, 1, 10_000.0, 0.8);
        assert!((hit.ceiling - 100.0 / 111.0).abs() < 1e-12, "{hit:?}");
        let miss = LatencyLimit::new(30.0, 1.0, 2, 10_000.0, 0.4);
        assert!((miss.ceiling - 100.0 / 228.0).abs() < 1e-12, "{miss:?}");
    }

    #[test]
    fn the_cpu_limit_adds_our_script_to_the_baselines_wire_cost() {
        // The baseline: 100k calls in 1 s, the server's thread busy 0.9 s,
        // 2 µs of each call's 9 µs in the command: 7 µs on the wire.
        let baseline = ServerWork {
            calls: 100_000,
            command_us: 200_000.0,
            cpu_us: 900_000.0,
            wall_us: 1e6,
        };
        // Ours: scripts of 8 µs; at most 1e6 / (7 + 8) ops/s.
        let ours = ServerWork {
            calls: 50_000,
            command_us: 400_000.0,
            cpu_us: 800_000.0,
            wall_us: 1e6,
        };
        let limit = CpuLimit::new(ours, baseline, 100_000.0, 0.5);
        assert!(
            (limit.ceiling - 1e6 / 15.0 / 100_000.0).abs() < 1e-12,
            "{limit:?}"
        );
        assert_eq!(limit.server_cpu_us_ours, 16.0);
        assert!((limit.server_busy_baseline - 0.9).abs() < 1e-12);
        let json = serde_json::to_value(ServerLimit::ServerCpu(limit)).unwrap();
        assert_eq!(json["bound"], "server_cpu");
        assert_eq!(json["raw_script_ratio"], 0.5);
    }

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_row_takes_the_median_of_the_per_round_ratios() {
        let spec = Spec::ops("x", "y", 0.9);
        // Round ratios 0.5, 1.0, 2.0: the median ratio is 1.0, although the
        // ratio of the medians (20 / 20) happens to agree here too.
        let row = spec.row(&[10.0, 20.0, 40.0], &[20.0, 20.0, 20.0]);
        assert_eq!(row.ratio, 1.0);
        assert!(row.met);
        let row = spec.row(&[10.0, 10.0, 40.0], &[20.0, 20.0, 20.0]);
        assert_eq!(row.ratio, 0.5);
        assert!(!row.met);
    }

    #[test]
    fn lower_is_better_rows_are_met_at_or_under_the_target() {
        let spec = Spec {
            name: "bytes",
            baseline: "python",
            unit: "bytes/entry",
            target: 1.0,
            better: Better::Lower,
        };
        assert!(spec.row(&[90.0], &[100.0]).met);
        assert!(!spec.row(&[110.0], &[100.0]).met);
    }

    #[test]
    fn interleaving_alternates_the_sides() {
        let order = std::cell::RefCell::new(String::new());
        let (a, b) = interleave::<()>(
            3,
            || {
                order.borrow_mut().push('A');
                Ok(1.0)
            },
            || {
                order.borrow_mut().push('B');
                Ok(2.0)
            },
        )
        .unwrap();
        assert_eq!(order.into_inner(), "ABABAB");
        assert_eq!((a.len(), b.len()), (3, 3));
    }
}
