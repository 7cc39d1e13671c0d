//! The networks: their loss for one sample with `#[grad]`, and the same gradient written by
//! hand (backpropagation, layer by layer), for checking and timing.
//!
//! Two architectures, each instantiated for fixed sizes, since `#[grad]` differentiates
//! functions of fixed-size arrays:
//!
//! - [`Mlp`], a chain: `h = tanh(W1·x + b1)`, `z = W2·h + b2`;
//! - [`Skip`], a DAG: `h1 = tanh(W1·x + b1)`, `h2 = tanh(W2·h1 + b2)`,
//!   `z = W3·h2 + S·h1 + b3`. The first hidden layer feeds both the second and the output, so
//!   its adjoint is the sum of the contributions of both paths.
//!
//! The loss of both is the cross-entropy of the softmax of `z` against the one-hot label `y`,
//! written as a log-sum-exp shifted by the largest logit: `m + ln Σ exp(z - m) - y·z`.

use gradgen::grad;

/// What training needs of a network with `I` inputs and `O` classes.
pub trait Network<const I: usize, const O: usize>: Clone {
    /// A network with small random weights.
    fn random(rng: &mut fastrand::Rng) -> Self;
    /// A network with every parameter zero (a gradient accumulator).
    fn zero() -> Self;
    /// The logits of one sample.
    fn logits(&self, x: &[f64; I]) -> [f64; O];
    /// The loss of one sample and its gradient, from the code `#[grad]` emitted.
    fn generated(&self, x: &[f64; I], y: &[f64; O]) -> (f64, Self);
    /// The same, by hand-written backpropagation.
    fn by_hand(&self, x: &[f64; I], y: &[f64; O]) -> (f64, Self);
    /// The parameters, flattened.
    fn parameters(&self) -> Vec<f64>;
    /// The network with the flattened parameters replaced.
    fn with_parameters(&self, p: &[f64]) -> Self;
    /// `self += a · g`.
    fn add_scaled(&mut self, a: f64, g: &Self) {
        let sum: Vec<f64> = self
            .parameters()
            .iter()
            .zip(g.parameters())
            .map(|(s, g)| s + a * g)
            .collect();
        *self = self.with_parameters(&sum);
    }
}

/// The one-hot vector of class `class`.
pub fn one_hot<const O: usize>(class: usize) -> [f64; O] {
    std::array::from_fn(|k| if k == class { 1.0 } else { 0.0 })
}

/// A matrix of small uniform random weights, scaled by `1 / sqrt(fan_in)`.
fn random_matrix<const R: usize, const C: usize>(rng: &mut fastrand::Rng) -> [[f64; C]; R] {
    let scale = 1.0 / (C as f64).sqrt();
    std::array::from_fn(|_| std::array::from_fn(|_| (2.0 * rng.f64() - 1.0) * scale))
}

/// Appends the entries of a matrix, row by row.
fn push_matrix<const R: usize, const C: usize>(p: &mut Vec<f64>, m: &[[f64; C]; R]) {
    p.extend(m.iter().flatten());
}

/// The next `R × C` values, row by row, as a matrix (zeros once they run out).
fn read_matrix<const R: usize, const C: usize>(
    it: &mut impl Iterator<Item = f64>,
) -> [[f64; C]; R] {
    std::array::from_fn(|_| read_vector(it))
}

/// The next `N` values (zeros once they run out).
fn read_vector<const N: usize>(it: &mut impl Iterator<Item = f64>) -> [f64; N] {
    std::array::from_fn(|_| it.next().unwrap_or(0.0))
}

/// `tanh(W·x + b)`.
fn layer<const R: usize, const C: usize>(
    w: &[[f64; C]; R],
    b: &[f64; R],
    x: &[f64; C],
) -> [f64; R] {
    std::array::from_fn(|j| affine(&w[j], b[j], x).tanh())
}

fn affine<const C: usize>(w: &[f64; C], b: f64, x: &[f64; C]) -> f64 {
    w.iter().zip(x).fold(b, |s, (w, x)| s + w * x)
}

