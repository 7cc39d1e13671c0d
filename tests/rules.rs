//! One `#[grad]` function and one test per supported operation, each checked at zero,
//! negative, tiny (1e-300..1e-200) and huge (1e100..1e300) arguments, against forward-mode
//! dual numbers (num-dual) and central finite differences; see `common::numeric` for what a
//! check compares and with which tolerances.

mod common;

use common::ops::*;

use std::f64::consts::{E, FRAC_PI_2, PI};

use common::numeric::{
    binary, dual, pairs, singles, ternary, triples, unary, Dual64, DualNum, Suite,
};
use gradgen::grad;

/// Zero (both signs), tiny, moderate and huge magnitudes of both signs.
const REALS: &[f64] = &[
    0.0, -0.0, 1e-300, -1e-300, 1e-200, -1e-250, 1e-100, -1e-8, 0.1, -0.1, 0.5, -0.75, 1.0, -1.0,
    1.5, -2.5, 3.7, -10.0, 42.0, -100.0, 1e100, -1e100, 1e200, -1e200,
];

/// Arguments for functions that overflow beyond about 710 (`exp`, `sinh`, `cosh`), with the
/// overflow and underflow edges and far negative arguments.
const MODERATE: &[f64] = &[
    0.0, -0.0, 1e-300, -1e-300, 1e-200, -1e-8, 0.1, -0.5, 1.0, -1.0, 2.5, -3.7, 10.0, -13.0, 20.0,
    -30.0, 42.0, -100.0, 300.0, -700.0, 709.0, -745.0, 1e100, -1e100,
];

/// `[0, ∞)`: zero, tiny, moderate, huge, and the largest finite value.
const NONNEGATIVE: &[f64] = &[
    0.0,
    1e-300,
    3e-250,
    1e-200,
    1e-100,
    1e-20,
    1e-8,
    1e-3,
    0.1,
    0.5,
    1.0,
    1.5,
    2.0,
    E,
    3.7,
    10.0,
    42.0,
    100.0,
    1e4,
    1e20,
    1e100,
    1e200,
    1e300,
    f64::MAX,
];

/// `[-1, 1]`: zero, tiny, and up to the ends, where the derivatives of `asin`, `acos` and
/// `atanh` are infinite.
const UNIT: &[f64] = &[
    0.0, -0.0, 1e-300, -1e-300, 1e-200, -1e-200, 1e-100, -1e-8, 0.1, -0.1, 0.5, -0.5, 0.9, -0.9,
    0.99, -0.99, 0.999999, -0.999999, 1.0, -1.0,
];

/// Each operand of a two- or three-argument rule: every pair of these, equal ones included.
const GRID: &[f64] = &[
    0.0, -1e-300, 1e-200, -0.5, 1.0, 3.7, -42.0, 1e100, 1e200, -1e200,
];

/// `|x|` beyond which finite differences of a periodic function are not tried: the step is
/// relative to `|x|`, and a step near the period says nothing.
const PERIODIC_FD_MAX: f64 = 1e3;

/// Whether `a` and `b` are so close, at a point of this size, that a central difference
/// across one of them steps over the other.
fn within_step(a: f64, b: f64, size: f64) -> bool {
    (a - b).abs() <= 1e-6 * size
}

/// Central differences step outside `[-1, 1]` or too close to the singular ends.
fn near_unit_edge([x]: [f64; 1]) -> bool {
    x.abs() > 0.99
}

// ---------------------------------------------------------------------------------------
// Trigonometric

#[grad]
fn sin(x: f64) -> f64 {
    x.sin()
}

#[grad]
fn cos(x: f64) -> f64 {
    x.cos()
}

#[grad]
fn tan(x: f64) -> f64 {
    x.tan()
}

#[grad]
fn asin(x: f64) -> f64 {
    x.asin()
}

#[grad]
fn acos(x: f64) -> f64 {
    x.acos()
}

#[grad]
fn atan(x: f64) -> f64 {
    x.atan()
}

