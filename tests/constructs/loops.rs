//! Loops: `for` over `a..b`, `a..=b` and `.rev()`, nested loops whose bounds depend on the outer
//! variable, indexing by loop variables and integer expressions of them, integer conditions,
//! `x.len()`; and the loops of numeric code (recurrences, maps then reductions, dot products,
//! log-sum-exp, matrix-vector products), with short trip counts and with 50 to 200 iterations.

use crate::common::numeric::{binary, dual, pairs, Dual64, DualNum, Rule, Suite};
use crate::support::{constant, head, joined, rows, spread, MODERATE, SCALES};
use gradgen::grad;

/// Scales at which a product of many factors stays finite.
const UNIT_SCALES: &[f64] = &[1e-8, 0.2, 0.6, 1.0, 1.5];

#[grad]
fn exclusive(x: [f64; 7]) -> f64 {
    let mut s = 0.0;
    for i in 2..7 {
        s += x[i] * x[i - 2];
    }
    for i in 3..4 {
        s *= x[i];
    }
    s
}

fn exclusive_ref(x: [Dual64; 7]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 2..7 {
        s += x[i] * x[i - 2];
    }
    s * x[3]
}

#[test]
fn for_over_exclusive_ranges() {
    let rule = Rule::new("exclusive", exclusive_grad, exclusive, exclusive_ref);
    Suite::new().run(rule, &spread(40, SCALES, 4)).finish();
}

#[grad]
fn inclusive(x: f64, c: [f64; 3]) -> f64 {
    let mut p = 0.0;
    for i in 1..=5 {
        p = p * x + i as f64 * c[i % 3];
    }
    let mut q = 1.0;
    for _ in 0..=100 {
        q = (q * x).sin() * 0.5 + c[0];
    }
    p + q
}

fn inclusive_ref(x: Dual64, c: [Dual64; 3]) -> Dual64 {
    let mut p = Dual64::from(0.0);
    for i in 1..=5 {
        p = p * x + c[i % 3] * i as f64;
    }
    let mut q = Dual64::from(1.0);
    for _ in 0..=100 {
        q = (q * x).sin() * 0.5 + c[0];
    }
    p + q
}

#[test]
fn for_over_inclusive_ranges() {
    let grad = |p: [f64; 4]| {
        let (v, (gx, gc)) = inclusive_grad(p[0], head(&p[1..]));
        (v, joined(&[&[gx], &gc]))
    };
    let plain = |p: [f64; 4]| inclusive(p[0], head(&p[1..]));
    let reference = |p: [Dual64; 4]| inclusive_ref(p[0], head(&p[1..]));
    let rule = Rule::new("inclusive", grad, plain, reference).abs(1e-13);
    Suite::new().run(rule, &spread(41, UNIT_SCALES, 5)).finish();
}

/// Horner's rule from the last coefficient down: the order of the iterations matters.
#[grad]
fn reversed(t: f64, c: [f64; 6]) -> f64 {
    let mut acc = 0.0;
    for i in (0..6).rev() {
        acc = acc * t + c[i];
    }
    let mut h = acc;
    for i in (1..=4).rev() {
        h = (h - c[i]).sin() * c[i - 1];
    }
    h
}

fn reversed_ref(t: Dual64, c: [Dual64; 6]) -> Dual64 {
    let mut acc = Dual64::from(0.0);
    for i in (0..6).rev() {
        acc = acc * t + c[i];
    }
    let mut h = acc;
    for i in (1..=4).rev() {
        h = (h - c[i]).sin() * c[i - 1];
    }
    h
}

const TERMS: usize = 120;

/// A long Horner loop: 120 coefficients, highest first.
#[grad(wrt(t))]
fn long_horner(t: f64, c: &[f64; TERMS]) -> f64 {
    let mut acc = 0.0;
    for i in (0..TERMS).rev() {
        acc = acc * t + c[i];
    }
    acc
}

