//! The gradients of the benchmark functions written by hand, as one would without a tool:
//! the value and the gradient in one pass, intermediate results reused.

#![allow(clippy::needless_range_loop)]

pub fn rosenbrock(x: f64, y: f64) -> (f64, (f64, f64)) {
    let a = 1.0 - x;
    let b = y - x * x;
    (a * a + 100.0 * b * b, (-2.0 * a - 400.0 * x * b, 200.0 * b))
}

pub fn exp_sin_sq(x: f64) -> (f64, f64) {
    let s = x * x;
    let (sin, cos) = s.sin_cos();
    let e = sin.exp();
    (e, 2.0 * x * cos * e)
}

pub fn extended_rosenbrock<const N: usize>(x: &[f64; N]) -> (f64, [f64; N]) {
    let mut f = 0.0;
    let mut g = [0.0; N];
    for i in 0..N / 2 {
        let (a, b) = (x[2 * i], x[2 * i + 1]);
        let t = b - a * a;
        let u = 1.0 - a;
        f += 100.0 * t * t + u * u;
        g[2 * i] = -400.0 * a * t - 2.0 * u;
        g[2 * i + 1] = 200.0 * t;
    }
    (f, g)
}

pub fn chained_rosenbrock<const N: usize>(x: &[f64; N]) -> (f64, [f64; N]) {
    let mut f = 0.0;
    let mut g = [0.0; N];
    for i in 0..N - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        f += 100.0 * t * t + u * u;
        g[i] += -400.0 * x[i] * t - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    (f, g)
}

/// `m + ln Σ exp(v − m)` with `m` the largest value, and its gradient, the softmax.
pub fn log_sum_exp<const N: usize>(v: &[f64; N]) -> (f64, [f64; N]) {
    let m = v.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let mut g = [0.0; N];
    let mut s = 0.0;
    for i in 0..N {
        g[i] = (v[i] - m).exp();
        s += g[i];
    }
    let r = 1.0 / s;
    for g in &mut g {
        *g *= r;
    }
    (m + s.ln(), g)
}

/// The gradient of the 4-8-3 network's loss: `(w1, b1, w2, b2)`.
pub type MlpGradient = ([[f64; 4]; 8], [f64; 8], [[f64; 8]; 3], [f64; 3]);

/// Backpropagation through the 4-8-3 network of `generated::mlp_loss`.
pub fn mlp_loss(
    w1: &[[f64; 4]; 8],
    b1: &[f64; 8],
    w2: &[[f64; 8]; 3],
    b2: &[f64; 3],
    x: &[f64; 4],
    y: &[f64; 3],
) -> (f64, MlpGradient) {
    let mut h = [0.0; 8];
    for j in 0..8 {
        let mut s = b1[j];
        for k in 0..4 {
            s += w1[j][k] * x[k];
        }
        h[j] = s.tanh();
    }
    let mut e = [0.0; 3];
    let (mut sum, mut dot) = (0.0, 0.0);
    for c in 0..3 {
        let mut z = b2[c];
        for j in 0..8 {
            z += w2[c][j] * h[j];
        }
        e[c] = z.exp();
        sum += e[c];
        dot += y[c] * z;
    }
    let dz: [f64; 3] = std::array::from_fn(|c| e[c] / sum - y[c]);
    let dw2 = std::array::from_fn(|c| std::array::from_fn(|j| dz[c] * h[j]));
    let ds: [f64; 8] = std::array::from_fn(|j| {
        let dh: f64 = (0..3).map(|c| w2[c][j] * dz[c]).sum();
        dh * (1.0 - h[j] * h[j])
    });
    let dw1 = std::array::from_fn(|j| std::array::from_fn(|k| ds[j] * x[k]));
    (sum.ln() - dot, (dw1, ds, dw2, dz))
}

/// The position of `L[r][c]` (r > c) in a component's row of `icf`: after the `d` diagonal
/// entries, column by column.
pub fn lower(d: usize, r: usize, c: usize) -> usize {
    d + c * (2 * d - c - 1) / 2 + r - c - 1
}

