use gradgen::grad;

#[grad]
fn doubled(x: f64) -> f64 {
    let mut y = x * 2.0;
    y
}

fn main() {}