/// The shifted log-sum-exp cross-entropy and its gradient with respect to the logits.
fn softmax_loss<const O: usize>(z: &[f64; O], y: &[f64; O]) -> (f64, [f64; O]) {
    let m = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let e: [f64; O] = std::array::from_fn(|k| (z[k] - m).exp());
    let sum: f64 = e.iter().sum();
    let dot: f64 = z.iter().zip(y).map(|(z, y)| z * y).sum();
    (
        m + sum.ln() - dot,
        std::array::from_fn(|k| e[k] / sum - y[k]),
    )
}

/// Backpropagates `dz` through `z = W·h + b`: the gradients of `W` and `b`, and `dL/dh`.
fn backward<const R: usize, const C: usize>(dz: &[f64; R], h: &[f64; C]) -> [[f64; C]; R] {
    std::array::from_fn(|i| std::array::from_fn(|j| dz[i] * h[j]))
}

fn transpose_times<const R: usize, const C: usize>(w: &[[f64; C]; R], dz: &[f64; R]) -> [f64; C] {
    std::array::from_fn(|j| (0..R).map(|i| w[i][j] * dz[i]).sum())
}

/// Through `h = tanh(s)`: `ds = dh · (1 - h²)`.
fn through_tanh<const C: usize>(dh: &[f64; C], h: &[f64; C]) -> [f64; C] {
    std::array::from_fn(|j| dh[j] * (1.0 - h[j] * h[j]))
}

/// A one-hidden-layer tanh network with `I` inputs, `H` hidden units and `O` classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<const I: usize, const H: usize, const O: usize> {
    pub w1: [[f64; I]; H],
    pub b1: [f64; H],
    pub w2: [[f64; H]; O],
    pub b2: [f64; O],
}

