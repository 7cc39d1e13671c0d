use gradgen::grad;

fn helper(v: f64) -> f64 {
    v * v
}

#[grad]
fn uses_helper(x: f64) -> f64 {
    helper(x) + 1.0
}

fn main() {
    // The original function is still emitted: this call compiles.
    let _ = uses_helper(2.0);
}
