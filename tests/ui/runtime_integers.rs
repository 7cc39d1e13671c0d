use gradgen::grad;

#[grad(wrt(x))]
fn pick(x: [f64; 3], n: usize, k: i32) -> f64 {
    let m = n + 1;
    let mut y = x;
    y[n] = 0.0;
    y[0] * x.len() as f64 + x[0].powi(k)
}

fn main() {}
