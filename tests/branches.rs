//! `if` on float conditions: the gradient of the branch taken, on both sides of every branch
//! and at the boundaries, checked against num-dual and finite differences; and no NaN from the
//! side not taken.

mod common;

use common::numeric::{binary, pairs, singles, unary, Suite};
use gradgen::grad;
use num_dual::{Dual64, DualNum};

#[grad]
fn sqrt_or_zero(x: f64) -> f64 {
    if x > 0.0 {
        x.sqrt()
    } else {
        0.0
    }
}

#[grad]
fn ln_or_linear(x: f64) -> f64 {
    let q = if x > 1.0 { x.ln() } else { x - 1.0 };
    q * x
}

#[grad]
fn early_return(x: f64, y: f64) -> f64 {
    if x < 0.0 {
        return (-x).sqrt() * y;
    }
    let z = x.ln();
    z * y
}

#[grad]
fn nested(x: f64, y: f64) -> f64 {
    if x > 0.0 {
        if y > 0.0 {
            x * y
        } else {
            x - y
        }
    } else if y > x {
        y.powi(2)
    } else {
        0.5 * x
    }
}

// `!(x > -5.0)` on purpose: it is not `x <= -5.0` for NaN, and gradgen must keep it.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[grad]
fn compound(x: f64, y: f64) -> f64 {
    if (x > 0.0 && y < 2.0) || !(x > -5.0) {
        x * y
    } else {
        x - y * y
    }
}

#[grad]
fn assigned_in_one_arm(x: f64, y: f64) -> f64 {
    let mut t = x * y;
    if t < 1.0 {
        t += (1.0 - t).ln();
    }
    t * t
}

#[allow(clippy::needless_range_loop)]
#[grad]
fn branch_in_loop(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        if x[i] > 0.0 {
            s += x[i].sqrt();
        } else {
            s -= x[i] * x[i];
        }
    }
    s
}

#[allow(clippy::needless_range_loop)]
#[grad]
fn first_positive(x: [f64; 3]) -> f64 {
    for i in 0..3 {
        if x[i] > 0.0 {
            return x[i].ln() * (i as f64 + 1.0);
        }
    }
    0.0
}

/// Points on both sides of 0 and 1, the boundaries of the functions above.
const SIDES: &[f64] = &[
    -7.5, -2.0, -1.0, -0.5, -1e-3, 1e-3, 0.25, 0.5, 0.999, 1.001, 1.5, 2.0, 3.0, 10.0, 1e3,
];

/// Values shared between arms on one condition: `x.sin()` is read by the then arms of two
/// `if`s and of their gradients, `y.cos()` by an else arm and outside any arm, `x - y` by the
/// then arm of one and the else arm of the other.
#[grad]
fn shared_between_arms(x: f64, y: f64) -> f64 {
    let s = x.sin();
    let a = if x > y { s * y } else { y.cos() };
    let b = if x > y {
        a * s + (x - y).sqrt()
    } else {
        a + 1.0
    };
    let c = if x < y { (y - x).sqrt() * a } else { b };
    c * a + y.cos()
}

/// An `else if` chain whose arms share values with a second chain on the same conditions.
#[grad]
fn shared_chains(x: f64, y: f64) -> f64 {
    let e = (x * y).exp();
    let first = if x > 0.5 {
        e * x
    } else if x > -0.5 {
        e + y
    } else {
        y.tanh()
    };
    let second = if x > 0.5 {
        first * e.ln_1p()
    } else if x > -0.5 {
        first - e
    } else {
        first * y.tanh()
    };
    second + first * x
}

#[test]
fn values_shared_between_arms_on_one_condition_match_num_dual() {
    let reference = |x: Dual64, y: Dual64| {
        let s = x.sin();
        let a = if x.re > y.re { s * y } else { y.cos() };
        let b = if x.re > y.re {
            a * s + (x - y).sqrt()
        } else {
            a + 1.0
        };
        let c = if x.re < y.re { (y - x).sqrt() * a } else { b };
        c * a + y.cos()
    };
    let rule = binary(
        "shared between arms",
        shared_between_arms_grad,
        shared_between_arms,
        reference,
    );
    let points = pairs(
        &[-3.0, -1.0, -0.2, 0.3, 1.0, 4.0],
        &[-2.5, -0.7, 0.4, 2.0, 5.0],
    );
    Suite::new()
        .run(rule.kinks(|[x, y]| (x - y).abs() < 0.05), &points)
        .finish();
}

#[test]
fn else_if_chains_sharing_values_match_num_dual() {
    let reference = |x: Dual64, y: Dual64| {
        let e = (x * y).exp();
        let first = if x.re > 0.5 {
            e * x
        } else if x.re > -0.5 {
            e + y
        } else {
            y.tanh()
        };
        let second = if x.re > 0.5 {
            first * e.ln_1p()
        } else if x.re > -0.5 {
            first - e
        } else {
            first * y.tanh()
        };
        second + first * x
    };
    let rule = binary(
        "shared chains",
        shared_chains_grad,
        shared_chains,
        reference,
    );
    let points = pairs(&[-3.0, -0.9, -0.2, 0.3, 0.8, 2.0], &[-1.5, -0.3, 0.4, 1.2]);
    Suite::new()
        .run(
            rule.kinks(|[x, _]| (x - 0.5).abs() < 0.05 || (x + 0.5).abs() < 0.05),
            &points,
        )
        .finish();
}

