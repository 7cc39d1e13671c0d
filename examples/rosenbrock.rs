//! Minimises the Rosenbrock function from the standard start (-1.2, 1) by gradient descent
//! with a backtracking line search, using the gradient that `#[grad]` emits.
//!
//! Run with `cargo run --release --example rosenbrock`.

use gradgen::grad;

#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

/// The largest step along `-g` that decreases `f` enough (Armijo's condition), halving from 1.
fn step_length(x: f64, y: f64, value: f64, (dx, dy): (f64, f64)) -> f64 {
    let slope = dx * dx + dy * dy;
    let mut t = 1.0;
    while rosenbrock(x - t * dx, y - t * dy) > value - 1e-4 * t * slope && t > 1e-12 {
        t *= 0.5;
    }
    t
}

fn main() {
    let (mut x, mut y) = (-1.2, 1.0);
    for iteration in 0..=20_000 {
        let (value, gradient) = rosenbrock_grad(x, y);
        let norm = gradient.0.hypot(gradient.1);
        if iteration % 2_000 == 0 || norm < 1e-8 {
            println!("iteration {iteration:>6}: f = {value:.3e}, |grad f| = {norm:.3e}, at ({x:.6}, {y:.6})");
        }
        if norm < 1e-8 {
            break;
        }
        let t = step_length(x, y, value, gradient);
        (x, y) = (x - t * gradient.0, y - t * gradient.1);
    }
    println!("minimum found at ({x:.8}, {y:.8}); the true minimum is (1, 1)");
}