#[test]
fn for_over_reversed_ranges() {
    let grad = |p: [f64; 7]| {
        let (v, (gt, gc)) = reversed_grad(p[0], head(&p[1..]));
        (v, joined(&[&[gt], &gc]))
    };
    let plain = |p: [f64; 7]| reversed(p[0], head(&p[1..]));
    let reference = |p: [Dual64; 7]| reversed_ref(p[0], head(&p[1..]));
    let rule = Rule::new("reversed", grad, plain, reference).fd_max(1e2);
    let mut suite = Suite::new();
    suite.run(rule, &spread(42, SCALES, 4));
    let c: [f64; TERMS] = std::array::from_fn(|i| ((i * 7 + 3) % 11) as f64 / 11.0 - 0.4);
    let reference = move |t: Dual64| {
        let mut acc = Dual64::from(0.0);
        for &ci in c.iter().rev() {
            acc = acc * t + ci;
        }
        acc
    };
    let rule = crate::common::numeric::unary(
        "long_horner",
        move |t| long_horner_grad(t, &c),
        move |t| long_horner(t, &c),
        reference,
    );
    let points: Vec<[f64; 1]> = spread(43, &[1e-100, 0.3, 0.9, 1.02], 6);
    suite.run(rule, &points).finish();
}

#[grad]
fn affine_indices(x: [f64; 9], w: [[f64; 3]; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        s += x[2 * i + 1] * x[2 * i] - x[8 - 2 * i];
    }
    for i in 1..9 {
        s += x[i - 1] * x[i] * 0.5;
    }
    for j in 0..2 {
        for k in 0..3 {
            s += w[j][k] * x[3 * j + k] * x[(j + k) % 9];
        }
    }
    s
}

fn affine_indices_ref(x: [Dual64; 9], w: [[Dual64; 3]; 2]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..4 {
        s += x[2 * i + 1] * x[2 * i] - x[8 - 2 * i];
    }
    for i in 1..9 {
        s += x[i - 1] * x[i] * 0.5;
    }
    for j in 0..2 {
        for k in 0..3 {
            s += w[j][k] * x[3 * j + k] * x[(j + k) % 9];
        }
    }
    s
}

#[test]
fn indexing_by_loop_variables_and_affine_expressions() {
    let grad = |p: [f64; 15]| {
        let (v, (gx, gw)) = affine_indices_grad(head(&p), rows(&p[9..]));
        (v, joined(&[&gx, gw.as_flattened()]))
    };
    let plain = |p: [f64; 15]| affine_indices(head(&p), rows(&p[9..]));
    let reference = |p: [Dual64; 15]| affine_indices_ref(head(&p), rows(&p[9..]));
    let rule = Rule::new("affine_indices", grad, plain, reference);
    Suite::new().run(rule, &spread(44, SCALES, 4)).finish();
}

#[allow(clippy::nonminimal_bool)]
#[grad]
fn integer_logic(x: [f64; 6]) -> f64 {
    let mut s = 0.0;
    for i in 0..6 {
        let d = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        if i % 2 == 0 && i > 0 {
            s += d * d;
        } else if !(i == 3) || i >= 5 {
            s += d.sin();
        } else {
            s -= d * x[i];
        }
    }
    s
}

#[allow(clippy::nonminimal_bool)]
fn integer_logic_ref(x: [Dual64; 6]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..6 {
        let d = if i == 0 { x[0] } else { x[i] - x[i - 1] };
        if i % 2 == 0 && i > 0 {
            s += d * d;
        } else if !(i == 3) || i >= 5 {
            s += d.sin();
        } else {
            s -= d * x[i];
        }
    }
    s
}

#[test]
fn integer_arithmetic_and_conditions_on_loop_variables() {
    let rule = Rule::new(
        "integer_logic",
        integer_logic_grad,
        integer_logic,
        integer_logic_ref,
    )
    .fd_max(1e3);
    Suite::new().run(rule, &spread(45, SCALES, 4)).finish();
}

#[grad]
fn by_len(x: [f64; 7]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * (i as f64 - 3.0);
    }
    s * x[x.len() - 1]
}

