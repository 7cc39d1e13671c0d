//! The pipeline as a whole: operation counts against the references of DESIGN.md, linear
//! growth, and the errors a user sees.

use gradgen_core::{emitted_code, op_counts, Error};

#[test]
fn rosenbrock_2d_gradient_needs_at_most_9_operations() {
    let source = "fn r(x: f64, y: f64) -> f64 { (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2) }";
    let counts = op_counts(source).expect("rosenbrock differentiates");
    assert_eq!(counts.function, 7);
    assert!(counts.gradient <= 9, "{counts:?}");
}

#[test]
fn exp_sin_square_gradient_needs_at_most_7_operations() {
    let counts = op_counts("fn f(x: f64) -> f64 { (x * x).sin().exp() }").expect("differentiates");
    assert_eq!(counts.function, 3);
    assert!(counts.gradient <= 7, "{counts:?}");
}

/// A chain of `n` blocks, each reading the previous block twice and both parameters.
fn chain(n: usize) -> String {
    let mut body = String::from("let a0 = x * y;\n");
    for i in 1..=n {
        let p = i - 1;
        body.push_str(&format!(
            "let a{i} = (a{p} * x).sin() + a{p} / y - (a{p} + 0.5).tanh();\n"
        ));
    }
    format!("fn big(x: f64, y: f64) -> f64 {{ {body} a{n} }}")
}

#[test]
fn differentiation_and_emission_grow_linearly() {
    // 1,400 blocks of 7 operations: a function of about 10,000 operations.
    let sizes = [350, 700, 1400];
    let counts: Vec<_> = sizes
        .iter()
        .map(|&n| op_counts(&chain(n)).expect("chain"))
        .collect();
    assert!(counts[2].function >= 9_800, "{:?}", counts[2]);
    for pair in counts.windows(2) {
        let function_growth = pair[1].function as f64 / pair[0].function as f64;
        let emitted_growth = pair[1].emitted as f64 / pair[0].emitted as f64;
        assert!((1.95..=2.05).contains(&function_growth), "{pair:?}");
        assert!((1.95..=2.05).contains(&emitted_growth), "{pair:?}");
        assert!(pair[1].ratio() <= 3.0, "{pair:?}");
    }
    let lines = |n| emitted_code(&chain(n)).expect("emits").lines().count() as f64;
    let growth = lines(1400) / lines(700);
    assert!(
        (1.9..=2.1).contains(&growth),
        "emitted lines grow by {growth}"
    );
}

fn messages(source: &str) -> Vec<String> {
    let result: Result<String, Error> = emitted_code(source);
    let err = result.expect_err("the source is outside the language");
    err.diagnostics()
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

#[test]
fn every_unsupported_construct_of_a_body_is_reported_at_once() {
    let found = messages(
        "fn f(x: f64) -> f64 {
            let a = |i: f64| i;
            while x > 0.0 {}
            let b = match x { _ => x };
            x.to_degrees()
        }",
    );
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("closures are not supported"));
    assert!(found[1].starts_with("`while` loops are not supported"));
    assert!(found[2].starts_with("`match` is not supported"));
    assert!(found[3].starts_with("the method `to_degrees` is not supported"));
}

#[test]
fn signature_and_body_problems_are_reported_together() {
    let found = messages("fn f<T>(x: f32, n: String) -> f64 { x * 2 }");
    let has = |prefix: &str| found.iter().any(|m| m.starts_with(prefix));
    assert!(has("generic functions are not supported"), "{found:#?}");
    assert!(
        has("this parameter is of `f32` but the function returns `f64`"),
        "{found:#?}"
    );
    assert!(
        has("parameter type `String` is not supported"),
        "{found:#?}"
    );
    assert_eq!(found.len(), 3, "no second message about `x`: {found:#?}");
}

