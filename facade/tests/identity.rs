//! SPEC §2: two different functions never share entries. Each case runs on
//! the memory store and on a real Redis server, through one `dyn` cache
//! chosen per test (the `#[cached]` functions name it by a function call).

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use redis_func_cache::{DynStore, FuncCache, LruMultiplePolicy, LruPolicy, MemoryStore, cached};
use redis_func_cache_redis::test_server::Server;
use serde::Serialize;

type DynCache = FuncCache<Arc<dyn DynStore>>;

thread_local! {
    /// The cache the functions below use on this test's thread.
    static CURRENT: RefCell<Option<&'static DynCache>> = const { RefCell::new(None) };
}

fn cache() -> &'static DynCache {
    CURRENT.with(|c| c.borrow().expect("the test picks a cache first"))
}

/// Runs `check` once on a memory cache and once on a Redis cache, in the
/// single-pair and the per-function layouts.
fn on_every_store(check: impl Fn()) {
    let server = Server::start();
    let redis: Arc<dyn DynStore> =
        Arc::new(redis_func_cache::RedisStore::open(server.url.as_str()).expect("redis opens"));
    let memory: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
    for (store_name, store) in [("memory", memory), ("redis", redis)] {
        for multiple in [false, true] {
            let builder = FuncCache::builder(format!("identity-{store_name}-{multiple}"));
            let builder = if multiple {
                builder.policy(LruMultiplePolicy)
            } else {
                builder.policy(LruPolicy)
            };
            let built: &'static DynCache =
                Box::leak(Box::new(builder.store(store.clone()).build().unwrap()));
            CURRENT.with(|c| *c.borrow_mut() = Some(built));
            check();
            built.purge().unwrap();
        }
    }
}

trait Describe: Serialize + serde::de::DeserializeOwned {
    fn describe(id: u32) -> Self;
}
impl Describe for u32 {
    fn describe(id: u32) -> Self {
        id + 1000
    }
}
impl Describe for i64 {
    fn describe(id: u32) -> Self {
        -i64::from(id)
    }
}

struct Repo<T>(std::marker::PhantomData<T>);

static LOADS: AtomicUsize = AtomicUsize::new(0);

impl<T: Describe> Repo<T> {
    #[cached(cache = cache(), skip(self))]
    fn load(&self, id: u32) -> T {
        LOADS.fetch_add(1, Ordering::SeqCst);
        T::describe(id)
    }

    /// No receiver and no `Self`: the return type, an impl parameter, keys it.
    #[cached(cache = cache())]
    fn make(id: u32) -> T {
        T::describe(id)
    }
}

#[test]
fn an_impls_generic_parameters_are_part_of_the_key() {
    on_every_store(|| {
        LOADS.store(0, Ordering::SeqCst);
        let (small, wide) = (
            Repo::<u32>(Default::default()),
            Repo::<i64>(Default::default()),
        );
        assert_eq!(small.load(5), 1005);
        assert_eq!(
            wide.load(5),
            -5,
            "Repo<i64> must not read Repo<u32>'s entry"
        );
        assert_eq!(small.load(5), 1005);
        assert_eq!(wide.load(5), -5);
        assert_eq!(
            LOADS.load(Ordering::SeqCst),
            2,
            "one run per type, then hits"
        );
        assert_eq!(Repo::<u32>::make(7), 1007);
        assert_eq!(Repo::<i64>::make(7), -7);
    });
}

trait Word {
    const WORD: &'static str;
    fn word(&self, n: u32) -> String;
    fn shout(n: u32) -> String;
}

#[derive(Serialize)]
struct A;
#[derive(Serialize)]
struct B;

impl Word for A {
    const WORD: &'static str = "A";
    #[cached(cache = cache())]
    fn word(&self, n: u32) -> String {
        format!("from {} {n}", Self::WORD)
    }
    #[cached(cache = cache())]
    fn shout(n: u32) -> String {
        format!("{}{n}!", Self::WORD)
    }
}

