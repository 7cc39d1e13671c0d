//! One test per row of the conventions table of DESIGN.md: what gradgen gives at the points
//! where a derivative is not unique, or where the textbook formula would be NaN. (`if`/`else`
//! has its own tests, in `branches.rs`.)

mod common;

use common::ops::*;
use gradgen::grad;

#[grad]
fn abs_diff(x: f64, y: f64) -> f64 {
    (x - y).abs()
}

#[grad]
fn max_const(x: f64) -> f64 {
    x.max(2.0)
}

#[grad]
fn min_const(x: f64) -> f64 {
    f64::min(-3.0, x)
}

#[grad]
fn powi_0_of_ln(x: f64) -> f64 {
    x.ln().powi(0)
}

#[grad]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn abs_at_zero_is_zero() {
    assert_eq!(abs_grad(0.0), (0.0, 0.0));
    assert_eq!(abs_grad(-0.0), (0.0, 0.0));
    // Either side of 0 the slope is ±1.
    assert_eq!(abs_grad(1e-300), (1e-300, 1.0));
    assert_eq!(abs_grad(-1e-300), (1e-300, -1.0));
    // A kink reached through arithmetic: |x - y| at x = y.
    assert_eq!(abs_diff_grad(1.5, 1.5), (0.0, (0.0, 0.0)));
}

#[test]
fn max_min_at_a_tie_give_half_to_each_operand() {
    for x in [0.0, -0.0, 1.5, -1e-300, 1e200] {
        assert_eq!(max_grad(x, x), (x, (0.5, 0.5)), "max at {x}");
        assert_eq!(min_grad(x, x), (x, (0.5, 0.5)), "min at {x}");
    }
    // 0.0 and -0.0 compare equal: a tie.
    assert_eq!(max_grad(0.0, -0.0).1, (0.5, 0.5));
    assert_eq!(min_grad(-0.0, 0.0).1, (0.5, 0.5));
    // A tie with a constant: the variable operand gets its half.
    assert_eq!(max_const_grad(2.0), (2.0, 0.5));
    assert_eq!(min_const_grad(-3.0), (-3.0, 0.5));
    // Off the tie the adjoint goes to the operand returned.
    assert_eq!(max_grad(1.0, 2.0).1, (0.0, 1.0));
    assert_eq!(min_grad(1.0, 2.0).1, (1.0, 0.0));
}

#[test]
fn clamp_at_a_bound_gives_half() {
    // Constant bounds: x gets half at either bound.
    assert_eq!(clamp_const_grad(-1.0), (-1.0, 0.5));
    assert_eq!(clamp_const_grad(2.0), (2.0, 0.5));
    assert_eq!(clamp_const_grad(0.5), (0.5, 1.0));
    assert_eq!(clamp_const_grad(-5.0), (-1.0, 0.0));
    assert_eq!(clamp_const_grad(5.0), (2.0, 0.0));
    // Variable bounds: at a bound, half to x and half to that bound.
    assert_eq!(clamp_grad(-1.0, -1.0, 2.0), (-1.0, (0.5, 0.5, 0.0)));
    assert_eq!(clamp_grad(2.0, -1.0, 2.0), (2.0, (0.5, 0.0, 0.5)));
    assert_eq!(clamp_grad(0.0, 0.0, 1e-300), (0.0, (0.5, 0.5, 0.0)));
    // Inside and outside, the one operand returned gets it all.
    assert_eq!(clamp_grad(0.5, -1.0, 2.0).1, (1.0, 0.0, 0.0));
    assert_eq!(clamp_grad(-5.0, -1.0, 2.0).1, (0.0, 1.0, 0.0));
    assert_eq!(clamp_grad(5.0, -1.0, 2.0).1, (0.0, 0.0, 1.0));
}

/// With `lo == hi == x`, `clamp` is `min(max(x, lo), hi)` at a double tie. Moving all three
/// together moves the value by as much, so the partials must sum to 1 (each in [0, 1]), as
/// every point of the subdifferential does; reading it as `min(max(..))` with ½ at each tie
/// gives (¼, ¼, ½).
#[test]
fn clamp_at_coinciding_bounds_partials_sum_to_one() {
    let (v, (dx, dlo, dhi)) = clamp_grad(1.0, 1.0, 1.0);
    assert_eq!(v, 1.0);
    for d in [dx, dlo, dhi] {
        assert!((0.0..=1.0).contains(&d), "({dx}, {dlo}, {dhi})");
    }
    assert_eq!(dx + dlo + dhi, 1.0, "({dx}, {dlo}, {dhi})");
}

#[test]
fn sqrt_at_zero_is_positive_infinity() {
    assert_eq!(sqrt_grad(0.0), (0.0, f64::INFINITY));
    // Right of 0 the derivative is large and finite.
    let (v, d) = sqrt_grad(1e-300);
    assert_eq!(v, 1e-150);
    assert!((d - 0.5e150).abs() <= 1e-15 * 0.5e150, "{d}");
}

