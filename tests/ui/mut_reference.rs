use gradgen::grad;

#[grad]
fn sine(x: f64) -> f64 {
    (&mut { x }).sin()
}

fn main() {}
