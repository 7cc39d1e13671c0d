use gradgen::grad;

#[grad(wrt(q))]
fn err(q: f64, t: f64) -> f64 {
    (q - t).powi(2)
}

#[grad]
fn cost(q: f64) -> f64 {
    err(q, 0.5) + q
}

fn main() {}