#[test]
fn integers_where_floats_are_needed_say_how_to_convert() {
    // Invalid Rust, which rustc reports too; the macro's message says what to write.
    let found = messages("fn f(x: f64, n: usize) -> f64 { x / n + x.powi(n as i32) }");
    assert!(found[0].contains("`n as f64`"), "{found:#?}");
    let found = messages("fn f(x: f64, k: i32) -> f64 { x.powi(k) }");
    assert!(found[0].contains("`x.powf(n as f64)`"), "{found:#?}");
    let found = messages("fn f(x: f64) -> f64 { x * (3 / 2) }");
    assert!(found[0].contains("`3 / 2` is `1`"), "{found:#?}");
}

#[test]
fn a_function_calling_itself_is_refused_and_a_namesake_elsewhere_is_not() {
    let found = messages("fn r(x: f64) -> f64 { if x > 1.0 { r(x - 1.0) } else { x * x } }");
    assert!(found[0].contains("cannot call itself"), "{found:#?}");
    let found = messages("fn r(x: f64) -> f64 { Self::r(x) }");
    assert!(found[0].contains("cannot call itself"), "{found:#?}");
    assert!(emitted_code("fn r(x: f64) -> f64 { inner::r(x) }").is_ok());
}

#[test]
fn an_attribute_argument_given_twice_is_an_error() {
    let found = messages("#[grad(loops = \"keep\", loops = \"unroll\")] fn f(x: f64) -> f64 { x }");
    assert!(found[0].contains("`loops` is given twice"), "{found:#?}");
    let found = messages("#[grad(wrt(x), wrt(y))] fn f(x: f64, y: f64) -> f64 { x * y }");
    assert!(found[0].contains("`wrt` is given twice"), "{found:#?}");
}

#[test]
fn an_array_parameter_over_the_limit_is_named_as_too_large() {
    let found = messages("fn f(x: &[f64; 10000000]) -> f64 { x[0] }");
    assert!(found[0].contains("10000000 elements"), "{found:#?}");
    assert!(found[0].contains("MAX_ARRAY_LEN"), "{found:#?}");
}

#[test]
fn errors_point_at_the_offending_tokens() {
    let source = "fn f(x: f64) -> f64 {\n    let y = x.exp();\n    y.to_degrees()\n}";
    let err = emitted_code(source).expect_err("to_degrees is not supported");
    let span = err.diagnostics()[0].span;
    assert_eq!((span.start().line, span.start().column), (3, 6));
}

#[test]
fn messages_are_lowercase_without_trailing_period() {
    let found = messages("fn f(x: f64) -> f64 { match x { _ => x } }");
    for m in found {
        assert!(m.chars().next().is_some_and(|c| !c.is_uppercase()), "{m}");
        assert!(!m.ends_with('.'), "{m}");
    }
}

fn extended_rosenbrock(n: usize) -> String {
    format!(
        "fn f(x: [f64; {n}]) -> f64 {{
            let mut s = 0.0;
            for i in 0..{half} {{
                s += 100.0 * (x[2 * i + 1] - x[2 * i] * x[2 * i]).powi(2) + (1.0 - x[2 * i]).powi(2);
            }}
            s
        }}",
        half = n / 2
    )
}

fn chained_rosenbrock(n: usize) -> String {
    format!(
        "fn f(x: [f64; {n}]) -> f64 {{
            let mut s = 0.0;
            for i in 0..{m} {{
                s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            }}
            s
        }}",
        m = n - 1
    )
}

#[test]
fn extended_rosenbrock_gradient_within_the_casadi_counts() {
    for (n, reference) in [(10, 45), (100, 450)] {
        let counts = op_counts(&extended_rosenbrock(n)).expect("differentiates");
        assert!(counts.gradient <= reference, "n = {n}: {counts:?}");
    }
}

#[test]
fn chained_rosenbrock_gradient_within_the_casadi_counts() {
    for (n, reference) in [(10, 81), (100, 891)] {
        let counts = op_counts(&chained_rosenbrock(n)).expect("differentiates");
        assert!(counts.gradient <= reference, "n = {n}: {counts:?}");
    }
}