/// The constant terms of the GMM objective, `−(n d/2) ln 2π − K·C(d, 1, 0)`.
pub fn gmm_constant(d: usize, k: usize, n: usize) -> f64 {
    let pi = std::f64::consts::PI;
    // ln Γ_d((d+1)/2) = ¼ d(d−1) ln π + Σ_{m=2..=d+1} ln Γ(m/2).
    let mut ln_gamma_d = 0.25 * (d * (d - 1)) as f64 * pi.ln();
    for m in 2..d + 2 {
        let mut a = if m % 2 == 0 { 1.0 } else { 0.5 };
        let mut gamma = if m % 2 == 0 { 1.0 } else { pi.sqrt() };
        while a < m as f64 / 2.0 {
            gamma *= a;
            a += 1.0;
        }
        ln_gamma_d += gamma.ln();
    }
    let c = -0.5 * (d * (d + 1)) as f64 * std::f64::consts::LN_2 - ln_gamma_d;
    -0.5 * (n * d) as f64 * (2.0 * pi).ln() - k as f64 * c
}

/// `m + ln Σ exp(v − m)` and the softmax of `v`.
fn softmax<const K: usize>(v: &[f64; K]) -> (f64, [f64; K]) {
    log_sum_exp(v)
}

/// The GMM gradient: `(α, μ, icf)`.
pub type GmmGradient<const D: usize, const K: usize, const ICF: usize> =
    ([f64; K], [[f64; D]; K], [[f64; ICF]; K]);

