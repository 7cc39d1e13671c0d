//! The acceptance cases of `tests/data/cases.json` (copied from the project's shared cases,
//! exact values and gradients computed elsewhere with SymPy and mpmath) that the language
//! covers (all of them). Each function below is the case's `rust` text (reformatted by rustfmt) with
//! `#[grad]` on it; the points are read from the JSON at run time, and
//! `sources_match_the_json` checks that the text here is still the text there.

// The cases index arrays with loop variables, as numeric code does and as `#[grad]` reads it.
#![allow(clippy::needless_range_loop)]

mod common_cases;

use common_cases::{check_case, Case};
use gradgen::grad;

#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[grad]
fn booth(x: f64, y: f64) -> f64 {
    (x + 2.0 * y - 7.0).powi(2) + (2.0 * x + y - 5.0).powi(2)
}

#[grad]
fn ackley(x: f64, y: f64) -> f64 {
    -20.0 * (-0.2 * (0.5 * (x * x + y * y)).sqrt()).exp()
        - (0.5 * ((2.0 * std::f64::consts::PI * x).cos() + (2.0 * std::f64::consts::PI * y).cos()))
            .exp()
        + std::f64::consts::E
        + 20.0
}

#[grad]
fn three_hump_camel(x: f64, y: f64) -> f64 {
    2.0 * x * x - 1.05 * x.powi(4) + x.powi(6) / 6.0 + x * y + y * y
}

#[grad]
fn mccormick(x: f64, y: f64) -> f64 {
    (x + y).sin() + (x - y).powi(2) - 1.5 * x + 2.5 * y + 1.0
}

#[grad]
fn powell_singular(x: [f64; 4]) -> f64 {
    let f1 = x[0] + 10.0 * x[1];
    let f2 = 5.0f64.sqrt() * (x[2] - x[3]);
    let f3 = (x[1] - 2.0 * x[2]).powi(2);
    let f4 = 10.0f64.sqrt() * (x[0] - x[3]).powi(2);
    f1 * f1 + f2 * f2 + f3 * f3 + f4 * f4
}

#[grad]
fn helical_valley(x1: f64, x2: f64, x3: f64) -> f64 {
    let mut theta = (x2 / x1).atan() / (2.0 * std::f64::consts::PI);
    if x1 < 0.0 {
        theta += 0.5;
    }
    let f1 = 10.0 * (x3 - 10.0 * theta);
    let f2 = 10.0 * ((x1 * x1 + x2 * x2).sqrt() - 1.0);
    let f3 = x3;
    f1 * f1 + f2 * f2 + f3 * f3
}

#[grad]
fn powell_badly_scaled(x: f64, y: f64) -> f64 {
    let f1 = 1e4 * x * y - 1.0;
    let f2 = (-x).exp() + (-y).exp() - 1.0001;
    f1 * f1 + f2 * f2
}

#[grad]
fn biggs_exp6(x1: f64, x2: f64, x3: f64, x4: f64, x5: f64, x6: f64) -> f64 {
    let mut s = 0.0;
    for i in 1..14 {
        let t = 0.1 * i as f64;
        let y = (-t).exp() - 5.0 * (-10.0 * t).exp() + 3.0 * (-4.0 * t).exp();
        let f = x3 * (-t * x1).exp() - x4 * (-t * x2).exp() + x6 * (-t * x5).exp() - y;
        s += f * f;
    }
    s
}

#[grad]
fn trigonometric(x: [f64; 4]) -> f64 {
    let mut cos_sum = 0.0;
    for j in 0..4 {
        cos_sum += x[j].cos();
    }
    let mut s = 0.0;
    for i in 0..4 {
        let f = 4.0 - cos_sum + (i + 1) as f64 * (1.0 - x[i].cos()) - x[i].sin();
        s += f * f;
    }
    s
}

#[grad]
fn zakharov(x: [f64; 3]) -> f64 {
    let mut s1 = 0.0;
    let mut s2 = 0.0;
    for i in 0..3 {
        s1 += x[i] * x[i];
        s2 += 0.5 * (i + 1) as f64 * x[i];
    }
    s1 + s2.powi(2) + s2.powi(4)
}

