//! Array lengths and loop bounds written as integer constants of the file.

use gradgen::grad;

const N: usize = 4;

mod sizes {
    pub const HIDDEN: usize = 3;
}

#[allow(clippy::needless_range_loop)]
#[grad]
fn squares(x: [f64; N]) -> f64 {
    let mut s = 0.0;
    for i in 0..N {
        s += x[i] * x[i];
    }
    s
}

#[allow(clippy::needless_range_loop)]
#[grad(wrt(w))]
fn layer(w: &[[f64; N]; sizes::HIDDEN], x: &[f64; N]) -> f64 {
    let mut h = [0.0; sizes::HIDDEN];
    for j in 0..sizes::HIDDEN {
        for k in 0..N {
            h[j] += w[j][k] * x[k];
        }
    }
    h[0] * h[1] + h[2]
}

#[test]
fn constants_of_the_file_give_array_lengths_and_bounds() {
    let (v, g) = squares_grad([1.0, 2.0, 3.0, 4.0]);
    assert_eq!((v, g), (30.0, [2.0, 4.0, 6.0, 8.0]));
}

#[test]
fn constants_of_inline_modules_too() {
    let w = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 1.0],
    ];
    let x = [2.0, 3.0, 5.0, 7.0];
    let (v, g) = layer_grad(&w, &x);
    assert_eq!(v, 2.0 * 3.0 + 12.0);
    assert_eq!(g[0], [3.0 * 2.0, 3.0 * 3.0, 3.0 * 5.0, 3.0 * 7.0]);
    assert_eq!(g[1], [2.0 * 2.0, 2.0 * 3.0, 2.0 * 5.0, 2.0 * 7.0]);
    assert_eq!(g[2], x);
}
