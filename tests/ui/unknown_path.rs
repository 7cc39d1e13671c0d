use gradgen::grad;

const SCALE: f64 = 2.0;

#[grad]
fn scaled(x: f64) -> f64 {
    x * SCALE
}

fn main() {}
