use gradgen::grad;

#[grad]
fn square_plus_one(x: f64) -> f64 {
    let square = |v: f64| v * v;
    square(x) + 1.0
}

fn main() {}
