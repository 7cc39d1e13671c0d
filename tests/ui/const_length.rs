use gradgen::grad;

const M: usize = 2;
const N: usize = M + 1;

#[grad]
fn first(x: [f64; N]) -> f64 {
    x[0]
}

mod small {
    pub const K: usize = 3;
}

mod large {
    pub const K: usize = 30;
}

use small::K;

#[grad]
fn sum(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..K {
        s += x[i];
    }
    s
}

fn main() {}
