//! The examples of `redis-func-cache` live in this package's `[[example]]`
//! targets (`quickstart.rs`, `redis_fib.rs`); the library is empty.
//!
//! ```sh
//! cargo run --example quickstart
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run -p redis-func-cache-examples --example redis_fib --features redis
//! ```
#![warn(missing_docs)]
