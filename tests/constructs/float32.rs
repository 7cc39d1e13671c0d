//! Functions entirely in `f32` (parameters, literals, constants, math calls, loops, branches,
//! calls), compared at `f32` precision with a reference in `f64`: num-dual's derivative, and
//! central differences of the reference's value.

use crate::common::numeric::{dual, same, seeded, Dual64, DualNum, MIN_POINTS};
use crate::support::spread;
use gradgen::grad;

/// Tolerance of an `f32` gradient against the `f64` reference, relative to the largest partial
/// of the point (the rounding of `f32` is relative to the magnitudes a sum goes through, not
/// to each partial): about 80 ulps of `f32`.
const F32_REL: f64 = 1e-5;

/// Scales of `f32` points: tiny (still normal in `f32`), moderate, large.
const F32_SCALES: &[f64] = &[1e-20, 1e-3, 0.3, 1.0, 2.5, 40.0];

/// Points of `N` `f32` coordinates.
fn points32<const N: usize>(seed: u64) -> Vec<[f32; N]> {
    let points: Vec<[f64; N]> = spread(seed, F32_SCALES, 4);
    points.iter().map(|p| p.map(|v| v as f32)).collect()
}

/// Tolerances of an `f32` gradient: `rel` of the largest partial of the point, plus `abs`.
struct Tolerance {
    rel: f64,
    abs: f64,
}

