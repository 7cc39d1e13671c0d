//! Loops kept as loops: the emitted gradient's code does not depend on the trip count, the
//! automatic choice between keeping and unrolling, and what each choice emits.

use gradgen_core::{emitted_code, ir_dump, op_counts};

/// Extended Rosenbrock over `n` values, with the given attribute arguments.
fn extended_rosenbrock(n: usize, attr: &str) -> String {
    format!(
        "#[grad({attr})]
        fn f(x: [f64; {n}]) -> f64 {{
            let mut s = 0.0;
            for i in 0..{half} {{
                let a = x[2 * i + 1] - x[2 * i] * x[2 * i];
                let b = 1.0 - x[2 * i];
                s += 100.0 * a * a + b * b;
            }}
            s
        }}",
        half = n / 2
    )
}

/// A tanh recurrence over `n` steps: its gradient needs the history of `h`.
fn recurrence(n: usize) -> String {
    format!(
        "#[grad(wrt(w, h0))]
        fn f(w: &[f64; {n}], h0: f64, x: &[f64; {n}]) -> f64 {{
            let mut h = h0;
            for i in 0..{n} {{
                h = (h * w[i] + x[i]).tanh();
            }}
            h * h
        }}"
    )
}

/// The code with every run of digits replaced by `#`, without whitespace and commas: what is left
/// depends on no number in the source, nor on where a longer number makes the formatter break
/// a line.
fn shape(code: &str) -> String {
    let mut out = String::new();
    let mut in_digits = false;
    for c in code.chars().filter(|c| !c.is_whitespace() && *c != ',') {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

fn code(source: &str) -> String {
    emitted_code(source).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

#[test]
fn the_emitted_gradient_is_the_same_code_at_any_trip_count() {
    let thousand = code(&extended_rosenbrock(1_000, ""));
    let hundred_thousand = code(&extended_rosenbrock(100_000, ""));
    assert!(thousand.contains("for i in 0..500"), "{thousand}");
    assert_eq!(shape(&thousand), shape(&hundred_thousand));
    // Kept on request at n = 10, where `auto` unrolls: the same code again.
    let ten = code(&extended_rosenbrock(10, "loops = \"keep\""));
    assert_eq!(shape(&ten), shape(&thousand));
    let unrolled = code(&extended_rosenbrock(10, ""));
    assert!(
        !unrolled.contains("for "),
        "auto unrolls 5 iterations:\n{unrolled}"
    );
    let long = code(&recurrence(1_000));
    let longer = code(&recurrence(200_000));
    assert_eq!(shape(&long), shape(&longer));
}

#[test]
fn operation_counts_of_a_kept_loop_do_not_grow_with_the_trip_count() {
    let counts = |n| op_counts(&extended_rosenbrock(n, "")).expect("differentiates");
    let (a, b) = (counts(1_000), counts(100_000));
    assert_eq!(a, b);
    // One iteration: 9 operations of the function, 13 in all for the fused loop.
    assert!(a.function <= 10 && a.emitted <= 16, "{a:?}");
}

#[test]
fn a_reduction_with_a_constant_adjoint_is_fused_into_one_loop_without_a_tape() {
    let emitted = code(&extended_rosenbrock(1_000, ""));
    assert_eq!(emitted.matches("for ").count(), 1, "{emitted}");
    assert!(!emitted.contains("tape"), "{emitted}");
    assert!(ir_dump(&extended_rosenbrock(1_000, ""))
        .expect("dumps")
        .contains("fused"));
}

#[test]
fn a_recurrence_pushes_what_its_reverse_needs_and_pops_it_in_reverse() {
    let emitted = code(&recurrence(1_000));
    assert_eq!(emitted.matches("for ").count(), 2, "{emitted}");
    assert!(emitted.contains("for i in 0..1000"), "{emitted}");
    assert!(emitted.contains("(0..1000).rev()"), "{emitted}");
    let pushes = emitted.matches(".push(").count();
    let pops = emitted.matches(".pop()").count();
    assert_eq!(pushes, pops, "{emitted}");
    // The value before the step, one per iteration: the value after it is the next
    // iteration's value before, which the reversed loop carries back from the result.
    assert_eq!(pushes, 1, "{emitted}");
    assert!(emitted.contains("tape.reserve(1000)"), "{emitted}");
}

#[test]
fn a_value_carried_to_the_next_iteration_is_taped_once() {
    // Two carried values, one read by the other's step, and a reversed loop: the end value
    // of each iteration is the start value of the one after it, in the loop's own order
    // (`tests/loops.rs` checks the gradient of this function against num-dual).
    let body = "fn f(w: &[f64; 40], x: &[f64; 40]) -> f64 {
        let mut h = 0.5;
        let mut c = -0.25;
        for i in (0..40).rev() {
            let g = (h * w[i] + x[i]).tanh();
            c = c * g.sin() + g * x[i];
            h = g * c.cos();
        }
        h * h + c
    }";
    let kept = code(&format!("#[grad(loops = \"keep\")] {body}"));
    // The start values of `c` and `h`, `g`, `g.sin()` and `c.cos()` after the step; not `c`
    // after the step, which the reversed loop carries back from the result.
    assert_eq!(kept.matches(".push(").count(), 5, "{kept}");
    assert!(!kept.contains("tape.push(c_2)"), "{kept}");
    assert!(kept.contains("let mut c_end = c;"), "{kept}");
    assert!(kept.contains("c_end = c_start;"), "{kept}");
}

#[test]
fn auto_unrolls_short_or_small_loops_and_keeps_long_ones() {
    let loop_count = |body: &str, n: usize| {
        let source = format!(
            "fn f(x: [f64; {n}]) -> f64 {{ let mut s = 0.0; for i in 0..{n} {{ {body} }} s }}"
        );
        code(&source).matches("for ").count()
    };
    // Fewer than 16 iterations: unrolled, however large the body.
    assert_eq!(
        loop_count("s += x[i].sin() * x[i].cos() * x[i].exp();", 15),
        0
    );
    // 100 iterations of a 2-operation body: 200 operations unrolled are cheap.
    assert_eq!(loop_count("s += x[i] * x[i];", 100), 0);
    // 10,000 iterations: kept.
    assert_eq!(loop_count("s += x[i] * x[i];", 10_000), 1);
}

#[test]
fn auto_weighs_a_body_by_its_inner_loops_unrolled() {
    // The inner loop alone (1,000 iterations of 2 operations) is kept; the outer loop's body
    // is then a handful of nodes, but unrolling it would copy the inner loop 100 times.
    let nest = "fn f(w: &[f64; 1000], x: &[f64; 100]) -> f64 {
        let mut s = 0.0;
        for i in 0..100 {
            for j in 0..1000 {
                s += w[j] * x[i];
            }
        }
        s
    }";
    let emitted = code(nest);
    assert_eq!(emitted.matches("for i in 0..100").count(), 1, "{emitted}");
    assert_eq!(emitted.matches("for ").count(), 4, "{emitted}");
    // GMM's triangular shape: the inner bounds depend on the outer variable, so the inner loop
    // is kept, and the outer one, 120 × 120 / 2 products, must be too.
    let triangle = "fn f(l: &[[f64; 120]; 120], x: &[f64; 120]) -> f64 {
        let mut s = 0.0;
        for c in 0..120 {
            for r in c + 1..120 {
                s += l[r][c] * x[c] * x[r];
            }
        }
        s
    }";
    let emitted = code(triangle);
    assert!(emitted.matches("for ").count() <= 4, "{emitted}");
    assert!(emitted.len() < 20_000, "{} bytes", emitted.len());
}

