//! Cache access traces: one integer key per line, plain or gzip'd.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Reads a trace; gzip is recognised by its magic bytes, not by the name.
/// Blank lines are skipped; a line that is not an integer is an error that
/// names the file and line.
///
/// ```no_run
/// let keys = redis_func_cache_benches::trace::load("trace.gz".as_ref(), None).unwrap();
/// ```
pub fn load(path: &Path, limit: Option<usize>) -> Result<Vec<i64>, String> {
    let mut file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader: Box<dyn BufRead> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut keys = Vec::new();
    for (lineno, line) in reader.lines().enumerate() {
        if limit.is_some_and(|l| keys.len() >= l) {
            break;
        }
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let key = text.parse::<i64>().map_err(|e| {
            format!(
                "{}:{}: {text:?} is not an integer key: {e}",
                path.display(),
                lineno + 1
            )
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// The traces of a folder (`*.trace`, `*.trace.gz`), sorted by name.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut traces: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".trace") || name.ends_with(".trace.gz")
        })
        .collect();
    traces.sort();
    Ok(traces)
}

/// A trace's short name: the file name without `.trace[.gz]`.
pub fn name(path: &Path) -> String {
    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or("trace");
    file.trim_end_matches(".gz")
        .trim_end_matches(".trace")
        .to_owned()
}

/// The traces folder, resolved when the tool runs (never where it was
/// built): `$RFC_TRACES_DIR`; else `../shared/traces` from the working
/// directory if it holds traces (the full public set beside a checkout);
/// else `traces`, the sample shipped in the repository.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RFC_TRACES_DIR") {
        return PathBuf::from(dir);
    }
    let shared = PathBuf::from("../shared/traces");
    if list(&shared).is_ok_and(|found| !found.is_empty()) {
        return shared;
    }
    PathBuf::from("traces")
}
