//! `if` / `else` on comparisons of floats, as statements and expressions, with `else if`, `&&`,
//! `||` and `!`: both sides of every branch, exactly at every boundary (where the gradient is
//! that of the arm taken, checked also by a one-sided difference into that arm), no NaN from
//! the arm not taken, and early `return`.

use crate::common::numeric::{
    binary, close, pairs, singles, unary, Dual64, DualNum, Rule, Suite, DUAL_REL,
};
use crate::support::{near, spread, MODERATE, SCALES};
use gradgen::grad;

/// The derivative along coordinate `i` by a one-sided difference of second order on the side
/// `side` (+1 or -1) of `x`: `(-3 f(x) + 4 f(x + sh) - f(x + 2sh)) / 2sh`.
fn one_sided<const N: usize>(f: impl Fn([f64; N]) -> f64, x: [f64; N], i: usize, side: f64) -> f64 {
    let h = side * 1e-5 * x[i].abs().max(1.0);
    let at = |k: f64| {
        let mut y = x;
        y[i] += k * h;
        f(y)
    };
    (-3.0 * at(0.0) + 4.0 * at(1.0) - at(2.0)) / (2.0 * h)
}

/// Checks that partial `i` of the gradient at the boundary point `x` is the one-sided
/// derivative into the side `side` where the arm taken at `x` goes on.
fn taken_arm<const N: usize>(
    name: &str,
    grad: impl Fn([f64; N]) -> (f64, [f64; N]),
    plain: impl Fn([f64; N]) -> f64,
    x: [f64; N],
    i: usize,
    side: f64,
) {
    let g = grad(x).1[i];
    let d = one_sided(plain, x, i, side);
    assert!(
        (g - d).abs() <= 1e-6 * d.abs().max(1.0),
        "{name} at {x:?}: partial {i} = {g}, one-sided difference on side {side} = {d}"
    );
}

#[grad]
fn if_statement(x: f64, y: f64) -> f64 {
    let mut t = x * y;
    if x > y {
        t = t.sin() + x;
    } else {
        t -= y.exp();
    }
    if x * y <= 0.5 {
        t *= t;
    }
    t
}

fn if_statement_ref(x: Dual64, y: Dual64) -> Dual64 {
    let mut t = x * y;
    if x.re > y.re {
        t = t.sin() + x;
    } else {
        t -= y.exp();
    }
    if (x * y).re <= 0.5 {
        t *= t;
    }
    t
}

/// Both sides of `x > y` and of `x·y <= 0.5`, and points on each boundary.
const BOTH_SIDES: &[f64] = &[-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 1e-3, 2.0, 4.0];

fn if_statement_kinks([x, y]: [f64; 2]) -> bool {
    near(x, y, 1e-5) || near(x * y, 0.5, 1e-5)
}

#[test]
fn if_else_as_a_statement() {
    let rule = binary(
        "if_statement",
        if_statement_grad,
        if_statement,
        if_statement_ref,
    );
    let points = [pairs(BOTH_SIDES, BOTH_SIDES), spread(70, MODERATE, 4)].concat();
    Suite::new()
        .run(rule.kinks(if_statement_kinks), &points)
        .finish();
}

#[grad]
fn if_expression(p: f64) -> f64 {
    let q = if p > 1.0 { p.ln() } else { 2.0 * (p - 1.0) };
    q * p + if p < -2.0 { -p } else { p * p }
}

fn if_expression_ref(p: Dual64) -> Dual64 {
    let q = if p.re > 1.0 { p.ln() } else { (p - 1.0) * 2.0 };
    q * p + if p.re < -2.0 { -p } else { p * p }
}

/// Both sides of 1 and of -2, the boundaries themselves, and far from them.
const AROUND: &[f64] = &[
    -1e6, -40.0, -2.5, -2.0, -1.999, -1.0, -1e-8, 0.0, 1e-8, 0.3, 0.999, 1.0, 1.001, 1.5, 3.0,
    10.0, 1e3, 1e6,
];

