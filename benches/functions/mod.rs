//! The benchmark functions, shared by `benches/gradients.rs` and `tests/benchmarks.rs`
//! (each includes this module with `#[path]`).
//!
//! - [`generated`]: each function written once, as a user would write it, with `#[grad]`;
//!   beside it, the text `#[grad]` compiled, for the operation counts.
//! - [`hand`]: the same gradients written by hand.
//! - [`dual`]: the same gradients by forward mode with num-dual's `Dual64`.
//! - [`inputs`]: the points at which they are measured and checked.

// Each binary uses part of the module.
#![allow(dead_code)]

pub mod dual;
pub mod generated;
pub mod hand;
pub mod inputs;