/// `x.sqrt()` read under two different conditions: its adjoint is a sum of two selects.
#[grad]
fn sqrt_under_two_conditions(x: f64, y: f64) -> f64 {
    let a = if x > 0.0 { x.sqrt() * y } else { y };
    let b = if x > 1.0 { x.sqrt() } else { a };
    a + b
}

#[grad]
fn acos_under_two_conditions(x: f64) -> f64 {
    let a = if x > -1.0 && x < 1.0 { x.acos() } else { x };
    let b = if x > -1.0 && x < 0.5 {
        x.acos() * 2.0
    } else {
        0.0
    };
    a + b
}

#[grad]
fn root(x: f64) -> f64 {
    x.sqrt()
}

#[grad]
fn call_under_two_conditions(x: f64) -> f64 {
    let a = if x > 0.0 { root(x) } else { -x };
    let b = if x > 1.0 { root(x) * 2.0 } else { 3.0 * x };
    a + b
}

#[grad]
fn reciprocal_under_a_bool_and_a_comparison(x: f64, flag: bool) -> f64 {
    let a = if flag && x > 0.0 { 1.0 / x } else { x };
    let b = if !flag || x > 2.0 { 1.0 / x } else { 2.0 * x };
    a * b
}

#[allow(clippy::needless_range_loop)]
#[grad(loops = "keep")]
fn sqrt_under_two_conditions_in_a_loop(x: [f64; 6]) -> f64 {
    let mut s = 0.0;
    for i in 0..6 {
        let a = if x[i] > 0.0 { x[i].sqrt() } else { 0.0 };
        let b = if x[i] > 1.0 { x[i].sqrt() } else { x[i] };
        s += a + b;
    }
    s
}

#[test]
fn a_value_read_under_different_conditions_leaks_no_nan() {
    // Where neither `if` takes the arm that reads the value, its partial (NaN or infinite
    // there) must not reach the gradient.
    assert_eq!(sqrt_under_two_conditions_grad(-1.0, 2.0), (4.0, (0.0, 2.0)));
    assert_eq!(acos_under_two_conditions_grad(2.0), (2.0, 1.0));
    assert_eq!(call_under_two_conditions_grad(-1.0), (-2.0, 2.0));
    let (v, d) = reciprocal_under_a_bool_and_a_comparison_grad(0.0, true);
    assert_eq!((v, d), (0.0, 0.0), "x · 2x at 0");
    let x = [4.0, 0.25, -1.0, 9.0, -0.5, 0.0];
    let (_, g) = sqrt_under_two_conditions_in_a_loop_grad(x);
    assert!(g.iter().all(|d| d.is_finite()), "{g:?}");
    assert_eq!((g[2], g[4]), (1.0, 1.0));
    let reference = |x: Dual64, y: Dual64| {
        let a = if x.re > 0.0 { x.sqrt() * y } else { y };
        let b = if x.re > 1.0 { x.sqrt() } else { a };
        a + b
    };
    let rule = binary(
        "sqrt under two conditions",
        sqrt_under_two_conditions_grad,
        sqrt_under_two_conditions,
        reference,
    );
    let points = pairs(
        &[-3.0, -1.0, -0.2, 0.3, 0.7, 1.5, 4.0],
        &[-2.5, -0.7, 0.4, 2.0],
    );
    Suite::new()
        .run(
            rule.kinks(|[x, _]| x.abs() < 0.05 || (x - 1.0).abs() < 0.05),
            &points,
        )
        .finish();
}

#[test]
fn sqrt_or_zero_takes_each_side() {
    let reference = |x: Dual64| {
        if x.re > 0.0 {
            x.sqrt()
        } else {
            Dual64::from(0.0)
        }
    };
    let rule = unary("sqrt_or_zero", sqrt_or_zero_grad, sqrt_or_zero, reference);
    Suite::new()
        .run(
            rule.kinks(|[x]| x.abs() < 1e-2),
            &singles(&[SIDES, &[-1e10, 1e10, 4.0, 9.0, 16.0]].concat()),
        )
        .finish();
}

#[test]
fn ln_or_linear_takes_each_side() {
    let reference = |x: Dual64| {
        if x.re > 1.0 {
            x.ln() * x
        } else {
            (x - 1.0) * x
        }
    };
    let rule = unary("ln_or_linear", ln_or_linear_grad, ln_or_linear, reference);
    Suite::new()
        .run(
            rule.kinks(|[x]| (x - 1.0).abs() < 1e-2),
            &singles(&[SIDES, &[-3.0, 5.0, 7.0, 1e5, -1e5]].concat()),
        )
        .finish();
}

