//! Robustness: no input makes the core panic, crash or hang.
//!
//! Random and malformed token streams and source strings go through every entry point of the
//! core (`parse_function`, `differentiate`, `try_expand`, `expand`, `emitted_code`, `ir_dump`,
//! `op_counts`), each call inside `catch_unwind`. Inputs that are certainly outside the
//! supported language must give an error (and `expand` must then emit `compile_error!`);
//! inputs that are certainly valid must succeed, and expand to the same tokens every time.
//!
//! The inputs:
//! - `INVALID`: hand-written functions that no version of gradgen will take (empty body,
//!   `while`, `match`, references, integer results, bad signatures, unbalanced tokens, ...):
//!   each must be an error;
//! - `FUTURE`: constructs that are valid Rust or planned by the design (branches, loops,
//!   arrays, calls, `wrt`), and `ILL_TYPED`: functions rustc rejects anyway: any outcome but a
//!   panic (the ill-typed ones the core accepts are printed);
//! - `EXTREME`: long operator chains (a 20,000-term sum), long `let` chains, nesting just under
//!   and past the limit, literals out of range; each runs in a child process, because a stack
//!   overflow or a failed allocation aborts the process where `catch_unwind` cannot see it;
//! - one test each for the problems found so far (huge loop ranges and arrays, `powi` of
//!   `i32::MIN`, nested loops past the unroll limit);
//! - random attribute tokens, random bodies and items built from random tokens, and
//!   truncations and mutations (delete, duplicate, swap, insert, replace tokens) of randomly
//!   generated valid functions.
//!
//! Deterministic: every random choice comes from a seeded splitmix64. The cases run on a thread
//! with rustc's 8 MiB main-thread stack, where a proc macro runs. `NO_PANIC_TRACE=1` prints
//! each case before it runs.

mod common;

use common::Rng;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

const SEED: u64 = 0x6e6f_2d70_616e_6963;
const STACK: usize = 8 << 20;

// ---------------------------------------------------------------------------------------------
// Running the core under catch_unwind

/// Panics caught so far: message, location and the top of the backtrace, for the report.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            default(info);
            let backtrace = std::backtrace::Backtrace::force_capture().to_string();
            // The frames in the core's sources, with their function.
            let lines: Vec<&str> = backtrace.lines().map(str::trim).collect();
            let top: Vec<String> = lines
                .windows(2)
                .filter(|w| {
                    w[1].starts_with("at ./src/") || w[1].starts_with("at ./gradgen-core/src/")
                })
                .map(|w| format!("  {} {}", w[0], w[1]))
                .take(8)
                .collect();
            let entry = format!("{info}\n{}", top.join("\n"));
            PANICS.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        }));
    });
}

/// What the entry points did with one source text.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The source is not even a token stream (unbalanced delimiters, a stray quote).
    NotTokens,
    /// `try_expand` failed, and so did every other entry point.
    Err,
    /// `try_expand` succeeded with these tokens, and so did every other entry point.
    Ok(String),
}

/// Runs `f` under `catch_unwind`, turning a panic into a test failure that names the input.
fn no_panic<T>(what: &str, input: &str, f: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            let detail = PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last()
                .cloned();
            let detail = detail.unwrap_or_default();
            panic!(
                "{what} panicked on this input:\n{}\n\n{detail}",
                shorten(input)
            );
        }
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 2000 {
        return s.to_string();
    }
    let cut = |i: usize| {
        (i..s.len())
            .find(|&j| s.is_char_boundary(j))
            .unwrap_or(s.len())
    };
    format!(
        "{} ... ({} bytes) ... {}",
        &s[..cut(1000)],
        s.len(),
        &s[cut(s.len() - 500)..]
    )
}

/// Every entry point on `source` (with `attr` as the attribute's arguments for the token-stream
/// entry points). The entry points must agree with each other on success or failure.
fn run(attr: &TokenStream, source: &str) -> Outcome {
    if std::env::var_os("NO_PANIC_TRACE").is_some() {
        eprintln!("case: {}", shorten(source));
    }
    let parsed = no_panic("parse_function", source, || {
        gradgen_core::parse_function(source)
    });
    let differentiated = match &parsed {
        Ok((a, item)) => {
            let r = no_panic("differentiate", source, || {
                gradgen_core::differentiate(a, item)
            });
            if let Err(e) = &r {
                // Every failure is reported where it happens, in words for the user.
                let text = e.to_string();
                assert!(!text.contains("internal error"), "{text}\nfor\n{source}");
            }
            Some(r.is_ok())
        }
        Err(_) => None,
    };
    let emitted = no_panic("emitted_code", source, || {
        gradgen_core::emitted_code(source)
    });
    let dumped = no_panic("ir_dump", source, || gradgen_core::ir_dump(source));
    let counted = no_panic("op_counts", source, || gradgen_core::op_counts(source));
    if attr.is_empty() {
        let ok = differentiated == Some(true);
        assert_eq!(
            emitted.is_ok(),
            ok,
            "emitted_code disagrees with differentiate on\n{source}"
        );
        assert_eq!(
            dumped.is_ok(),
            ok,
            "ir_dump disagrees with differentiate on\n{source}"
        );
        assert_eq!(
            counted.is_ok(),
            ok,
            "op_counts disagrees with differentiate on\n{source}"
        );
    }
    let Ok(item) = source.parse::<TokenStream>() else {
        assert!(
            parsed.is_err(),
            "parse_function accepted text that is not tokens:\n{source}"
        );
        return Outcome::NotTokens;
    };
    expand_tokens(attr, item, source)
}

