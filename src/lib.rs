//! gradgen differentiates Rust functions at compile time.
//!
//! Put `#[grad]` on a function of `f64` parameters that returns `f64`, and call the generated
//! `<name>_grad`, which returns `(value, gradient)`:
//!
//! ```
//! use gradgen::grad;
//!
//! #[grad]
//! fn rosenbrock(x: f64, y: f64) -> f64 {
//!     (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
//! }
//!
//! let (value, (dx, dy)) = rosenbrock_grad(1.0, 1.0);
//! assert_eq!((value, dx, dy), (0.0, 0.0, 0.0));
//! ```
//!
//! The gradient is emitted as plain Rust by one symbolic reverse sweep: no tape, no dual
//! numbers, nothing at run time but the arithmetic. The README lists the supported language
//! and the conventions at points where a derivative is not unique.

pub use gradgen_macros::grad;
