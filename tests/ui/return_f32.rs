use gradgen::grad;

#[grad]
fn half(_x: f64) -> f32 {
    0.5
}

fn main() {
    // The original function is still emitted: this call compiles.
    let _: f32 = half(1.0);
}
