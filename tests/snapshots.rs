//! Snapshots of the emitted gradient code and of the IR dump, for functions chosen to cover
//! the rules, the simplifications and the naming of temporaries. Each snapshot was read when
//! it was accepted; a change to one is a change to what users see, to be read as a diff
//! (`cargo insta review`, or `INSTA_UPDATE=always` then `git diff`).
//!
//! Most functions are given as source text, through `gradgen_core::emitted_code`; the
//! `#[grad]` functions at the end are snapshotted the way users do, with `gradgen::emitted!`.

use std::collections::BTreeSet;

use gradgen::grad;

/// `(name, source)` of every snapshotted function.
const FUNCTIONS: &[(&str, &str)] = &[
    (
        "rosenbrock_2d",
        "fn rosenbrock(x: f64, y: f64) -> f64 { (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2) }",
    ),
    ("exp_sin_sq", "fn exp_sin_sq(x: f64) -> f64 { (x * x).sin().exp() }"),
    (
        "shared_subexpression",
        "fn shared(x: f64, y: f64) -> f64 {
            let r = (x * x + y * y).sqrt();
            r * r.sin() + r.cos() / r + (r * x).exp() + r.ln() * y
        }",
    ),
    (
        "every_operation",
        "fn every(x: f64, y: f64) -> f64 {
            let a = x.sin() + x.cos() + x.tan() + (x * 0.1).asin() + (x * 0.1).acos() + x.atan();
            let b = y.atan2(x) + x.sinh() + x.cosh() + x.tanh() + x.asinh() + (y + 2.0).acosh();
            let c = (x * 0.1).atanh() + x.exp() + x.exp2() + x.exp_m1() + y.ln() + y.log2();
            let d = y.log10() + y.ln_1p() + y.log(x) + y.sqrt() + x.cbrt() + x.powi(3);
            let e = y.powf(x) + y.powf(2.5) + x.recip() + x.abs() + x.hypot(y) + x.max(y);
            let f = x.min(y) + x.clamp(-1.0, 1.0) + x.mul_add(y, 1.0) + x.floor() + x.ceil();
            let g = x.round() + x.trunc() + x.signum() - -x / y;
            a + b + c + d + e + f + g
        }",
    ),
    ("sigmoid", "fn sigmoid(x: f64) -> f64 { 1.0 / (1.0 + (-x).exp()) }"),
    (
        "ackley",
        "fn ackley(x: f64, y: f64) -> f64 {
            -20.0 * (-0.2 * (0.5 * (x * x + y * y)).sqrt()).exp()
                - (0.5 * ((2.0 * std::f64::consts::PI * x).cos()
                    + (2.0 * std::f64::consts::PI * y).cos())).exp()
                + std::f64::consts::E
                + 20.0
        }",
    ),
    (
        "path_form_calls",
        "fn path_form(x: f64, y: f64) -> f64 { f64::sin(x) * f64::hypot(x, y) + f64::powi(y, -2) }",
    ),
    (
        "let_names_and_shadowing",
        "fn shadow(x: f64) -> f64 {
            let h = x * x;
            let h = h.sin() * h;
            let energy = h * h + x;
            energy
        }",
    ),
    (
        "kinks",
        "fn kinks(x: f64, y: f64, z: f64) -> f64 { x.abs() * y.max(z) - x.min(y) + z.clamp(y, 2.0) }",
    ),
    ("powf_both_variable", "fn power(x: f64, y: f64) -> f64 { x.powf(y) }"),
    ("log_with_base", "fn log_base(x: f64, b: f64) -> f64 { x.log(b) }"),
    ("atan2_hypot", "fn polar(x: f64, y: f64) -> (f64) { y.atan2(x) * x.hypot(y) }"),
    ("unused_parameter", "fn unused(x: f64, y: f64) -> f64 { x * x }"),
    ("constant_function", "fn constant(x: f64) -> f64 { std::f64::consts::TAU * 0.5 }"),
    (
        "constant_folding",
        "fn folding(x: f64) -> f64 { let k = 2.0 * 3.0 - 1.0; 2.0 * (3.0 * (x * k)) + 0.0 * 5.0 }",
    ),
    (
        "tanh_neuron",
        "pub fn neuron(w0: f64, w1: f64, b: f64) -> f64 {
            let s = w0 * 0.5 + w1 * -1.5 + b;
            let h = s.tanh();
            (h - 1.0).powi(2)
        }",
    ),
    ("division_chain", "fn ratio(x: f64, y: f64, z: f64) -> f64 { x / y / z + (x - y) / (x + y) }"),
    ("mul_add_chain", "fn fused(x: f64, y: f64, z: f64) -> f64 { let a = x.mul_add(y, z); a.mul_add(x, -y) * a }"),
    ("return_statement", "fn early(x: f64) -> f64 { let y = x.exp(); return y * y; }"),
    (
        "calls",
        "fn uses_both(a: f64, b: f64) -> f64 {
            let r = norm(a, b);
            softplus(r - 1.0) + softplus(a * b) * r
        }",
    ),
    (
        "float_branch",
        "fn branch(x: f64, y: f64) -> f64 {
            let p = x * y;
            let q = if p > 1.0 { p.ln() * p.sqrt() } else { p - 1.0 };
            q * x + y
        }",
    ),
    (
        "array_loop",
        "fn chained(x: [f64; 4]) -> f64 {
            let mut s = 0.0;
            for i in 0..3 {
                s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
            }
            s
        }",
    ),
    (
        "wrt_data_and_mutation",
        "#[grad(wrt(w))]
        fn fit(w: [f64; 2], xs: &[f64; 3], ys: &[f64; 3]) -> f64 {
            let mut loss = 0.0;
            for i in 0..3 {
                let (s, c) = (w[0] * xs[i]).sin_cos();
                let r = s * w[1] + c - ys[i];
                loss += r * r;
            }
            loss
        }",
    ),
    (
        "kept_reduction",
        "fn extended_rosenbrock(x: [f64; 1000]) -> f64 {
            let mut s = 0.0;
            for i in 0..500 {
                let a = x[2 * i + 1] - x[2 * i] * x[2 * i];
                let b = 1.0 - x[2 * i];
                s += 100.0 * a * a + b * b;
            }
            s
        }",
    ),
    (
        "kept_recurrence",
        "#[grad(wrt(w, h0))]
        fn recurrence(w: &[f64; 1000], h0: f64, x: &[f64; 1000]) -> f64 {
            let mut h = h0;
            for i in 0..1000 {
                h = (h * w[i] + x[i]).tanh();
            }
            h * h
        }",
    ),
    (
        "kept_map_into_buffer",
        "#[grad(wrt(w), loops = \"keep\")]
        fn map_then_reduce(w: [f64; 100], x: [f64; 100]) -> f64 {
            let mut h = [0.0; 100];
            for i in 0..100 {
                h[i] = (w[i] * x[i]).tanh();
            }
            let mut s = 0.0;
            for i in 0..100 {
                s += h[i] * h[i];
            }
            s.ln()
        }",
    ),
    (
        "kept_triangular",
        "#[grad(loops = \"keep\")]
        fn triangular(l: &[[f64; 8]; 8], x: &[f64; 8]) -> f64 {
            let mut s = 0.0;
            for c in 0..8 {
                for r in c + 1..8 {
                    s += l[r][c] * x[c] * x[r];
                }
            }
            s.sin()
        }",
    ),
];

