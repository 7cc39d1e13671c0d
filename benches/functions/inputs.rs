//! The points at which the benchmarks are measured and their gradients compared: fixed
//! pseudo-random values (one seed), and the ADBench test instances of BENCHMARKS.md.

/// The generator of every point, seeded once.
pub fn rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(5)
}

/// `N` values uniform in `[lo, hi)`.
pub fn uniform<const N: usize>(rng: &mut fastrand::Rng, lo: f64, hi: f64) -> [f64; N] {
    std::array::from_fn(|_| lo + (hi - lo) * rng.f64())
}

/// An `R × C` matrix of values uniform in `[lo, hi)`.
pub fn matrix<const R: usize, const C: usize>(
    rng: &mut fastrand::Rng,
    lo: f64,
    hi: f64,
) -> [[f64; C]; R] {
    std::array::from_fn(|_| uniform(rng, lo, hi))
}

/// The 4-8-3 network and one sample of it.
pub struct Mlp {
    pub w1: [[f64; 4]; 8],
    pub b1: [f64; 8],
    pub w2: [[f64; 8]; 3],
    pub b2: [f64; 3],
    pub x: [f64; 4],
    pub y: [f64; 3],
}

pub fn mlp() -> Mlp {
    let rng = &mut rng();
    Mlp {
        w1: matrix(rng, -0.5, 0.5),
        b1: uniform(rng, -0.1, 0.1),
        w2: matrix(rng, -0.35, 0.35),
        b2: uniform(rng, -0.1, 0.1),
        x: uniform(rng, -2.0, 2.0),
        y: [0.0, 1.0, 0.0],
    }
}

/// The parameters and data of the GMM objective: `D` dimensions, `K` components, `N` points,
/// `ICF = D + D(D−1)/2`.
pub struct Gmm<const D: usize, const K: usize, const N: usize, const ICF: usize> {
    pub alphas: [f64; K],
    pub means: [[f64; D]; K],
    pub icf: [[f64; ICF]; K],
    pub x: [[f64; D]; N],
}

pub fn gmm<const D: usize, const K: usize, const N: usize, const ICF: usize>() -> Gmm<D, K, N, ICF>
{
    let rng = &mut rng();
    Gmm {
        alphas: uniform(rng, -1.0, 1.0),
        means: matrix(rng, 0.0, 1.0),
        icf: matrix(rng, -0.5, 0.5),
        x: matrix(rng, 0.0, 1.0),
    }
}

/// ADBench's GMM test instance (`data/gmm/test.txt`), d = 2, K = 3, N = 1.
pub fn gmm_test() -> Gmm<2, 3, 1, 3> {
    Gmm {
        alphas: [-0.649014, 1.181166, -0.758453],
        means: [
            [0.092339, 0.186260],
            [0.345561, 0.396767],
            [0.538817, 0.419195],
        ],
        icf: [
            [0.586443, -0.851887, 0.800321],
            [-1.509405, 0.875874, -0.242790],
            [0.166813, -1.965419, -1.270071],
        ],
        x: [[1.175171, 2.029160]],
    }
}

/// One observation of bundle adjustment: camera, point, weight, measurement.
pub struct Ba {
    pub cam: [f64; 11],
    pub x: [f64; 3],
    pub w: f64,
    pub m: [f64; 2],
}

/// ADBench's BA test instance (`data/ba/test.txt`).
pub fn ba_test() -> Ba {
    Ba {
        cam: [
            1.797201, 0.590697, -0.635786, 90.859550, 29.361415, 28.777534, 211.628116, -0.284531,
            -14.762924, 0.058931, 0.069976,
        ],
        x: [4.173048, 5.586898, 1.403869],
        w: 0.417022,
        m: [-525.672849, 161.811929],
    }
}
