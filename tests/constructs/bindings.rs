//! Bindings and assignments: `let` in all its forms, `let mut` scalars and arrays, assignment
//! and compound assignment to names and elements, reassignment, tuple destructuring; array
//! literals and repeats; literals, constants, operators and blocks; `as f64` casts.

use std::f64::consts::{self, PI};

use crate::common::numeric::{binary, ternary, triples, unary, Dual64, DualNum, Rule, Suite};
use crate::support::{spread, MODERATE, SCALES};
use gradgen::grad;

#[grad]
fn lets(x: f64, y: f64) -> f64 {
    let a: f64 = x * y;
    let _ = a.sin();
    let a = a + x;
    let (s, c) = x.sin_cos();
    let (p, q): (f64, f64) = (a * s, c + y);
    p * q + s / (2.0 + c)
}

fn lets_ref(x: Dual64, y: Dual64) -> Dual64 {
    let a = x * y + x;
    let (s, c) = (x.sin(), x.cos());
    let (p, q) = (a * s, c + y);
    p * q + s / (c + 2.0)
}

#[test]
fn let_bindings_shadowing_underscore_and_annotations() {
    let rule = binary("lets", lets_grad, lets, lets_ref).fd_max(1e3);
    Suite::new().run(rule, &spread(20, SCALES, 4)).finish();
}

#[grad]
fn tuple_destructuring(x: f64, y: f64) -> f64 {
    let (s, c) = (x * y).sin_cos();
    let (u, (v, w)) = (s * c, (x - y, s + y));
    let (_, t) = (u.exp(), v * w);
    u * t - c
}

fn tuple_destructuring_ref(x: Dual64, y: Dual64) -> Dual64 {
    let (s, c) = ((x * y).sin(), (x * y).cos());
    let u = s * c;
    let t = (x - y) * (s + y);
    u * t - c
}

#[test]
fn tuple_destructuring_and_sin_cos() {
    let rule = binary(
        "tuple_destructuring",
        tuple_destructuring_grad,
        tuple_destructuring,
        tuple_destructuring_ref,
    )
    .fd_max(30.0);
    Suite::new().run(rule, &spread(21, SCALES, 4)).finish();
}

#[grad]
fn mut_scalar(x: f64, y: f64) -> f64 {
    let mut s = x;
    s = s * y + 1.0;
    s = s.sin() * x;
    let mut t = s;
    t = t * t - y;
    s + t
}

fn mut_scalar_ref(x: Dual64, y: Dual64) -> Dual64 {
    let s = ((x * y + 1.0).sin()) * x;
    let t = s * s - y;
    s + t
}

#[test]
fn let_mut_scalars() {
    let rule = binary("mut_scalar", mut_scalar_grad, mut_scalar, mut_scalar_ref).fd_max(30.0);
    Suite::new().run(rule, &spread(22, SCALES, 4)).finish();
}

#[grad]
fn overwritten(x: f64, y: f64) -> f64 {
    let mut t = x.exp();
    let kept = t * y;
    t = y * 2.0;
    let mut u = kept - t * x;
    u = (u * 0.5).tanh();
    u + t
}

fn overwritten_ref(x: Dual64, y: Dual64) -> Dual64 {
    let kept = x.exp() * y;
    let t = y * 2.0;
    let u = kept - t * x;
    crate::common::numeric::dual::tanh(u * 0.5) + t
}

#[test]
fn reassignment_replaces_the_old_value() {
    let rule = binary(
        "overwritten",
        overwritten_grad,
        overwritten,
        overwritten_ref,
    )
    .abs(1e-15);
    Suite::new().run(rule, &spread(23, MODERATE, 4)).finish();
}

#[grad]
fn mut_array(x: f64, y: f64) -> f64 {
    let mut a = [x, y, 0.0];
    a[2] = a[0] * a[1];
    a[0] = a[2].sin();
    a[1] = a[0] - a[1];
    a = [a[1], a[2], a[0] * x];
    a[0] * a[1] + a[2]
}

fn mut_array_ref(x: Dual64, y: Dual64) -> Dual64 {
    let a2 = x * y;
    let a0 = a2.sin();
    let a1 = a0 - y;
    a1 * a2 + a0 * x
}

#[test]
fn let_mut_arrays() {
    let rule = binary("mut_array", mut_array_grad, mut_array, mut_array_ref).fd_max(30.0);
    Suite::new().run(rule, &spread(24, SCALES, 4)).finish();
}

#[grad]
fn element_assignment(x: [f64; 4]) -> f64 {
    let mut m = [[0.0; 4]; 2];
    for i in 0..4 {
        m[0][i] = x[i] * x[i];
        m[1][3 - i] = x[i].sin();
    }
    m[0][2] = m[1][0] - m[0][2];
    let mut s = 0.0;
    for i in 0..4 {
        s += m[0][i] * m[1][i];
    }
    s
}

fn element_assignment_ref(x: [Dual64; 4]) -> Dual64 {
    let mut m = [[Dual64::from(0.0); 4]; 2];
    for i in 0..4 {
        m[0][i] = x[i] * x[i];
        m[1][3 - i] = x[i].sin();
    }
    m[0][2] = m[1][0] - m[0][2];
    let mut s = Dual64::from(0.0);
    for i in 0..4 {
        s += m[0][i] * m[1][i];
    }
    s
}

#[test]
fn element_assignment_in_arrays_of_arrays() {
    let rule = Rule::new(
        "element_assignment",
        element_assignment_grad,
        element_assignment,
        element_assignment_ref,
    )
    .fd_max(30.0);
    Suite::new().run(rule, &spread(25, SCALES, 4)).finish();
}

