//! Array lengths and loop bounds written as integer constants of the file, or of another file
//! of the crate.

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

#[path = "consts_module/sizes.rs"]
mod sizes_file;

/// `INPUTS` is defined in another file, which `#[grad]` reads for it.
#[allow(clippy::needless_range_loop)]
#[grad]
fn total(x: [f64; sizes_file::INPUTS]) -> f64 {
    let mut s = 0.0;
    for i in 0..sizes_file::INPUTS {
        s += (i as f64 + 1.0) * x[i];
    }
    s
}

#[test]
fn constants_of_another_file_of_the_crate_too() {
    let (v, g) = total_grad([1.0; 5]);
    assert_eq!((v, g), (15.0, [1.0, 2.0, 3.0, 4.0, 5.0]));
}
