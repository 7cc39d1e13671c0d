//! Parameters: arrays at any depth, references to them, `mut`, lengths given by constants of
//! the file, `wrt` with data parameters, and integer and `bool` parameters (and arrays of
//! them) in indexing and conditions.

use crate::common::numeric::{binary, dual, pairs, unary, Dual64, DualNum, Rule, Suite};
use crate::support::{constant, head, joined, near, rows, spread, MODERATE, SCALES};
use gradgen::grad;

#[grad]
fn array_by_value(x: [f64; 5]) -> f64 {
    x[0] * x[1] - x[2].sin() * x[3] + x[4] * x[4] * x[0]
}

fn array_by_value_ref(x: [Dual64; 5]) -> Dual64 {
    x[0] * x[1] - x[2].sin() * x[3] + x[4] * x[4] * x[0]
}

#[test]
fn array_parameter() {
    let rule = Rule::new(
        "array_by_value",
        array_by_value_grad,
        array_by_value,
        array_by_value_ref,
    );
    Suite::new().run(rule, &spread(1, SCALES, 5)).finish();
}

#[grad]
fn nested_arrays(a: [[f64; 3]; 2], c: [[[f64; 2]; 2]; 2]) -> f64 {
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let deep = c[0][1][0] * c[1][0][1] - c[1][1][1].sin() + c[0][0][0] * c[1][1][0] * c[0][1][1];
    det * (a[0][2] - a[1][2]).cos() + deep * c[1][0][0]
}

fn nested_arrays_ref(a: [[Dual64; 3]; 2], c: [[[Dual64; 2]; 2]; 2]) -> Dual64 {
    let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    let deep = c[0][1][0] * c[1][0][1] - c[1][1][1].sin() + c[0][0][0] * c[1][1][0] * c[0][1][1];
    det * (a[0][2] - a[1][2]).cos() + deep * c[1][0][0]
}

#[test]
fn arrays_of_arrays_at_any_depth() {
    let grad = |p: [f64; 14]| {
        let (a, c) = (rows(&p), [rows(&p[6..]), rows(&p[10..])]);
        let (v, (ga, gc)) = nested_arrays_grad(a, c);
        (
            v,
            joined(&[ga.as_flattened(), gc.as_flattened().as_flattened()]),
        )
    };
    let plain = |p: [f64; 14]| nested_arrays(rows(&p), [rows(&p[6..]), rows(&p[10..])]);
    let reference = |p: [Dual64; 14]| nested_arrays_ref(rows(&p), [rows(&p[6..]), rows(&p[10..])]);
    let rule = Rule::new("nested_arrays", grad, plain, reference).fd_max(1e3);
    Suite::new().run(rule, &spread(2, SCALES, 4)).finish();
}

#[grad]
fn by_reference(x: &[f64; 4], w: &[[f64; 2]; 2]) -> f64 {
    let a = w[0][0] * x[0] + w[0][1] * x[1];
    let b = w[1][0] * x[2] + w[1][1] * x[3];
    a * b + (a - b).sin()
}

fn by_reference_ref(x: &[Dual64; 4], w: &[[Dual64; 2]; 2]) -> Dual64 {
    let a = w[0][0] * x[0] + w[0][1] * x[1];
    let b = w[1][0] * x[2] + w[1][1] * x[3];
    a * b + (a - b).sin()
}

#[test]
fn references_to_arrays() {
    let grad = |p: [f64; 8]| {
        let (v, (gx, gw)) = by_reference_grad(&head(&p), &rows(&p[4..]));
        (v, joined(&[&gx, gw.as_flattened()]))
    };
    let plain = |p: [f64; 8]| by_reference(&head(&p), &rows(&p[4..]));
    let reference = |p: [Dual64; 8]| by_reference_ref(&head(&p), &rows(&p[4..]));
    let rule = Rule::new("by_reference", grad, plain, reference).fd_max(1e2);
    Suite::new().run(rule, &spread(3, SCALES, 4)).finish();
}

#[grad]
fn mutated(mut x: f64, mut v: [f64; 3]) -> f64 {
    x *= v[0];
    v[1] += x;
    v[2] = v[1] / (1.0 + v[2] * v[2]);
    x = x.sin() + v[2];
    x * v[1]
}

fn mutated_ref(x: Dual64, v: [Dual64; 3]) -> Dual64 {
    let x1 = x * v[0];
    let v1 = v[1] + x1;
    let v2 = v1 / (v[2] * v[2] + 1.0);
    (x1.sin() + v2) * v1
}