fn by_len_ref(x: [Dual64; 7]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..x.len() {
        s += x[i] * (i as f64 - 3.0);
    }
    s * x[x.len() - 1]
}

#[test]
fn len_of_an_array() {
    let rule = Rule::new("by_len", by_len_grad, by_len, by_len_ref);
    Suite::new().run(rule, &spread(46, SCALES, 4)).finish();
}

/// Forward substitution `L y = b` for a lower-triangular `L` with diagonal `1 + l²`, then a
/// squared norm: the inner bound is the outer variable.
#[grad]
fn forward_substitution(l: [[f64; 4]; 4], b: [f64; 4]) -> f64 {
    let mut y = [0.0; 4];
    for i in 0..4 {
        let mut s = b[i];
        for j in 0..i {
            s -= l[i][j] * y[j];
        }
        y[i] = s / (1.0 + l[i][i] * l[i][i]);
    }
    let mut total = 0.0;
    for c in 0..4 {
        for r in c + 1..4 {
            total += y[r] * y[c] * (r - c) as f64;
        }
        for r in c + 1..=3 {
            total += (l[r][c] - y[c]).sin();
        }
    }
    total
}

fn forward_substitution_ref(l: [[Dual64; 4]; 4], b: [Dual64; 4]) -> Dual64 {
    let mut y = [Dual64::from(0.0); 4];
    for i in 0..4 {
        let mut s = b[i];
        for j in 0..i {
            s -= l[i][j] * y[j];
        }
        y[i] = s / (l[i][i] * l[i][i] + 1.0);
    }
    let mut total = Dual64::from(0.0);
    for c in 0..4 {
        for r in c + 1..4 {
            total += y[r] * y[c] * (r - c) as f64;
        }
        for r in c + 1..=3 {
            total += (l[r][c] - y[c]).sin();
        }
    }
    total
}

const POINTS: usize = 20;

/// A pairwise potential over 20 points: 190 iterations of a triangular inner loop.
#[grad]
fn pairwise(x: [f64; POINTS]) -> f64 {
    let mut s = 0.0;
    for c in 0..POINTS {
        for r in c + 1..POINTS {
            let d = x[r] - x[c];
            s += (d * d).ln_1p();
        }
    }
    s
}

fn pairwise_ref(x: [Dual64; POINTS]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for c in 0..POINTS {
        for r in c + 1..POINTS {
            let d = x[r] - x[c];
            s += (d * d).ln_1p();
        }
    }
    s
}

#[test]
fn nested_loops_with_triangular_bounds() {
    let grad = |p: [f64; 20]| {
        let (v, (gl, gb)) = forward_substitution_grad(rows(&p), head(&p[16..]));
        (v, joined(&[gl.as_flattened(), &gb]))
    };
    let plain = |p: [f64; 20]| forward_substitution(rows(&p), head(&p[16..]));
    let reference = |p: [Dual64; 20]| forward_substitution_ref(rows(&p), head(&p[16..]));
    let rule = Rule::new("forward_substitution", grad, plain, reference).fd_max(1e2);
    let mut suite = Suite::new();
    suite.run(rule, &spread(47, SCALES, 4));
    let rule = Rule::new("pairwise", pairwise_grad, pairwise, pairwise_ref);
    suite.run(rule, &spread(48, SCALES, 4)).finish();
}

#[grad(wrt(w, h0))]
fn recurrence(w: &[f64; 8], h0: f64, x: &[f64; 8]) -> f64 {
    let mut h = h0;
    for i in 0..8 {
        h = (h * w[i] + x[i]).tanh();
    }
    h
}

const STEPS: usize = 150;

#[grad(wrt(w, h0))]
fn long_recurrence(w: &[f64; STEPS], h0: f64, x: &[f64; STEPS]) -> f64 {
    let mut h = h0;
    for i in 0..STEPS {
        h = (h * w[i] + x[i]).tanh();
    }
    h
}