impl Word for B {
    const WORD: &'static str = "B";
    #[cached(cache = cache())]
    fn word(&self, n: u32) -> String {
        format!("from {} {n}", Self::WORD)
    }
    #[cached(cache = cache())]
    fn shout(n: u32) -> String {
        format!("{}{n}!", Self::WORD)
    }
}

#[test]
fn trait_impls_with_identical_bodies_do_not_share_entries() {
    on_every_store(|| {
        assert_eq!(A.word(1), "from A 1");
        assert_eq!(B.word(1), "from B 1");
        assert_eq!(A.word(1), "from A 1");
        assert_eq!(A::shout(2), "A2!");
        assert_eq!(
            B::shout(2),
            "B2!",
            "`Self` inside a macro call keys the type"
        );
    });
}

/// The same source in two modules, differing only in the constant's value:
/// what a rebuild after editing `FACTOR` looks like.
macro_rules! scale_module {
    ($module:ident, $factor:expr) => {
        #[allow(dead_code)]
        mod $module {
            use super::cache;
            use redis_func_cache::cached;
            const FACTOR: u32 = $factor;
            #[cached(cache = cache(), depends_on(FACTOR), id = SCALE)]
            pub fn scale(x: u32) -> u32 {
                x * FACTOR
            }
            #[cached(cache = cache(), id = SCALE_UNLISTED)]
            pub fn scale_unlisted(x: u32) -> u32 {
                x * FACTOR
            }
        }
    };
}
scale_module!(factor_two, 2);
scale_module!(factor_three, 3);
scale_module!(factor_two_again, 2);

#[test]
fn constants_named_in_depends_on_join_the_fingerprint() {
    use redis_func_cache::FuncId;
    let fingerprint = |id: &FuncId| id.fingerprint();
    assert_ne!(
        fingerprint(&factor_two::SCALE),
        fingerprint(&factor_three::SCALE),
        "a changed constant is a new identity"
    );
    assert_eq!(
        fingerprint(&factor_two::SCALE),
        fingerprint(&factor_two_again::SCALE),
        "the same value, the same identity: other processes keep sharing"
    );
    assert_eq!(
        fingerprint(&factor_two::SCALE_UNLISTED),
        fingerprint(&factor_three::SCALE_UNLISTED),
        "the fingerprint covers only the function's own tokens, as the README says"
    );
    on_every_store(|| {
        assert_eq!(factor_two::scale(10), 20);
        assert_eq!(factor_three::scale(10), 30);
        assert_eq!(factor_two::scale(10), 20);
        assert_eq!(factor_three::scale(10), 30);
    });
}

static VERSIONED: AtomicUsize = AtomicUsize::new(0);

mod versions {
    use super::{VERSIONED, cache};
    use redis_func_cache::cached;
    use std::sync::atomic::Ordering;

    #[cached(cache = cache(), version = "1", id = V1)]
    pub fn rate(x: u32) -> u32 {
        VERSIONED.fetch_add(1, Ordering::SeqCst);
        x
    }
}

#[test]
fn the_version_option_changes_the_fingerprint() {
    let unversioned = {
        #[cached(cache = cache(), id = V0)]
        fn rate(x: u32) -> u32 {
            VERSIONED.fetch_add(1, Ordering::SeqCst);
            x
        }
        V0.fingerprint()
    };
    assert_ne!(versions::V1.fingerprint(), unversioned);
    on_every_store(|| {
        assert_eq!(versions::rate(3), 3);
        assert_eq!(versions::rate(3), 3);
        assert!(
            cache().len(&versions::V1).unwrap() >= 1,
            "counted through the public id"
        );
        assert!(cache().purge_func(&versions::V1).unwrap() >= 1);
        assert_eq!(cache().len(&versions::V1).unwrap(), 0, "cleared through it");
    });
}
