use gradgen::grad;

#[grad(wrt(x, z))]
fn product(x: f64, y: f64) -> f64 {
    x * y
}

#[grad(respect(x))]
fn sum(x: f64, y: f64) -> f64 {
    x + y
}

fn main() {}
