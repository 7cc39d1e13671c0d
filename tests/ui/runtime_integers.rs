use gradgen::grad;

#[grad(wrt(x))]
fn pick(x: [f64; 3], n: usize, k: i32) -> f64 {
    let m = n + 1;
    x[n] * x.len() as f64 + x[0].powi(k)
}

fn main() {}