fn recurrence_ref<const N: usize>(w: &[Dual64], h0: Dual64, x: &[f64; N]) -> Dual64 {
    let mut h = h0;
    for i in 0..N {
        h = dual::tanh(h * w[i] + x[i]);
    }
    h
}

/// `n` inputs of a recurrence, from a seed: of both signs, some large enough to saturate.
fn inputs<const N: usize>(seed: u64) -> [f64; N] {
    let mut rng = fastrand::Rng::with_seed(seed);
    std::array::from_fn(|_| 3.0 * (2.0 * rng.f64() - 1.0))
}

/// Babylonian square root: one scalar carried through 60 iterations of a loop with no
/// variable.
#[grad]
fn babylonian(a: f64, y0: f64) -> f64 {
    let mut y = y0;
    for _ in 0..60 {
        y = 0.5 * (y + a / y);
    }
    y
}

fn babylonian_ref(a: Dual64, y0: Dual64) -> Dual64 {
    let mut y = y0;
    for _ in 0..60 {
        y = (y + a / y) * 0.5;
    }
    y
}

#[test]
fn recurrences_carry_a_value_through_each_iteration() {
    let mut suite = Suite::new();
    // tanh' = 1 - t·t carries an ulp of 1 where tanh saturates, and that error goes through
    // the products of the chain rule: partials are compared absolutely near zero.
    for seed in [50, 51] {
        let x: [f64; 8] = inputs(seed);
        let grad = move |p: [f64; 9]| {
            let (v, (gw, gh)) = recurrence_grad(&head(&p), p[8], &x);
            (v, joined(&[&gw, &[gh]]))
        };
        let plain = move |p: [f64; 9]| recurrence(&head(&p), p[8], &x);
        let reference = move |p: [Dual64; 9]| recurrence_ref(&p[..8], p[8], &x);
        let rule = Rule::new(
            &format!("recurrence, inputs {seed}"),
            grad,
            plain,
            reference,
        )
        .abs(1e-14);
        suite.run(rule, &spread(seed, UNIT_SCALES, 5));
    }
    for seed in [52, 53] {
        let x: [f64; STEPS] = inputs(seed);
        let grad = move |p: [f64; STEPS + 1]| {
            let (v, (gw, gh)) = long_recurrence_grad(&head(&p), p[STEPS], &x);
            (v, joined(&[&gw, &[gh]]))
        };
        let plain = move |p: [f64; STEPS + 1]| long_recurrence(&head(&p), p[STEPS], &x);
        let reference = move |p: [Dual64; STEPS + 1]| recurrence_ref(&p[..STEPS], p[STEPS], &x);
        let rule = Rule::new(
            &format!("long_recurrence, inputs {seed}"),
            grad,
            plain,
            reference,
        )
        .abs(1e-14);
        suite.run(rule, &spread(seed, UNIT_SCALES, 5));
    }
    let positive = [1e-4, 0.02, 0.5, 1.0, 2.0, 9.0, 1e3, 3e7];
    let rule = binary("babylonian", babylonian_grad, babylonian, babylonian_ref).abs(1e-15);
    suite.run(rule, &pairs(&positive, &[0.01, 0.7, 3.0, 150.0]));
    suite.finish();
}

#[grad]
fn map_then_reduce(x: [f64; 6]) -> f64 {
    let mut y = [0.0; 6];
    for i in 0..6 {
        y[i] = (x[i] * 0.5).exp() - x[i];
    }
    let mut s = 0.0;
    for i in 0..6 {
        s += y[i] * y[i];
    }
    s.sqrt()
}

const WIDTH: usize = 64;

#[grad]
fn long_map_then_reduce(x: [f64; WIDTH]) -> f64 {
    let mut y = [0.0; WIDTH];
    for i in 0..WIDTH {
        y[i] = (x[i] * 0.5).exp() - x[i];
    }
    let mut s = 0.0;
    for i in 0..WIDTH {
        s += y[i] * y[i];
    }
    s.sqrt()
}

