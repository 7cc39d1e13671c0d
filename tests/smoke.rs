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

mod short_constant_paths {
    use gradgen::grad;
    use std::f64::consts::{self, PI};

    #[grad]
    fn circle(r: f64) -> f64 {
        PI * r * r + consts::E
    }

    #[test]
    fn imported_constants_are_the_standard_ones() {
        let (area, d_area) = circle_grad(2.0);
        assert_eq!(area, circle(2.0));
        assert!((d_area - 4.0 * PI).abs() < 1e-12);
    }
}