#[test]
fn a_mut_array_parameter_is_copied_and_its_gradient_returned_whole() {
    let scan = |n: usize| {
        format!(
            "#[grad(loops = \"keep\")]
            fn f(mut v: [f64; {n}], w: &[f64; {n}]) -> f64 {{
                for i in 1..{n} {{ v[i] = v[i] + (v[i - 1] * w[i]).sin(); }}
                let mut s = 0.0;
                for i in 0..{n} {{ s += v[i] * v[i]; }}
                s
            }}"
        )
    };
    let emitted = code(&scan(3_000));
    assert!(emitted.contains("let mut v_2 = v;"), "{emitted}");
    assert!(!emitted.contains("v[2999]"), "no element by element copy");
    assert!(
        !emitted.contains("d_v[2999]"),
        "no element by element gradient"
    );
    let small = code(&scan(300));
    assert!(shape(&emitted) == shape(&small), "{emitted}\n{small}");
}

#[test]
fn a_loop_that_alone_writes_each_gradient_element_once_assigns_it() {
    let keep = |body: &str| code(&format!("#[grad(loops = \"keep\")] {body}"));
    // Extended Rosenbrock: `2i` and `2i + 1`, distinct in every iteration.
    let emitted = code(&extended_rosenbrock(1_000, ""));
    assert!(emitted.contains("d_x[2 * i] = "), "{emitted}");
    assert!(emitted.contains("d_x[2 * i + 1] = "), "{emitted}");
    // Chained: `i + 1` of one iteration is `i` of the next.
    let chained = keep(
        "fn f(x: &[f64; 100]) -> f64 {
            let mut s = 0.0;
            for i in 0..99 { s += (x[i + 1] - x[i] * x[i]).powi(2); }
            s
        }",
    );
    assert!(chained.contains("d_x[i] += "), "{chained}");
    // The same elements read outside the loop too.
    let outside = keep(
        "fn f(x: &[f64; 100]) -> f64 {
            let mut s = x[3] * x[3];
            for i in 0..100 { s += x[i].sin(); }
            s
        }",
    );
    assert!(outside.contains("d_x[i] += "), "{outside}");
    // Two loops over the same array.
    let two = keep(
        "fn f(x: &[f64; 100]) -> f64 {
            let mut s = 0.0;
            for i in 0..100 { s += x[i].sin(); }
            for i in 0..100 { s += x[i].cos(); }
            s
        }",
    );
    assert!(
        !two.contains("d_x[i] = ") && !two.contains("d_x[i_2] = "),
        "{two}"
    );
}

