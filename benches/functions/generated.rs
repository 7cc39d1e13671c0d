//! The benchmark functions with `#[grad]`, each written once. [`source!`] both defines a
//! function and keeps its text in a constant, so that the operation counts are those of the
//! very text `#[grad]` compiled.

// Numeric code indexes arrays with loop variables, and `#[grad]` reads loops that way.
#![allow(clippy::needless_range_loop)]

use gradgen::grad;

/// Defines the items and keeps their text in the constant `$text`.
macro_rules! source {
    ($text:ident, $($item:tt)*) => {
        $($item)*

        /// The text of the function above, as `#[grad]` read it.
        pub const $text: &str = stringify!($($item)*);
    };
}

source! { ROSENBROCK_2D,
    #[grad]
    pub fn rosenbrock(x: f64, y: f64) -> f64 {
        (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
    }
}

source! { EXP_SIN_SQ,
    #[grad]
    pub fn exp_sin_sq(x: f64) -> f64 {
        (x * x).sin().exp()
    }
}

/// Extended Rosenbrock: `Σ_{i<n/2} 100(x_{2i+1} − x_{2i}²)² + (1 − x_{2i})²`, with `#[grad]`'s
/// arguments `$($attr)*` (none: loops kept or unrolled as `auto` chooses, by the trip count).
macro_rules! extended_rosenbrock {
    ($text:ident, $name:ident, $n:tt $(, $($attr:tt)*)?) => {
        source! { $text,
            #[grad$(($($attr)*))?]
            pub fn $name(x: &[f64; $n]) -> f64 {
                let mut s = 0.0;
                for i in 0..$n / 2 {
                    let a = x[2 * i];
                    s += 100.0 * (x[2 * i + 1] - a * a).powi(2) + (1.0 - a).powi(2);
                }
                s
            }
        }
    };
}

extended_rosenbrock!(EXTENDED_ROSENBROCK_10, extended_rosenbrock_10, 10);
extended_rosenbrock!(EXTENDED_ROSENBROCK_100, extended_rosenbrock_100, 100);
// The loop kept (issue #7): by `auto` from 1,000 (500 iterations), by request at 10.
extended_rosenbrock!(EXTENDED_ROSENBROCK_1000, extended_rosenbrock_1000, 1000);
extended_rosenbrock!(
    EXTENDED_ROSENBROCK_100000,
    extended_rosenbrock_100000,
    100000
);
extended_rosenbrock!(
    EXTENDED_ROSENBROCK_10_KEEP,
    extended_rosenbrock_10_keep,
    10,
    loops = "keep"
);

/// Chained Rosenbrock: `Σ_{i<n−1} 100(x_{i+1} − x_i²)² + (1 − x_i)²`.
macro_rules! chained_rosenbrock {
    ($text:ident, $name:ident, $n:tt) => {
        source! { $text,
            #[grad]
            pub fn $name(x: &[f64; $n]) -> f64 {
                let mut s = 0.0;
                for i in 0..$n - 1 {
                    s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
                }
                s
            }
        }
    };
}

chained_rosenbrock!(CHAINED_ROSENBROCK_10, chained_rosenbrock_10, 10);
chained_rosenbrock!(CHAINED_ROSENBROCK_100, chained_rosenbrock_100, 100);

source! { LOG_SUM_EXP,
    /// `ln Σ exp x_i`, shifted by the largest value so that no `exp` overflows.
    #[grad]
    pub fn log_sum_exp(x: &[f64; 100]) -> f64 {
        let mut m = x[0];
        for i in 1..100 {
            m = m.max(x[i]);
        }
        let mut s = 0.0;
        for i in 0..100 {
            s += (x[i] - m).exp();
        }
        m + s.ln()
    }
}

source! { MLP,
    /// The 4-8-3 tanh network's cross-entropy for one sample, `ln Σ exp z − y·z`, as in
    /// BENCHMARKS.md (the operation counts of its reference are of this form, unshifted).
    #[grad(wrt(w1, b1, w2, b2))]
    pub fn mlp_loss(
        w1: &[[f64; 4]; 8],
        b1: &[f64; 8],
        w2: &[[f64; 8]; 3],
        b2: &[f64; 3],
        x: &[f64; 4],
        y: &[f64; 3],
    ) -> f64 {
        let mut h = [0.0; 8];
        for j in 0..8 {
            let mut s = b1[j];
            for k in 0..4 {
                s += w1[j][k] * x[k];
            }
            h[j] = s.tanh();
        }
        let mut z = [0.0; 3];
        for c in 0..3 {
            let mut s = b2[c];
            for j in 0..8 {
                s += w2[c][j] * h[j];
            }
            z[c] = s;
        }
        let mut sum = 0.0;
        let mut dot = 0.0;
        for c in 0..3 {
            sum += z[c].exp();
            dot += y[c] * z[c];
        }
        sum.ln() - dot
    }
}

/// The ADBench GMM objective (BENCHMARKS.md) with `d` dimensions, `k` components and `n` data
/// points, `icf` = `d + d(d−1)/2` (each component's row of `icf` is `q` then `l`, `l` column by
/// column), γ = 1, m = 0.
///
/// `($n) as f64` rather than `$n as f64`: `stringify!` prints a substituted literal glued to
/// the next word (`10as f64`), which would not parse back for the counts.
macro_rules! gmm {
    ($text:ident, $name:ident, d = $d:tt, k = $k:tt, n = $n:tt, icf = $icf:tt) => {
        source! { $text,
            #[grad(wrt(alphas, means, icf))]
            pub fn $name(
                alphas: &[f64; $k],
                means: &[[f64; $d]; $k],
                icf: &[[f64; $icf]; $k],
                x: &[[f64; $d]; $n],
            ) -> f64 {
                let mut total = 0.0;
                for i in 0..$n {
                    let mut beta = [0.0; $k];
                    for k in 0..$k {
                        let mut sum_q = 0.0;
                        let mut v = [0.0; $d];
                        for j in 0..$d {
                            sum_q += icf[k][j];
                            v[j] = x[i][j] - means[k][j];
                        }
                        // ‖Q_k (x_i − μ_k)‖², Q_k lower triangular with diagonal exp(q).
                        let mut sq = 0.0;
                        for r in 0..$d {
                            let mut z = icf[k][r].exp() * v[r];
                            for c in 0..r {
                                // (r, c) is at d + c(2d − c − 1)/2 + r − c − 1.
                                z += icf[k][$d + c * (2 * $d - c - 1) / 2 + r - c - 1] * v[c];
                            }
                            sq += z * z;
                        }
                        beta[k] = alphas[k] + sum_q - 0.5 * sq;
                    }
                    let mut m = beta[0];
                    for k in 1..$k {
                        m = m.max(beta[k]);
                    }
                    let mut s = 0.0;
                    for k in 0..$k {
                        s += (beta[k] - m).exp();
                    }
                    total += m + s.ln();
                }
                let mut m = alphas[0];
                for k in 1..$k {
                    m = m.max(alphas[k]);
                }
                let mut s = 0.0;
                for k in 0..$k {
                    s += (alphas[k] - m).exp();
                }
                total -= ($n) as f64 * (m + s.ln());
                // The Wishart prior: ½ Σ_k (Σ_j exp(q_kj)² + ‖l_k‖²).
                let mut prior = 0.0;
                for k in 0..$k {
                    for j in 0..$d {
                        prior += icf[k][j].exp().powi(2);
                    }
                    for j in $d..$icf {
                        prior += icf[k][j] * icf[k][j];
                    }
                }
                total += 0.5 * prior;
                // −(n d/2) ln 2π − K·C(d, 1, 0), C = −½ d(d+1) ln 2 − ln Γ_d((d+1)/2), where
                // ln Γ_d((d+1)/2) = ¼ d(d−1) ln π + ln Π_{m=2..=d+1} Γ(m/2): each Γ(m/2) is
                // built from Γ(1) = 1 or Γ(½) = √π by Γ(a + 1) = a·Γ(a), all at compile time.
                let pi = std::f64::consts::PI;
                let mut gamma = 1.0;
                for m in 2..$d + 2 {
                    if m % 2 == 0 {
                        for t in 1..m / 2 {
                            gamma *= t as f64;
                        }
                    } else {
                        gamma *= pi.sqrt();
                        for t in 0..(m - 1) / 2 {
                            gamma *= t as f64 + 0.5;
                        }
                    }
                }
                let ln_gamma_d = 0.25 * ($d * ($d - 1)) as f64 * pi.ln() + gamma.ln();
                let ln_2 = std::f64::consts::LN_2;
                total - 0.5 * ($n * $d) as f64 * (2.0 * pi).ln()
                    + ($k) as f64 * (0.5 * ($d * ($d + 1)) as f64 * ln_2 + ln_gamma_d)
            }
        }
    };
}

gmm!(GMM_TEST, gmm_2_3_1, d = 2, k = 3, n = 1, icf = 3);
gmm!(GMM_SMALL, gmm_2_5_10, d = 2, k = 5, n = 10, icf = 3);
gmm!(GMM_LARGE, gmm_10_25_2, d = 10, k = 25, n = 2, icf = 55);
// GradBench's sizes, N = 1,000: the loops over the points and the components are kept, the
// ones over the dimensions unrolled (`auto`); and a mid size for the tests.
gmm!(GMM_MID, gmm_4_20_30, d = 4, k = 20, n = 30, icf = 10);
gmm!(
    GMM_D10_K25,
    gmm_10_25_1000,
    d = 10,
    k = 25,
    n = 1000,
    icf = 55
);
gmm!(
    GMM_D64_K100,
    gmm_64_100_1000,
    d = 64,
    k = 100,
    n = 1000,
    icf = 2080
);

/// The ADBench BA reprojection error of one observation (BENCHMARKS.md), from one block that
/// computes both residuals: `#[grad]` functions for each residual (the rows of the Jacobian),
/// and `ba_residuals` for both, the function that the Jacobian is timed against.
macro_rules! ba {
    (
        $(($text:ident, $name:ident, $r:tt)),*;
        |$cam:ident, $x:ident, $w:ident, $m:ident| $residuals:tt
    ) => {
        $(
            source! { $text,
                #[grad(wrt($cam, $x, $w))]
                pub fn $name($cam: &[f64; 11], $x: &[f64; 3], $w: f64, $m: &[f64; 2]) -> f64 {
                    let e = $residuals;
                    e[$r]
                }
            }
        )*

        /// Both residuals.
        pub fn ba_residuals($cam: &[f64; 11], $x: &[f64; 3], $w: f64, $m: &[f64; 2]) -> [f64; 2] {
            $residuals
        }
    };
}

ba!((BA_RESIDUAL_0, ba_residual_0, 0), (BA_RESIDUAL_1, ba_residual_1, 1); |cam, x, w, m| {
    // Rotate X − C by the axis-angle vector r (Rodrigues), camera = [r, C, f, u0, v0, κ1, κ2].
    let v = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let theta_sq = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let mut p = [0.0; 3];
    if theta_sq != 0.0 {
        let theta = theta_sq.sqrt();
        let (sin, cos) = theta.sin_cos();
        let k = [cam[0] / theta, cam[1] / theta, cam[2] / theta];
        let kxv = [
            k[1] * v[2] - k[2] * v[1],
            k[2] * v[0] - k[0] * v[2],
            k[0] * v[1] - k[1] * v[0],
        ];
        let kv = (k[0] * v[0] + k[1] * v[1] + k[2] * v[2]) * (1.0 - cos);
        for j in 0..3 {
            p[j] = v[j] * cos + kxv[j] * sin + k[j] * kv;
        }
    } else {
        p[0] = v[0] + cam[1] * v[2] - cam[2] * v[1];
        p[1] = v[1] + cam[2] * v[0] - cam[0] * v[2];
        p[2] = v[2] + cam[0] * v[1] - cam[1] * v[0];
    }
    // Project, distort radially, scale and shift; weight the error.
    let u = [p[0] / p[2], p[1] / p[2]];
    let rho = u[0] * u[0] + u[1] * u[1];
    let distortion = 1.0 + cam[9] * rho + cam[10] * rho * rho;
    [
        w * (cam[6] * u[0] * distortion + cam[7] - m[0]),
        w * (cam[6] * u[1] * distortion + cam[8] - m[1]),
    ]
});

/// Both BA residuals and their 2×15 Jacobian (camera, point, weight), a row from each
/// residual's emitted gradient.
pub fn ba_jacobian(
    cam: &[f64; 11],
    x: &[f64; 3],
    w: f64,
    m: &[f64; 2],
) -> ([f64; 2], [[f64; 15]; 2]) {
    let rows = [
        ba_residual_0_grad(cam, x, w, m),
        ba_residual_1_grad(cam, x, w, m),
    ];
    let mut e = [0.0; 2];
    let mut jac = [[0.0; 15]; 2];
    for (a, (value, (d_cam, d_x, d_w))) in rows.into_iter().enumerate() {
        e[a] = value;
        jac[a][..11].copy_from_slice(&d_cam);
        jac[a][11..14].copy_from_slice(&d_x);
        jac[a][14] = d_w;
    }
    (e, jac)
}
