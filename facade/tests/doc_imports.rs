//! Doc examples are what users copy: every one that a user of this crate
//! sees must import from `redis_func_cache`, not from the internal crates
//! (`redis_func_cache_core`, `…_memory`, `…_redis`, `…_policies`), which
//! a user of the facade cannot name. The exceptions are items only store
//! authors use, which the facade does not re-export.

use std::path::{Path, PathBuf};

/// Items for store authors, documented in the internal crates only.
const STORE_AUTHOR_ITEMS: [&str; 3] = ["FastNameHasher", "StoreId", "envelope"];

const INTERNAL: [&str; 4] = [
    "redis_func_cache_core::",
    "redis_func_cache_memory::",
    "redis_func_cache_redis::",
    "redis_func_cache_policies::",
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The doc-comment lines of `source` that import from an internal crate.
fn internal_imports(source: &str) -> Vec<(usize, &str)> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let text = line.trim_start();
            let doc = text.starts_with("///") || text.starts_with("//!");
            // Intra-doc links (`[x](path)`, `[x]: path`) are not imports.
            let link = text.contains("](") || text.contains("]: ");
            doc && !link
                && INTERNAL.iter().any(|crate_path| text.contains(crate_path))
                && !STORE_AUTHOR_ITEMS.iter().any(|item| text.contains(item))
        })
        .map(|(number, line)| (number + 1, line.trim()))
        .collect()
}

#[test]
fn doc_examples_import_from_the_facade() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for part in [
        "core",
        "policies",
        "backend-memory",
        "backend-redis",
        "macros",
        "facade",
    ] {
        rust_files(&workspace.join(part).join("src"), &mut files);
    }
    assert!(files.len() > 20, "the sources were found: {files:?}");
    let mut offending = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("a readable source");
        for (line, text) in internal_imports(&source) {
            offending.push(format!("{}:{line}: {text}", file.display()));
        }
    }
    assert!(
        offending.is_empty(),
        "doc examples that import internal crates:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_check_sees_an_internal_import() {
    let source = "/// ```\n/// use redis_func_cache_core::Mode;\n/// ```\n";
    assert_eq!(internal_imports(source).len(), 1);
    let fine = "/// use redis_func_cache::Mode;\n/// [`x`](redis_func_cache_core::Mode)\n";
    assert!(internal_imports(fine).is_empty());
}
