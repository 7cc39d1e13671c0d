use gradgen::grad;

#[grad]
fn scaled(_s: f32, x: f64) -> f64 {
    x * 2.0
}

fn main() {
    // The original function is still emitted: this call compiles.
    let _ = scaled(1.0, 2.0);
}