/// `try_expand` and `expand` on tokens.
fn expand_tokens(attr: &TokenStream, item: TokenStream, input: &str) -> Outcome {
    let tried = no_panic("try_expand", input, || {
        gradgen_core::try_expand(attr.clone(), item.clone())
    });
    let expanded = no_panic("expand", input, || {
        gradgen_core::expand(attr.clone(), item.clone())
    });
    let expanded = expanded.to_string();
    match tried {
        Ok(tokens) => {
            let tokens = tokens.to_string();
            assert!(
                !tokens.contains("compile_error"),
                "success with compile_error!:\n{input}"
            );
            assert!(
                !expanded.contains("compile_error"),
                "expand disagrees with try_expand:\n{input}"
            );
            Outcome::Ok(tokens)
        }
        Err(e) => {
            assert!(
                !e.diagnostics().is_empty(),
                "an error without a message on\n{input}"
            );
            assert!(
                expanded.contains("compile_error"),
                "expand emitted no compile_error! for\n{input}"
            );
            Outcome::Err
        }
    }
}

fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    install_hook();
    let handle = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn");
    if let Err(e) = handle.join() {
        panic::resume_unwind(e);
    }
}

fn assert_err(source: &str) {
    let outcome = run(&TokenStream::new(), source);
    assert!(
        matches!(outcome, Outcome::Err | Outcome::NotTokens),
        "accepted, but it is not a supported function:\n{}",
        shorten(source)
    );
}

