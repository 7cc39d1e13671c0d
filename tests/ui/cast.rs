use gradgen::grad;

#[grad]
fn truncated(x: f64) -> f64 {
    (x as i64) as f64
}

fn main() {}
