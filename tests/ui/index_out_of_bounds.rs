use gradgen::grad;

#[grad]
fn last(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..=3 {
        s += x[i];
    }
    s
}

fn main() {}
