use gradgen::grad;

#[grad]
fn generic<T>(x: f64) -> f64 {
    x * 2.0
}

fn main() {
    // The original function is still emitted: this call compiles.
    let _ = generic::<u8>(1.0);
}
