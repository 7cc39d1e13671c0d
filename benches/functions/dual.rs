//! The gradients of the benchmark functions by forward mode with num-dual, as a num-dual user
//! writes them without nalgebra: the function on `Dual64`, evaluated once per input with that
//! input's derivative part set to 1 ([`gradient`]). The parameters are one flat array, as
//! `num_dual::gradient` takes them.

#![allow(clippy::needless_range_loop)]

use num_dual::{Dual64, DualNum};

use super::hand::{gmm_constant, lower};

/// The value of `f` at `x` and its gradient: one evaluation per input.
pub fn gradient<const P: usize>(
    x: &[f64; P],
    f: impl Fn(&[Dual64; P]) -> Dual64,
) -> (f64, [f64; P]) {
    let mut point = x.map(Dual64::from);
    let mut value = 0.0;
    let mut grad = [0.0; P];
    for i in 0..P {
        point[i].eps = 1.0;
        let y = f(&point);
        point[i].eps = 0.0;
        value = y.re;
        grad[i] = y.eps;
    }
    (value, grad)
}

fn c(v: f64) -> Dual64 {
    Dual64::from(v)
}

pub fn rosenbrock(x: f64, y: f64) -> (f64, [f64; 2]) {
    gradient(&[x, y], |p| {
        let (x, y) = (p[0], p[1]);
        (c(1.0) - x).powi(2) + (y - x * x).powi(2) * 100.0
    })
}

pub fn exp_sin_sq(x: f64) -> (f64, [f64; 1]) {
    gradient(&[x], |p| (p[0] * p[0]).sin().exp())
}

pub fn extended_rosenbrock<const N: usize>(x: &[f64; N]) -> (f64, [f64; N]) {
    gradient(x, |x| {
        let mut s = c(0.0);
        for i in 0..N / 2 {
            let a = x[2 * i];
            s += (x[2 * i + 1] - a * a).powi(2) * 100.0 + (c(1.0) - a).powi(2);
        }
        s
    })
}

pub fn chained_rosenbrock<const N: usize>(x: &[f64; N]) -> (f64, [f64; N]) {
    gradient(x, |x| {
        let mut s = c(0.0);
        for i in 0..N - 1 {
            s += (x[i + 1] - x[i] * x[i]).powi(2) * 100.0 + (c(1.0) - x[i]).powi(2);
        }
        s
    })
}

/// The shift is a constant: it leaves the derivative as it is.
pub fn log_sum_exp<const N: usize>(x: &[f64; N]) -> (f64, [f64; N]) {
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    gradient(x, |x| {
        let mut s = c(0.0);
        for i in 0..N {
            s += (x[i] - m).exp();
        }
        s.ln() + m
    })
}

/// The parameters `(w1, b1, w2, b2)` of the 4-8-3 network, flat, in that order.
pub fn mlp_loss(
    w1: &[[f64; 4]; 8],
    b1: &[f64; 8],
    w2: &[[f64; 8]; 3],
    b2: &[f64; 3],
    x: &[f64; 4],
    y: &[f64; 3],
) -> (f64, [f64; 67]) {
    let mut flat = [0.0; 67];
    let params = w1
        .iter()
        .flatten()
        .chain(b1)
        .chain(w2.iter().flatten())
        .chain(b2);
    for (slot, &p) in flat.iter_mut().zip(params) {
        *slot = p;
    }
    gradient(&flat, |p| {
        let mut h = [c(0.0); 8];
        for j in 0..8 {
            let mut s = p[32 + j];
            for k in 0..4 {
                s += p[4 * j + k] * x[k];
            }
            h[j] = s.tanh();
        }
        let (mut sum, mut dot) = (c(0.0), c(0.0));
        for o in 0..3 {
            let mut z = p[64 + o];
            for j in 0..8 {
                z += p[40 + 8 * o + j] * h[j];
            }
            sum += z.exp();
            dot += z * y[o];
        }
        sum.ln() - dot
    })
}

