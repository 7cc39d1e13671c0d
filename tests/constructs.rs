//! A numeric test of every construct of the README's table of the supported language: each
//! `<name>_grad` is compared with forward-mode dual numbers (num-dual) and with central finite
//! differences (`common::numeric`), at 20 or more points per function (zero, both signs, tiny
//! and large magnitudes where the function allows), and each branch on both sides and at its
//! boundary. Loops run from one iteration to 200, and the tests check only values and
//! gradients, never the emitted code, so they hold however loops are emitted.

// Numeric code indexes arrays with loop variables, as `#[grad]` reads it.
#![allow(clippy::needless_range_loop)]

mod common;

#[path = "constructs/support.rs"]
mod support;

#[path = "constructs/bindings.rs"]
mod bindings;
#[path = "constructs/branches.rs"]
mod branches;
#[path = "constructs/calls.rs"]
mod calls;
#[path = "constructs/float32.rs"]
mod float32;
#[path = "constructs/loops.rs"]
mod loops;
#[path = "constructs/params.rs"]
mod params;
