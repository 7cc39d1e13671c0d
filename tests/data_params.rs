//! Integer and boolean parameters: data, never differentiated, read in conditions at run time
//! and converted with `as f64`.

use gradgen::grad;

/// Cross-entropy of a softmax with an integer label, as classification code writes it.
#[allow(clippy::needless_range_loop)]
#[grad(wrt(z))]
fn cross_entropy(z: [f64; 3], label: usize) -> f64 {
    let mut m = z[0];
    for c in 1..3 {
        m = m.max(z[c]);
    }
    let mut sum = 0.0;
    let mut picked = 0.0;
    for c in 0..3 {
        sum += (z[c] - m).exp();
        if c == label {
            picked = z[c];
        }
    }
    m + sum.ln() - picked
}

/// The same loss, indexing the logits with the label.
#[allow(clippy::needless_range_loop)]
#[grad(wrt(z))]
fn cross_entropy_indexed(z: [f64; 3], label: usize) -> f64 {
    let mut sum = 0.0;
    for c in 0..3 {
        sum += z[c].exp();
    }
    sum.ln() - z[label]
}

#[grad]
fn gated(x: f64, on: bool, scale: i32) -> f64 {
    if on && scale > 1 {
        x * x * scale as f64
    } else {
        x
    }
}

#[test]
fn an_integer_label_selects_at_run_time() {
    let z = [0.5, -1.0, 2.0];
    for label in 0..3 {
        let (v, g) = cross_entropy_grad(z, label);
        assert_eq!(v, cross_entropy(z, label));
        let sum: f64 = z.iter().map(|v| v.exp()).sum();
        for c in 0..3 {
            let expected = z[c].exp() / sum - if c == label { 1.0 } else { 0.0 };
            assert!(
                (g[c] - expected).abs() < 1e-14,
                "label {label}, ∂/∂z{c}: {} against {expected}",
                g[c]
            );
        }
    }
    // A label out of range picks nothing, as the original function does.
    let (v, _) = cross_entropy_grad(z, 7);
    assert_eq!(v, cross_entropy(z, 7));
}

#[test]
fn an_integer_parameter_indexes_at_run_time() {
    let z = [0.5, -1.0, 2.0];
    for label in 0..3 {
        let (v, g) = cross_entropy_indexed_grad(z, label);
        assert_eq!(v, cross_entropy_indexed(z, label));
        let (_, expected) = cross_entropy_grad(z, label);
        for c in 0..3 {
            assert!(
                (g[c] - expected[c]).abs() < 1e-14,
                "label {label}: {g:?} against {expected:?}"
            );
        }
    }
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn an_index_out_of_bounds_panics_as_in_the_original() {
    let _ = cross_entropy_indexed_grad([0.5, -1.0, 2.0], 3);
}

#[test]
fn booleans_and_integers_in_conditions() {
    assert_eq!(gated_grad(3.0, true, 2), (18.0, 12.0));
    assert_eq!(gated_grad(3.0, false, 2), (3.0, 1.0));
    assert_eq!(gated_grad(3.0, true, 1), (3.0, 1.0));
    assert_eq!(gated_grad(3.0, true, -4), (3.0, 1.0));
}

#[test]
fn data_parameters_have_no_gradient() {
    let code = gradgen_core::emitted_code(
        "fn gated(x: f64, on: bool, scale: i32) -> f64 { if on && scale > 1 { x * scale as f64 } else { x } }",
    )
    .expect("emits");
    assert!(
        code.contains("-> (f64, f64)"),
        "the gradient is that of x alone:\n{code}"
    );
}

#[grad]
fn wrapping_casts(x: f64) -> f64 {
    let n: u8 = 255;
    x * (n as i8) as f64 + x * (-1i32 as u32) as f64
}

#[test]
fn integer_casts_wrap_as_rust_does() {
    let (v, d) = wrapping_casts_grad(2.0);
    assert_eq!(v, wrapping_casts(2.0));
    assert_eq!(d, -1.0 + f64::from(u32::MAX));
}
