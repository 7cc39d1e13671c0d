use gradgen::grad;

#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[test]
fn rosenbrock_gradient_at_standard_start() {
    let (v, (dx, dy)) = rosenbrock_grad(-1.2, 1.0);
    assert!((v - 24.2).abs() < 1e-12);
    assert!((dx - -215.6).abs() < 1e-10, "{dx}");
    assert!((dy - -88.0).abs() < 1e-10, "{dy}");
}
