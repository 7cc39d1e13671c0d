use gradgen::grad;

#[grad]
fn powers(x: f64, n: f64) -> f64 {
    let mut s = 0.0;
    for _ in 0..n {
        s += x;
    }
    s
}

fn main() {}
