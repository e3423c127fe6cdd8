//! The Python `redis-func-cache` from PyPI, run as a subprocess from a venv
//! that this module makes, on the same server.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// The PyPI release measured against.
pub const PACKAGE: &str = "redis_func_cache==0.8.0";

/// The script the venv runs: `fill URL N NAME` caches f(0..N) and prints
/// the pair's key names; `hits URL N SECONDS NAME` calls f over 0..N (all
/// cached) for SECONDS and prints calls per second. Timing starts after the
/// imports and the connection, so process start-up is not measured.
const SCRIPT: &str = r#"
import json, sys, time
from redis import Redis
from redis_func_cache import RedisFuncCache, LruPolicy

mode, url, n, rest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
name = rest[-1]
cache = RedisFuncCache(name, LruPolicy(), client=Redis.from_url(url), maxsize=n)

@cache
def f(x):
    return x * 3

if mode == "fill":
    cache.policy.purge()
    for i in range(n):
        f(i)
    print(json.dumps({"keys": list(cache.policy.calc_keys(f, (0,), {}))}))
elif mode == "hits":
    seconds = float(rest[0])
    f(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            v = f(count % n)
            count += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"ops_per_s": count / elapsed}))
"#;

/// A venv with the Python library.
pub struct Python {
    interpreter: PathBuf,
    script: PathBuf,
}

#[derive(Deserialize)]
struct Filled {
    keys: Vec<String>,
}

#[derive(Deserialize)]
struct Hits {
    ops_per_s: f64,
}

/// Whether `python3` is on this machine: the one reason to skip the Python
/// rows.
pub fn python3_present() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Python {
    /// Makes (once) the venv in `dir` and installs [`PACKAGE`] into it.
    pub fn prepare(dir: &Path) -> Result<Python, String> {
        let interpreter = dir.join("bin").join("python");
        let marker = dir.join(format!("installed-{PACKAGE}"));
        if !marker.exists() {
            run(Command::new("python3").arg("-m").arg("venv").arg(dir))?;
            run(Command::new(&interpreter).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PACKAGE,
            ]))?;
            std::fs::write(&marker, b"").map_err(|e| format!("{}: {e}", marker.display()))?;
        }
        let script = dir.join("bench.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
        Ok(Python {
            interpreter,
            script,
        })
    }

    /// Caches f(0..n) under `name` and returns the pair's key names.
    pub fn fill(&self, url: &str, n: u64, name: &str) -> Result<Vec<String>, String> {
        let out = run(Command::new(&self.interpreter).arg(&self.script).args([
            "fill",
            url,
            &n.to_string(),
            name,
        ]))?;
        let filled: Filled =
            serde_json::from_str(out.trim()).map_err(|e| format!("python printed {out:?}: {e}"))?;
        Ok(filled.keys)
    }

    /// Sequential hits for `seconds` over f(0..n), cached by [`Python::fill`].
    pub fn hits(&self, url: &str, n: u64, seconds: f64, name: &str) -> Result<f64, String> {
        let out = run(Command::new(&self.interpreter).arg(&self.script).args([
            "hits",
            url,
            &n.to_string(),
            &seconds.to_string(),
            name,
        ]))?;
        let hits: Hits =
            serde_json::from_str(out.trim()).map_err(|e| format!("python printed {out:?}: {e}"))?;
        Ok(hits.ops_per_s)
    }
}

fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}