#[grad]
fn schaffer_n2(x: f64, y: f64) -> f64 {
    0.5 + ((x * x - y * y).sin().powi(2) - 0.5) / (1.0 + 0.001 * (x * x + y * y)).powi(2)
}

#[grad]
fn eggholder(x: f64, y: f64) -> f64 {
    -(y + 47.0) * (x / 2.0 + y + 47.0).abs().sqrt().sin() - x * (x - (y + 47.0)).abs().sqrt().sin()
}

#[grad]
fn dixon_price(x: [f64; 4]) -> f64 {
    let mut s = (x[0] - 1.0).powi(2);
    for i in 1..4 {
        s += (i + 1) as f64 * (2.0 * x[i] * x[i] - x[i - 1]).powi(2);
    }
    s
}

#[grad]
fn trid(x: [f64; 4]) -> f64 {
    let mut s1 = 0.0;
    let mut s2 = 0.0;
    for i in 0..4 {
        s1 += (x[i] - 1.0).powi(2);
    }
    for i in 1..4 {
        s2 += x[i] * x[i - 1];
    }
    s1 - s2
}

#[grad]
fn alpine_n1(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += (x[i] * x[i].sin() + 0.1 * x[i]).abs();
    }
    s
}

#[grad]
fn exp_sin_sq(x: f64) -> f64 {
    (x * x).sin().exp()
}

#[grad]
fn atan2_expr(x: f64, y: f64) -> f64 {
    (x * y).atan2(x - y) + 0.5 * (x + y).atan2(1.0)
}

#[grad]
fn expm1_over_x(x: f64) -> f64 {
    x.exp_m1() / x
}

#[grad]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[grad]
fn abs_max_min(x: f64, y: f64, z: f64) -> f64 {
    x.abs() * y.max(z) - x.min(y) + (y - z).abs()
}

#[grad]
fn branch_on_product(x: f64, y: f64) -> f64 {
    let p = x * y;
    let q = if p > 1.0 { p.ln() } else { p - 1.0 };
    q * x + y
}

#[grad]
fn block_scope(x: f64, y: f64) -> f64 {
    let a = x * y;
    let b = if x > 0.0 {
        let a = a + x;
        a * a
    } else {
        a - y
    };
    a + b
}

#[grad]
fn horner(c: [f64; 5], x: f64) -> f64 {
    let mut acc = 0.0;
    for i in 0..5 {
        acc = acc * x + c[i];
    }
    acc
}

#[grad]
fn newton_sqrt(a: f64) -> f64 {
    let mut y = 1.0;
    for _ in 0..6 {
        y = 0.5 * (y + a / y);
    }
    y
}

#[grad]
fn powi_negative(x: f64, y: f64) -> f64 {
    x.powi(-2) + y.powi(-3) - (x * y).powi(-1)
}

#[grad]
fn fused(x: f64, y: f64, z: f64) -> f64 {
    let a = x.mul_add(y, z);
    let b = a.mul_add(x, -y).mul_add(z, 1.0);
    a * b
}

#[grad]
fn literals_and_precedence(x: f64, y: f64) -> f64 {
    let a = -x.powi(2) + 1e-3 * y;
    let b = 0.5_f64 * x * y - 2.0f64 * (-y).exp() + 3. * x;
    let c = -(x - y).abs() / 1E1;
    a + b * b - c
}

#[grad]
fn clamp_signum(x: f64, y: f64) -> f64 {
    x.clamp(-1.0, 1.0) * y + x.signum() * y * y
}

#[grad]
fn loop_divisor(a: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..2 {
        let x = i as f64 + 1.0;
        s += 1.0 / (x + a * a);
    }
    s
}

#[grad]
fn powi_small(x: f64) -> f64 {
    3.0 * x.powi(0) + x.powi(1) + x.powi(2) + x.powi(3)
}

#[grad]
fn compound_condition(x: f64, y: f64) -> f64 {
    if (x > 0.0 && y < 2.0) || x < -5.0 {
        x * y
    } else {
        x - y * y
    }
}

