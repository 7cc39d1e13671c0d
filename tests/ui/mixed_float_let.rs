use gradgen::grad;

#[grad]
fn scale(x: f64) -> f64 {
    let k: f32 = 0.1;
    x * k as f64
}

fn main() {}
