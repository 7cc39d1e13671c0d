use gradgen::grad;

#[grad]
fn halve_until_small(x: f64) -> f64 {
    while x > 10.0 {
        return x / 2.0;
    }
    x
}

fn main() {}
