use gradgen::grad;

#[grad]
fn degrees(x: f64) -> f64 {
    x.to_degrees() * 2.0
}

fn main() {}