/// A `pub fn` whose body computes the logits `$z` and which returns the cross-entropy of
/// their softmax against the one-hot labels `$y`, as a log-sum-exp shifted by the largest logit:
/// `m + ln Σ exp(z - m) - y·z`. The tail is spliced here, before `#[grad]` reads the function
/// (an attribute sees the calls of macros inside a body unexpanded, so it cannot be a macro
/// called from the body).
macro_rules! loss_of_logits {
    (
        $(#[$attr:meta])*
        fn $name:ident($($params:tt)*) logits $z:ident, labels $y:ident, classes $o:literal {
            $($body:tt)*
        }
    ) => {
        $(#[$attr])*
        pub fn $name($($params)*) -> f64 {
            $($body)*
            let mut m = $z[0];
            for c in 1..$o {
                m = m.max($z[c]);
            }
            let mut sum = 0.0;
            let mut dot = 0.0;
            for c in 0..$o {
                sum += ($z[c] - m).exp();
                dot += $y[c] * $z[c];
            }
            m + sum.ln() - dot
        }
    };
}

/// Defines the `#[grad]` loss of an [`Mlp`] of the given sizes and its [`Network`] impl.
macro_rules! mlp {
    ($loss:ident, $loss_grad:ident, $i:literal, $h:literal, $o:literal) => {
        loss_of_logits! {
            /// The loss of one sample: `#[grad]` emits its gradient with respect to the weights.
            #[allow(clippy::needless_range_loop)]
            #[grad(wrt(w1, b1, w2, b2))]
            fn $loss(
                w1: &[[f64; $i]; $h],
                b1: &[f64; $h],
                w2: &[[f64; $h]; $o],
                b2: &[f64; $o],
                x: &[f64; $i],
                y: &[f64; $o],
            ) logits z, labels y, classes $o {
                let mut hidden = [0.0; $h];
                for j in 0..$h {
                    let mut a = b1[j];
                    for k in 0..$i {
                        a += w1[j][k] * x[k];
                    }
                    hidden[j] = a.tanh();
                }
                let mut z = [0.0; $o];
                for c in 0..$o {
                    let mut a = b2[c];
                    for j in 0..$h {
                        a += w2[c][j] * hidden[j];
                    }
                    z[c] = a;
                }
            }
        }

        impl Network<$i, $o> for Mlp<$i, $h, $o> {
            fn random(rng: &mut fastrand::Rng) -> Self {
                let (w1, w2) = (random_matrix(rng), random_matrix(rng));
                Mlp {
                    w1,
                    b1: [0.0; $h],
                    w2,
                    b2: [0.0; $o],
                }
            }

            fn zero() -> Self {
                Mlp {
                    w1: [[0.0; $i]; $h],
                    b1: [0.0; $h],
                    w2: [[0.0; $h]; $o],
                    b2: [0.0; $o],
                }
            }

            fn logits(&self, x: &[f64; $i]) -> [f64; $o] {
                let h = layer(&self.w1, &self.b1, x);
                std::array::from_fn(|c| affine(&self.w2[c], self.b2[c], &h))
            }

            fn generated(&self, x: &[f64; $i], y: &[f64; $o]) -> (f64, Self) {
                let (loss, (w1, b1, w2, b2)) =
                    $loss_grad(&self.w1, &self.b1, &self.w2, &self.b2, x, y);
                (loss, Mlp { w1, b1, w2, b2 })
            }

            fn by_hand(&self, x: &[f64; $i], y: &[f64; $o]) -> (f64, Self) {
                let h = layer(&self.w1, &self.b1, x);
                let z = std::array::from_fn(|c| affine(&self.w2[c], self.b2[c], &h));
                let (loss, dz) = softmax_loss(&z, y);
                let ds = through_tanh(&transpose_times(&self.w2, &dz), &h);
                let (w1, w2) = (backward(&ds, x), backward(&dz, &h));
                (
                    loss,
                    Mlp {
                        w1,
                        b1: ds,
                        w2,
                        b2: dz,
                    },
                )
            }

            fn parameters(&self) -> Vec<f64> {
                let mut p = Vec::new();
                push_matrix(&mut p, &self.w1);
                p.extend(self.b1);
                push_matrix(&mut p, &self.w2);
                p.extend(self.b2);
                p
            }

            fn with_parameters(&self, p: &[f64]) -> Self {
                let it = &mut p.iter().copied();
                let (w1, b1) = (read_matrix(it), read_vector(it));
                let (w2, b2) = (read_matrix(it), read_vector(it));
                Mlp { w1, b1, w2, b2 }
            }
        }
    };
}

mlp!(iris_loss, iris_loss_grad, 4, 8, 3);
mlp!(iris_wide_loss, iris_wide_loss_grad, 4, 16, 3);
mlp!(cancer_loss, cancer_loss_grad, 30, 16, 2);
mlp!(digits_loss, digits_loss_grad, 64, 32, 10);

/// Two tanh layers and a skip connection from the first to the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Skip<const I: usize, const H: usize, const O: usize> {
    pub w1: [[f64; I]; H],
    pub b1: [f64; H],
    pub w2: [[f64; H]; H],
    pub b2: [f64; H],
    pub w3: [[f64; H]; O],
    pub s: [[f64; H]; O],
    pub b3: [f64; O],
}

/// Defines the `#[grad]` loss of a [`Skip`] network of the given sizes and its impl.
macro_rules! skip {
    ($loss:ident, $loss_grad:ident, $i:literal, $h:literal, $o:literal) => {
        loss_of_logits! {
            /// The loss of one sample of the skip-connection network.
            #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
            #[grad(wrt(w1, b1, w2, b2, w3, s, b3))]
            fn $loss(
                w1: &[[f64; $i]; $h],
                b1: &[f64; $h],
                w2: &[[f64; $h]; $h],
                b2: &[f64; $h],
                w3: &[[f64; $h]; $o],
                s: &[[f64; $h]; $o],
                b3: &[f64; $o],
                x: &[f64; $i],
                y: &[f64; $o],
            ) logits z, labels y, classes $o {
                let mut h1 = [0.0; $h];
                for j in 0..$h {
                    let mut a = b1[j];
                    for k in 0..$i {
                        a += w1[j][k] * x[k];
                    }
                    h1[j] = a.tanh();
                }
                let mut h2 = [0.0; $h];
                for j in 0..$h {
                    let mut a = b2[j];
                    for k in 0..$h {
                        a += w2[j][k] * h1[k];
                    }
                    h2[j] = a.tanh();
                }
                let mut z = [0.0; $o];
                for c in 0..$o {
                    let mut a = b3[c];
                    for j in 0..$h {
                        a += w3[c][j] * h2[j] + s[c][j] * h1[j];
                    }
                    z[c] = a;
                }
            }
        }

        impl Network<$i, $o> for Skip<$i, $h, $o> {
            fn random(rng: &mut fastrand::Rng) -> Self {
                let (w1, w2) = (random_matrix(rng), random_matrix(rng));
                let (w3, s) = (random_matrix(rng), random_matrix(rng));
                Skip {
                    w1,
                    b1: [0.0; $h],
                    w2,
                    b2: [0.0; $h],
                    w3,
                    s,
                    b3: [0.0; $o],
                }
            }

            fn zero() -> Self {
                let (b1, b2, b3) = ([0.0; $h], [0.0; $h], [0.0; $o]);
                let (w2, w3, s) = ([[0.0; $h]; $h], [[0.0; $h]; $o], [[0.0; $h]; $o]);
                Skip {
                    w1: [[0.0; $i]; $h],
                    b1,
                    w2,
                    b2,
                    w3,
                    s,
                    b3,
                }
            }

            fn logits(&self, x: &[f64; $i]) -> [f64; $o] {
                let h1 = layer(&self.w1, &self.b1, x);
                let h2 = layer(&self.w2, &self.b2, &h1);
                std::array::from_fn(|c| {
                    affine(&self.w3[c], self.b3[c], &h2) + affine(&self.s[c], 0.0, &h1)
                })
            }

            fn generated(&self, x: &[f64; $i], y: &[f64; $o]) -> (f64, Self) {
                let (loss, (w1, b1, w2, b2, w3, s, b3)) = $loss_grad(
                    &self.w1, &self.b1, &self.w2, &self.b2, &self.w3, &self.s, &self.b3, x, y,
                );
                (
                    loss,
                    Skip {
                        w1,
                        b1,
                        w2,
                        b2,
                        w3,
                        s,
                        b3,
                    },
                )
            }

            fn by_hand(&self, x: &[f64; $i], y: &[f64; $o]) -> (f64, Self) {
                let h1 = layer(&self.w1, &self.b1, x);
                let h2 = layer(&self.w2, &self.b2, &h1);
                let z = std::array::from_fn(|c| {
                    affine(&self.w3[c], self.b3[c], &h2) + affine(&self.s[c], 0.0, &h1)
                });
                let (loss, dz) = softmax_loss(&z, y);
                let ds2 = through_tanh(&transpose_times(&self.w3, &dz), &h2);
                // h1 feeds both the second layer and the output: its adjoint is the sum.
                let from_second = transpose_times(&self.w2, &ds2);
                let from_skip = transpose_times(&self.s, &dz);
                let dh1: [f64; $h] = std::array::from_fn(|j| from_second[j] + from_skip[j]);
                let ds1 = through_tanh(&dh1, &h1);
                let (w1, w2) = (backward(&ds1, x), backward(&ds2, &h1));
                let (w3, s) = (backward(&dz, &h2), backward(&dz, &h1));
                (
                    loss,
                    Skip {
                        w1,
                        b1: ds1,
                        w2,
                        b2: ds2,
                        w3,
                        s,
                        b3: dz,
                    },
                )
            }

            fn parameters(&self) -> Vec<f64> {
                let mut p = Vec::new();
                push_matrix(&mut p, &self.w1);
                p.extend(self.b1);
                push_matrix(&mut p, &self.w2);
                p.extend(self.b2);
                push_matrix(&mut p, &self.w3);
                push_matrix(&mut p, &self.s);
                p.extend(self.b3);
                p
            }

            fn with_parameters(&self, p: &[f64]) -> Self {
                let it = &mut p.iter().copied();
                let (w1, b1) = (read_matrix(it), read_vector(it));
                let (w2, b2) = (read_matrix(it), read_vector(it));
                let (w3, s, b3) = (read_matrix(it), read_matrix(it), read_vector(it));
                Skip {
                    w1,
                    b1,
                    w2,
                    b2,
                    w3,
                    s,
                    b3,
                }
            }
        }
    };
}

skip!(iris_skip_loss, iris_skip_loss_grad, 4, 8, 3);
skip!(cancer_skip_loss, cancer_skip_loss_grad, 30, 16, 2);