const MLP_LAYERS: &str = "
    let mut h = [0.0; 8];
    for j in 0..8 {
        let mut s = b1[j];
        for k in 0..4 {
            s += w1[j][k] * x[k];
        }
        h[j] = s.tanh();
    }
    let mut z = [0.0; 3];
    for i in 0..3 {
        let mut s = b2[i];
        for j in 0..8 {
            s += w2[i][j] * h[j];
        }
        z[i] = s;
    }";

fn mlp(loss: &str) -> String {
    format!(
        "#[grad(wrt(w1, b1, w2, b2))]
        fn loss(w1: [[f64; 4]; 8], b1: [f64; 8], w2: [[f64; 8]; 3], b2: [f64; 3],
                x: [f64; 4], y: [f64; 3]) -> f64 {{ {MLP_LAYERS} {loss} }}"
    )
}

#[test]
fn mlp_with_log_sum_exp_loss_within_the_casadi_count() {
    let loss = "let mut sum = 0.0;
        let mut dot = 0.0;
        for i in 0..3 {
            sum += z[i].exp();
            dot += y[i] * z[i];
        }
        sum.ln() - dot";
    let counts = op_counts(&mlp(loss)).expect("differentiates");
    assert_eq!(counts.function, 132, "the primal of the reference");
    assert!(counts.gradient <= 251, "{counts:?}");
}

#[test]
fn mlp_with_naive_softmax_within_the_casadi_count() {
    let loss = "let mut e = [0.0; 3];
        let mut sum = 0.0;
        for i in 0..3 {
            e[i] = z[i].exp();
            sum += e[i];
        }
        let mut l = 0.0;
        for i in 0..3 {
            l -= y[i] * (e[i] / sum).ln();
        }
        l";
    let counts = op_counts(&mlp(loss)).expect("differentiates");
    assert_eq!(counts.function, 137, "the primal of the reference");
    assert!(counts.gradient <= 268, "{counts:?}");
}

#[test]
fn the_exponentials_of_a_log_sum_exp_need_no_overflow_guard() {
    // `a - max(a, b) <= 0`: its exponential is at most 1, so its adjoint is a plain product.
    let shifted = "fn f(a: f64, b: f64) -> f64 {
        let m = a.max(b);
        ((a - m).exp() + (b - m).exp()).ln() + m
    }";
    let code = emitted_code(shifted).expect("differentiates");
    assert!(!code.contains("== 0.0"), "{code}");
    // Summed under a `ln`, an exponential that overflows makes the value infinite: no guard.
    let unshifted = "fn f(a: f64, b: f64) -> f64 { (a.exp() + b.exp()).ln() }";
    let code = emitted_code(unshifted).expect("differentiates");
    assert!(!code.contains("== 0.0"), "{code}");
    // In a sigmoid, the exponential can overflow where its adjoint underflows and the value
    // is finite (0): the guard stays.
    let sigmoid = "fn f(a: f64, b: f64) -> f64 { 1.0 / (1.0 + (a - b).exp()) }";
    let code = emitted_code(sigmoid).expect("differentiates");
    assert!(code.contains("== 0.0"), "{code}");
}

#[test]
fn the_shift_of_a_log_sum_exp_gets_no_adjoint() {
    // `m + ln Σ exp(x − m)` does not depend on `m`: the running maximum that computed it is
    // not differentiated, and each `x[i]` gets its softmax, `exp(x[i] − m) / s`, alone.
    let lse = "fn f(x: [f64; 100]) -> f64 {
        let mut m = x[0];
        for i in 1..100 {
            m = m.max(x[i]);
        }
        let mut s = 0.0;
        for i in 0..100 {
            s += (x[i] - m).exp();
        }
        m + s.ln()
    }";
    let code = emitted_code(&format!("#[grad(loops = \"unroll\")] {lse}")).expect("differentiates");
    assert!(
        !code.contains("0.5_f64"),
        "no tie shares of the maximum's adjoint:\n{code}"
    );
    let counts = op_counts(lse).expect("differentiates");
    assert_eq!(
        counts.function, 400,
        "99 max, 100 sub, 100 exp, 99 add, ln, add"
    );
    assert!(
        counts.gradient <= 500,
        "the function and 100 quotients: {counts:?}"
    );
}