#[test]
fn if_else_as_an_expression() {
    let rule = unary(
        "if_expression",
        if_expression_grad,
        if_expression,
        if_expression_ref,
    );
    let kinks = |[p]: [f64; 1]| near(p, 1.0, 1e-5) || near(p, -2.0, 1e-5);
    let points = [singles(AROUND), spread(71, SCALES, 2)].concat();
    Suite::new().run(rule.kinks(kinks), &points).finish();
}

#[allow(clippy::float_cmp)]
#[grad]
fn piecewise(x: f64) -> f64 {
    if x < -1.0 {
        -(x * x)
    } else if x <= 0.5 {
        x.sin()
    } else if x >= 2.0 {
        x.ln() * 3.0
    } else if x == 1.0 {
        7.0 * x
    } else if x != 1.5 {
        x.sqrt()
    } else {
        x * x * x
    }
}

#[allow(clippy::float_cmp)]
fn piecewise_ref(x: Dual64) -> Dual64 {
    if x.re < -1.0 {
        -(x * x)
    } else if x.re <= 0.5 {
        x.sin()
    } else if x.re >= 2.0 {
        x.ln() * 3.0
    } else if x.re == 1.0 {
        x * 7.0
    } else if x.re != 1.5 {
        x.sqrt()
    } else {
        x * x * x
    }
}

/// The boundaries of `piecewise`, and which side of each the arm taken there goes on (none
/// for the single points `x == 1` and `x == 1.5`).
const PIECEWISE_BOUNDARIES: &[(f64, Option<f64>)] = &[
    (-1.0, Some(1.0)),
    (0.5, Some(-1.0)),
    (1.0, None),
    (1.5, None),
    (2.0, Some(1.0)),
];

#[test]
fn else_if_chains_with_every_comparison() {
    let rule = unary("piecewise", piecewise_grad, piecewise, piecewise_ref);
    let edges = |x: f64| PIECEWISE_BOUNDARIES.iter().any(|&(b, _)| near(x, b, 1e-5));
    let values = [
        -1e3, -7.0, -1.5, -1.0, -0.999, -0.3, 0.0, 1e-8, 0.4, 0.5, 0.501, 0.75, 0.999, 1.0, 1.001,
        1.25, 1.5, 1.75, 1.999, 2.0, 2.001, 5.0, 1e3, -3.0, -0.7, 0.1, 0.3, 1.1, 1.6, 3.0, 10.0,
    ];
    Suite::new()
        .run(rule.kinks(|[x]| edges(x)), &singles(&values))
        .finish();
}

#[allow(clippy::neg_cmp_op_on_partial_ord)]
#[grad]
fn logic(x: f64, y: f64) -> f64 {
    let a = if x > 0.0 && y > 0.0 { x * y } else { x + y };
    let mut b = a;
    if x < -1.0 || y >= 3.0 {
        b *= x;
    }
    if !(x * y < 1.0) {
        b += (x * y).ln();
    }
    b
}

#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn logic_ref(x: Dual64, y: Dual64) -> Dual64 {
    let a = if x.re > 0.0 && y.re > 0.0 {
        x * y
    } else {
        x + y
    };
    let mut b = a;
    if x.re < -1.0 || y.re >= 3.0 {
        b *= x;
    }
    if !((x * y).re < 1.0) {
        b += (x * y).ln();
    }
    b
}

fn logic_kinks([x, y]: [f64; 2]) -> bool {
    [x, y].iter().any(|&v| near(v, 0.0, 1e-5))
        || near(x, -1.0, 1e-5)
        || near(y, 3.0, 1e-5)
        || near(x * y, 1.0, 1e-5)
}