#[test]
fn mut_parameters() {
    let grad = |p: [f64; 4]| {
        let (v, (gx, gv)) = mutated_grad(p[0], head(&p[1..]));
        (v, joined(&[&[gx], &gv]))
    };
    let plain = |p: [f64; 4]| mutated(p[0], head(&p[1..]));
    let reference = |p: [Dual64; 4]| mutated_ref(p[0], head(&p[1..]));
    let rule = Rule::new("mutated", grad, plain, reference).fd_max(1e2);
    Suite::new().run(rule, &spread(4, SCALES, 4)).finish();
}

const LEN: usize = 6;
const HALF: usize = 3;

#[grad]
fn by_constants(x: [f64; LEN]) -> f64 {
    let mut s = x[LEN - 1];
    for i in 0..HALF {
        s += x[i] * x[i + HALF];
    }
    s * x[HALF - 1]
}

fn by_constants_ref(x: [Dual64; LEN]) -> Dual64 {
    let mut s = x[LEN - 1];
    for i in 0..HALF {
        s += x[i] * x[i + HALF];
    }
    s * x[HALF - 1]
}

#[test]
fn lengths_and_bounds_from_constants_of_the_file() {
    let rule = Rule::new(
        "by_constants",
        by_constants_grad,
        by_constants,
        by_constants_ref,
    );
    Suite::new().run(rule, &spread(5, SCALES, 4)).finish();
}

/// One tanh layer and a squared error: only the weights and the bias are differentiated.
#[grad(wrt(w, b))]
fn layer_loss(w: &[[f64; 3]; 2], b: &[f64; 2], x: &[f64; 3], y: &[f64; 2]) -> f64 {
    let mut loss = 0.0;
    for j in 0..2 {
        let mut s = b[j];
        for k in 0..3 {
            s += w[j][k] * x[k];
        }
        loss += (s.tanh() - y[j]).powi(2);
    }
    loss
}

fn layer_loss_ref(w: &[[Dual64; 3]; 2], b: &[Dual64; 2], x: &[f64; 3], y: &[f64; 2]) -> Dual64 {
    let (x, y) = (constant(x), constant(y));
    let mut loss = Dual64::from(0.0);
    for j in 0..2 {
        let mut s = b[j];
        for k in 0..3 {
            s += w[j][k] * x[k];
        }
        loss += (dual::tanh(s) - y[j]).powi(2);
    }
    loss
}

/// A scalar data parameter before the differentiated one.
#[grad(wrt(t))]
fn spring(k: f64, t: f64) -> f64 {
    (k * t).sin() / k + t * t * k
}

#[test]
fn wrt_with_data_parameters() {
    let mut suite = Suite::new();
    let data = [
        ([0.5, -1.0, 2.0], [0.3, -0.7]),
        ([0.0, 0.0, 0.0], [1.0, 0.0]),
        ([-3.0, 1e-3, 40.0], [-0.9, 0.9]),
    ];
    for (n, (x, y)) in data.into_iter().enumerate() {
        let grad = move |p: [f64; 8]| {
            let (v, (gw, gb)) = layer_loss_grad(&rows(&p), &head(&p[6..]), &x, &y);
            (v, joined(&[gw.as_flattened(), &gb]))
        };
        let plain = move |p: [f64; 8]| layer_loss(&rows(&p), &head(&p[6..]), &x, &y);
        let reference = move |p: [Dual64; 8]| layer_loss_ref(&rows(&p), &head(&p[6..]), &x, &y);
        // tanh' = 1 - t·t carries an ulp of 1 where tanh saturates.
        let rule = Rule::new(&format!("layer_loss, data {n}"), grad, plain, reference).abs(1e-14);
        suite.run(rule, &spread(6, SCALES, 4));
    }
    for k in [-2.0, 0.5, 3.0, 1e3] {
        let grad = move |t: f64| spring_grad(k, t);
        let reference = move |t: Dual64| (t * k).sin() / k + t * t * k;
        let rule = unary(
            &format!("spring k = {k}"),
            grad,
            move |t| spring(k, t),
            reference,
        )
        .fd_max(1e2);
        let points: Vec<[f64; 1]> = spread(7, SCALES, 4);
        suite.run(rule, &points);
    }
    suite.finish();
}

#[grad]
fn pick(x: [f64; 4], k: usize) -> f64 {
    let mut rest = 0.0;
    for i in 0..4 {
        if i != k {
            rest += x[i] * x[k];
        }
    }
    x[k].exp() + rest
}

