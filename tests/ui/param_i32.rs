use gradgen::grad;

#[grad]
fn scaled(_n: i32, x: f64) -> f64 {
    x * 2.0
}

fn main() {}
