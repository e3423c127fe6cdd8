//! Nothing to use: this crate holds the compile-fail tests of `#[cached]`
//! (`tests/compile_fail.rs`, the cases and their expected messages in
//! `tests/ui`), run with `cargo test -p redis-func-cache-compile-fail`.