/// The GMM objective of BENCHMARKS.md and its gradient, by hand: per data point, the forward
/// pass keeps `x − μ_k` and `Q_k (x − μ_k)` of each component, and the reverse pass weights
/// each component's adjoints by its softmax weight.
pub fn gmm<const D: usize, const K: usize, const N: usize, const ICF: usize>(
    alphas: &[f64; K],
    means: &[[f64; D]; K],
    icf: &[[f64; ICF]; K],
    x: &[[f64; D]; N],
) -> (f64, GmmGradient<D, K, ICF>) {
    let mut d_alphas = [0.0; K];
    let mut d_means = [[0.0; D]; K];
    let mut d_icf = [[0.0; ICF]; K];
    let diag: [[f64; D]; K] = std::array::from_fn(|k| std::array::from_fn(|j| icf[k][j].exp()));
    let sum_q: [f64; K] = std::array::from_fn(|k| icf[k][..D].iter().sum());
    let (mut v, mut z, mut beta) = ([[0.0; D]; K], [[0.0; D]; K], [0.0; K]);
    let mut total = 0.0;
    for xi in x {
        for k in 0..K {
            let mut sq = 0.0;
            for r in 0..D {
                v[k][r] = xi[r] - means[k][r];
                let mut zr = diag[k][r] * v[k][r];
                for c in 0..r {
                    zr += icf[k][lower(D, r, c)] * v[k][c];
                }
                z[k][r] = zr;
                sq += zr * zr;
            }
            beta[k] = alphas[k] + sum_q[k] - 0.5 * sq;
        }
        let (lse, weight) = softmax(&beta);
        total += lse;
        for k in 0..K {
            let p = weight[k];
            d_alphas[k] += p;
            let mut dv = [0.0; D];
            for r in 0..D {
                let dz = -p * z[k][r];
                d_icf[k][r] += p + dz * diag[k][r] * v[k][r];
                dv[r] += dz * diag[k][r];
                for c in 0..r {
                    let l = lower(D, r, c);
                    d_icf[k][l] += dz * v[k][c];
                    dv[c] += dz * icf[k][l];
                }
            }
            for j in 0..D {
                d_means[k][j] -= dv[j];
            }
        }
    }
    let (lse, weight) = softmax(alphas);
    total -= N as f64 * lse;
    let mut prior = 0.0;
    for k in 0..K {
        d_alphas[k] -= N as f64 * weight[k];
        for j in 0..D {
            let e2 = diag[k][j] * diag[k][j];
            prior += e2;
            d_icf[k][j] += e2;
        }
        for j in D..ICF {
            prior += icf[k][j] * icf[k][j];
            d_icf[k][j] += icf[k][j];
        }
    }
    total += 0.5 * prior + gmm_constant(D, K, N);
    (total, (d_alphas, d_means, d_icf))
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `[a]×`, the matrix of `b ↦ a × b`.
fn skew(a: &[f64; 3]) -> [[f64; 3]; 3] {
    [[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]]
}

/// The rotated point `p = R(r)·v` (Rodrigues), `∂p/∂v = R` and `∂p/∂r`.
fn rodrigues(r: &[f64; 3], v: &[f64; 3]) -> ([f64; 3], [[f64; 3]; 3], [[f64; 3]; 3]) {
    let theta_sq = dot(r, r);
    let skew_v = skew(v);
    if theta_sq == 0.0 {
        let rxv = cross(r, v);
        let p = std::array::from_fn(|a| v[a] + rxv[a]);
        let skew_r = skew(r);
        let dp_dv = std::array::from_fn(|a| {
            std::array::from_fn(|b| skew_r[a][b] + if a == b { 1.0 } else { 0.0 })
        });
        let dp_dr = std::array::from_fn(|a| std::array::from_fn(|b| -skew_v[a][b]));
        return (p, dp_dv, dp_dr);
    }
    let theta = theta_sq.sqrt();
    let (sin, cos) = theta.sin_cos();
    let k: [f64; 3] = std::array::from_fn(|a| r[a] / theta);
    let (kv, kxv, skew_k) = (dot(&k, v), cross(&k, v), skew(&k));
    let delta = |a: usize, b: usize| if a == b { 1.0 } else { 0.0 };
    let p = std::array::from_fn(|a| v[a] * cos + kxv[a] * sin + k[a] * kv * (1.0 - cos));
    // R = cos·I + sin·[k]× + (1 − cos)·k kᵀ.
    let dp_dv = std::array::from_fn(|a| {
        std::array::from_fn(|b| cos * delta(a, b) + sin * skew_k[a][b] + (1.0 - cos) * k[a] * k[b])
    });
    // Through θ = ‖r‖ (∂θ/∂r = kᵀ) and k = r/θ (∂k/∂r = (I − k kᵀ)/θ).
    let dp_dtheta: [f64; 3] = std::array::from_fn(|a| -sin * v[a] + cos * kxv[a] + sin * k[a] * kv);
    let dp_dk: [[f64; 3]; 3] = std::array::from_fn(|a| {
        std::array::from_fn(|b| (1.0 - cos) * (k[a] * v[b] + kv * delta(a, b)) - sin * skew_v[a][b])
    });
    let dp_dr = std::array::from_fn(|a| {
        std::array::from_fn(|b| {
            let through_k: f64 = (0..3)
                .map(|c| dp_dk[a][c] * (delta(c, b) - k[c] * k[b]))
                .sum();
            dp_dtheta[a] * k[b] + through_k / theta
        })
    });
    (p, dp_dv, dp_dr)
}

/// The two residuals of one BA observation and their 2×15 Jacobian (columns: the camera's
/// 11 parameters, the point's 3, the weight), by hand.
pub fn ba_jacobian(
    cam: &[f64; 11],
    x: &[f64; 3],
    w: f64,
    m: &[f64; 2],
) -> ([f64; 2], [[f64; 15]; 2]) {
    let r = [cam[0], cam[1], cam[2]];
    let v = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let (p, dp_dv, dp_dr) = rodrigues(&r, &v);
    let (f, k1, k2) = (cam[6], cam[9], cam[10]);
    let iz = 1.0 / p[2];
    let u = [p[0] * iz, p[1] * iz];
    let rho = u[0] * u[0] + u[1] * u[1];
    let distortion = 1.0 + k1 * rho + k2 * rho * rho;
    let d_distortion = k1 + 2.0 * k2 * rho;
    let centre = [cam[7], cam[8]];
    let mut e = [0.0; 2];
    let mut jac = [[0.0; 15]; 2];
    for a in 0..2 {
        let projected = f * u[a] * distortion + centre[a] - m[a];
        e[a] = w * projected;
        // ∂e_a/∂u_b = w f (distortion·δ_ab + 2 d_distortion u_a u_b), then ∂u/∂p.
        let de_du: [f64; 2] = std::array::from_fn(|b| {
            let diagonal = if a == b { distortion } else { 0.0 };
            w * f * (diagonal + 2.0 * d_distortion * u[a] * u[b])
        });
        let de_dp = [
            de_du[0] * iz,
            de_du[1] * iz,
            -(de_du[0] * u[0] + de_du[1] * u[1]) * iz,
        ];
        for b in 0..3 {
            let through_v: f64 = (0..3).map(|c| de_dp[c] * dp_dv[c][b]).sum();
            jac[a][b] = (0..3).map(|c| de_dp[c] * dp_dr[c][b]).sum();
            jac[a][3 + b] = -through_v;
            jac[a][11 + b] = through_v;
        }
        jac[a][6] = w * u[a] * distortion;
        jac[a][7 + a] = w;
        jac[a][9] = w * f * u[a] * rho;
        jac[a][10] = w * f * u[a] * rho * rho;
        jac[a][14] = projected;
    }
    (e, jac)
}