#[grad]
fn long_loop(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..1000 {
        let t = i as f64 / 1000.0;
        s += (x * t).sin() * y.powi(2) / 1000.0;
    }
    s
}

/// Each case, with a call of its generated gradient on the flattened arguments, returning the
/// flattened gradient.
const COVERED: &[(&str, Case)] = &[
    ("rosenbrock_2d", |a| {
        let (v, g) = rosenbrock_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("booth", |a| {
        let (v, g) = booth_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("ackley_2d", |a| {
        let (v, g) = ackley_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("three_hump_camel", |a| {
        let (v, g) = three_hump_camel_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("mccormick", |a| {
        let (v, g) = mccormick_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("powell_singular", |a| {
        let (v, g) = powell_singular_grad([a[0], a[1], a[2], a[3]]);
        (v, g.to_vec())
    }),
    ("helical_valley", |a| {
        let (v, g) = helical_valley_grad(a[0], a[1], a[2]);
        (v, [vec![g.0], vec![g.1], vec![g.2]].concat())
    }),
    ("powell_badly_scaled", |a| {
        let (v, g) = powell_badly_scaled_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("biggs_exp6", |a| {
        let (v, g) = biggs_exp6_grad(a[0], a[1], a[2], a[3], a[4], a[5]);
        (
            v,
            [
                vec![g.0],
                vec![g.1],
                vec![g.2],
                vec![g.3],
                vec![g.4],
                vec![g.5],
            ]
            .concat(),
        )
    }),
    ("trigonometric", |a| {
        let (v, g) = trigonometric_grad([a[0], a[1], a[2], a[3]]);
        (v, g.to_vec())
    }),
    ("zakharov", |a| {
        let (v, g) = zakharov_grad([a[0], a[1], a[2]]);
        (v, g.to_vec())
    }),
    ("schaffer_n2", |a| {
        let (v, g) = schaffer_n2_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("eggholder", |a| {
        let (v, g) = eggholder_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("dixon_price", |a| {
        let (v, g) = dixon_price_grad([a[0], a[1], a[2], a[3]]);
        (v, g.to_vec())
    }),
    ("trid_4d", |a| {
        let (v, g) = trid_grad([a[0], a[1], a[2], a[3]]);
        (v, g.to_vec())
    }),
    ("alpine_n1", |a| {
        let (v, g) = alpine_n1_grad([a[0], a[1], a[2]]);
        (v, g.to_vec())
    }),
    ("exp_sin_sq", |a| {
        let (v, g) = exp_sin_sq_grad(a[0]);
        (v, vec![g])
    }),
    ("atan2_expr_args", |a| {
        let (v, g) = atan2_expr_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("expm1_over_x", |a| {
        let (v, g) = expm1_over_x_grad(a[0]);
        (v, vec![g])
    }),
    ("sigmoid", |a| {
        let (v, g) = sigmoid_grad(a[0]);
        (v, vec![g])
    }),
    ("abs_max_min_smooth_region", |a| {
        let (v, g) = abs_max_min_grad(a[0], a[1], a[2]);
        (v, [vec![g.0], vec![g.1], vec![g.2]].concat())
    }),
    ("branch_on_computed", |a| {
        let (v, g) = branch_on_product_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("block_scope_shadow", |a| {
        let (v, g) = block_scope_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("horner", |a| {
        let (v, g) = horner_grad([a[0], a[1], a[2], a[3], a[4]], a[5]);
        (v, [g.0.to_vec(), vec![g.1]].concat())
    }),
    ("newton_sqrt_iter", |a| {
        let (v, g) = newton_sqrt_grad(a[0]);
        (v, vec![g])
    }),
    ("powi_negative", |a| {
        let (v, g) = powi_negative_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("mul_add_chain", |a| {
        let (v, g) = fused_grad(a[0], a[1], a[2]);
        (v, [vec![g.0], vec![g.1], vec![g.2]].concat())
    }),
    ("literals_and_precedence", |a| {
        let (v, g) = literals_and_precedence_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("clamp_signum", |a| {
        let (v, g) = clamp_signum_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("loop_inline_divisor", |a| {
        let (v, g) = loop_divisor_grad(a[0]);
        (v, vec![g])
    }),
    ("powi_small_exponents_at_zero", |a| {
        let (v, g) = powi_small_grad(a[0]);
        (v, vec![g])
    }),
    ("compound_condition", |a| {
        let (v, g) = compound_condition_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
    ("long_loop_1000", |a| {
        let (v, g) = long_loop_grad(a[0], a[1]);
        (v, [vec![g.0], vec![g.1]].concat())
    }),
];

/// Cases not covered yet (none).
const NOT_YET: &[&str] = &[];

#[test]
fn case_rosenbrock_2d() {
    check_case("rosenbrock_2d", COVERED);
}

#[test]
fn case_booth() {
    check_case("booth", COVERED);
}

#[test]
fn case_ackley_2d() {
    check_case("ackley_2d", COVERED);
}

#[test]
fn case_three_hump_camel() {
    check_case("three_hump_camel", COVERED);
}

#[test]
fn case_mccormick() {
    check_case("mccormick", COVERED);
}

#[test]
fn case_powell_singular() {
    check_case("powell_singular", COVERED);
}

#[test]
fn case_helical_valley() {
    check_case("helical_valley", COVERED);
}

#[test]
fn case_powell_badly_scaled() {
    check_case("powell_badly_scaled", COVERED);
}

#[test]
fn case_biggs_exp6() {
    check_case("biggs_exp6", COVERED);
}

#[test]
fn case_trigonometric() {
    check_case("trigonometric", COVERED);
}

#[test]
fn case_zakharov() {
    check_case("zakharov", COVERED);
}

#[test]
fn case_schaffer_n2() {
    check_case("schaffer_n2", COVERED);
}

#[test]
fn case_eggholder() {
    check_case("eggholder", COVERED);
}

#[test]
fn case_dixon_price() {
    check_case("dixon_price", COVERED);
}

#[test]
fn case_trid_4d() {
    check_case("trid_4d", COVERED);
}

#[test]
fn case_alpine_n1() {
    check_case("alpine_n1", COVERED);
}

#[test]
fn case_exp_sin_sq() {
    check_case("exp_sin_sq", COVERED);
}

#[test]
fn case_atan2_expr_args() {
    check_case("atan2_expr_args", COVERED);
}

#[test]
fn case_expm1_over_x() {
    check_case("expm1_over_x", COVERED);
}

#[test]
fn case_sigmoid() {
    check_case("sigmoid", COVERED);
}

#[test]
fn case_abs_max_min_smooth_region() {
    check_case("abs_max_min_smooth_region", COVERED);
}

#[test]
fn case_branch_on_computed() {
    check_case("branch_on_computed", COVERED);
}

#[test]
fn case_block_scope_shadow() {
    check_case("block_scope_shadow", COVERED);
}

#[test]
fn case_horner() {
    check_case("horner", COVERED);
}

#[test]
fn case_newton_sqrt_iter() {
    check_case("newton_sqrt_iter", COVERED);
}

#[test]
fn case_powi_negative() {
    check_case("powi_negative", COVERED);
}

#[test]
fn case_mul_add_chain() {
    check_case("mul_add_chain", COVERED);
}

#[test]
fn case_literals_and_precedence() {
    check_case("literals_and_precedence", COVERED);
}

#[test]
fn case_clamp_signum() {
    check_case("clamp_signum", COVERED);
}

#[test]
fn case_loop_inline_divisor() {
    check_case("loop_inline_divisor", COVERED);
}

#[test]
fn case_powi_small_exponents_at_zero() {
    check_case("powi_small_exponents_at_zero", COVERED);
}

#[test]
fn case_compound_condition() {
    check_case("compound_condition", COVERED);
}

#[test]
fn case_long_loop_1000() {
    check_case("long_loop_1000", COVERED);
}

#[test]
fn every_case_is_covered_or_listed() {
    common_cases::every_case_is_covered_or_listed(COVERED, NOT_YET);
}

#[test]
fn sources_match_the_json() {
    common_cases::sources_match(include_str!("acceptance.rs"), COVERED);
}