#[test]
fn early_return_takes_each_side() {
    let reference = |x: Dual64, y: Dual64| {
        if x.re < 0.0 {
            (-x).sqrt() * y
        } else {
            x.ln() * y
        }
    };
    let rule = binary("early_return", early_return_grad, early_return, reference);
    let points = pairs(&[-4.0, -1.0, -0.01, 0.01, 0.5, 2.0, 9.0], &[-2.0, 0.5, 3.0]);
    Suite::new()
        .run(rule.kinks(|[x, _]| x.abs() < 0.05), &points)
        .finish();
}

#[test]
fn nested_takes_each_of_four_paths() {
    let reference = |x: Dual64, y: Dual64| {
        if x.re > 0.0 {
            if y.re > 0.0 {
                x * y
            } else {
                x - y
            }
        } else if y.re > x.re {
            y.powi(2)
        } else {
            x * 0.5
        }
    };
    let rule = binary("nested", nested_grad, nested, reference);
    let points = pairs(
        &[-3.0, -1.0, -0.2, 0.3, 1.0, 4.0],
        &[-2.5, -0.7, 0.4, 2.0, 5.0],
    );
    Suite::new()
        .run(
            rule.kinks(|[x, y]| x.abs() < 0.05 || y.abs() < 0.05 || (x - y).abs() < 0.05),
            &points,
        )
        .finish();
}

#[test]
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn compound_conditions_follow_rust() {
    let reference = |x: Dual64, y: Dual64| {
        if (x.re > 0.0 && y.re < 2.0) || !(x.re > -5.0) {
            x * y
        } else {
            x - y * y
        }
    };
    let rule = binary("compound", compound_grad, compound, reference);
    let points = pairs(&[-9.0, -6.0, -4.0, -1.0, 0.5, 3.0], &[-1.0, 1.0, 2.5, 4.0]);
    let near =
        |[x, y]: [f64; 2]| x.abs() < 0.05 || (x + 5.0).abs() < 0.05 || (y - 2.0).abs() < 0.05;
    Suite::new().run(rule.kinks(near), &points).finish();
}

#[test]
fn assignment_in_one_arm_joins_after_the_if() {
    let reference = |x: Dual64, y: Dual64| {
        let t = x * y;
        let t = if t.re < 1.0 { t + (-t + 1.0).ln() } else { t };
        t * t
    };
    let rule = binary(
        "assigned_in_one_arm",
        assigned_in_one_arm_grad,
        assigned_in_one_arm,
        reference,
    );
    let points = pairs(&[-3.0, -0.5, 0.2, 0.9, 2.0, 5.0], &[-1.5, 0.3, 1.0, 4.0]);
    Suite::new()
        .run(rule.kinks(|[x, y]| (x * y - 1.0).abs() < 0.05), &points)
        .finish();
}

#[test]
fn the_side_not_taken_leaks_no_nan() {
    assert_eq!(sqrt_or_zero_grad(-1.0), (0.0, 0.0));
    assert_eq!(sqrt_or_zero_grad(f64::NEG_INFINITY), (0.0, 0.0));
    let (v, d) = ln_or_linear_grad(-3.0);
    assert_eq!(
        (v, d),
        (12.0, -7.0),
        "(x - 1) x at -3 and its derivative 2x - 1"
    );
    let (v, (dx, dy)) = early_return_grad(4.0, 3.0);
    assert!(
        v.is_finite() && dx.is_finite() && dy.is_finite(),
        "{v} {dx} {dy}"
    );
    let (v, (dx, dy)) = early_return_grad(-4.0, 3.0);
    assert_eq!(
        (v, dx, dy),
        (6.0, -0.75, 2.0),
        "sqrt(-x) y at -4, ln(x) never runs"
    );
    let (v, g) = branch_in_loop_grad([-1.0, -2.0, 4.0, -3.0]);
    assert_eq!((v, g), (-12.0, [2.0, 4.0, 0.25, 6.0]));
    let (v, g) = first_positive_grad([-1.0, -2.0, -3.0]);
    assert_eq!((v, g), (0.0, [0.0, 0.0, 0.0]));
}

#[test]
fn at_the_boundary_the_branch_taken_gives_the_derivative() {
    // `x > 0.0` is false at 0: the `else` arm, a constant.
    assert_eq!(sqrt_or_zero_grad(0.0), (0.0, 0.0));
    // `x > 1.0` is false at 1: (x - 1) x, derivative 2x - 1 = 1.
    assert_eq!(ln_or_linear_grad(1.0), (0.0, 1.0));
    // `x < 0.0` is false at 0: ln(0) y, whose derivative in x is infinite.
    let (_, (dx, _)) = early_return_grad(0.0, 1.0);
    assert_eq!(dx, f64::INFINITY);
    // At x = y = 0, `y > x` is false: 0.5 x.
    assert_eq!(nested_grad(0.0, 0.0).1, (0.5, 0.0));
}

#[test]
fn an_early_return_in_a_loop_returns_the_first() {
    let (v, g) = first_positive_grad([-1.0, 2.0, 3.0]);
    assert_eq!(v, 2f64.ln() * 2.0);
    assert_eq!(g, [0.0, 1.0, 0.0]);
    let (v, g) = first_positive_grad([0.5, 2.0, 3.0]);
    assert_eq!((v, g), (0.5f64.ln(), [2.0, 0.0, 0.0]));
}
