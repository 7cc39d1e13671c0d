//! Calls of functions that have a gradient: other `#[grad]` functions (with branches, with
//! loops, calling others in turn) and a function with a hand-written `_grad`, from straight
//! code and from loops.

use crate::common::numeric::{dual, ternary, triples, Dual64, DualNum, Rule, Suite};
use crate::support::{spread, MODERATE, SCALES};
use gradgen::grad;

#[grad]
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn softplus_ref(x: Dual64) -> Dual64 {
    if x.re > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

#[grad]
fn norm(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

/// Two levels of calls: `mix` calls `softplus` and `norm`, and `nested_calls` calls `mix`.
#[grad]
fn mix(x: f64, y: f64) -> f64 {
    softplus(x * y) + norm(x, y)
}

fn mix_ref(x: Dual64, y: Dual64) -> Dual64 {
    softplus_ref(x * y) + dual::hypot(x, y)
}

#[grad]
fn nested_calls(x: f64, y: f64, z: f64) -> f64 {
    let r = mix(x, z) * mix(z, y);
    r + norm(r, 1.0)
}

fn nested_calls_ref(x: Dual64, y: Dual64, z: Dual64) -> Dual64 {
    let r = mix_ref(x, z) * mix_ref(z, y);
    r + dual::hypot(r, Dual64::from(1.0))
}

#[test]
fn calls_of_grad_functions() {
    let values = [-20.0, -2.0, -0.5, 0.0, 1e-8, 0.7, 3.0, 45.0];
    let rule = ternary(
        "nested_calls",
        nested_calls_grad,
        nested_calls,
        nested_calls_ref,
    );
    // softplus switches arms at 30: no central difference across it.
    let kinks = |[x, y, z]: [f64; 3]| [x * z, z * y].iter().any(|p| (p - 30.0).abs() < 1e-3);
    Suite::new()
        .run(rule.kinks(kinks), &triples(&values, &values, &values))
        .finish();
}

const CHAIN: usize = 60;

/// A call in each of 60 iterations, its result carried to the next.
#[grad]
fn calls_in_a_loop(x: [f64; CHAIN]) -> f64 {
    let mut s = 0.0;
    for i in 0..CHAIN {
        s = softplus(0.5 * s + x[i]) - norm(s, x[i]) * 0.25;
    }
    s
}

fn calls_in_a_loop_ref(x: [Dual64; CHAIN]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for v in x {
        s = softplus_ref(s * 0.5 + v) - dual::hypot(s, v) * 0.25;
    }
    s
}

#[test]
fn calls_inside_a_long_loop() {
    let rule = Rule::new(
        "calls_in_a_loop",
        calls_in_a_loop_grad,
        calls_in_a_loop,
        calls_in_a_loop_ref,
    )
    .abs(1e-15);
    Suite::new().run(rule, &spread(80, SCALES, 4)).finish();
}

/// `1 / (1 + e^-x)`, with its derivative written by hand rather than by `#[grad]`.
fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn logistic_grad(x: f64) -> (f64, f64) {
    // 1 - s = e^-x·s, without the cancellation of 1 - s where s is near 1.
    let s = logistic(x);
    (s, s * ((-x).exp() * s))
}

#[grad]
fn hand_written_callee(x: f64, y: f64, z: f64) -> f64 {
    logistic(x * y - z) * z + logistic(z).ln()
}

fn hand_written_callee_ref(x: Dual64, y: Dual64, z: Dual64) -> Dual64 {
    let logistic = |t: Dual64| (Dual64::from(1.0) + (-t).exp()).recip();
    logistic(x * y - z) * z + logistic(z).ln()
}

#[test]
fn calls_of_functions_with_a_hand_written_gradient() {
    let values = [-6.0, -1.5, -0.2, 0.0, 1e-8, 0.4, 1.0, 2.5];
    let rule = ternary(
        "hand_written_callee",
        hand_written_callee_grad,
        hand_written_callee,
        hand_written_callee_ref,
    );
    let points = [triples(&values, &values, &values), spread(81, MODERATE, 4)].concat();
    Suite::new().run(rule, &points).finish();
}
