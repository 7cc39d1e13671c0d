//! Compile-fail cases for `#[grad]`: one file in `tests/ui` per kind of unsupported construct,
//! each with the expected compiler output beside it in a `.stderr` file.
//!
//! Re-bless after a deliberate change to a message or a span with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read every changed `.stderr`.

#[test]
fn unsupported_constructs_are_reported_under_their_tokens() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