#[grad]
fn atan2(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[test]
fn rule_sin() {
    let points = singles(&[REALS, &[FRAC_PI_2, PI, -PI]].concat());
    Suite::new()
        .run(
            unary("sin", sin_grad, sin, |x| x.sin()).fd_max(PERIODIC_FD_MAX),
            &points,
        )
        .finish();
}

#[test]
fn rule_cos() {
    let points = singles(&[REALS, &[FRAC_PI_2, PI, -PI]].concat());
    Suite::new()
        .run(
            unary("cos", cos_grad, cos, |x| x.cos()).fd_max(PERIODIC_FD_MAX),
            &points,
        )
        .finish();
}

#[test]
fn rule_tan() {
    let points = singles(&[REALS, &[1.5, -1.57, PI]].concat());
    Suite::new()
        .run(
            unary("tan", tan_grad, tan, |x| x.tan()).fd_max(PERIODIC_FD_MAX),
            &points,
        )
        .finish();
}

#[test]
fn rule_asin() {
    Suite::new()
        .run(
            unary("asin", asin_grad, asin, |x| x.asin()).kinks(near_unit_edge),
            &singles(UNIT),
        )
        .finish();
}

#[test]
fn rule_acos() {
    Suite::new()
        .run(
            unary("acos", acos_grad, acos, |x| x.acos()).kinks(near_unit_edge),
            &singles(UNIT),
        )
        .finish();
}

#[test]
fn rule_atan() {
    let points = singles(&[REALS, &[1e150, -1e160, 1e300, f64::MAX]].concat());
    Suite::new()
        .run(unary("atan", atan_grad, atan, |x| x.atan()), &points)
        .finish();
}

#[test]
fn rule_atan2() {
    let mut points = pairs(GRID, GRID);
    points.extend([
        [1e200, 1e200],
        [-1e200, 1e200],
        [1e-200, 1e-200],
        [-1e-300, -1e-300],
    ]);
    points.extend([[3.0, 4.0], [-3.0, -4.0], [1e-300, 1e300], [1e300, -1e-300]]);
    // The branch cut: atan2 jumps from π to -π across y = 0 for x < 0.
    let cut = |[y, x]: [f64; 2]| y == 0.0 && x <= 0.0;
    Suite::new()
        .run(
            binary("atan2", atan2_grad, atan2, dual::atan2).kinks(cut),
            &points,
        )
        .finish();
}

// ---------------------------------------------------------------------------------------
// Hyperbolic

#[grad]
fn sinh(x: f64) -> f64 {
    x.sinh()
}

#[grad]
fn cosh(x: f64) -> f64 {
    x.cosh()
}

#[grad]
fn asinh(x: f64) -> f64 {
    x.asinh()
}

#[grad]
fn acosh(x: f64) -> f64 {
    x.acosh()
}

#[grad]
fn atanh(x: f64) -> f64 {
    x.atanh()
}

#[test]
fn rule_sinh() {
    let points = singles(&[MODERATE, &[710.0, -710.0, 711.0]].concat());
    Suite::new()
        .run(unary("sinh", sinh_grad, sinh, |x| x.sinh()), &points)
        .finish();
}

#[test]
fn rule_cosh() {
    let points = singles(&[MODERATE, &[710.0, -710.0, 711.0]].concat());
    Suite::new()
        .run(unary("cosh", cosh_grad, cosh, |x| x.cosh()), &points)
        .finish();
}

#[test]
fn rule_tanh() {
    let points = singles(&[REALS, &[5.0, -10.0, 20.0, -20.0, 1000.0, -1000.0]].concat());
    // DESIGN.md fixes tanh' = 1 - t·t: finite everywhere, but with the absolute error of
    // `t` (about an ulp of 1), so it is compared absolutely to a few ulps of 1 where tanh
    // saturates.
    let rule = unary("tanh", tanh_grad, tanh, dual::tanh).abs(4.0 * f64::EPSILON);
    Suite::new().run(rule, &points).finish();
}

#[test]
fn rule_asinh() {
    let points = singles(&[REALS, &[1e300, -1e300, f64::MAX]].concat());
    Suite::new()
        .run(unary("asinh", asinh_grad, asinh, dual::asinh), &points)
        .finish();
}

#[test]
fn rule_acosh() {
    let points = singles(&[
        1.0,
        1.0 + f64::EPSILON,
        1.0 + 1e-12,
        1.0 + 1e-8,
        1.001,
        1.1,
        1.5,
        2.0,
        E,
        3.0,
        5.0,
        10.0,
        42.0,
        100.0,
        1e4,
        1e8,
        1e16,
        1e50,
        1e100,
        1e150,
        1e200,
        1e300,
        f64::MAX,
    ]);
    Suite::new()
        .run(unary("acosh", acosh_grad, acosh, dual::acosh), &points)
        .finish();
}

#[test]
fn rule_atanh() {
    Suite::new()
        .run(
            unary("atanh", atanh_grad, atanh, |x| x.atanh()).kinks(near_unit_edge),
            &singles(UNIT),
        )
        .finish();
}

// ---------------------------------------------------------------------------------------
// Exponentials and logarithms

#[grad]
fn exp(x: f64) -> f64 {
    x.exp()
}

#[grad]
fn exp2(x: f64) -> f64 {
    x.exp2()
}

#[grad]
fn exp_m1(x: f64) -> f64 {
    x.exp_m1()
}

#[grad]
fn ln(x: f64) -> f64 {
    x.ln()
}

#[grad]
fn log2(x: f64) -> f64 {
    x.log2()
}

#[grad]
fn log10(x: f64) -> f64 {
    x.log10()
}

#[grad]
fn ln_1p(x: f64) -> f64 {
    x.ln_1p()
}

#[grad]
fn log(x: f64, base: f64) -> f64 {
    x.log(base)
}

#[test]
fn rule_exp() {
    let points = singles(&[MODERATE, &[709.7, 710.0, -1e300]].concat());
    Suite::new()
        .run(unary("exp", exp_grad, exp, |x| x.exp()), &points)
        .finish();
}

#[test]
fn rule_exp2() {
    let points = singles(&[MODERATE, &[1023.0, 1024.0, -1074.0, -1075.0]].concat());
    Suite::new()
        .run(unary("exp2", exp2_grad, exp2, |x| x.exp2()), &points)
        .finish();
}

#[test]
fn rule_exp_m1() {
    let points = singles(&[MODERATE, &[709.7, -1e300]].concat());
    Suite::new()
        .run(
            unary("exp_m1", exp_m1_grad, exp_m1, |x| x.exp_m1()),
            &points,
        )
        .finish();
}

#[test]
fn rule_ln() {
    Suite::new()
        .run(unary("ln", ln_grad, ln, |x| x.ln()), &singles(NONNEGATIVE))
        .finish();
}

#[test]
fn rule_log2() {
    Suite::new()
        .run(
            unary("log2", log2_grad, log2, |x| x.log2()),
            &singles(NONNEGATIVE),
        )
        .finish();
}

#[test]
fn rule_log10() {
    let rule = unary("log10", log10_grad, log10, |x| x.log10());
    Suite::new().run(rule, &singles(NONNEGATIVE)).finish();
}

#[test]
fn rule_ln_1p() {
    let points = singles(&[NONNEGATIVE, &[-1.0, -0.999999, -0.5, -0.1, -1e-8, -1e-300]].concat());
    // Central differences step out of the domain near -1.
    let edge = |[x]: [f64; 1]| x < -0.99;
    let rule = unary("ln_1p", ln_1p_grad, ln_1p, |x| x.ln_1p()).kinks(edge);
    Suite::new().run(rule, &points).finish();
}

#[test]
fn rule_log() {
    let xs = [1e-300, 1e-200, 1e-8, 0.3, 1.0, 2.0, 10.0, 1e100, 1e300];
    let bases = [1e-300, 1e-8, 0.1, 0.5, 2.0, E, 10.0, 1e8, 1e300];
    let rule = binary("log", log_grad, log, |x, b| x.ln() / b.ln());
    Suite::new().run(rule, &pairs(&xs, &bases)).finish();
}

// ---------------------------------------------------------------------------------------
// Powers and roots

#[grad]
fn cbrt(x: f64) -> f64 {
    x.cbrt()
}

#[grad]
fn recip(x: f64) -> f64 {
    x.recip()
}

#[grad]
fn powi_1(x: f64) -> f64 {
    x.powi(1)
}

#[grad]
fn powi_2(x: f64) -> f64 {
    x.powi(2)
}

#[grad]
fn powi_3(x: f64) -> f64 {
    x.powi(3)
}

#[grad]
fn powi_7(x: f64) -> f64 {
    x.powi(7)
}

#[grad]
fn powi_m1(x: f64) -> f64 {
    x.powi(-1)
}

#[grad]
fn powi_m2(x: f64) -> f64 {
    x.powi(-2)
}

#[grad]
fn powi_m3(x: f64) -> f64 {
    x.powi(-3)
}

#[grad]
fn powf_m1_5(x: f64) -> f64 {
    x.powf(-1.5)
}

#[grad]
fn powf_0(x: f64) -> f64 {
    x.powf(0.0)
}

#[grad]
fn powf_m2(x: f64) -> f64 {
    x.powf(-2.0)
}

#[test]
fn rule_sqrt() {
    Suite::new()
        .run(
            unary("sqrt", sqrt_grad, sqrt, |x| x.sqrt()),
            &singles(NONNEGATIVE),
        )
        .finish();
}

#[test]
fn rule_cbrt() {
    let points = singles(&[REALS, &[8.0, -27.0, 1e300, -1e300]].concat());
    Suite::new()
        .run(unary("cbrt", cbrt_grad, cbrt, |x| x.cbrt()), &points)
        .finish();
    // num-dual's cbrt' is `cbrt(x) / 3x`, NaN at 0, so the dual check skips ±0: the one-sided
    // derivative there is +inf from both sides.
    assert_eq!(cbrt_grad(0.0), (0.0, f64::INFINITY));
    assert_eq!(cbrt_grad(-0.0).1, f64::INFINITY);
}

#[test]
fn rule_recip() {
    Suite::new()
        .run(
            unary("recip", recip_grad, recip, |x| x.recip()),
            &singles(REALS),
        )
        .finish();
}

#[test]
fn rule_powi() {
    let points = singles(REALS);
    let mut suite = Suite::new();
    suite
        .run(
            unary("powi(x, 0)", powi_0_grad, powi_0, |x| dual::powi(x, 0)),
            &points,
        )
        .run(
            unary("powi(x, 1)", powi_1_grad, powi_1, |x| dual::powi(x, 1)),
            &points,
        )
        .run(
            unary("powi(x, 2)", powi_2_grad, powi_2, |x| dual::powi(x, 2)),
            &points,
        )
        .run(
            unary("powi(x, 3)", powi_3_grad, powi_3, |x| dual::powi(x, 3)),
            &points,
        )
        .run(
            unary("powi(x, 7)", powi_7_grad, powi_7, |x| dual::powi(x, 7)),
            &points,
        )
        .run(
            unary("powi(x, -1)", powi_m1_grad, powi_m1, |x| dual::powi(x, -1)),
            &points,
        )
        .run(
            unary("powi(x, -2)", powi_m2_grad, powi_m2, |x| dual::powi(x, -2)),
            &points,
        )
        .run(
            unary("powi(x, -3)", powi_m3_grad, powi_m3, |x| dual::powi(x, -3)),
            &points,
        );
    suite.finish();
}

#[test]
fn rule_powf() {
    // Non-integer exponents: x >= 0 only. Integer-valued ones: every real.
    let nonnegative = singles(NONNEGATIVE);
    let reals = singles(REALS);
    let mut suite = Suite::new();
    suite
        .run(
            unary("powf(x, 2.5)", powf_2_5_grad, powf_2_5, |x| {
                dual::powf(x, 2.5)
            }),
            &nonnegative,
        )
        .run(
            unary("powf(x, 0.5)", powf_0_5_grad, powf_0_5, |x| {
                dual::powf(x, 0.5)
            }),
            &nonnegative,
        )
        .run(
            unary("powf(x, -1.5)", powf_m1_5_grad, powf_m1_5, |x| {
                dual::powf(x, -1.5)
            }),
            &nonnegative,
        )
        .run(
            unary("powf(x, 1.0)", powf_1_grad, powf_1, |x| dual::powf(x, 1.0)),
            &reals,
        )
        .run(
            unary("powf(x, 0.0)", powf_0_grad, powf_0, |x| dual::powf(x, 0.0)),
            &reals,
        )
        .run(
            unary("powf(x, 3.0)", powf_3_grad, powf_3, |x| dual::powf(x, 3.0)),
            &reals,
        )
        .run(
            unary("powf(x, -2.0)", powf_m2_grad, powf_m2, |x| {
                dual::powf(x, -2.0)
            }),
            &reals,
        );
    // A variable exponent: both partials, x > 0 (x = 0 is a convention test).
    let xs = [1e-300, 1e-200, 1e-8, 0.3, 1.0, 2.0, E, 10.0, 1e100, 1e300];
    let ys = [-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.7];
    suite.run(
        binary("powf(x, y)", powf_grad, powf, dual::powf_var),
        &pairs(&xs, &ys),
    );
    suite.finish();
}

// ---------------------------------------------------------------------------------------
// Kinks: abs, hypot, max, min, clamp

#[test]
fn rule_abs() {
    let rule = unary("abs", abs_grad, abs, dual::abs).kinks(|[x]| x == 0.0);
    Suite::new().run(rule, &singles(REALS)).finish();
}

#[test]
fn rule_hypot() {
    let mut points = pairs(GRID, GRID);
    points.extend([
        [1e300, 1e300],
        [-1e300, 1e-300],
        [3.0, 4.0],
        [f64::MAX, 1.0],
    ]);
    let origin = |[x, y]: [f64; 2]| x == 0.0 && y == 0.0;
    let rule = binary("hypot", hypot_grad, hypot, dual::hypot).kinks(origin);
    Suite::new().run(rule, &points).finish();
}

/// A tie of `max` or `min`, or a point close enough that a central difference crosses it.
fn tie([x, y]: [f64; 2]) -> bool {
    within_step(x, y, x.abs().max(y.abs()))
}

#[test]
fn rule_max() {
    let rule = binary("max", max_grad, max, dual::max).kinks(tie);
    Suite::new().run(rule, &pairs(GRID, GRID)).finish();
}

#[test]
fn rule_min() {
    let rule = binary("min", min_grad, min, dual::min).kinks(tie);
    Suite::new().run(rule, &pairs(GRID, GRID)).finish();
}

#[test]
fn rule_clamp() {
    // Constant bounds: x at, inside and outside each bound.
    let xs = [REALS, &[-1.0, 2.0, -1.5, 1.999, -0.999, 2.001]].concat();
    let lo = Dual64::from_re(-1.0);
    let hi = Dual64::from_re(2.0);
    let constant = unary("clamp(x, -1, 2)", clamp_const_grad, clamp_const, |x| {
        dual::clamp(x, lo, hi)
    })
    .kinks(|[x]| x == -1.0 || x == 2.0);
    // Variable bounds: every x of the grid against every pair of distinct ordered bounds
    // from it (`clamp` panics when lo > hi; lo == hi is a convention test).
    let bounds = [-1e200, -42.0, -0.5, 0.0, 1e-200, 1.0, 3.7, 1e100];
    let points: Vec<[f64; 3]> = triples(GRID, &bounds, &bounds)
        .into_iter()
        .filter(|[_, lo, hi]| lo < hi)
        .collect();
    // A central difference in a bound may cross the other bound: no value there.
    let ordered = |x: f64, lo: f64, hi: f64| if lo <= hi { clamp(x, lo, hi) } else { f64::NAN };
    let variable =
        ternary("clamp(x, lo, hi)", clamp_grad, ordered, dual::clamp).kinks(|[x, lo, hi]| {
            let size = x.abs().max(lo.abs()).max(hi.abs());
            within_step(x, lo, size) || within_step(x, hi, size)
        });
    Suite::new()
        .run(constant, &singles(&xs))
        .run(variable, &points)
        .finish();
}

// ---------------------------------------------------------------------------------------
// The shift of a log-sum-exp: `ln Σ exp(uₖ − m)` has derivative −1 in `m`, whatever `m` is

#[grad]
fn lse_max_shift(a: f64, b: f64, c: f64) -> f64 {
    let m = a.max(b).max(c);
    m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln()
}

fn lse_max_shift_dual(a: Dual64, b: Dual64, c: Dual64) -> Dual64 {
    let m = dual::max(dual::max(a, b), c);
    m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln()
}

/// A shift that is not the maximum, and terms whose `u` depends on the shift.
#[grad]
fn lse_first_shift(a: f64, b: f64, c: f64) -> f64 {
    ((2.0 * a - a).exp() + (b - a).exp() + (c * a - a).exp()).ln() + a
}

fn lse_first_shift_dual(a: Dual64, b: Dual64, c: Dual64) -> Dual64 {
    ((a * 2.0 - a).exp() + (b - a).exp() + (c * a - a).exp()).ln() + a
}

/// A point with a nonzero coordinate so much smaller than another that a central difference
/// in it, with a step relative to it, changes the value by less than its rounding.
fn mixed_scales(p: [f64; 3]) -> bool {
    let big = p.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    p.iter().any(|x| *x != 0.0 && x.abs() < 1e-6 * big)
}

/// Whether one of the exponents `terms` is below the rounding of the largest (`exp(-37) <
/// 2⁻⁵³`): a central difference in it does not move the sum at all.
fn negligible_term(terms: &[f64]) -> bool {
    let max = terms.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    terms.iter().any(|&x| x - max < -37.0)
}

/// Unshifted: the exponentials' adjoints take no overflow guard.
#[grad]
fn lse_unshifted(a: f64, b: f64, c: f64) -> f64 {
    (a.exp() + b.exp() + c.exp()).ln()
}

fn lse_unshifted_dual(a: Dual64, b: Dual64, c: Dual64) -> Dual64 {
    (a.exp() + b.exp() + c.exp()).ln()
}

/// An exponential of the sum also read outside it: the −1 does not hold for the other use.
#[grad]
fn lse_shared_term(a: f64, b: f64, c: f64) -> f64 {
    let m = a.max(b);
    let e = (a - m).exp();
    m + (e + (b - m).exp()).ln() + c * e
}

fn lse_shared_term_dual(a: Dual64, b: Dual64, c: Dual64) -> Dual64 {
    let m = dual::max(a, b);
    let e = (a - m).exp();
    m + (e + (b - m).exp()).ln() + c * e
}

#[test]
fn rule_log_sum_exp_shift() {
    let grid = [0.0, -1e-300, 1e-200, -0.5, 1.0, 3.7, -42.0, 300.0, -700.0];
    let points = triples(&grid, &grid, &grid);
    // Where one term dominates, the other partials are below the rounding of a chain rule
    // through `1 − Σ softmax`: a small grid, where every term counts.
    let moderate = [-1.5, -0.5, 0.0, 0.5, 1.0, 2.5];
    let first_points = triples(&moderate, &moderate, &[-1.5, 0.0, 0.5, 2.0]);
    let max_shift = ternary(
        "m + ln Σ exp(x − m), m = max",
        lse_max_shift_grad,
        lse_max_shift,
        lse_max_shift_dual,
    );
    let first_shift = ternary(
        "a + ln Σ exp(u − a)",
        lse_first_shift_grad,
        lse_first_shift,
        lse_first_shift_dual,
    );
    let unshifted = ternary(
        "ln Σ exp(x)",
        lse_unshifted_grad,
        lse_unshifted,
        lse_unshifted_dual,
    );
    let shared = ternary(
        "shifted sum with a shared term",
        lse_shared_term_grad,
        lse_shared_term,
        lse_shared_term_dual,
    );
    // At ties of the maximum the shift changes branch, which leaves the value unchanged: the
    // log-sum-exp has no kink there, and only the shared term's `c · exp(a − m)` does.
    Suite::new()
        .run(
            max_shift.kinks(|p| mixed_scales(p) || negligible_term(&p)),
            &points,
        )
        .run(first_shift, &first_points)
        .run(
            unshifted.kinks(|p| mixed_scales(p) || negligible_term(&p)),
            &points,
        )
        .run(
            shared.kinks(|p| {
                let tie = within_step(p[0], p[1], p[0].abs().max(p[1].abs()));
                mixed_scales(p) || negligible_term(&p[..2]) || tie
            }),
            &points,
        )
        .finish();
}

// ---------------------------------------------------------------------------------------
// mul_add and the piecewise-constant functions

#[grad]
fn mul_add(x: f64, y: f64, z: f64) -> f64 {
    x.mul_add(y, z)
}

#[test]
fn rule_mul_add() {
    let rule = ternary("mul_add", mul_add_grad, mul_add, dual::mul_add);
    Suite::new().run(rule, &triples(GRID, GRID, GRID)).finish();
}

/// Integers, halves and their neighbours, on top of `REALS`.
fn steps() -> Vec<[f64; 1]> {
    singles(&[REALS, &[2.0, -3.0, 2.5, -0.5, 0.499, 1e15 + 0.5, -7.25]].concat())
}

fn is_integer([x]: [f64; 1]) -> bool {
    x.fract() == 0.0
}

#[test]
fn rule_floor() {
    let rule = unary("floor", floor_grad, floor, |x| dual::flat(x, f64::floor)).kinks(is_integer);
    Suite::new().run(rule, &steps()).finish();
}

#[test]
fn rule_ceil() {
    let rule = unary("ceil", ceil_grad, ceil, |x| dual::flat(x, f64::ceil)).kinks(is_integer);
    Suite::new().run(rule, &steps()).finish();
}

#[test]
fn rule_round() {
    let half = |[x]: [f64; 1]| x.abs().fract() == 0.5;
    let rule = unary("round", round_grad, round, |x| dual::flat(x, f64::round)).kinks(half);
    Suite::new().run(rule, &steps()).finish();
}

#[test]
fn rule_trunc() {
    let rule = unary("trunc", trunc_grad, trunc, |x| dual::flat(x, f64::trunc)).kinks(is_integer);
    Suite::new().run(rule, &steps()).finish();
}

#[test]
fn rule_signum() {
    let rule = unary("signum", signum_grad, signum, |x| {
        dual::flat(x, f64::signum)
    })
    .kinks(|[x]| x == 0.0);
    Suite::new().run(rule, &steps()).finish();
}

// ---------------------------------------------------------------------------------------
// Arithmetic

#[grad]
fn add(x: f64, y: f64) -> f64 {
    x + y
}

#[grad]
fn sub(x: f64, y: f64) -> f64 {
    x - y
}

#[grad]
fn mul(x: f64, y: f64) -> f64 {
    x * y
}

#[grad]
fn square(x: f64) -> f64 {
    x * x
}

#[grad]
fn div(x: f64, y: f64) -> f64 {
    x / y
}

#[grad]
fn neg(x: f64) -> f64 {
    -x
}

#[test]
fn rule_add() {
    Suite::new()
        .run(
            binary("x + y", add_grad, add, |x, y| x + y),
            &pairs(GRID, GRID),
        )
        .finish();
}

#[test]
fn rule_sub() {
    Suite::new()
        .run(
            binary("x - y", sub_grad, sub, |x, y| x - y),
            &pairs(GRID, GRID),
        )
        .finish();
}

#[test]
fn rule_mul() {
    Suite::new()
        .run(
            binary("x * y", mul_grad, mul, |x, y| x * y),
            &pairs(GRID, GRID),
        )
        .run(
            unary("x * x", square_grad, square, |x| x * x),
            &singles(REALS),
        )
        .finish();
}

#[test]
fn rule_div() {
    let mut points = pairs(GRID, GRID);
    points.extend([
        [1.0, 1e-200],
        [1e-200, 1e200],
        [1e300, 1e-10],
        [-1e-300, 3.0],
    ]);
    Suite::new()
        .run(binary("x / y", div_grad, div, |x, y| x / y), &points)
        .finish();
}

#[test]
fn rule_neg() {
    Suite::new()
        .run(unary("-x", neg_grad, neg, |x| -x), &singles(REALS))
        .finish();
}

// ---------------------------------------------------------------------------------------
// The path form `f64::name(x, ...)`

#[grad]
fn path_sin(x: f64) -> f64 {
    f64::sin(x)
}

#[grad]
fn path_powi(x: f64) -> f64 {
    f64::powi(x, 3)
}

#[grad]
fn path_atan2(y: f64, x: f64) -> f64 {
    f64::atan2(y, x)
}

#[grad]
fn path_hypot(x: f64, y: f64) -> f64 {
    f64::hypot(x, y)
}

#[grad]
fn path_mul_add(x: f64, y: f64, z: f64) -> f64 {
    f64::mul_add(x, y, z)
}

#[test]
fn rule_path_form() {
    let cut = |[y, x]: [f64; 2]| y == 0.0 && x <= 0.0;
    let origin = |[x, y]: [f64; 2]| x == 0.0 && y == 0.0;
    let small = [0.0, -1e-300, 0.5, -3.7, 1e100];
    Suite::new()
        .run(
            unary("f64::sin", path_sin_grad, path_sin, |x| x.sin()).fd_max(PERIODIC_FD_MAX),
            &singles(REALS),
        )
        .run(
            unary("f64::powi", path_powi_grad, path_powi, |x| dual::powi(x, 3)),
            &singles(REALS),
        )
        .run(
            binary("f64::atan2", path_atan2_grad, path_atan2, dual::atan2).kinks(cut),
            &pairs(GRID, GRID),
        )
        .run(
            binary("f64::hypot", path_hypot_grad, path_hypot, dual::hypot).kinks(origin),
            &pairs(GRID, GRID),
        )
        .run(
            ternary(
                "f64::mul_add",
                path_mul_add_grad,
                path_mul_add,
                dual::mul_add,
            ),
            &triples(&small, &small, &small),
        )
        .finish();
}

// ---------------------------------------------------------------------------------------
// Overflow-safe forms at extreme arguments, asserted one by one

/// The forms that must not overflow, underflow or cancel into NaN, one by one, with values
/// worked out by hand.
#[test]
fn overflow_safe_forms_at_extreme_arguments() {
    use std::f64::consts::{FRAC_1_SQRT_2, SQRT_2};

    let (v, (dx, dy)) = hypot_grad(1e200, 1e200);
    assert!(close_to(v, 1e200 * SQRT_2), "{v}");
    assert!(
        close_to(dx, FRAC_1_SQRT_2) && close_to(dy, FRAC_1_SQRT_2),
        "{dx} {dy}"
    );
    let (v, (dx, dy)) = hypot_grad(-1e-300, 1e-300);
    assert!(close_to(v, 1e-300 * SQRT_2), "{v}");
    assert!(
        close_to(dx, -FRAC_1_SQRT_2) && close_to(dy, FRAC_1_SQRT_2),
        "{dx} {dy}"
    );

    // ∂/∂y = x / (x² + y²), ∂/∂x = -y / (x² + y²)
    let (_, (dy, dx)) = atan2_grad(1e200, 1e200);
    assert!(
        close_to(dy, 0.5e-200) && close_to(dx, -0.5e-200),
        "{dy} {dx}"
    );
    let (_, (dy, dx)) = atan2_grad(1e-200, 1e-200);
    assert!(close_to(dy, 0.5e200) && close_to(dx, -0.5e200), "{dy} {dx}");

    let (v, d) = asinh_grad(1e200);
    assert!(v.is_finite() && close_to(d, 1e-200), "{d}");
    let (v, d) = acosh_grad(1e200);
    assert!(v.is_finite() && close_to(d, 1e-200), "{d}");
    let (v, d) = atan_grad(1e100);
    assert!(v.is_finite() && close_to(d, 1e-200), "{d}");

    for x in [1000.0, -1000.0, 1e300] {
        let (v, d) = tanh_grad(x);
        assert_eq!((v.abs(), d), (1.0, 0.0), "tanh at {x}");
    }
}

fn close_to(got: f64, expected: f64) -> bool {
    (got - expected).abs() <= 1e-12 * expected.abs()
}

// ---------------------------------------------------------------------------------------
// The references themselves

/// The helpers of `dual` that replace num-dual's formulas must agree with num-dual wherever
/// those formulas neither overflow nor cancel.
#[test]
fn reference_helpers_agree_with_num_dual() {
    let check = |what: &str, helper: Dual64, num_dual: Dual64| {
        let (got, expected) = (helper.eps, num_dual.eps);
        let ok = common::numeric::close(got, expected, 1e-12, 1e-300);
        assert!(ok, "{what}: helper {got:e}, num-dual {expected:e}");
    };
    let d = |x: f64| Dual64::new(x, 1.0);
    let c = Dual64::from_re;
    // num-dual's tanh' is (cosh² - sinh²) / cosh², which cancels beyond small arguments.
    for x in [-2.0, -0.5, -1e-8, 0.0, 1e-8, 0.3, 1.0, 2.0] {
        check(&format!("tanh {x}"), dual::tanh(d(x)), d(x).tanh());
    }
    let moderate = [-3.7, -1.0, -0.5, -1e-8, 1e-8, 0.3, 0.5, 1.0, 2.0, 10.0, 1e5];
    for x in moderate {
        check(&format!("asinh {x}"), dual::asinh(d(x)), d(x).asinh());
        for n in [-3, -2, -1, 1, 2, 3, 7] {
            check(&format!("powi {x} {n}"), dual::powi(d(x), n), d(x).powi(n));
        }
        for y in [-2.0, -0.5, 0.5, 1.0, 3.7] {
            let at = format!("{x} {y}");
            check(
                &format!("atan2 dy {at}"),
                dual::atan2(d(y), c(x)),
                d(y).atan2(c(x)),
            );
            check(
                &format!("atan2 dx {at}"),
                dual::atan2(c(y), d(x)),
                c(y).atan2(d(x)),
            );
            let root = |x: Dual64, y: Dual64| (x * x + y * y).sqrt();
            check(
                &format!("hypot dx {at}"),
                dual::hypot(d(x), c(y)),
                root(d(x), c(y)),
            );
            check(
                &format!("hypot dy {at}"),
                dual::hypot(c(x), d(y)),
                root(c(x), d(y)),
            );
            let z = c(0.25);
            let fused = |x: Dual64, y: Dual64| dual::mul_add(x, y, z);
            check(
                &format!("mul_add dx {at}"),
                fused(d(x), c(y)),
                d(x).mul_add(c(y), z),
            );
            check(
                &format!("mul_add dy {at}"),
                fused(c(x), d(y)),
                c(x).mul_add(d(y), z),
            );
            let dz = dual::mul_add(c(x), c(y), d(0.25));
            check(&format!("mul_add dz {at}"), dz, c(x).mul_add(c(y), d(0.25)));
        }
    }
    for x in [1.001, 1.5, 2.0, 3.0, 10.0, 1e5] {
        check(&format!("acosh {x}"), dual::acosh(d(x)), d(x).acosh());
    }
    for x in [1e-3, 0.3, 1.0, 2.0, 10.0, 1e5] {
        for p in [-1.5, 0.5, 2.5, 3.0] {
            let at = format!("{x} {p}");
            check(&format!("powf {at}"), dual::powf(d(x), p), d(x).powf(p));
            let (dx, dy) = (dual::powf_var(d(x), c(p)), dual::powf_var(c(x), d(p)));
            check(&format!("powf dx {at}"), dx, d(x).powd(c(p)));
            check(&format!("powf dy {at}"), dy, c(x).powd(d(p)));
        }
    }
}
