//! Cache access traces: one integer key per line, plain or gzip'd.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Reads a trace; gzip is recognised by its magic bytes, not by the name.
/// Blank lines and the LIRS traces' `*` checkpoint markers (in the traces
/// as their authors publish them) are skipped; a line that is not an
/// integer is an error that names the file and line.
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
    keys_of(reader, path, limit)
}

/// The keys of a trace's text, read from `reader` (`path` names it in
/// errors); see [`load`].
fn keys_of(reader: impl BufRead, path: &Path, limit: Option<usize>) -> Result<Vec<i64>, String> {
    let mut keys = Vec::new();
    for (lineno, line) in reader.lines().enumerate() {
        if limit.is_some_and(|l| keys.len() >= l) {
            break;
        }
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let text = line.trim();
        if text.is_empty() || text == "*" {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str, limit: Option<usize>) -> Result<Vec<i64>, String> {
        keys_of(text.as_bytes(), Path::new("t.trace"), limit)
    }

    #[test]
    fn blank_lines_checkpoint_markers_and_line_endings_are_not_keys() {
        let text = "1\r\n\n  -2 \n*\n2147483647\r\n*\n-2147483648";
        assert_eq!(
            keys(text, None).unwrap(),
            [1, -2, 2_147_483_647, -2_147_483_648]
        );
        assert_eq!(keys(text, Some(2)).unwrap(), [1, -2]);
    }

    #[test]
    fn a_line_that_is_not_a_key_is_an_error_naming_its_line() {
        let error = keys("1\n*\n3x\n4", None).unwrap_err();
        assert!(error.starts_with("t.trace:3: \"3x\""), "{error}");
        assert!(keys("1\n**\n", None).is_err());
    }

    #[test]
    fn gzip_and_plain_files_give_the_same_keys() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("rfc-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = "5\n*\n6\n5\n";
        let plain = dir.join("plain.trace");
        std::fs::write(&plain, text).unwrap();
        let gz = dir.join("packed.trace.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        assert_eq!(load(&plain, None).unwrap(), [5, 6, 5]);
        assert_eq!(load(&gz, None).unwrap(), [5, 6, 5]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
