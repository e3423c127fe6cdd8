//! `#[cached]` refuses what it cannot cache, at compile time, with a message
//! that says what to change; and the policy enums are `#[non_exhaustive]`
//! (a match outside the crate needs a `_` arm). The expected messages are in
//! `tests/ui/*.stderr`.

#[test]
fn cached_reports_clear_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