#[grad]
fn compound(x: f64, y: f64, z: f64) -> f64 {
    let mut s = x;
    s += y * z;
    s -= z.sin();
    s *= x + 2.0;
    s /= 1.0 + y * y;
    let mut a = [x, y, z];
    a[0] += a[1];
    a[1] -= a[2] * x;
    a[2] *= a[0];
    a[0] /= 2.0 + a[2] * a[2];
    s + a[0] * a[1] + a[2]
}

fn compound_ref(x: Dual64, y: Dual64, z: Dual64) -> Dual64 {
    let s = (x + y * z - z.sin()) * (x + 2.0) / (y * y + 1.0);
    let a0 = x + y;
    let a1 = y - z * x;
    let a2 = z * a0;
    let a0 = a0 / (a2 * a2 + 2.0);
    s + a0 * a1 + a2
}

#[test]
fn compound_assignment_to_names_and_elements() {
    // Different values for each coordinate: at x = z, tiny, `x - z.sin()` cancels exactly
    // and the value is far smaller than the terms a central difference perturbs.
    let xs = [0.0, -1e-100, 1e-8, -0.4, 0.9, -1.7, 3.0, 250.0];
    let ys = [0.0, 2e-100, -3e-8, 0.6, -1.1, 2.2, -40.0];
    let zs = [0.0, 3e-100, 2e-8, -0.7, 1.3, -2.9, 75.0];
    let points = triples(&xs, &ys, &zs);
    let rule = ternary("compound", compound_grad, compound, compound_ref).fd_max(30.0);
    Suite::new().run(rule, &points).finish();
}

#[grad]
fn literals(x: f64, y: f64) -> f64 {
    let v = [x, y * 2.0, 0.0, x * y];
    let r = [x - y; 3];
    let z = [[1.5, x], [y, -0.25]];
    let zeros = [[0.0; 3]; 2];
    let mut s = zeros[1][2];
    for i in 0..4 {
        s += v[i] * (i as f64 + 1.0);
    }
    for i in 0..3 {
        s += r[i] * r[i] * i as f64;
    }
    s + z[0][1] * z[1][0] + z[0][0] * z[1][1]
}

fn literals_ref(x: Dual64, y: Dual64) -> Dual64 {
    let v = [x, y * 2.0, Dual64::from(0.0), x * y];
    let r = x - y;
    let mut s = Dual64::from(0.0);
    for (i, vi) in v.iter().enumerate() {
        s += *vi * (i as f64 + 1.0);
    }
    for i in 0..3 {
        s += r * r * i as f64;
    }
    s + x * y + Dual64::from(1.5) * -0.25
}

#[test]
fn array_literals_and_repeats() {
    let rule = binary("literals", literals_grad, literals, literals_ref);
    Suite::new().run(rule, &spread(26, SCALES, 4)).finish();
}

#[grad]
fn literal_forms(x: f64) -> f64 {
    1e-3 * x + 2. * x * x - 0.5_f64 * x.powi(3) + 3f64 + 1_000.0 * x.sin()
}

fn literal_forms_ref(x: Dual64) -> Dual64 {
    x * 1e-3 + x * 2.0 * x - x.powi(3) * 0.5 + 3.0 + x.sin() * 1000.0
}

#[test]
fn float_literals_in_any_form() {
    let rule = unary(
        "literal_forms",
        literal_forms_grad,
        literal_forms,
        literal_forms_ref,
    );
    Suite::new()
        .run(rule.fd_max(1e3), &spread(27, SCALES, 4))
        .finish();
}

#[grad]
fn constants(x: f64) -> f64 {
    let a = std::f64::consts::PI * x + consts::TAU;
    let b = PI * x.sin() - f64::EPSILON * x;
    let c = x.min(f64::MAX) * core::f64::consts::E;
    a * b + c / consts::SQRT_2
}

fn constants_ref(x: Dual64) -> Dual64 {
    let a = x * PI + consts::TAU;
    let b = x.sin() * PI - x * f64::EPSILON;
    a * b + x * consts::E / consts::SQRT_2
}

#[test]
fn constants_of_std_and_of_f64() {
    let rule = unary("constants", constants_grad, constants, constants_ref).fd_max(1e3);
    Suite::new().run(rule, &spread(28, SCALES, 4)).finish();
}

#[grad]
fn operators_and_blocks(a: f64, b: f64) -> f64 {
    -(a + b) / {
        let c = a * b;
        c * c + 1.0
    } - (a - -b) * (b / 4.0)
}

fn operators_and_blocks_ref(a: Dual64, b: Dual64) -> Dual64 {
    let c = a * b;
    -(a + b) / (c * c + 1.0) - (a + b) * (b / 4.0)
}

#[test]
fn operators_parentheses_and_blocks() {
    let rule = binary(
        "operators_and_blocks",
        operators_and_blocks_grad,
        operators_and_blocks,
        operators_and_blocks_ref,
    );
    Suite::new().run(rule, &spread(29, SCALES, 4)).finish();
}

#[grad]
fn casts(x: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..6 {
        let t = 0.1 * i as f64;
        s += (t * x).sin() * (i as i64 - 3) as f64;
    }
    s + x * (200u8 as i8) as f64
}

fn casts_ref(x: Dual64) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..6 {
        let t = 0.1 * f64::from(i);
        s += (x * t).sin() * f64::from(i - 3);
    }
    // 200 as an i8 wraps to -56.
    s + x * -56.0
}

#[test]
fn as_f64_and_integer_casts() {
    let rule = unary("casts", casts_grad, casts, casts_ref).fd_max(1e3);
    Suite::new().run(rule, &spread(30, SCALES, 4)).finish();
}