#[test]
fn conditions_with_and_or_not() {
    let rule = binary("logic", logic_grad, logic, logic_ref);
    let xs = [-4.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.0, 5.0];
    let ys = [-2.0, 0.0, 0.5, 1.0, 2.0, 3.0, 4.5];
    let points = [pairs(&xs, &ys), spread(72, SCALES, 3)].concat();
    Suite::new()
        .run(rule.kinks(logic_kinks).fd_max(1e3), &points)
        .finish();
}

#[test]
fn at_the_boundary_the_taken_arm_gives_the_derivative() {
    let grad1 = |[x]: [f64; 1]| {
        let (v, d) = piecewise_grad(x);
        (v, [d])
    };
    let plain1 = |[x]: [f64; 1]| piecewise(x);
    for &(b, side) in PIECEWISE_BOUNDARIES {
        if let Some(side) = side {
            taken_arm("piecewise", grad1, plain1, [b], 0, side);
        }
        let (g, reference) = (piecewise_grad(b).1, piecewise_ref(Dual64::new(b, 1.0)).eps);
        assert!(
            close(g, reference, DUAL_REL, 0.0),
            "piecewise at {b}: {g}, {reference}"
        );
    }
    // `p > 1.0` is false at 1 and `p < -2.0` false at -2: the arms of smaller and of
    // larger arguments.
    let grad1 = |[p]: [f64; 1]| {
        let (v, d) = if_expression_grad(p);
        (v, [d])
    };
    let plain1 = |[p]: [f64; 1]| if_expression(p);
    taken_arm("if_expression", grad1, plain1, [1.0], 0, -1.0);
    taken_arm("if_expression", grad1, plain1, [-2.0], 0, 1.0);
    // At x = y, `x > y` is false: the `else` arm, which goes on where x < y.
    let grad2 = |[x, y]: [f64; 2]| {
        let (v, (dx, dy)) = if_statement_grad(x, y);
        (v, [dx, dy])
    };
    let plain2 = |[x, y]: [f64; 2]| if_statement(x, y);
    for x in [-1.5, 0.25, 2.0] {
        taken_arm("if_statement", grad2, plain2, [x, x], 0, -1.0);
        taken_arm("if_statement", grad2, plain2, [x, x], 1, 1.0);
    }
    // At x·y = 0.5, `x·y <= 0.5` is true: the arm of smaller products.
    taken_arm("if_statement", grad2, plain2, [1.0, 0.5], 0, -1.0);
    taken_arm("if_statement", grad2, plain2, [-0.25, -2.0], 1, 1.0);
    // At x·y = 1, `!(x·y < 1.0)` is true: the `ln` is added on the side of larger products.
    let grad2 = |[x, y]: [f64; 2]| {
        let (v, (dx, dy)) = logic_grad(x, y);
        (v, [dx, dy])
    };
    let plain2 = |[x, y]: [f64; 2]| logic(x, y);
    taken_arm("logic", grad2, plain2, [2.0, 0.5], 0, 1.0);
    taken_arm("logic", grad2, plain2, [0.5, 2.0], 1, 1.0);
    // At y = 3, `y >= 3.0` is true: the product with x on the side of larger y.
    taken_arm("logic", grad2, plain2, [-0.5, 3.0], 1, 1.0);
    // At x = 0, `x > 0.0` is false: the sum, on the side of negative x.
    taken_arm("logic", grad2, plain2, [0.0, 2.0], 0, -1.0);
}

#[grad]
fn sqrt_or_zero(x: f64) -> f64 {
    if x > 0.0 {
        x.sqrt()
    } else {
        0.0
    }
}

#[grad]
fn ratio_or_numerator(n: f64, d: f64) -> f64 {
    if d != 0.0 {
        n / d
    } else {
        n
    }
}

#[grad]
fn guarded_ln(x: f64, y: f64) -> f64 {
    let mut s = y;
    if x > 0.0 {
        s += x.ln() * y;
    }
    s * 2.0
}

