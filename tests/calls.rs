//! Calls between functions with gradients: the chain rule goes through the callee's own
//! `_grad`, which `#[grad]` made or the user wrote by hand.

use gradgen::grad;

#[grad]
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[grad]
fn norm(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

#[grad]
fn uses_both(a: f64, b: f64) -> f64 {
    let r = norm(a, b);
    softplus(r - 1.0) + softplus(a * b) * r
}

/// A derivative written by hand, for a function `#[grad]` does not see: `erf` by its series is
/// not in the language, but its derivative is known in closed form.
fn erf_approx(x: f64) -> f64 {
    // Abramowitz and Stegun 7.1.26, enough for a test.
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

fn erf_approx_grad(x: f64) -> (f64, f64) {
    (
        erf_approx(x),
        2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
    )
}

#[grad]
fn gaussian_cdf(x: f64, mu: f64, sigma: f64) -> f64 {
    0.5 * (1.0 + erf_approx((x - mu) / (sigma * std::f64::consts::SQRT_2)))
}

fn central(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

#[test]
fn a_call_uses_the_callees_gradient() {
    for (a, b) in [(0.3, -1.2), (2.0, 0.5), (-1.5, -0.25), (4.0, 3.0)] {
        let (v, (da, db)) = uses_both_grad(a, b);
        assert_eq!(v, uses_both(a, b));
        let fa = central(|a| uses_both(a, b), a);
        let fb = central(|b| uses_both(a, b), b);
        assert!(
            (da - fa).abs() <= 1e-7 * fa.abs().max(1.0),
            "∂/∂a at ({a}, {b}): {da} against {fa}"
        );
        assert!(
            (db - fb).abs() <= 1e-7 * fb.abs().max(1.0),
            "∂/∂b at ({a}, {b}): {db} against {fb}"
        );
    }
}

#[test]
fn a_hand_written_gradient_is_used_for_its_function() {
    let (v, (dx, dmu, dsigma)) = gaussian_cdf_grad(0.7, 0.2, 1.5);
    assert_eq!(v, gaussian_cdf(0.7, 0.2, 1.5));
    let z: f64 = (0.7 - 0.2) / 1.5;
    let density = (-z * z / 2.0).exp() / (1.5 * (2.0 * std::f64::consts::PI).sqrt());
    assert!((dx - density).abs() < 1e-12, "{dx} against {density}");
    assert!((dmu + density).abs() < 1e-12, "{dmu}");
    assert!((dsigma + density * z).abs() < 1e-12, "{dsigma}");
}

#[test]
fn each_callee_is_called_once_per_distinct_argument() {
    let code = gradgen_core::emitted_code(
        "fn f(a: f64, b: f64) -> f64 { let r = norm(a, b); softplus(r) + softplus(r) * norm(a, b) }",
    )
    .expect("emits");
    assert_eq!(code.matches("norm_grad(").count(), 1, "{code}");
    assert_eq!(code.matches("softplus_grad(").count(), 1, "{code}");
}

/// Functions with gradients in a module and in an `impl`, called by path.
mod shapes {
    use gradgen::grad;

    #[grad]
    pub fn area(r: f64) -> f64 {
        std::f64::consts::PI * r * r
    }

    pub struct Ring;

    impl Ring {
        #[grad]
        pub fn circumference(r: f64) -> f64 {
            2.0 * std::f64::consts::PI * r
        }

        /// `Self::` reaches `circumference_grad`, emitted in this `impl` beside its function.
        #[grad]
        pub fn both(r: f64) -> f64 {
            area(r) + Self::circumference(r)
        }
    }
}

#[grad]
fn through_paths(r: f64) -> f64 {
    shapes::area(r) * crate::shapes::Ring::both(r)
}

/// Raw identifiers name parameters and callees as plain ones do.
#[grad]
fn raw_names(r#type: f64, r#match: f64) -> f64 {
    r#type * r#match + r#norm(r#type, 1.0)
}

#[test]
fn a_call_by_path_uses_the_gradient_at_that_path() {
    use std::f64::consts::PI;
    for r in [-2.0, -0.5, 0.0, 0.75, 3.0] {
        let (v, d) = through_paths_grad(r);
        let (a, ring) = (PI * r * r, PI * r * r + 2.0 * PI * r);
        assert_eq!(v, through_paths(r));
        assert!(
            (v - a * ring).abs() <= 1e-12 * v.abs().max(1.0),
            "{v} at {r}"
        );
        let exact = 2.0 * PI * r * ring + a * (2.0 * PI * r + 2.0 * PI);
        assert!(
            (d - exact).abs() <= 1e-12 * exact.abs().max(1.0),
            "{d} against {exact} at {r}"
        );
    }
}

#[test]
fn raw_identifiers_are_the_names_they_spell() {
    let (t, m) = (1.5, -0.5);
    let (v, (dt, dm)) = raw_names_grad(t, m);
    assert_eq!(v, raw_names(t, m));
    let dnorm = t / (t * t + 1.0).sqrt();
    assert!((dt - (m + dnorm)).abs() < 1e-14, "{dt}");
    assert_eq!(dm, t);
}

/// A square root that refuses a negative argument, as code with its own checks does.
fn checked_sqrt(x: f64) -> f64 {
    assert!(x >= 0.0, "negative argument");
    x.sqrt()
}

fn checked_sqrt_grad(x: f64) -> (f64, f64) {
    assert!(x >= 0.0, "negative argument");
    (x.sqrt(), 0.5 / x.sqrt())
}

#[grad]
fn guarded(x: f64, y: f64) -> f64 {
    if x > y {
        checked_sqrt(x - y) * y
    } else {
        (y - x).tanh()
    }
}

#[test]
fn a_call_in_an_arm_runs_only_when_its_arm_is_taken() {
    // At x < y the call's argument is negative: the gradient must not call it.
    // At the tie the arm taken (`else`) gives the derivative.
    assert_eq!(guarded_grad(0.5, 0.5), (0.0, (-1.0, 1.0)));
    for (x, y) in [(-1.0, 2.0), (0.5, 0.75), (3.0, 1.0), (1.0, 1.5)] {
        let (v, (dx, dy)) = guarded_grad(x, y);
        assert_eq!(v, guarded(x, y));
        let fx = central(|x| guarded(x, y), x);
        let fy = central(|y| guarded(x, y), y);
        assert!(
            (dx - fx).abs() <= 1e-6 * fx.abs().max(1.0),
            "∂/∂x at ({x}, {y}): {dx} against {fx}"
        );
        assert!(
            (dy - fy).abs() <= 1e-6 * fy.abs().max(1.0),
            "∂/∂y at ({x}, {y}): {dy} against {fy}"
        );
    }
    let code = gradgen_core::emitted_code(
        "fn guarded(x: f64, y: f64) -> f64 {
            if x > y { checked_sqrt(x - y) * y } else { (y - x).tanh() }
        }",
    )
    .expect("emits");
    let call = code.find("checked_sqrt_grad(").expect("called");
    let branch = code.find("if ").expect("a branch");
    assert!(branch < call, "the call is inside the arm:\n{code}");
}
