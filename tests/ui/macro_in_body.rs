use gradgen::grad;

#[grad]
fn traced(x: f64) -> f64 {
    println!("x = {x}");
    x * x
}

fn main() {}
