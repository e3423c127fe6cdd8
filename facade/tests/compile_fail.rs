//! `#[cached]` refuses what it cannot cache, at compile time, with a message
//! that says what to change. The expected messages are in `tests/ui/*.stderr`.

#[test]
fn cached_reports_clear_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