/// The GMM objective with its `P = K(1 + D + ICF)` parameters flat, in the order α, μ, icf.
pub fn gmm<const D: usize, const K: usize, const N: usize, const ICF: usize, const P: usize>(
    alphas: &[f64; K],
    means: &[[f64; D]; K],
    icf: &[[f64; ICF]; K],
    x: &[[f64; D]; N],
) -> (f64, [f64; P]) {
    assert_eq!(P, K * (1 + D + ICF), "P counts the parameters");
    let mut flat = [0.0; P];
    let params = alphas
        .iter()
        .chain(means.iter().flatten())
        .chain(icf.iter().flatten());
    for (slot, &p) in flat.iter_mut().zip(params) {
        *slot = p;
    }
    let constant = gmm_constant(D, K, N);
    gradient(&flat, |p| {
        let (alphas, means, icf) = (&p[..K], &p[K..K + K * D], &p[K + K * D..]);
        let mut total = c(constant);
        for xi in x {
            let mut beta = [c(0.0); K];
            for k in 0..K {
                let q = &icf[k * ICF..(k + 1) * ICF];
                let v: [Dual64; D] = std::array::from_fn(|j| -means[k * D + j] + xi[j]);
                let mut sq = c(0.0);
                for r in 0..D {
                    let mut z = q[r].exp() * v[r];
                    for col in 0..r {
                        z += q[lower(D, r, col)] * v[col];
                    }
                    sq += z * z;
                }
                let sum_q: Dual64 = q[..D].iter().copied().sum();
                beta[k] = alphas[k] + sum_q - sq * 0.5;
            }
            total += log_sum_exp_dual(&beta);
        }
        total -= log_sum_exp_dual(alphas) * N as f64;
        let mut prior = c(0.0);
        for k in 0..K {
            let q = &icf[k * ICF..(k + 1) * ICF];
            for j in 0..D {
                prior += q[j].exp().powi(2);
            }
            for j in D..ICF {
                prior += q[j] * q[j];
            }
        }
        total + prior * 0.5
    })
}

/// `m + ln Σ exp(v − m)`, `m` the largest real part.
fn log_sum_exp_dual(v: &[Dual64]) -> Dual64 {
    let m = v.iter().fold(f64::NEG_INFINITY, |m, d| m.max(d.re));
    let s: Dual64 = v.iter().map(|&d| (d - m).exp()).sum();
    s.ln() + m
}

/// The two BA residuals with the 15 parameters flat: camera, point, weight.
fn ba_residuals(p: &[Dual64; 15], m: &[f64; 2]) -> [Dual64; 2] {
    let (cam, x, w) = (&p[..11], &p[11..14], p[14]);
    let v = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let theta_sq = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let p = if theta_sq.re != 0.0 {
        let theta = theta_sq.sqrt();
        let (sin, cos) = (theta.sin(), theta.cos());
        let k = [cam[0] / theta, cam[1] / theta, cam[2] / theta];
        let kxv = [
            k[1] * v[2] - k[2] * v[1],
            k[2] * v[0] - k[0] * v[2],
            k[0] * v[1] - k[1] * v[0],
        ];
        let kv = (k[0] * v[0] + k[1] * v[1] + k[2] * v[2]) * (-cos + 1.0);
        std::array::from_fn(|j| v[j] * cos + kxv[j] * sin + k[j] * kv)
    } else {
        [
            v[0] + cam[1] * v[2] - cam[2] * v[1],
            v[1] + cam[2] * v[0] - cam[0] * v[2],
            v[2] + cam[0] * v[1] - cam[1] * v[0],
        ]
    };
    let u = [p[0] / p[2], p[1] / p[2]];
    let rho = u[0] * u[0] + u[1] * u[1];
    let distortion = cam[9] * rho + cam[10] * rho * rho + 1.0;
    [
        w * (cam[6] * u[0] * distortion + cam[7] - m[0]),
        w * (cam[6] * u[1] * distortion + cam[8] - m[1]),
    ]
}

/// The two BA residuals and their 2×15 Jacobian: one evaluation per parameter gives a column.
pub fn ba_jacobian(
    cam: &[f64; 11],
    x: &[f64; 3],
    w: f64,
    m: &[f64; 2],
) -> ([f64; 2], [[f64; 15]; 2]) {
    let mut p = [c(0.0); 15];
    for (slot, &v) in p.iter_mut().zip(cam.iter().chain(x).chain([&w])) {
        *slot = c(v);
    }
    let mut e = [0.0; 2];
    let mut jac = [[0.0; 15]; 2];
    for i in 0..15 {
        p[i].eps = 1.0;
        let r = ba_residuals(&p, m);
        p[i].eps = 0.0;
        for a in 0..2 {
            e[a] = r[a].re;
            jac[a][i] = r[a].eps;
        }
    }
    (e, jac)
}
