use gradgen::grad;

#[grad]
fn messy(x: f64, y: f64) -> f64 {
    println!("x = {x}");
    x.to_degrees() + match y { _ => y }
}

fn main() {
    // The original function is still emitted: this call compiles.
    let _ = messy(1.0, 2.0);
}
