use gradgen::grad;

const M: usize = 2;
const N: usize = M + 1;

#[grad]
fn first(x: [f64; N]) -> f64 {
    x[0]
}

fn main() {}
