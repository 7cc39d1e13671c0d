use gradgen::grad;

#[grad]
fn twice(x: f64) -> f64 {
    x * 2
}

fn main() {}
