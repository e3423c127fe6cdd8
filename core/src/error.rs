//! The one public error type. Backends keep their own errors private and map
//! them into [`Error::Backend`], so users match on a single, stable enum.

use std::fmt;

/// A boxed error from a backend, an encoder or a decoder.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a cache call or in building a cache.
///
/// ```
/// use redis_func_cache::Error;
/// let err = Error::config("maxsize must be at least 1");
/// assert!(err.to_string().contains("maxsize"));
/// assert!(!err.is_transient());
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The builder was given a configuration that cannot work; the message
    /// says what to change.
    #[error("invalid cache configuration: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The call ran in [`Mode::NoExec`](crate::Mode::NoExec) and the value
    /// was not in the cache, so the function was not run.
    #[error("cache miss in no-exec mode: the function was not run")]
    CacheMiss,
    /// The store failed (connection lost, script error, ...).
    #[error("{backend} store failed: {source}")]
    Backend {
        /// Which backend, e.g. `"memory"` or `"redis"`.
        backend: &'static str,
        /// Whether the same request may succeed if tried again (a lost
        /// connection, a timeout, a cluster moving a slot). Most failures are
        /// not.
        transient: bool,
        /// The backend's own error.
        source: BoxError,
    },
    /// The store was not asked: its circuit breaker is open after repeated
    /// transport failures or timeouts (see [`breaker`](crate::breaker)). The
    /// call fails open at once; a probe tests the store once per interval.
    #[error("{backend} store skipped: its circuit breaker is open after repeated failures")]
    Skipped {
        /// Which backend.
        backend: &'static str,
    },
    /// A value or an argument could not be encoded.
    #[error("could not encode {what}: {source}")]
    Encode {
        /// `"arguments"` or `"value"`.
        what: &'static str,
        /// The serializer's error.
        source: BoxError,
    },
    /// Bytes read from a store could not be decoded into the expected type.
    #[error("could not decode a cached value: {source}")]
    Decode {
        /// The serializer's error.
        source: BoxError,
    },
}

impl Error {
    /// A configuration error with the given message.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// A backend error that trying again will not fix.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            transient: false,
            source: source.into(),
        }
    }

    /// A backend error that may go away if the request is tried again.
    pub fn transient_backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            backend,
            transient: true,
            source: source.into(),
        }
    }

    /// Whether trying the same call again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Backend {
                transient: true,
                ..
            } | Error::Skipped { .. }
        )
    }
}

/// A plain message as an error source.
#[derive(Debug)]
pub(crate) struct Message(pub String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}
