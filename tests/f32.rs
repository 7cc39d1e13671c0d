//! Functions entirely in `f32`: the emitted code computes in `f32` (literals, constants and
//! calls), and its gradient agrees with the same function in `f64` to `f32` precision.

use gradgen::grad;

#[grad]
fn rosenbrock32(x: f32, y: f32) -> f32 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[grad]
fn rosenbrock64(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

#[allow(clippy::needless_range_loop)]
#[grad(wrt(w))]
fn neuron32(w: [f32; 3], x: &[f32; 3]) -> f32 {
    let mut s = 0.0f32;
    for i in 0..3 {
        s += w[i] * x[i];
    }
    let t = (s * std::f32::consts::FRAC_1_SQRT_2).tanh() + f32::EPSILON;
    if t > 0.0 {
        t.sqrt()
    } else {
        f32::exp(t)
    }
}

#[allow(clippy::needless_range_loop)]
#[grad(wrt(w))]
fn neuron64(w: [f64; 3], x: &[f64; 3]) -> f64 {
    let mut s = 0.0f64;
    for i in 0..3 {
        s += w[i] * x[i];
    }
    let t = (s * std::f64::consts::FRAC_1_SQRT_2).tanh() + 1.1920929e-7;
    if t > 0.0 {
        t.sqrt()
    } else {
        f64::exp(t)
    }
}

fn close(a: f32, b: f64) -> bool {
    (f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1.0)
}

#[test]
fn f32_rosenbrock_agrees_with_f64() {
    for (x, y) in [(-1.2f32, 1.0f32), (0.5, -0.25), (1.3, 1.7), (2.0, 4.0)] {
        let (v, (dx, dy)) = rosenbrock32_grad(x, y);
        assert_eq!(v, rosenbrock32(x, y));
        let (v64, (dx64, dy64)) = rosenbrock64_grad(f64::from(x), f64::from(y));
        assert!(
            close(v, v64) && close(dx, dx64) && close(dy, dy64),
            "{x} {y}"
        );
    }
}

#[test]
fn f32_branches_loops_and_constants_agree_with_f64() {
    let x = [0.3f32, -1.1, 2.0];
    for w in [[0.5f32, 0.25, -0.75], [-1.0, 0.5, -0.2], [0.0, 0.0, 0.0]] {
        let (v, g) = neuron32_grad(w, &x);
        assert_eq!(v, neuron32(w, &x));
        let (v64, g64) = neuron64_grad(w.map(f64::from), &x.map(f64::from));
        assert!(close(v, v64), "{w:?}: {v} against {v64}");
        for k in 0..3 {
            assert!(
                close(g[k], g64[k]),
                "{w:?}: ∂/∂w{k} {} against {}",
                g[k],
                g64[k]
            );
        }
    }
}

#[test]
fn the_emitted_code_is_f32_throughout() {
    let code = gradgen_core::emitted_code(
        "fn f(x: f32) -> f32 { std::f32::consts::PI * x.sin() + 0.1 * x }",
    )
    .expect("emits");
    assert!(!code.contains("f64"), "{code}");
    assert!(
        code.contains("core::f32::consts::PI") && code.contains("0.1_f32"),
        "{code}"
    );
}