/// `-0.0 == 0.0`, and sqrt(-0.0) is -0.0: the derivative there is the same +inf.
#[test]
fn sqrt_at_negative_zero_is_positive_infinity() {
    assert_eq!(sqrt_grad(-0.0).1, f64::INFINITY);
}

#[test]
fn powf_constant_exponent_at_zero_has_no_nan() {
    assert_eq!(powf_2_5_grad(0.0), (0.0, 0.0));
    assert_eq!(powf_3_grad(0.0), (0.0, 0.0));
    assert_eq!(powf_1_grad(0.0), (0.0, 1.0));
    assert_eq!(powf_0_5_grad(0.0), (0.0, f64::INFINITY));
}

#[test]
fn powf_variable_exponent_d_dy_at_zero_base_is_zero() {
    for y in [1e-300, 0.5, 1.0, 2.0, 2.5, 3.7, 1e300] {
        let (v, (_, dy)) = powf_grad(0.0, y);
        assert_eq!((v, dy), (0.0, 0.0), "at y = {y}");
    }
    // The partial in x there is the constant-exponent one.
    assert_eq!(powf_grad(0.0, 2.5), (0.0, (0.0, 0.0)));
    assert_eq!(powf_grad(0.0, 1.0), (0.0, (1.0, 0.0)));
    assert_eq!(powf_grad(0.0, 0.5), (0.0, (f64::INFINITY, 0.0)));
    // Where x^y underflows to 0 with x > 0, the limit is 0 too.
    let (_, (_, dy)) = powf_grad(1e-300, 2.0);
    assert_eq!(dy, 0.0);
}

#[test]
fn powi_zero_exponent_is_zero_everywhere() {
    let inf = f64::INFINITY;
    for x in [0.0, -0.0, 1.0, -3.5, 1e-300, 1e300, inf, -inf, f64::NAN] {
        assert_eq!(powi_0_grad(x), (1.0, 0.0), "at {x}");
    }
    // Nothing flows back into an operand whose own derivative is infinite.
    assert_eq!(powi_0_of_ln_grad(0.0), (1.0, 0.0));
}

#[test]
fn hypot_at_the_origin_is_zero() {
    for (x, y) in [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0)] {
        assert_eq!(hypot_grad(x, y), (0.0, (0.0, 0.0)), "at ({x}, {y})");
    }
    // Off the origin, along an axis: the unit vector.
    assert_eq!(hypot_grad(0.0, -1e-300), (1e-300, (0.0, -1.0)));
}

#[test]
fn tanh_at_large_arguments_is_finite() {
    let inf = f64::INFINITY;
    let points = [20.0, -20.0, 1000.0, -1000.0, 1e300, inf, -inf];
    for x in points {
        let (v, d) = tanh_grad(x);
        assert_eq!(v.abs(), 1.0);
        // The true derivative is 1/cosh², below 2e-17 here; `1 - t·t` is off by a few ulps
        // of 1 at most.
        let exact = x.cosh().powi(-2);
        let ok = d.is_finite() && (d - exact).abs() <= 4.0 * f64::EPSILON;
        assert!(ok, "tanh' at {x} = {d}");
    }
}

/// A sigmoid written out by hand. Beyond x < -709.78, `exp(-x)` overflows to inf while σ and
/// its derivative are 0 (to f64 precision): the gradient must still be a number.
#[test]
fn sigmoid_at_large_arguments_is_finite() {
    for x in [800.0, -800.0, 40.0, -40.0, 1e300, -1e300] {
        let (v, d) = sigmoid_grad(x);
        assert!(v.is_finite(), "sigmoid at {x} = {v}");
        // sigmoid' = σ(x)(1 - σ(x)) = e^-|x| / (1 + e^-|x|)²
        let e = (-x.abs()).exp();
        let expected = e / ((1.0 + e) * (1.0 + e));
        let ok = (d - expected).abs() <= 1e-10 * expected + 1e-300;
        assert!(ok, "sigmoid' at {x} = {d}, expected {expected}");
    }
}

#[test]
fn piecewise_constant_functions_have_zero_derivative() {
    let points = [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.0,
        -1.0,
        2.5,
        -2.7,
        1e-300,
        1e300,
        f64::INFINITY,
    ];
    for x in points {
        assert_eq!(floor_grad(x), (x.floor(), 0.0), "floor at {x}");
        assert_eq!(ceil_grad(x), (x.ceil(), 0.0), "ceil at {x}");
        assert_eq!(round_grad(x), (x.round(), 0.0), "round at {x}");
        assert_eq!(trunc_grad(x), (x.trunc(), 0.0), "trunc at {x}");
        assert_eq!(signum_grad(x), (x.signum(), 0.0), "signum at {x}");
    }
}
