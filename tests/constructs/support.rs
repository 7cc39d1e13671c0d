//! What the construct tests share beyond `common::numeric`: points of many coordinates from a
//! fixed seed, and the reshaping between a flat point (what a `Rule` checks) and the array
//! parameters of a function.

use crate::common::numeric::Dual64;

/// Coordinate scales of the points of a function defined everywhere: tiny, moderate and large.
pub const SCALES: &[f64] = &[1e-100, 1e-8, 0.3, 1.0, 2.5, 1e3];

/// Scales for functions that overflow or lose all precision beyond a few tens (`exp`, long
/// products).
pub const MODERATE: &[f64] = &[1e-100, 1e-8, 0.1, 0.5, 1.0, 2.0];

/// `per_scale` points of `N` coordinates for each scale, each coordinate uniform in
/// `[-scale, scale)` (both signs), after the origin; the same points on every run.
pub fn spread<const N: usize>(seed: u64, scales: &[f64], per_scale: usize) -> Vec<[f64; N]> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut points = vec![[0.0; N]];
    for &scale in scales {
        for _ in 0..per_scale {
            points.push(std::array::from_fn(|_| scale * (2.0 * rng.f64() - 1.0)));
        }
    }
    points
}

/// `M` rows of `K` from the first `M·K` items of `flat`, row after row.
pub fn rows<T: Copy, const M: usize, const K: usize>(flat: &[T]) -> [[T; K]; M] {
    std::array::from_fn(|r| std::array::from_fn(|c| flat[r * K + c]))
}

/// The first `N` items of `flat`.
pub fn head<T: Copy, const N: usize>(flat: &[T]) -> [T; N] {
    std::array::from_fn(|i| flat[i])
}

/// The parts one after the other as one array: a gradient of several parameters, flat in
/// parameter order.
pub fn joined<const N: usize>(parts: &[&[f64]]) -> [f64; N] {
    let all = parts.concat();
    let len = all.len();
    all.try_into()
        .unwrap_or_else(|_| panic!("{len} partials, not {N}"))
}

/// Data as constant duals (derivative zero), to pass to a reference with the parameters.
pub fn constant<const N: usize>(x: &[f64; N]) -> [Dual64; N] {
    x.map(Dual64::from)
}

/// Whether `x` is within `rel·max(|x|, 1)` of `at`: a central difference there could step
/// across a kink at `at`.
pub fn near(x: f64, at: f64, rel: f64) -> bool {
    (x - at).abs() <= rel * x.abs().max(1.0)
}
