use gradgen::grad;

// A condition on the loop variable is settled at compile time, so such a loop is unrolled;
// asking to keep it is an error that says why.
#[grad(loops = "keep")]
fn conditional(x: [f64; 100]) -> f64 {
    let mut s = 0.0;
    for i in 0..100 {
        if i > 10 {
            s += x[i];
        }
    }
    s
}

// An integer counter carried from one iteration to the next cannot be kept either.
#[grad(loops = "keep")]
fn counter(x: [f64; 100]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    for i in 0..50 {
        s += x[k] * x[i];
        k += 2;
    }
    s
}

#[grad(loops = "sometimes")]
fn bad_mode(x: f64) -> f64 {
    x
}

fn main() {}