fn map_then_reduce_ref<const N: usize>(x: [Dual64; N]) -> Dual64 {
    let y = x.map(|v| (v * 0.5).exp() - v);
    let mut s = Dual64::from(0.0);
    for v in y {
        s += v * v;
    }
    s.sqrt()
}

#[test]
fn element_wise_map_into_an_array_then_a_reduction() {
    let mut suite = Suite::new();
    let rule = Rule::new(
        "map_then_reduce",
        map_then_reduce_grad,
        map_then_reduce,
        map_then_reduce_ref,
    );
    suite.run(rule, &spread(54, MODERATE, 4));
    let rule = Rule::new(
        "long_map_then_reduce",
        long_map_then_reduce_grad,
        long_map_then_reduce,
        map_then_reduce_ref,
    );
    suite.run(rule, &spread(55, MODERATE, 4)).finish();
}

#[grad]
fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
    let mut s = 0.0;
    for i in 0..5 {
        s += a[i] * b[i];
    }
    s
}

const LONG: usize = 100;

#[grad]
fn long_dot(a: &[f64; LONG], b: &[f64; LONG]) -> f64 {
    let mut s = 0.0;
    for i in 0..LONG {
        s += a[i] * b[i];
    }
    s
}

fn dot_ref(a: &[Dual64], b: &[Dual64]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for (x, y) in a.iter().zip(b) {
        s += *x * *y;
    }
    s
}

#[test]
fn dot_products() {
    let mut suite = Suite::new();
    let grad = |p: [f64; 10]| {
        let (v, (ga, gb)) = dot_grad(&head(&p), &head(&p[5..]));
        (v, joined(&[&ga, &gb]))
    };
    let plain = |p: [f64; 10]| dot(&head(&p), &head(&p[5..]));
    let rule = Rule::new("dot", grad, plain, |p: [Dual64; 10]| {
        dot_ref(&p[..5], &p[5..])
    });
    suite.run(rule, &spread(56, SCALES, 4));
    let grad = |p: [f64; 2 * LONG]| {
        let (v, (ga, gb)) = long_dot_grad(&head(&p), &head(&p[LONG..]));
        (v, joined(&[&ga, &gb]))
    };
    let plain = |p: [f64; 2 * LONG]| long_dot(&head(&p), &head(&p[LONG..]));
    let reference = |p: [Dual64; 2 * LONG]| dot_ref(&p[..LONG], &p[LONG..]);
    let rule = Rule::new("long_dot", grad, plain, reference);
    suite.run(rule, &spread(57, SCALES, 4)).finish();
}

#[grad]
fn log_sum_exp(x: [f64; 4]) -> f64 {
    let mut m = x[0];
    for i in 1..4 {
        m = m.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += (x[i] - m).exp();
    }
    m + s.ln()
}

const CLASSES: usize = 100;

