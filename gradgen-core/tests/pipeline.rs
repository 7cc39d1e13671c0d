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
    let code = emitted_code(&chain(1400)).expect("emits");
    assert!(
        code.lines().count() < 8 * 1400,
        "emitted lines grow linearly"
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
            let b = foo(x);
            x.sin_cos()
        }",
    );
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].starts_with("closures are not supported"));
    assert!(found[1].starts_with("`while` loops are not supported"));
    assert!(found[2].starts_with("calls to `foo` are not supported"));
    assert!(found[3].starts_with("the method `sin_cos` is not supported"));
}

#[test]
fn signature_and_body_problems_are_reported_together() {
    let found = messages("fn f<T>(x: f32, n: i32) -> f32 { x * 2 }");
    let has = |prefix: &str| found.iter().any(|m| m.starts_with(prefix));
    assert!(has("generic functions are not supported"), "{found:#?}");
    assert!(has("parameter type `f32` is not supported"), "{found:#?}");
    assert!(has("parameter type `i32` is not supported"), "{found:#?}");
    assert!(has("return type `f32` is not supported"), "{found:#?}");
    assert!(has("integer `2` where an `f64` is needed"), "{found:#?}");
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
