use gradgen::grad;

#[grad]
fn compare(x: f64, y: f64) -> f64 {
    let _bigger = x > y;
    x + y
}

fn main() {}