fn source(name: &str) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

fn emitted(name: &str) -> String {
    gradgen_core::emitted_code(source(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dumped(name: &str) -> String {
    gradgen_core::ir_dump(source(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn emitted_code() {
    for (name, _) in FUNCTIONS {
        insta::assert_snapshot!(format!("emit_{name}"), emitted(name));
    }
}

#[test]
fn ir_dumps() {
    for (name, _) in FUNCTIONS {
        insta::assert_snapshot!(format!("ir_{name}"), dumped(name));
    }
}

/// The snapshots written by `gradgen::emitted!` in the tests below, by test name.
const ONE_LINE_SNAPSHOTS: &[&str] = &["emitted_rosenbrock"];

/// A snapshot file that no test writes any more is a stale file: fail rather than keep it.
#[test]
fn no_unreferenced_snapshots() {
    let expected: BTreeSet<String> = FUNCTIONS
        .iter()
        .flat_map(|(n, _)| {
            [
                format!("snapshots__emit_{n}.snap"),
                format!("snapshots__ir_{n}.snap"),
            ]
        })
        .chain(
            ONE_LINE_SNAPSHOTS
                .iter()
                .map(|n| format!("snapshots__{n}.snap")),
        )
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let is_ours = file.starts_with("snapshots__");
        assert!(
            !is_ours || expected.contains(&file),
            "unreferenced snapshot {file}"
        );
        assert!(
            !file.ends_with(".snap.new"),
            "pending snapshot {file}: review it"
        );
    }
}

#[test]
fn emission_is_deterministic() {
    for (name, _) in FUNCTIONS {
        assert_eq!(emitted(name), emitted(name), "{name}");
    }
}

#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

mod layers {
    /// A function in a module, named by its path.
    #[gradgen::grad(wrt(w))]
    pub fn neuron(w: [f64; 2], x: [f64; 2]) -> f64 {
        (w[0] * x[0] + w[1] * x[1]).tanh()
    }
}

struct Circle;

impl Circle {
    /// An associated function: its hidden constant is an associated constant.
    #[grad]
    fn area(r: f64) -> f64 {
        std::f64::consts::PI * r * r
    }
}

/// The one line of the README, in a user's test.
#[test]
fn emitted_rosenbrock() {
    insta::assert_snapshot!(gradgen::emitted!(rosenbrock));
}

/// What the compiler was given is what `gradgen_core` emits for the same source.
#[test]
fn emitted_is_the_code_of_the_source() {
    assert_eq!(gradgen::emitted!(rosenbrock), emitted("rosenbrock_2d"));
}

#[test]
fn emitted_reads_functions_by_path() {
    let neuron = gradgen::emitted!(layers::neuron);
    assert!(
        neuron.contains("pub fn neuron_grad(w: [f64; 2], x: [f64; 2])"),
        "{neuron}"
    );
    let area = gradgen::emitted!(Circle::area);
    assert!(
        area.contains("fn area_grad(r: f64) -> (f64, f64)"),
        "{area}"
    );
}
