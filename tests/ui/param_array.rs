use gradgen::grad;

#[grad]
fn scaled(_v: [f64; 2], x: f64) -> f64 {
    x * 2.0
}

fn main() {}
