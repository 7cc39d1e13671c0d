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
//! The gradient is emitted as plain Rust by one symbolic reverse sweep: no dual numbers,
//! nothing at run time but the arithmetic. The README lists the supported language and the
//! conventions at points where a derivative is not unique.
//!
//! Arguments: `#[grad(wrt(a, b))]` differentiates only `a` and `b` (the other parameters are
//! data); `#[grad(loops = "auto" | "keep" | "unroll")]` chooses whether `for` loops stay loops
//! in the gradient (a forward loop, then the loop reversed, with code that does not grow with
//! the trip count) or are unrolled into straight-line code. `auto`, the default, keeps long
//! loops and unrolls short ones:
//!
//! ```
//! use gradgen::grad;
//!
//! #[grad(loops = "keep")]
//! fn sum_of_squares(x: &[f64; 1000]) -> f64 {
//!     let mut s = 0.0;
//!     for i in 0..1000 {
//!         s += x[i] * x[i];
//!     }
//!     s
//! }
//!
//! let x = [0.5; 1000];
//! let (value, dx) = sum_of_squares_grad(&x);
//! assert_eq!((value, dx[7]), (250.0, 1.0));
//! ```
//!
//! With the `inspect` feature, [`emitted!`] gives the emitted code of a `#[grad]` function
//! as text, for a snapshot test of one line.

pub use gradgen_macros::grad;

/// The code `#[grad]` emitted for a function, `<name>_grad`, formatted by prettyplease: a
/// snapshot of what the compiler was given, in one line of the user's own test.
///
/// ```
/// #[gradgen::grad]
/// fn square(x: f64) -> f64 {
///     x * x
/// }
///
/// let code = gradgen::emitted!(square);
/// assert!(code.contains("fn square_grad(x: f64) -> (f64, f64)"));
/// // In a test: insta::assert_snapshot!(gradgen::emitted!(square));
/// ```
///
/// The argument is the function's path as it is called from here: `square`,
/// `shapes::area`, `Circle::area`. Enable the feature for tests only:
///
/// ```toml
/// [dev-dependencies]
/// gradgen = { version = "0.1", features = ["inspect"] }
/// ```
///
/// Under the feature, `#[grad]` keeps the text in a hidden constant beside `<name>_grad`
/// (`__gradgen_emitted_<name>`); without it, there is no such constant, and a program that
/// does not read it does not contain it, so nothing pays for it at run time. A function
/// without `#[grad]` has no such constant either, which the compiler reports as
/// ``cannot find value `__gradgen_emitted_<name>` ``.
#[cfg(feature = "inspect")]
#[macro_export]
macro_rules! emitted {
    ($($function:tt)+) => {
        $crate::__inspect::format($crate::__inspect::emitted_const!($($function)+))
    };
}

/// Without the `inspect` feature, [`emitted!`] says how to get it.
#[cfg(not(feature = "inspect"))]
#[macro_export]
macro_rules! emitted {
    ($($function:tt)*) => {
        compile_error!(
            "`gradgen::emitted!` needs the `inspect` feature of gradgen: \
             `gradgen = { version = \"0.1\", features = [\"inspect\"] }` in [dev-dependencies]"
        )
    };
}

/// What [`emitted!`] expands to. Not public API.
#[cfg(feature = "inspect")]
#[doc(hidden)]
pub mod __inspect {
    pub use gradgen_macros::__emitted_const as emitted_const;

    /// Formats the emitted code that `#[grad]` kept as text.
    ///
    /// # Panics
    ///
    /// Only if the text does not parse as Rust, which would be a bug of gradgen: the compiler
    /// has just compiled it.
    pub fn format(emitted: &str) -> String {
        gradgen_core::format_code(emitted).unwrap_or_else(|e| {
            panic!("gradgen::emitted!: the emitted code does not parse (a bug of gradgen): {e}")
        })
    }
}
