use gradgen::grad;

#[grad]
fn steps(x: f64) -> f64 {
    let n = if x > 0.0 { 1 } else { 2 };
    x.powi(n)
}

fn main() {}