#[test]
fn a_loop_reading_an_integer_parameter_is_kept() {
    let emitted = code(
        "#[grad(wrt(x))]
        fn h(x: &[f64; 5000], n: usize) -> f64 {
            let mut s = 0.0;
            for i in 0..5000 { s += x[i].sin() * n as f64; }
            s
        }",
    );
    assert_eq!(emitted.matches("for ").count(), 1, "{emitted}");
}

#[test]
fn an_empty_range_is_no_loop_even_when_keeping_is_asked() {
    let emitted = code(
        "#[grad(loops = \"keep\")]
        fn f(x: [f64; 3], h0: f64) -> f64 {
            let mut h = h0;
            for i in 0..0 { h = (h * x[i]).sin(); }
            h * x[0]
        }",
    );
    assert!(!emitted.contains("for "), "{emitted}");
}

#[test]
fn unroll_on_request_keeps_no_loop() {
    let source = extended_rosenbrock(1_000, "loops = \"unroll\"");
    assert!(!code(&source).contains("for "));
}

#[test]
fn a_loop_that_cannot_be_kept_is_unrolled_in_auto_mode() {
    // A condition on the loop variable is settled by unrolling only.
    let source = "fn f(x: [f64; 40]) -> f64 {
        let mut s = 0.0;
        for i in 0..40 {
            if i % 2 == 0 { s += x[i].sin() * x[i].cos() * x[i].exp() * x[i].ln_1p(); }
        }
        s
    }";
    assert!(!code(source).contains("for "));
}

#[test]
fn a_kept_loop_inside_a_fused_loop_runs_once_per_iteration() {
    // The elements of `b` are read by the outer body, whose adjoint (1 each) does not read
    // them: the reverse code must not run the loop that stored them a second time, which
    // would also push its values twice and pop them once.
    let source = "fn f(w: &[f64; 20], x: &[f64; 100]) -> f64 {
        let mut total = 0.0;
        for i in 0..100 {
            let mut b = [0.0; 20];
            for k in 0..20 {
                b[k] = (w[k] * x[i]).tanh();
            }
            total += b[0] + b[1] + b[2] + b[3];
        }
        total
    }";
    let emitted = code(&format!("#[grad(wrt(w), loops = \"keep\")] {source}"));
    assert_eq!(emitted.matches("for i in").count(), 1, "{emitted}");
    assert_eq!(
        emitted.matches("in 0..20").count(),
        1,
        "one forward loop:\n{emitted}"
    );
    assert_eq!(emitted.matches("(0..20).rev()").count(), 1, "{emitted}");
    let pushes = emitted.matches(".push(").count();
    assert_eq!(pushes, emitted.matches(".pop()").count(), "{emitted}");
}