#[grad]
fn long_log_sum_exp(x: [f64; CLASSES]) -> f64 {
    let mut m = x[0];
    for i in 1..CLASSES {
        m = m.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..CLASSES {
        s += (x[i] - m).exp();
    }
    m + s.ln()
}

fn log_sum_exp_ref<const N: usize>(x: [Dual64; N]) -> Dual64 {
    let mut m = x[0];
    for &v in &x[1..] {
        m = dual::max(m, v);
    }
    let mut s = Dual64::from(0.0);
    for v in x {
        s += (v - m).exp();
    }
    m + s.ln()
}

#[test]
fn log_sum_exp_over_an_array() {
    let mut suite = Suite::new();
    // With ties (the origin), the split of the max's derivative is multiplied by
    // 1 - Σ softmax, zero up to rounding.
    let rule = Rule::new(
        "log_sum_exp",
        log_sum_exp_grad,
        log_sum_exp,
        log_sum_exp_ref,
    );
    suite.run(rule.abs(1e-15), &spread(58, SCALES, 4));
    let rule = Rule::new(
        "long_log_sum_exp",
        long_log_sum_exp_grad,
        long_log_sum_exp,
        log_sum_exp_ref,
    );
    suite.run(rule.abs(1e-15), &spread(59, SCALES, 4)).finish();
}

#[grad]
fn matvec(w: &[[f64; 4]; 3], x: &[f64; 4]) -> f64 {
    let mut y = [0.0; 3];
    for j in 0..3 {
        for k in 0..4 {
            y[j] += w[j][k] * x[k];
        }
    }
    let mut s = 0.0;
    for j in 0..3 {
        s += y[j] * y[j] * (j as f64 + 1.0);
    }
    s
}

fn matvec_ref<const M: usize, const K: usize>(w: &[[Dual64; K]; M], x: &[Dual64; K]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for (j, row) in w.iter().enumerate() {
        let mut y = Dual64::from(0.0);
        for k in 0..K {
            y += row[k] * x[k];
        }
        s += y * y * (j as f64 + 1.0);
    }
    s
}

const ROWS: usize = 10;
const COLS: usize = 20;

/// 200 multiply-adds, differentiated in the matrix only.
#[grad(wrt(w))]
fn long_matvec(w: &[[f64; COLS]; ROWS], x: &[f64; COLS]) -> f64 {
    let mut y = [0.0; ROWS];
    for j in 0..ROWS {
        for k in 0..COLS {
            y[j] += w[j][k] * x[k];
        }
    }
    let mut s = 0.0;
    for j in 0..ROWS {
        s += y[j] * y[j] * (j as f64 + 1.0);
    }
    s
}

#[test]
fn matrix_vector_products() {
    let mut suite = Suite::new();
    let grad = |p: [f64; 16]| {
        let (v, (gw, gx)) = matvec_grad(&rows(&p), &head(&p[12..]));
        (v, joined(&[gw.as_flattened(), &gx]))
    };
    let plain = |p: [f64; 16]| matvec(&rows(&p), &head(&p[12..]));
    let reference = |p: [Dual64; 16]| matvec_ref::<3, 4>(&rows(&p), &head(&p[12..]));
    suite.run(
        Rule::new("matvec", grad, plain, reference),
        &spread(60, SCALES, 4),
    );
    let x: [f64; COLS] = inputs(61);
    let grad = move |p: [f64; ROWS * COLS]| {
        let (v, gw) = long_matvec_grad(&rows(&p), &x);
        (v, joined(&[gw.as_flattened()]))
    };
    let plain = move |p: [f64; ROWS * COLS]| long_matvec(&rows(&p), &x);
    let reference =
        move |p: [Dual64; ROWS * COLS]| matvec_ref::<ROWS, COLS>(&rows(&p), &constant(&x));
    suite.run(
        Rule::new("long_matvec", grad, plain, reference),
        &spread(62, SCALES, 4),
    );
    suite.finish();
}

const LEAKY: usize = 80;

/// A float branch inside a long loop: each iteration takes its own arm; both arms contract, so
/// that the derivatives stay of the size of the inputs.
#[grad]
fn long_branchy(x: [f64; LEAKY]) -> f64 {
    let mut s = 0.0;
    for i in 0..LEAKY {
        if x[i] > 0.0 {
            s = 0.8 * s + x[i].sqrt();
        } else {
            s = 0.9 * s.sin() + 0.1 * x[i];
        }
    }
    s
}

fn long_branchy_ref(x: [Dual64; LEAKY]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for v in x {
        if v.re > 0.0 {
            s = s * 0.8 + v.sqrt();
        } else {
            s = s.sin() * 0.9 + v * 0.1;
        }
    }
    s
}

#[test]
fn a_float_branch_in_a_long_loop() {
    // The origin and the tiny scale sit at or next to the kink of every coordinate.
    let rule = Rule::new(
        "long_branchy",
        long_branchy_grad,
        long_branchy,
        long_branchy_ref,
    )
    .kinks(|x| x.iter().any(|v| v.abs() < 1e-6));
    Suite::new().run(rule, &spread(63, SCALES, 4)).finish();
}
