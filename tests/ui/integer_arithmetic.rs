use gradgen::grad;

#[grad]
fn fifth_power(x: f64) -> f64 {
    let n = 2 + 3;
    x.powi(n)
}

fn main() {}