#[grad]
fn guarded_acos(x: f64) -> f64 {
    if x.abs() < 1.0 {
        x.acos() * x
    } else {
        0.0
    }
}

/// Where the arm not taken would be NaN or infinite: negative, zero and beyond.
const OUTSIDE: &[f64] = &[
    -0.0,
    -1e-300,
    -1e-100,
    -1e-8,
    -0.5,
    -1.0,
    -1.0000001,
    -2.0,
    -3.5,
    -10.0,
    -1e3,
    -1e10,
    -1e100,
    -1e300,
    -f64::MAX,
    f64::NEG_INFINITY,
    0.0,
    -7.25,
    -42.0,
    -0.125,
];

#[test]
fn the_arm_not_taken_leaks_no_nan() {
    for &x in OUTSIDE {
        assert_eq!(sqrt_or_zero_grad(x), (0.0, 0.0), "sqrt_or_zero at {x}");
        // The function is y·2 there, whatever x: gradient (0, 2), exactly.
        for y in [-3.0, 0.0, 1.5] {
            assert_eq!(
                guarded_ln_grad(x, y),
                (2.0 * y, (0.0, 2.0)),
                "guarded_ln at {x}"
            );
        }
        // n / 0 is not computed: the function is n, gradient (1, 0).
        assert_eq!(
            ratio_or_numerator_grad(x, 0.0),
            (x, (1.0, 0.0)),
            "ratio at {x}"
        );
        if x.abs() >= 1.0 {
            assert_eq!(guarded_acos_grad(x), (0.0, 0.0), "guarded_acos at {x}");
            assert_eq!(guarded_acos_grad(-x), (0.0, 0.0), "guarded_acos at {}", -x);
        }
    }
    // And on the side taken, the arm's derivative.
    let mut suite = Suite::new();
    let positive: Vec<f64> = OUTSIDE.iter().map(|v| -v).filter(|v| *v > 0.0).collect();
    let rule = unary("sqrt_or_zero", sqrt_or_zero_grad, sqrt_or_zero, |x| {
        if x.re > 0.0 {
            x.sqrt()
        } else {
            Dual64::from(0.0)
        }
    });
    suite.run(
        rule.kinks(|[x]| x.abs() < 1e-6),
        &singles(&[&positive, OUTSIDE].concat()),
    );
    let rule = binary(
        "ratio_or_numerator",
        ratio_or_numerator_grad,
        ratio_or_numerator,
        |n, d| if d.re != 0.0 { n / d } else { n },
    );
    let values = [-2.0, -1e-3, 0.0, 0.5, 3.0];
    suite.run(
        rule.kinks(|[_, d]| d.abs() < 1e-2),
        &pairs(&values, &values),
    );
    let rule = unary("guarded_acos", guarded_acos_grad, guarded_acos, |x| {
        if x.re.abs() < 1.0 {
            x.acos() * x
        } else {
            Dual64::from(0.0)
        }
    });
    let values = [
        -2.0, -1.0, -0.999, -0.9, -0.5, -0.1, 0.0, 1e-100, 0.2, 0.6, 0.99, 1.0, 1.5, 10.0,
    ];
    let near_edge = |[x]: [f64; 1]| (x.abs() - 1.0).abs() < 0.01;
    suite.run(
        rule.kinks(near_edge),
        &singles(&[&values[..], &spread::<1>(73, &[0.9], 8).concat()].concat()),
    );
    suite.finish();
}

#[grad]
fn early(x: f64, y: f64) -> f64 {
    if x < 0.0 {
        return (-x).sqrt() * y;
    }
    let z = (x + 1.0).ln();
    if z > y {
        return z - y * y;
    }
    z * y
}

fn early_ref(x: Dual64, y: Dual64) -> Dual64 {
    if x.re < 0.0 {
        return (-x).sqrt() * y;
    }
    let z = (x + 1.0).ln();
    if z.re > y.re {
        return z - y * y;
    }
    z * y
}

