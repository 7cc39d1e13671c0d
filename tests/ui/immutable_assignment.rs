use gradgen::grad;

#[grad]
fn twice(x: f64) -> f64 {
    let y = x;
    y += x;
    y
}

fn main() {}