fn assert_ok(source: &str) -> String {
    match run(&TokenStream::new(), source) {
        Outcome::Ok(tokens) => tokens,
        other => {
            let (_, item) = gradgen_core::parse_function(source).expect("parses");
            let why = gradgen_core::differentiate(&TokenStream::new(), &item).err();
            panic!(
                "rejected ({other:?}), but it is a valid function: {why:?}\n{}",
                shorten(source)
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written and extreme inputs

/// Functions outside the supported language: each must be an error.
const INVALID: &[&str] = &[
    // bodies
    "fn f(x: f64) -> f64 {}",
    "fn f(x: f64) -> f64 { x; }",
    "fn f(x: f64) -> f64 { let a = x; }",
    "fn f(x: f64) -> f64 { while x > 0.0 {} x }",
    "fn f(x: f64) -> f64 { while true { } }",
    "fn f(x: f64) -> f64 { match x { _ => x } }",
    "fn f(x: f64) -> f64 { loop {} }",
    "fn f(x: f64) -> f64 { &x }",
    "fn f(x: f64) -> f64 { &mut x }",
    "fn f(x: f64) -> f64 { *x }",
    "fn f(x: f64) -> f64 { !x }",
    "fn f(x: f64) -> f64 { x & x }",
    "fn f(x: f64) -> f64 { x && x }",
    "fn f(x: f64) -> f64 { x % 2.0 }",
    "fn f(x: f64) -> f64 { x << 1 }",
    "fn f(x: f64) -> f64 { x == x }",
    "fn f(x: f64) -> f64 { 2 }",
    "fn f(x: f64) -> f64 { x + 2 }",
    "fn f(x: f64) -> f64 { 2 + 3 }",
    "fn f(x: f64) -> f64 { -2 }",
    "fn f(x: f64) -> f64 { x.powi(2.0) }",
    "fn f(x: f64) -> f64 { x.powi(x) }",
    "fn f(x: f64) -> f64 { x.powi(99999999999) }",
    "fn f(x: f64) -> f64 { x.powi(-99999999999) }",
    "fn f(x: f64) -> f64 { x.powi(999999999999999999999999999999) }",
    "fn f(x: f64) -> f64 { x.sin(1.0) }",
    "fn f(x: f64) -> f64 { f64::sin() }",
    "fn f(x: f64) -> f64 { f64::sin(x, x) }",
    "fn f(x: f64) -> f64 { x.hypot() }",
    "fn f(x: f64) -> f64 { x.mul_add(x) }",
    "fn f(x: f64) -> f64 { x.clamp(0.0) }",
    "fn f(x: f64) -> f64 { x.foo() }",
    "fn f(x: f64) -> f64 { f64::foo(x) }",
    "fn f(x: f64) -> f64 { (x.sin)(x) }",
    "fn f(x: f64) -> f64 { y }",
    "fn f(x: f64) -> f64 { std::f64::consts::FOO }",
    "fn f(x: f64) -> f64 { f64::consts::EPSILON }",
    "fn f(x: f64) -> f64 { x.max::<f64>(x) }",
    "fn f(x: f64) -> f64 { [x; 3] }",
    "fn f(x: f64) -> f64 { (x, x).0 }",
    "fn f(x: f64) -> f64 { x.re }",
    "fn f(x: f64) -> f64 { let a; a }",
    "fn f(x: f64) -> f64 { let ref a = x; a }",
    "fn f(x: f64) -> f64 { let Some(a) = Some(x) else { return 0.0 }; a }",
    "fn f(x: f64) -> f64 { x += 1.0; x }",
    "fn f(x: f64) -> f64 { x = 1.0; x }",
    "fn f(x: f64) -> f64 { println!(\"{}\", x); x }",
    "fn f(x: f64) -> f64 { vec![x] }",
    "fn f(x: f64) -> f64 { return; }",
    "fn f(x: f64) -> f64 { return }",
    "fn f(x: f64) -> f64 { |a: f64| a }",
    "fn f(x: f64) -> f64 { unsafe { x } }",
    "fn f(x: f64) -> f64 { 'a: { x } }",
    "fn f(x: f64) -> f64 { async { x } }",
    "fn f(x: f64) -> f64 { x? }",
    "fn f(x: f64) -> f64 { 0.0..x }",
    "fn f(x: f64) -> f64 { S { x } }",
    "fn f(x: f64) -> f64 { fn g() {} x }",
    "fn f(x: f64) -> f64 { 1.0f32 }",
    "fn f(x: f64) -> f64 { 1.0_f32 + x }",
    "fn f(x: f64) -> f64 { 'c' }",
    "fn f(x: f64) -> f64 { \"x\" }",
    "fn f(x: f64) -> f64 { true }",
    "fn f(x: f64) -> f64 { b'a' }",
    "fn f(x: f64) -> f64 { break }",
    "fn f(x: f64) -> f64 { continue }",
    // signatures
    "fn f(x: f64) { }",
    "fn f(x: f64) { x }",
    "fn f(x: f64) -> f32 { x }",
    "fn f(x: f64) -> (f64, f64) { x }",
    "fn f(x: f64) -> Vec<f64> { x }",
    "fn f(&self) -> f64 { 1.0 }",
    "fn f(self, x: f64) -> f64 { x }",
    "fn f<T>(x: f64) -> f64 { x }",
    "fn f(x: f64) -> f64 where f64: Copy { x }",
    "async fn f(x: f64) -> f64 { x }",
    "unsafe fn f(x: f64) -> f64 { x }",
    "const fn f(x: f64) -> f64 { x }",
    "extern \"C\" fn f(x: f64) -> f64 { x }",
    "fn f(ref x: f64) -> f64 { x }",
    "fn f((a, b): (f64, f64)) -> f64 { a }",
    "fn f(_: f64) -> f64 { 1.0 }",
    "fn f(x: &f64) -> f64 { 1.0 }",
    "fn f(x: String) -> f64 { 1.0 }",
    "fn f(x: f64) -> f64 { x } fn g() {}",
    // not a function
    "",
    "x + y",
    "struct S;",
    "fn",
    "fn f",
    "fn f(x: f64) -> f64",
    "fn f(x: f64) -> f64 { x",
    "fn f(x: f64) -> f64 { x }}",
    "fn f(x: f64) -> f64 { (x }",
    "fn f(x: f64) -> f64 { x.sin( }",
    "fn f(x: f64) -> f64 { \"unterminated }",
    "fn f(x: f64) -> f64 { /* unterminated }",
];

/// Functions that rustc rejects when it type-checks the original function (which `#[grad]`
/// keeps), so the user gets an error either way; the core may accept or reject them, but must
/// not panic. The ones it accepts are printed.
const ILL_TYPED: &[&str] = &[
    "fn f(x: f64) -> f64 { let a: f32 = x; a }",
    "fn f(x: f64) -> f64 { let a: i32 = x; a }",
    "fn f(x: f64) -> f64 { let a: [f64; 2] = x; a }",
    "fn f(x: f64) -> f64 { x.powi(2u8) }",
    "fn f(x: f64) -> f64 { x.powi(2i64) }",
    "fn f(x: f64) -> f64 { x.powi(2usize) }",
    "fn f(x: f64) -> f64 { let n: u8 = 2; x.powi(n) }",
    "fn f(x: f64) -> f64 { let n = 2usize; x.powi(n) }",
    "fn f(x: f64) -> f64 { x as f32 as f64 }",
    "fn f(x: f64) -> f64 { (x as i32) as f64 }",
    "fn f(x: f64) -> f64 { let a = [x, x]; a[5] }",
    "fn f(x: f64) -> f64 { let a = [x, x]; a[-1] }",
    "fn f(x: f64) -> f64 { [x][0][0] }",
    "fn f(x: f64) -> f64 { let (a, b) = (x, x, x); a }",
    "fn f(x: f64) -> f64 { let (a, b) = x; a }",
    "fn f(x: f64) -> f64 { let mut a = x; a = 2; a }",
    "fn f(x: f64) -> f64 { let a = x; a = 2.0; a }",
    "fn f(x: f64) -> f64 { for i in 0..3 { x } x }",
    "fn f(x: f64) -> f64 { for i in 0..3.0 { } x }",
    "fn f(x: f64) -> f64 { if 1 { x } else { x } }",
    "fn f(x: f64) -> f64 { if x { x } else { x } }",
    "fn f(x: f64) -> f64 { if 1 > 0 { x } }",
    "fn f(x: f64) -> f64 { if 1 > 0 { x } else { 2 } }",
    "fn f(x: f64) -> f64 { let a = [x; 3]; a }",
    "fn f(x: [f64; 2]) -> f64 { x }",
    "fn f(x: [f64; 2]) -> f64 { x[2] }",
    "fn f(x: [f64; 2]) -> f64 { x[0][0] }",
    "fn f(x: [f64; 2]) -> f64 { x[1.0] }",
];

/// Constructs that the design plans to support (branches, loops, integer and array
/// parameters, `wrt`): today an error, later perhaps not; either way never a panic.
const FUTURE: &[&str] = &[
    "fn f(x: f64) -> f64 { if x > 0.0 { x } else { -x } }",
    "fn f(x: f64) -> f64 { if x > 0.0 { x } else if x < -1.0 { 1.0 } else { x * x } }",
    "fn f(x: f64) -> f64 { if x > 0.0 { return x; } x }",
    "fn f(x: f64) -> f64 { let mut s = 0.0; for i in 0..10 { s = s + x; } s }",
    "fn f(x: f64) -> f64 { let mut s = x; for _ in 0..1000000 { s = s.sin(); } s }",
    "fn f(x: f64, n: i32) -> f64 { x.powi(n) }",
    "fn f(x: f64) -> f64 { x as f64 }",
    "fn f(x: f64) -> f64 { g(x) }",
    "fn f(x: f64) -> f64 { g(x, x) + h() + self::g(x) + crate::m::g(x) }",
    "fn f(x: f64) -> f64 { f(x) }",
    "fn f(x: f64) -> f64 { [x][0] }",
    "fn f(x: f64) -> f64 { let mut a = x; a }",
    "fn f(x: f64) -> f64 { let mut a = x; a += 1.0; a *= a; a -= x; a /= 2.0; a }",
    "fn f(x: f64) -> f64 { let (a, b) = (x, x); a }",
    "fn f(x: f64) -> f64 { let (a, (b, _)) = (x, (x, 1.0)); a * b }",
    "fn f(x: f64) -> f64 { return x; x }",
    "fn f(x: f64) -> f64 { return x }",
    "fn f(mut x: f64) -> f64 { x = x * x; x }",
    "fn f(x: f64) -> f64 { let mut s = 0.0; for i in 0..20 { for j in 0..20 { s += x; } } s }",
    "fn f(x: f64) -> f64 { let mut s = 0.0; for i in (0..10).rev() { s += x; } s }",
    "fn f(x: f64) -> f64 { let mut s = 0.0; for i in 0..=10 { if i % 2 == 0 { s += x; } } s }",
    "fn f(x: f64) -> f64 { let mut s = 0.0; for i in 10..0 { s += x; } s }",
    "fn f(x: f64) -> f64 { let mut s = x; for i in 0..=9223372036854775807 { s += x; } s }",
    "fn f(x: f64) -> f64 { let mut s = x; for i in 0..i64::MAX { s += x; } s }",
    "fn f(x: f64) -> f64 { let mut s = x; for i in 0..-1 { s += x; } s }",
    "fn f(x: f64) -> f64 { let a = [x; 1000]; a[999] }",
    "fn f(x: f64) -> f64 { let a = [[x; 2]; 3]; a[2][1] }",
    "fn f(x: f64) -> f64 { let n = 2147483647; let m = n + n; x }",
    "fn f(x: f64) -> f64 { let n = i64::MAX; let m = n * 2; x }",
    "fn f(x: f64) -> f64 { let n = 1 / 0; x }",
    "fn f(x: f64) -> f64 { let n = 1 % 0; x }",
    "fn f(x: f64) -> f64 { let n = i64::MIN / -1; x }",
    "fn f(x: f64) -> f64 { let n = 1 << 70; x }",
    "fn f(x: f64) -> f64 { let n = -i64::MIN; x }",
    "fn f(x: f64) -> f64 { let a = [x, x]; let n = 3 - 5; a[n] }",
    "fn f(x: f64) -> f64 { x.powi(1 << 40) }",
    "fn f(x: f64) -> f64 { x.powi(i32::MIN) }",
    "fn f(x: f64) -> f64 { x.powi(-i32::MIN) }",
    "fn f(x: f64) -> f64 { let (s, c) = x.sin_cos(); s * c }",
    "fn f(x: [f64; 3]) -> f64 { x[0] * x[1] * x[2] }",
    "fn f(x: [[f64; 3]; 2]) -> f64 { x[1][2] }",
    "fn f(x: [f64; 1000]) -> f64 { x[0] }",
    "fn f(x: [f64; N]) -> f64 { x[0] }",
    "fn f(x: [f64; 2 + 1]) -> f64 { x[0] }",
    "fn f(x: f64) -> f64 { let n = 3; x.powi(n) }",
    "fn f(x: f64, n: usize) -> f64 { x }",
    "fn f(x: f64, b: bool) -> f64 { x }",
    "fn f(x: [f64; 2]) -> f64 { x[0] * x[1] }",
    "fn f(x: [[f64; 2]; 2]) -> f64 { x[0][1] }",
    "fn f(x: [f64; 0]) -> f64 { 1.0 }",
    "fn f(x: f64) -> [f64; 2] { [x, x] }",
    "#[grad(wrt(x))] fn f(x: f64, y: f64) -> f64 { x * y }",
    "#[grad(wrt(z))] fn f(x: f64, y: f64) -> f64 { x * y }",
    "#[grad(wrt())] fn f(x: f64) -> f64 { x }",
    "#[grad(wrt(x, x))] fn f(x: f64) -> f64 { x }",
    "#[grad(foo)] fn f(x: f64) -> f64 { x }",
    "#[grad = 1] fn f(x: f64) -> f64 { x }",
    "#[other] fn f(x: f64) -> f64 { x }",
    "#[cfg(test)] #[grad] fn f(x: f64) -> f64 { x }",
    "fn f(x: f64) -> f64 { x.clamp(1.0, 0.0) }",
    "fn f(x: f64) -> f64 { x.clamp(f64::NAN, 1.0) }",
    "fn f(x: f64) -> f64 { x / 0.0 }",
    "fn f(x: f64) -> f64 { 0.0 / 0.0 * x }",
    "fn f(x: f64) -> f64 { f64::NAN * x + f64::INFINITY }",
    "fn f(x: f64) -> f64 { (-1.0f64).sqrt() * x }",
    "fn f(x: f64) -> f64 { x.powi(i32::MAX) }",
    "fn f(x: f64) -> f64 { x.powi(2147483647) }",
    "fn f(x: f64) -> f64 { x.powf(f64::MAX) + x.powf(-0.0) }",
    "fn f(x: f64) -> f64 { { x } }",
    "fn f(x: f64) -> f64 { { let x = 2.0; x } + x }",
    "fn f(r#x: f64) -> f64 { r#x.sin() }",
    "fn f(x: f64) -> f64 { let r#let = x; r#let }",
    "fn f(x: std::primitive::f64) -> core::primitive::f64 { x }",
    "fn f(x: (f64)) -> f64 { x }",
    "fn f() -> f64 { 1.0 }",
    "fn f() -> f64 { std::f64::consts::PI.sin() }",
    "fn f(x: f64, x: f64) -> f64 { x }",
    "fn f_grad(x: f64) -> f64 { x }",
    "pub(crate) fn f(x: f64) -> f64 { x }",
    "/// doc\nfn f(x: f64) -> f64 { x }",
    "fn f(x: f64) -> f64 { 1e400 * x }",
    "fn f(x: f64) -> f64 { 1e-400 * x }",
    "fn f(x: f64) -> f64 { x + 1e308 * 10.0 }",
];

fn repeat_sum(n: usize, term: &str, op: &str) -> String {
    let mut s = String::with_capacity(n * (term.len() + op.len()));
    for i in 0..n {
        if i > 0 {
            s.push_str(op);
        }
        s.push_str(term);
    }
    s
}

fn nested(n: usize, open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn invalid_functions_are_errors() {
    on_big_stack(|| {
        let accepted: Vec<&str> = INVALID
            .iter()
            .copied()
            .filter(|src| matches!(run(&TokenStream::new(), src), Outcome::Ok(_)))
            .collect();
        assert!(
            accepted.is_empty(),
            "accepted, but not supported functions:\n{}",
            accepted.join("\n")
        );
        for src in FUTURE {
            run(&TokenStream::new(), src);
        }
        let lenient: Vec<&str> = ILL_TYPED
            .iter()
            .copied()
            .filter(|src| matches!(run(&TokenStream::new(), src), Outcome::Ok(_)))
            .collect();
        if !lenient.is_empty() {
            eprintln!(
                "accepted although rustc rejects the original:\n{}",
                lenient.join("\n")
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Extreme inputs, each in its own process
//
// A stack overflow or a failed allocation aborts the process; no `catch_unwind` sees it. So
// each extreme case runs in a child process (this test binary, running `child_case` with the
// case's name in an environment variable), and a crash fails the case with a message instead
// of killing every test in the binary.

const CHILD_CASE: &str = "GRADGEN_NO_PANIC_CASE";

/// What a case must do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Ok,
    Err,
    /// Anything but a panic or a crash.
    Any,
}

fn body(body: &str) -> String {
    format!("fn f(x: f64, y: f64) -> f64 {{ {body} }}")
}

/// The extreme cases by name: the source and what it must do.
fn extreme_case(name: &str) -> (String, Expect) {
    use Expect::*;
    let chain = |n: usize, term: &str, op: &str| body(&repeat_sum(n, term, op));
    match name {
        // Long operator chains are lowered in a loop (lower.rs), so they are valid at any length.
        "sum_20000" => (chain(20_000, "x", " + "), Ok),
        "sum_2000" => (chain(2_000, "x", " + "), Ok),
        "product_5000" => (chain(5_000, "x", " * "), Ok),
        "mixed_2000" => (chain(2_000, "x * y - x / y", " + "), Ok),
        "quotient_2000" => (chain(2_000, "(x - y)", " / "), Ok),
        "lets_500" => {
            let mut lets = String::from("let a0 = x;");
            for i in 1..500 {
                lets.push_str(&format!(" let a{i} = (a{} * y + x).sin();", i - 1));
            }
            (body(&format!("{lets} a499")), Ok)
        }
        "shadowing_500" => (body(&format!("{} x", "let x = x * 1.5;".repeat(500))), Ok),
        // Nesting just under the limit (MAX_NESTING = 256) is fine; beyond it is an error.
        "parens_200" => (body(&nested(200, "(", "x", ")")), Ok),
        "methods_200" => (body(&format!("x{}", ".sin()".repeat(200))), Ok),
        "calls_200" => (body(&nested(200, "f64::sin(", "x", ")")), Ok),
        "negations_200" => (body(&nested(200, "-", "x", "")), Ok),
        "blocks_100" => (body(&nested(100, "{ ", "x", " }")), Ok),
        "parens_300" => (body(&nested(300, "(", "x", ")")), Err),
        "methods_300" => (body(&format!("x{}", ".sin()".repeat(300))), Err),
        "calls_300" => (body(&nested(300, "f64::sin(", "x", ")")), Err),
        "hypot_300" => (body(&nested(300, "x.hypot(", "y", ")")), Err),
        "negations_300" => (body(&nested(300, "-", "x", "")), Err),
        "blocks_300" => (body(&nested(300, "{ ", "x", " }")), Err),
        "right_sums_300" => (body(&nested(300, "(x + ", "y", ")")), Err),
        "mul_add_300" => (body(&nested(300, "f64::mul_add(x, y, ", "x", ")")), Err),
        "parens_1000" => (body(&nested(1_000, "(", "x", ")")), Err),
        "negations_1000" => (body(&nested(1_000, "-", "x", "")), Err),
        // Literals out of range.
        "powi_u32_overflow" => (body("x.powi(4294967296)"), Err),
        "int_128_bits" => (body("x + 340282366920938463463374607431768211456"), Err),
        "f32_overflow" => (body("x + 1e400f32"), Err),
        "f64_overflow" => (body("x * 1e400"), Any),
        "f64_long_literal" => (body(&format!("x * 1{}.0", "0".repeat(400))), Any),
        "f64_tiny_literal" => (body(&format!("x * 0.{}1", "0".repeat(400))), Any),
        other => panic!("no extreme case named {other}"),
    }
}

const EXTREME: &[&str] = &[
    "sum_2000",
    "sum_20000",
    "product_5000",
    "mixed_2000",
    "quotient_2000",
    "lets_500",
    "shadowing_500",
    "parens_200",
    "methods_200",
    "calls_200",
    "negations_200",
    "blocks_100",
    "parens_300",
    "methods_300",
    "calls_300",
    "hypot_300",
    "negations_300",
    "blocks_300",
    "right_sums_300",
    "mul_add_300",
    "parens_1000",
    "negations_1000",
    "powi_u32_overflow",
    "int_128_bits",
    "f32_overflow",
    "f64_overflow",
    "f64_long_literal",
    "f64_tiny_literal",
];

/// Runs the case named by `GRADGEN_NO_PANIC_CASE`; without it (an ordinary test run) there is
/// nothing to do.
#[test]
fn child_case() {
    let Ok(name) = std::env::var(CHILD_CASE) else {
        return;
    };
    on_big_stack(move || {
        let (source, expect) = extreme_case(&name);
        match expect {
            Expect::Ok => {
                assert_ok(&source);
            }
            Expect::Err => assert_err(&source),
            Expect::Any => {
                run(&TokenStream::new(), &source);
            }
        }
        if name == "sum_20000" {
            // The value 20000 x and the derivative 20000, exactly.
            let (attr, item) = gradgen_core::parse_function(&source).unwrap();
            let d = gradgen_core::differentiate(&attr, &item).unwrap();
            let values = gradgen_core::eval::evaluate(&d.graph, &[1.5, 2.0]);
            assert_eq!(values[d.function.output.index()], 30_000.0);
            assert_eq!(values[d.gradient.params[0].index()], 20_000.0);
            assert_eq!(values[d.gradient.params[1].index()], 0.0);
        }
    });
}

/// Runs each case in a child process; the failures, with the end of their output.
fn run_in_children(names: &[&str]) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary");
    let spawn = |name: &str| {
        std::process::Command::new(&exe)
            .args(["child_case", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_CASE, name)
            .env("RUST_BACKTRACE", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run the test binary")
    };
    let mut failures = Vec::new();
    // Two at a time: the cases are independent, and most machines have two cores.
    for pair in names.chunks(2) {
        let children: Vec<_> = pair.iter().map(|name| (name, spawn(name))).collect();
        for (name, child) in children {
            let out = child.wait_with_output().expect("wait for the test binary");
            if out.status.success() {
                continue;
            }
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| {
                    !l.trim_start().starts_with("at /rustc")
                        && !l.contains(": std::")
                        && !l.contains(": core::")
                })
                .collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            failures.push(format!("case `{name}` failed ({}):\n{tail}", out.status));
        }
    }
    failures
}

#[test]
fn extreme_inputs() {
    if std::env::var_os(CHILD_CASE).is_some() {
        return;
    }
    let failures = run_in_children(EXTREME);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A `for` loop is unrolled only up to `MAX_UNROLLED_ITERATIONS`; a longer one is an error,
/// whatever its length.
#[test]
fn loop_over_a_huge_range_stays_a_loop_or_is_an_error() {
    on_big_stack(|| {
        // Kept as loops: the emitted gradient loops as long as the function does.
        for source in [
            "let mut s = x; for _ in 0..9223372036854775807 { s += x; } s",
            "let mut s = x; for _ in (0..9223372036854775807).rev() { s += x; } s",
        ] {
            assert!(assert_ok(&body(source)).contains("for"));
        }
        // Negative values cannot be a kept loop's `usize` variable, and unrolling is too long.
        let wide = "-9223372036854775807..9223372036854775807";
        assert_err(&body(&format!(
            "let mut s = x; for _ in {wide} {{ s += x; }} s"
        )));
    });
}

/// Nested loops past `MAX_UNROLLED_ITERATIONS` are one error, not one per remaining outer
/// iteration (800 here; with `0..100000` twice, the outer loop went on for minutes).
#[test]
fn nested_loops_past_the_limit_are_one_error() {
    on_big_stack(|| {
        let src = body("for i in 0..1000 { for j in 0..1000 { } } x");
        assert_err(&src);
        let (attr, item) = gradgen_core::parse_function(&src).unwrap();
        let e = gradgen_core::differentiate(&attr, &item)
            .err()
            .expect("an error");
        let n = e.diagnostics().len();
        let first = &e.diagnostics()[0].message;
        assert!(
            n <= 10,
            "{n} diagnostics for one loop past the limit; the first: {first}"
        );
    });
}

/// `powi` with the exponent `i32::MIN` (valid Rust): the derivative `n x^(n-1)` cannot use
/// `powi(n - 1)`, which overflows `i32`.
#[test]
fn powi_of_i32_min() {
    on_big_stack(|| {
        let src = "fn f(x: f64) -> f64 { x.powi(-2147483648) }";
        assert_ok(src);
        let (attr, item) = gradgen_core::parse_function(src).unwrap();
        let d = gradgen_core::differentiate(&attr, &item).unwrap();
        let n = -2147483648.0;
        // At 2 the true derivative underflows to 0, at 0.5 it overflows to -inf (an exponent
        // wrapped around to `i32::MAX` would give the opposite).
        let cases = [
            (1.0, 1.0, n),
            (-1.0, 1.0, -n),
            (2.0, 0.0, 0.0),
            (0.5, f64::INFINITY, n * f64::INFINITY),
        ];
        for (x, value, dx) in cases {
            let values = gradgen_core::eval::evaluate(&d.graph, &[x]);
            assert_eq!(values[d.function.output.index()], value, "value at {x}");
            assert_eq!(
                values[d.gradient.params[0].index()],
                dx,
                "derivative at {x}"
            );
        }
    });
}

/// A compile-time integer that overflows must be reported. When it is not, the statement it is
/// in is dropped without a message: the loop below vanished and the gradient came out as
/// `(x, 1.0)`, silently; without a statement to drop, the error read "internal error: lowering
/// failed without a message".
#[test]
fn overflowing_integer_constants_are_errors() {
    on_big_stack(|| {
        let mut wrong = Vec::new();
        for src in [
            // Valid Rust: `..=` up to i64::MAX.
            "fn f(x: f64) -> f64 { let mut s = x; for _ in 0..=9223372036854775807i64 { s += x; } s }",
            // Negating i64::MIN.
            "fn f(x: f64) -> f64 { let mut s = x; s += x * (-(-9223372036854775807 - 1)) as f64; s }",
            "fn f(x: f64) -> f64 { let mut s = x; for _ in 0..-(-9223372036854775807 - 1) { s += x; } s }",
            "fn f(x: f64) -> f64 { let n = -(-9223372036854775807 - 1); x.powi(n) }",
        ] {
            let (attr, item) = gradgen_core::parse_function(src).unwrap();
            match gradgen_core::differentiate(&attr, &item) {
                Ok(d) => {
                    let values = gradgen_core::eval::evaluate(&d.graph, &[2.0]);
                    let value = values[d.function.output.index()];
                    let dx = values[d.gradient.params[0].index()];
                    wrong.push(format!("accepted, giving ({value}, {dx}) at x = 2:\n{src}"));
                }
                Err(e) if e.to_string().contains("internal error") => {
                    wrong.push(format!("{e}:\n{src}"));
                }
                Err(_) => assert_err(src),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    });
}

/// rustc rejects arrays this large; the core must too, not try to build them.
#[test]
fn huge_arrays_are_errors() {
    on_big_stack(|| {
        assert_err("fn f(x: [f64; 18446744073709551615]) -> f64 { x[0] }");
        assert_err(&body("let a = [x; 9223372036854775807]; a[0]"));
    });
}

// ---------------------------------------------------------------------------------------------
// Random valid functions, and mutations of them

/// A small random valid function of `x` and `y` as source text.
fn valid_function(rng: &mut Rng) -> String {
    fn expr(rng: &mut Rng, names: &[String], depth: u32) -> String {
        if depth == 0 || rng.chance(0.3) {
            return match rng.below(6) {
                0 => format!("{}.{}", rng.below(10), rng.below(100)),
                1 => "std::f64::consts::PI".to_string(),
                _ => rng.pick(names).clone(),
            };
        }
        let d = depth - 1;
        match rng.below(9) {
            0 => format!("({} + {})", expr(rng, names, d), expr(rng, names, d)),
            1 => format!("{} - {}", expr(rng, names, d), expr(rng, names, d)),
            2 => format!("{} * {}", expr(rng, names, d), expr(rng, names, d)),
            3 => format!("({}) / ({})", expr(rng, names, d), expr(rng, names, d)),
            4 => format!("-{}", expr(rng, names, d)),
            5 => {
                let m = rng.pick(&["sin", "exp", "tanh", "abs", "sqrt", "ln", "atan", "cbrt"]);
                format!("({}).{m}()", expr(rng, names, d))
            }
            6 => {
                let m = rng.pick(&["max", "min", "hypot", "atan2", "powf"]);
                format!("f64::{m}({}, {})", expr(rng, names, d), expr(rng, names, d))
            }
            7 => format!(
                "({}).powi({})",
                expr(rng, names, d),
                rng.below(7) as i32 - 3
            ),
            _ => format!(
                "({}).mul_add({}, {})",
                expr(rng, names, d),
                expr(rng, names, d),
                expr(rng, names, d)
            ),
        }
    }
    let mut names = vec!["x".to_string(), "y".to_string()];
    let mut body = String::new();
    for i in 0..rng.below(4) {
        let value = expr(rng, &names, 4);
        body.push_str(&format!("    let t{i} = {value};\n"));
        names.push(format!("t{i}"));
    }
    let tail = expr(rng, &names, 5);
    format!("#[grad]\nfn f(x: f64, y: f64) -> f64 {{\n{body}    {tail}\n}}\n")
}

/// The tokens of `source`, flattened: delimiters as their own tokens, and joint punctuation
/// (`->`, `::`) kept together.
fn flat_tokens(source: &str) -> Vec<String> {
    fn walk(ts: TokenStream, out: &mut Vec<String>) {
        let mut joint = String::new();
        for tt in ts {
            match tt {
                TokenTree::Punct(p) => {
                    joint.push(p.as_char());
                    if p.spacing() == Spacing::Alone {
                        out.push(std::mem::take(&mut joint));
                    }
                }
                other => {
                    if !joint.is_empty() {
                        out.push(std::mem::take(&mut joint));
                    }
                    match other {
                        TokenTree::Group(g) => {
                            let (open, close) = match g.delimiter() {
                                Delimiter::Parenthesis => ("(", ")"),
                                Delimiter::Brace => ("{", "}"),
                                Delimiter::Bracket => ("[", "]"),
                                Delimiter::None => ("", ""),
                            };
                            out.push(open.to_string());
                            walk(g.stream(), out);
                            out.push(close.to_string());
                        }
                        other => out.push(other.to_string()),
                    }
                }
            }
        }
        if !joint.is_empty() {
            out.push(joint);
        }
    }
    let mut out = Vec::new();
    walk(source.parse().expect("valid tokens"), &mut out);
    out
}

/// Tokens that, inserted anywhere into a function from `valid_function`, cannot leave it a
/// supported function: they break the syntax, or make a reference, a loop without a body, a
/// `match`, an `unsafe` item, a float remainder or negation with `!`, a cast to a non-type, or
/// a comparison where an `f64` is needed.
const POISON: &[&str] = &[
    "while", "match", "&", "loop", "unsafe", "%", "!", "as", "==",
];

/// Tokens to insert or replace with, poisonous or not.
const VOCAB: &[&str] = &[
    "x", "y", "z", "t0", "f64", "fn", "let", "mut", "return", "if", "else", "for", "in", "while",
    "match", "loop", "break", "self", "Self", "true", "_", "(", ")", "{", "}", "[", "]", "+", "-",
    "*", "/", "%", "&", "&&", "|", "||", "!", "=", "==", "<", ">", "<=", ";", ",", ".", "..", "::",
    "->", "=>", "#", "?", "'a", "@", "0", "1", "2", "42", "-1", "2.0", "1e400", "1e-400", "0.5f32",
    "3u8", "\"s\"", "'c'", "sin", "powi", "powf", "max", "mul_add", "clamp", "PI", "std", "consts",
    "as", "unsafe", "async", "await", "dyn", "impl", "where", "const", "static",
];

fn join(tokens: &[String]) -> String {
    tokens.join(" ")
}

#[test]
fn valid_functions_expand_deterministically() {
    on_big_stack(|| {
        let mut rng = Rng(SEED);
        for _ in 0..300 {
            let src = valid_function(&mut rng);
            let first = assert_ok(&src);
            let expand = |s: &str| {
                let tokens: TokenStream = s.parse().unwrap();
                gradgen_core::try_expand(TokenStream::new(), tokens)
                    .unwrap()
                    .to_string()
            };
            assert_eq!(expand(&src), first, "two expansions differ for\n{src}");
            // The same function re-spaced by its tokens expands to the same tokens too.
            let respaced = join(&flat_tokens(&src));
            assert_eq!(
                expand(&respaced),
                first,
                "spacing changed the expansion of\n{src}"
            );
            let emitted = gradgen_core::emitted_code(&src).unwrap();
            assert_eq!(
                emitted,
                gradgen_core::emitted_code(&src).unwrap(),
                "emitted_code of\n{src}"
            );
        }
    });
}

#[test]
fn mutated_functions_never_panic() {
    on_big_stack(|| {
        let mut rng = Rng(SEED ^ 1);
        let mut stats = [0usize; 3];
        for _ in 0..200 {
            let src = valid_function(&mut rng);
            let tokens = flat_tokens(&src);
            // Every truncation point of the first few, then random ones.
            for cut in 0..tokens.len() {
                if cut < 8 || rng.chance(0.15) {
                    let outcome = run(&TokenStream::new(), &join(&tokens[..cut]));
                    assert!(
                        !matches!(outcome, Outcome::Ok(_)),
                        "a truncation was accepted:\n{}",
                        join(&tokens[..cut])
                    );
                }
            }
            for _ in 0..12 {
                let mut t = tokens.clone();
                let i = rng.below(t.len());
                let mut poisoned = false;
                match rng.below(6) {
                    0 => {
                        t.remove(i);
                    }
                    1 => {
                        let tok = t[i].clone();
                        t.insert(i, tok);
                    }
                    2 => {
                        let j = (i + 1).min(t.len() - 1);
                        t.swap(i, j);
                    }
                    3 => t[i] = rng.pick(VOCAB).to_string(),
                    4 => {
                        let tok = *rng.pick(POISON);
                        // Wherever it lands, the function is no longer valid (see `POISON`).
                        t.insert(i, tok.to_string());
                        poisoned = true;
                    }
                    _ => t.insert(i, rng.pick(VOCAB).to_string()),
                }
                let mutated = join(&t);
                let outcome = run(&TokenStream::new(), &mutated);
                if poisoned {
                    assert!(
                        !matches!(outcome, Outcome::Ok(_)),
                        "accepted after inserting a poison token:\n{mutated}"
                    );
                }
                stats[match outcome {
                    Outcome::NotTokens => 0,
                    Outcome::Err => 1,
                    Outcome::Ok(_) => 2,
                }] += 1;
            }
        }
        eprintln!(
            "mutations: not tokens {}, errors {}, still valid {}",
            stats[0], stats[1], stats[2]
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Random token streams

const IDENTS: &[&str] = &[
    "x", "y", "f", "f64", "f32", "i32", "fn", "let", "mut", "return", "if", "else", "while",
    "match", "loop", "for", "in", "self", "Self", "pub", "crate", "wrt", "grad", "sin", "powi",
    "std", "consts", "PI", "async", "unsafe", "const", "extern", "where", "impl", "dyn", "_",
];
const PUNCTS: &[char] = &[
    '+', '-', '*', '/', '%', '&', '|', '^', '!', '=', '<', '>', '.', ',', ';', ':', '#', '?', '@',
    '~', '$',
];

fn random_tree(rng: &mut Rng, depth: u32) -> TokenTree {
    match rng.below(if depth == 0 { 4 } else { 5 }) {
        0 => {
            let name: &&str = rng.pick(IDENTS);
            TokenTree::Ident(Ident::new(name, Span::call_site()))
        }
        1 => {
            let spacing = if rng.chance(0.3) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(*rng.pick(PUNCTS), spacing))
        }
        2 => TokenTree::Literal(match rng.below(6) {
            0 => Literal::i64_unsuffixed(rng.next_u64() as i64 >> rng.below(64)),
            1 => Literal::f64_unsuffixed(f64::from_bits(rng.next_u64() >> 2) % 1e300),
            2 => Literal::f64_suffixed(rng.below(1000) as f64 / 7.0),
            3 => Literal::string("s"),
            4 => Literal::u8_suffixed(rng.below(256) as u8),
            _ => Literal::character('c'),
        }),
        3 => {
            let name: &&str = rng.pick(&["x", "y", "f64"]);
            TokenTree::Ident(Ident::new(name, Span::call_site()))
        }
        _ => {
            let delimiter = *rng.pick(&[
                Delimiter::Parenthesis,
                Delimiter::Brace,
                Delimiter::Bracket,
                Delimiter::None,
            ]);
            TokenTree::Group(Group::new(delimiter, random_stream(rng, depth - 1)))
        }
    }
}

fn random_stream(rng: &mut Rng, depth: u32) -> TokenStream {
    let n = rng.below(8);
    (0..n).map(|_| random_tree(rng, depth)).collect()
}

#[test]
fn random_token_streams_never_panic() {
    on_big_stack(|| {
        let mut rng = Rng(SEED ^ 2);
        let valid = "fn f(x: f64, y: f64) -> f64 { x * y.sin() }";
        let valid_tokens: TokenStream = valid.parse().unwrap();
        for _ in 0..2_000 {
            // Random attribute arguments on a valid function: an error unless empty (or a
            // `wrt(...)` list, which the design plans).
            let attr = random_stream(&mut rng, 3);
            let outcome = expand_tokens(
                &attr,
                valid_tokens.clone(),
                &format!("#[grad({attr})] {valid}"),
            );
            let planned = attr.to_string().starts_with("wrt");
            if attr.is_empty() {
                assert!(
                    matches!(outcome, Outcome::Ok(_)),
                    "a valid function was rejected"
                );
            } else if !planned {
                assert_eq!(
                    outcome,
                    Outcome::Err,
                    "accepted attribute arguments `{attr}`"
                );
            }

            // A random body, and a random whole item.
            let body = random_stream(&mut rng, 4);
            let src = format!("fn f(x: f64, y: f64) -> f64 {{ {body} }}");
            if let Ok(tokens) = src.parse::<TokenStream>() {
                expand_tokens(&TokenStream::new(), tokens, &src);
            }
            run(&TokenStream::new(), &src);
            let item = random_stream(&mut rng, 4);
            expand_tokens(&attr, item.clone(), &item.to_string());
            run(&TokenStream::new(), &item.to_string());
        }
    });
}

#[test]
fn random_source_strings_never_panic() {
    on_big_stack(|| {
        let mut rng = Rng(SEED ^ 3);
        for _ in 0..2_000 {
            let n = rng.below(40);
            let body: Vec<&str> = (0..n).map(|_| *rng.pick(VOCAB)).collect();
            let src = format!("fn f(x: f64, y: f64) -> f64 {{ {} }}", body.join(" "));
            run(&TokenStream::new(), &src);
            let bare = body.join(" ");
            run(&TokenStream::new(), &bare);
        }
    });
}
