use gradgen::grad;

#[grad]
fn sine(x: f64) -> f64 {
    (&x).sin()
}

fn main() {}