fn pick_ref(x: [Dual64; 4], k: usize) -> Dual64 {
    let mut rest = Dual64::from(0.0);
    for i in 0..4 {
        if i != k {
            rest += x[i] * x[k];
        }
    }
    x[k].exp() + rest
}

#[test]
fn usize_parameter_in_index_and_condition() {
    let mut suite = Suite::new();
    for k in 0..4 {
        let rule = Rule::new(
            &format!("pick k = {k}"),
            move |x| pick_grad(x, k),
            move |x| pick(x, k),
            move |x| pick_ref(x, k),
        );
        suite.run(rule, &spread(8, MODERATE, 4));
    }
    suite.finish();
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn a_usize_index_out_of_range_panics_as_in_the_original() {
    let _ = pick_grad([1.0, 2.0, 3.0, 4.0], 4);
}

#[grad]
fn by_count(x: f64, n: i32) -> f64 {
    if n > 2 {
        x.powi(3) * n as f64
    } else if n < 0 {
        x / (1.0 + x * x) * n as f64
    } else {
        x.sin() + n as f64 * x
    }
}

fn by_count_ref(x: Dual64, n: i32) -> Dual64 {
    let m = f64::from(n);
    if n > 2 {
        x.powi(3) * m
    } else if n < 0 {
        x / (x * x + 1.0) * m
    } else {
        x.sin() + x * m
    }
}

#[test]
fn i32_parameter_in_conditions_and_casts() {
    let mut suite = Suite::new();
    for n in [-7, -1, 0, 1, 2, 3, 12] {
        let rule = unary(
            &format!("by_count n = {n}"),
            move |x| by_count_grad(x, n),
            move |x| by_count(x, n),
            move |x| by_count_ref(x, n),
        )
        .fd_max(1e3);
        suite.run(rule, &spread(9, SCALES, 4));
    }
    suite.finish();
}

#[grad]
fn gate(x: f64, y: f64, on: bool) -> f64 {
    if on && x > y {
        (x - y).sqrt() * y
    } else if !on || x < -1.0 {
        x * y.sin()
    } else {
        x + y
    }
}

fn gate_ref(x: Dual64, y: Dual64, on: bool) -> Dual64 {
    if on && x.re > y.re {
        (x - y).sqrt() * y
    } else if !on || x.re < -1.0 {
        x * y.sin()
    } else {
        x + y
    }
}

#[test]
fn bool_parameter_in_conditions() {
    let values = [-3.0, -1.0, -0.5, 0.0, 1e-8, 0.7, 2.0, 1e3];
    let mut suite = Suite::new();
    for on in [true, false] {
        let rule = binary(
            &format!("gate on = {on}"),
            move |x, y| gate_grad(x, y, on),
            move |x, y| gate(x, y, on),
            move |x, y| gate_ref(x, y, on),
        );
        // The boundaries x = y and x = -1 are among the points: the arm taken there is
        // compared with the reference, and no central difference is taken across them.
        let kinks = |[x, y]: [f64; 2]| near(x, y, 1e-5) || near(x, -1.0, 1e-5);
        suite.run(rule.kinks(kinks).fd_max(1e2), &pairs(&values, &values));
    }
    suite.finish();
}

#[grad]
fn masked(x: [f64; 4], mask: &[bool; 4], labels: [usize; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        if mask[i] {
            s += x[i] * x[i];
        } else {
            s -= x[i].sin();
        }
    }
    s * x[labels[0]] + x[labels[1]]
}

fn masked_ref(x: [Dual64; 4], mask: &[bool; 4], labels: [usize; 2]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..4 {
        if mask[i] {
            s += x[i] * x[i];
        } else {
            s -= x[i].sin();
        }
    }
    s * x[labels[0]] + x[labels[1]]
}

#[test]
fn arrays_of_bool_and_usize_parameters() {
    let mut suite = Suite::new();
    let cases = [
        ([true, false, true, false], [0, 3]),
        ([false, false, false, true], [2, 2]),
        ([true, true, true, true], [3, 1]),
    ];
    for (mask, labels) in cases {
        let rule = Rule::new(
            &format!("masked {mask:?} {labels:?}"),
            move |x| masked_grad(x, &mask, labels),
            move |x| masked(x, &mask, labels),
            move |x| masked_ref(x, &mask, labels),
        )
        .fd_max(1e2);
        suite.run(rule, &spread(10, SCALES, 4));
    }
    suite.finish();
}