/// Checks an `f32` gradient at every point: the value equals the plain function's exactly;
/// value and partials agree with the `f64` dual reference, and the partials with a central
/// difference of the reference's value (except where `kink` says one means nothing), within
/// the tolerance.
fn check_f32<const N: usize>(
    name: &str,
    grad: impl Fn([f32; N]) -> (f32, [f32; N]),
    plain: impl Fn([f32; N]) -> f32,
    reference: impl Fn([Dual64; N]) -> Dual64,
    kink: impl Fn([f64; N]) -> bool,
    points: &[[f32; N]],
    tolerance: Tolerance,
) {
    let Tolerance { rel, abs } = tolerance;
    assert!(
        points.len() >= MIN_POINTS,
        "{name}: {} points",
        points.len()
    );
    let mut failures = Vec::new();
    for &p in points {
        let (value, g) = grad(p);
        let at = format!("{name} at {p:?}");
        if !same(f64::from(value), f64::from(plain(p))) {
            failures.push(format!("{at}: value {value}, plain function {}", plain(p)));
        }
        let x = p.map(f64::from);
        let exact: [Dual64; N] = std::array::from_fn(|i| reference(seeded(x, i)));
        let scale = exact
            .iter()
            .fold(f64::MIN_POSITIVE, |m, d| m.max(d.eps.abs()));
        let size = exact[0].re.abs().max(1.0);
        if (f64::from(value) - exact[0].re).abs() > rel * size {
            failures.push(format!(
                "{at}: value {value}, f64 reference {}",
                exact[0].re
            ));
        }
        for i in 0..N {
            let (gi, e) = (f64::from(g[i]), exact[i].eps);
            if (gi - e).abs() > rel * scale + abs {
                failures.push(format!(
                    "{at}: partial {i} = {gi:e}, f64 dual reference {e:e}"
                ));
            }
            if kink(x) {
                continue;
            }
            let h = 1e-6 * x[i].abs().max(1.0);
            let value_at = |d: f64| {
                let mut y = x;
                y[i] += d;
                reference(y.map(Dual64::from)).re
            };
            let slope = (value_at(h) - value_at(-h)) / (2.0 * h);
            if (gi - slope).abs() > rel * scale.max(slope.abs()) + abs + 1e-8 * size / h {
                failures.push(format!(
                    "{at}: partial {i} = {gi:e}, central difference {slope:e}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[grad(wrt(w))]
fn neuron(w: [f32; 4], x: &[f32; 4]) -> f32 {
    let mut s = 0.0f32;
    for i in 0..4 {
        s += w[i] * x[i];
    }
    let t = (s * std::f32::consts::FRAC_1_SQRT_2).tanh();
    if t > 0.0 {
        (1.0 + t).ln() + f32::EPSILON
    } else {
        f32::exp(t) - 1.0
    }
}

fn neuron_ref(w: [Dual64; 4], x: &[f32; 4]) -> Dual64 {
    let mut s = Dual64::from(0.0);
    for i in 0..4 {
        s += w[i] * f64::from(x[i]);
    }
    let t = dual::tanh(s * f64::from(std::f32::consts::FRAC_1_SQRT_2));
    if t.re > 0.0 {
        (t + 1.0).ln() + f64::from(f32::EPSILON)
    } else {
        t.exp() - 1.0
    }
}

#[grad]
fn softsign(x: f32) -> f32 {
    x / (1.0 + x.abs())
}

const STEPS: usize = 60;

/// A recurrence of 60 steps in `f32`, calling another `f32` function at each.
#[grad]
fn recurrence(w: [f32; STEPS], h0: f32) -> f32 {
    let mut h = h0;
    for i in 0..STEPS {
        h = softsign(h * w[i] + 0.25) + (0.1 * i as f32).sin() * 0.5;
    }
    h
}

fn recurrence_ref(w: &[Dual64], h0: Dual64) -> Dual64 {
    let mut h = h0;
    for (i, &wi) in w.iter().enumerate() {
        let u = h * wi + 0.25;
        let sine = f64::from((0.1 * i as f32).sin());
        h = u / (dual::abs(u) + 1.0) + sine * 0.5;
    }
    h
}

#[grad]
fn log_sum_exp(x: [f32; 8]) -> f32 {
    let mut m = x[0];
    for i in 1..8 {
        m = m.max(x[i]);
    }
    let mut s = 0.0;
    for i in 0..8 {
        s += (x[i] - m).exp();
    }
    m + s.ln() + 2.5e-1 * std::f32::consts::PI * f32::sin(x[0])
}

fn log_sum_exp_ref(x: [Dual64; 8]) -> Dual64 {
    let mut m = x[0];
    for &v in &x[1..] {
        m = dual::max(m, v);
    }
    let mut s = Dual64::from(0.0);
    for v in x {
        s += (v - m).exp();
    }
    m + s.ln() + x[0].sin() * f64::from(0.25 * std::f32::consts::PI)
}

#[test]
fn f32_functions_agree_with_an_f64_reference() {
    for x in [[0.5f32, -1.0, 2.0, 0.25], [3.0, 1e-3, -0.7, 10.0]] {
        // Where tanh saturates, tanh' = 1 - t·t in f32 is off by up to an ulp of 1, times
        // the rest of the chain (at most |x_i|/√2 here).
        let largest = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let abs = 4.0 * f64::from(f32::EPSILON * largest);
        check_f32(
            "neuron",
            |w| neuron_grad(w, &x),
            |w| neuron(w, &x),
            |w| neuron_ref(w, &x),
            // The branch on t = tanh(s) > 0 switches at s = 0.
            |w| {
                w.iter()
                    .zip(&x)
                    .map(|(w, x)| w * f64::from(*x))
                    .sum::<f64>()
                    .abs()
                    < 1e-4
            },
            &points32(90),
            Tolerance { rel: F32_REL, abs },
        );
    }
    let grad = |p: [f32; STEPS + 1]| {
        let (v, (gw, gh)) = recurrence_grad(std::array::from_fn(|i| p[i]), p[STEPS]);
        let mut g = [0.0; STEPS + 1];
        g[..STEPS].copy_from_slice(&gw);
        g[STEPS] = gh;
        (v, g)
    };
    let plain = |p: [f32; STEPS + 1]| recurrence(std::array::from_fn(|i| p[i]), p[STEPS]);
    let reference = |p: [Dual64; STEPS + 1]| recurrence_ref(&p[..STEPS], p[STEPS]);
    // |u| has a kink where an argument u of softsign is 0.
    let kink = |p: [f64; STEPS + 1]| {
        let mut h = p[STEPS];
        (0..STEPS).any(|i| {
            let u = h * p[i] + 0.25;
            h = u / (1.0 + u.abs()) + 0.5 * (0.1 * i as f32).sin() as f64;
            u.abs() < 1e-4
        })
    };
    let tolerance = Tolerance {
        rel: F32_REL,
        abs: 0.0,
    };
    check_f32(
        "recurrence",
        grad,
        plain,
        reference,
        kink,
        &points32(91),
        tolerance,
    );
    check_f32(
        "log_sum_exp",
        log_sum_exp_grad,
        log_sum_exp,
        log_sum_exp_ref,
        |_| false,
        &points32(92),
        Tolerance {
            rel: F32_REL,
            abs: 0.0,
        },
    );
}