/// The first partial sum of squares above `level`, scaled by its position: a `return` from
/// inside a loop; the level is data.
#[grad(wrt(x))]
fn first_above(x: [f64; 6], level: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..6 {
        s += x[i] * x[i];
        if s > level {
            return s.sqrt() * (i as f64 + 1.0);
        }
    }
    -s
}

fn first_above_ref(x: [Dual64; 6], level: f64) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for (i, v) in x.iter().enumerate() {
        s += *v * *v;
        if s.re > level {
            return s.sqrt() * (i as f64 + 1.0);
        }
    }
    -s
}

#[test]
fn early_return_from_a_branch_and_from_a_loop() {
    let mut suite = Suite::new();
    let rule = binary("early", early_grad, early, early_ref);
    let kinks = |[x, y]: [f64; 2]| near(x, 0.0, 1e-5) || near((x + 1.0).ln(), y, 1e-5);
    // Not x = -1, where ln(x + 1) is singular: see `the_code_after_an_early_return_leaks_no_nan`.
    let xs = [-5.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 9.0];
    let ys = [-5.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 9.0];
    let points = [pairs(&xs, &ys), spread(74, SCALES, 2)].concat();
    suite.run(rule.kinks(kinks).fd_max(1e3), &points);
    for level in [0.0, 0.5, 2.0, 1e3] {
        let rule = Rule::new(
            &format!("first_above level = {level}"),
            move |x| first_above_grad(x, level),
            move |x| first_above(x, level),
            move |x| first_above_ref(x, level),
        );
        // The partial sums cross the level only at the origin for level 0; a central
        // difference across a crossing means nothing.
        let crossing = move |x: [f64; 6]| {
            let mut s = 0.0;
            x.iter().any(|v| {
                s += v * v;
                near(s, level, 1e-5)
            })
        };
        suite.run(rule.kinks(crossing), &spread(75, MODERATE, 4));
    }
    suite.finish();
}

/// An `else if` chain whose inner condition and arms read `ln(x + 1)`, guarded by the first
/// condition.
#[grad]
fn chain_after_a_guard(x: f64, y: f64) -> f64 {
    if x <= -1.0 {
        y
    } else if (x + 1.0).ln() > y {
        (x + 1.0).ln() - y
    } else {
        (x + 1.0).ln() * y
    }
}

/// A guard by an early return, then a value read by the condition and two arms of a second
/// branch.
#[grad]
fn guarded_sqrt(x: f64, y: f64) -> f64 {
    if x < 0.0 {
        return y;
    }
    let r = x.sqrt();
    if r > y {
        return r - y;
    }
    r * y
}

#[test]
fn the_code_after_an_early_return_leaks_no_nan() {
    let mut wrong = Vec::new();
    for y in [-5.0, -1.0, 0.0, 0.5, 2.0, 9.0] {
        // x < 0: `early` returns sqrt(-x)·y, whose gradient at x = -1 is (-y/2, 1); the
        // code after the return does not run.
        let got = early_grad(-1.0, y);
        if got != (y, (-0.5 * y, 1.0)) {
            wrong.push(format!("early at (-1, {y}): {got:?}"));
        }
        // x < 0: `guarded_sqrt` returns y, gradient (0, 1).
        for &x in OUTSIDE.iter().filter(|x| **x < 0.0) {
            let got = guarded_sqrt_grad(x, y);
            if got != (y, (0.0, 1.0)) {
                wrong.push(format!("guarded_sqrt at ({x:e}, {y}): {got:?}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn an_else_if_chain_leaks_no_nan_from_the_arms_not_taken() {
    // x <= -1: the function is y, gradient (0, 1).
    for y in [-5.0, -1.0, 0.0, 0.5, 2.0, 9.0] {
        let got = chain_after_a_guard_grad(-1.0, y);
        assert_eq!(got, (y, (0.0, 1.0)), "chain_after_a_guard at (-1, {y})");
    }
}
