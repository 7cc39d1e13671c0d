use gradgen::grad;

#[grad(loops = "unroll")]
fn long_sum(x: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..1000 {
        for _ in 0..1000 {
            s += x * i as f64;
        }
    }
    s
}

fn main() {}
