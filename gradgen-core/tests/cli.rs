//! The `gradgen` program, run as a user runs it on files: its views are the library's, its
//! errors name file:line:column with the macro's messages, and bad input is exit status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const ROSENBROCK: &str = "#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}
";

/// Three functions at three depths, and one without `#[grad]`.
const SEVERAL: &str = "use gradgen::grad;

#[grad]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn helper(x: f64) -> f64 {
    x
}

pub mod activations {
    #[gradgen::grad]
    pub fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }
}

struct Circle;

impl Circle {
    #[grad(wrt(r))]
    fn area(r: f64, scale: f64) -> f64 {
        std::f64::consts::PI * r * r * scale
    }
}
";

/// `SEVERAL`'s functions as `gradgen_core` takes them, one at a time.
const SEVERAL_ALONE: [&str; 3] = [
    "fn rosenbrock(x: f64, y: f64) -> f64 { (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2) }",
    "pub fn sigmoid(x: f64) -> f64 { 1.0 / (1.0 + (-x).exp()) }",
    "#[grad(wrt(r))] fn area(r: f64, scale: f64) -> f64 { std::f64::consts::PI * r * r * scale }",
];

/// A function `#[grad]` rejects, beside one it accepts.
const ONE_BAD: &str = "#[grad]
fn good(x: f64) -> f64 {
    x.sin()
}

#[grad]
fn bad(x: f64) -> f64 {
    let y = x.to_degrees();
    y
}
";

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A file of `ROSENBROCK` alone, as a user writes it.
fn rosenbrock_file(name: &str) -> PathBuf {
    file(
        name,
        format!("use gradgen::grad;\n\n{ROSENBROCK}").as_bytes(),
    )
}

/// Writes `text` to `name` in this test binary's scratch directory.
fn file(name: &str, text: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn scratch() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// Runs the program in the scratch directory, so that file names in messages are short.
fn gradgen(args: &[&str]) -> Run {
    gradgen_in(scratch(), args, None)
}

fn gradgen_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gradgen"));
    command.args(args).current_dir(dir);
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| panic!("gradgen: {e}"));
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        input
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("gradgen: {e}"));
    Run {
        status: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn lib<T>(result: Result<T, gradgen_core::Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn assert_ok(run: &Run) {
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

fn assert_bad_input(run: &Run, expected: &str) {
    assert_eq!(run.status, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains(expected), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn one_function_prints_its_emitted_gradient() {
    rosenbrock_file("one.rs");
    let run = gradgen(&["one.rs"]);
    assert_ok(&run);
    assert_eq!(run.stdout, lib(gradgen_core::emitted_code(ROSENBROCK)));
    assert!(run
        .stdout
        .contains("fn rosenbrock_grad(x: f64, y: f64) -> (f64, (f64, f64))"));
}

#[test]
fn several_functions_in_source_order() {
    file("several.rs", SEVERAL.as_bytes());
    let run = gradgen(&["several.rs"]);
    assert_ok(&run);
    let expected: Vec<String> = SEVERAL_ALONE
        .iter()
        .map(|s| lib(gradgen_core::emitted_code(s)))
        .collect();
    assert_eq!(run.stdout, expected.join("\n"));
}

#[test]
fn functions_are_selected_by_name_or_path() {
    file("select.rs", SEVERAL.as_bytes());
    let sigmoid = lib(gradgen_core::emitted_code(SEVERAL_ALONE[1]));
    let area = lib(gradgen_core::emitted_code(SEVERAL_ALONE[2]));
    for args in [
        &["select.rs", "--function", "sigmoid"][..],
        &["select.rs", "-f", "activations::sigmoid"],
        &["select.rs", "--function=sigmoid"],
    ] {
        let run = gradgen(args);
        assert_ok(&run);
        assert_eq!(run.stdout, sigmoid, "{args:?}");
    }
    let run = gradgen(&["select.rs", "-f", "Circle::area", "-f", "sigmoid"]);
    assert_ok(&run);
    assert_eq!(run.stdout, format!("{sigmoid}\n{area}"), "source order");
}

#[test]
fn ir_view_is_the_dump() {
    rosenbrock_file("ir.rs");
    let run = gradgen(&["ir.rs", "--ir"]);
    assert_ok(&run);
    assert_eq!(run.stdout, lib(gradgen_core::ir_dump(ROSENBROCK)));
}

#[test]
fn counts_view_gives_function_gradient_and_ratio() {
    file("counts.rs", SEVERAL.as_bytes());
    let run = gradgen(&["counts.rs", "--counts", "-f", "rosenbrock", "-f", "area"]);
    assert_ok(&run);
    let c = lib(gradgen_core::op_counts(SEVERAL_ALONE[0]));
    let first = format!(
        "rosenbrock: function {}, gradient {}, emitted {}, ratio {:.2}\n",
        c.function,
        c.gradient,
        c.emitted,
        c.ratio()
    );
    assert!(run.stdout.starts_with(&first), "{}", run.stdout);
    assert!(
        run.stdout.contains("\nCircle::area: function 3, "),
        "{}",
        run.stdout
    );
}

#[test]
fn views_are_shown_in_a_fixed_order() {
    rosenbrock_file("views.rs");
    let run = gradgen(&["views.rs", "--counts", "--dot", "--code", "--ir"]);
    assert_ok(&run);
    let at = |s: &str| run.stdout.find(s).unwrap_or(usize::MAX);
    let order = [
        at("fn rosenbrock_grad"),
        at("fn rosenbrock(x, y)"),
        at("rosenbrock: function"),
        at("digraph"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", run.stdout);
}

#[test]
fn standard_input_is_read_for_a_dash() {
    let run = gradgen_in(scratch(), &["-"], Some(ROSENBROCK));
    assert_ok(&run);
    assert_eq!(run.stdout, lib(gradgen_core::emitted_code(ROSENBROCK)));
}

#[test]
fn dot_view_snapshot() {
    rosenbrock_file("dot.rs");
    let run = gradgen(&["dot.rs", "--dot"]);
    assert_ok(&run);
    insta::assert_snapshot!("dot_rosenbrock", run.stdout);
}

/// The DOT text read back: one graph, every live node once, every edge between declared
/// nodes, the adjoint nodes told apart.
#[test]
fn dot_view_parses_back_to_the_live_graph() {
    file("dot_parse.rs", SEVERAL.as_bytes());
    let run = gradgen(&["dot_parse.rs", "--dot", "-f", "sigmoid"]);
    assert_ok(&run);
    let graph = Dot::parse(&run.stdout);
    let (attr, item) = lib(gradgen_core::parse_function(SEVERAL_ALONE[1]));
    let d = lib(gradgen_core::differentiate(&attr, &item));
    let live = d.graph.live(&d.roots().all());
    let ids: Vec<usize> = live.iter().map(|id| id.index()).collect();
    assert_eq!(graph.nodes.keys().copied().collect::<Vec<_>>(), ids);
    let adjoint = graph
        .nodes
        .values()
        .filter(|a| a.contains("\"#c8651b\""))
        .count();
    let expected = ids.iter().filter(|&&i| i >= d.gradient.forward_len).count();
    assert_eq!(adjoint, expected);
    let operands: usize = live.iter().map(|&id| d.graph.node(id).args.len()).sum();
    assert_eq!(graph.edges.len(), operands);
    for (from, to) in &graph.edges {
        assert!(graph.nodes.contains_key(from) && graph.nodes.contains_key(to));
        assert!(from < to, "operands come first");
    }
}

/// The little of DOT that `--dot` writes: `N [ attributes ]` and `N -> M [ attributes ]`
/// between a `digraph "name" {` line and a `}` line.
struct Dot {
    nodes: std::collections::BTreeMap<usize, String>,
    edges: Vec<(usize, usize)>,
}

impl Dot {
    fn parse(text: &str) -> Dot {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        assert!(
            first.starts_with("digraph \"") && first.ends_with("\" {"),
            "{first}"
        );
        assert_eq!(text.lines().last(), Some("}"));
        let mut dot = Dot {
            nodes: Default::default(),
            edges: Vec::new(),
        };
        for line in lines.map(str::trim) {
            let Some((head, attributes)) = line.split_once(" [ ") else {
                continue;
            };
            assert!(attributes.ends_with(']'), "{line}");
            assert_eq!(attributes.matches('"').count() % 2, 0, "{line}");
            let number = |s: &str| s.parse::<usize>().unwrap_or_else(|_| panic!("{line}"));
            match head.split_once(" -> ") {
                Some((from, to)) => dot.edges.push((number(from), number(to))),
                None if head.chars().all(|c| c.is_ascii_digit()) => {
                    assert!(attributes.starts_with("label = \""), "{line}");
                    let fresh = dot.nodes.insert(number(head), attributes.into()).is_none();
                    assert!(fresh, "node declared twice: {line}");
                }
                None => {} // `node [ ... ]`, `edge [ ... ]`: defaults
            }
        }
        dot
    }
}

#[test]
fn rejected_function_shows_the_macros_errors_at_file_line_column() {
    // The compile-fail case of the macro, whose expected output rustc wrote: the program
    // gives the same messages at the same places.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let case = "tests/ui/three_problems.rs";
    let run = gradgen_in(&root, &[case], None);
    assert_bad_input(&run, " --> tests/ui/three_problems.rs:5:5\n");
    let expected = std::fs::read_to_string(root.join("tests/ui/three_problems.stderr"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run.stderr.trim_end(), expected.trim_end());
    assert_eq!(run.stdout, "");
}

#[test]
fn other_functions_are_still_shown_beside_a_rejected_one() {
    file("one_bad.rs", ONE_BAD.as_bytes());
    let run = gradgen(&["one_bad.rs"]);
    assert_bad_input(&run, "error: the method `to_degrees` is not supported");
    assert!(
        run.stderr.contains(" --> one_bad.rs:8:15\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("fn good_grad(x: f64)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("bad_grad"), "{}", run.stdout);
}

#[test]
fn missing_file() {
    let run = gradgen(&["no_such_file.rs"]);
    assert_bad_input(&run, "error: cannot read no_such_file.rs: ");
}

#[test]
fn file_that_is_not_rust() {
    file("prose.rs", b"Gradients are\nfun.\n");
    let run = gradgen(&["prose.rs"]);
    assert_bad_input(&run, "error: expected `!`\n --> prose.rs:1:11\n");

    file(
        "unclosed.rs",
        b"#[grad]\nfn f(x: f64) -> f64 {\n    (x\n}\n",
    );
    let run = gradgen(&["unclosed.rs"]);
    assert_bad_input(&run, "error: this is not Rust source: ");
    assert!(run.stderr.contains(" --> unclosed.rs:"), "{}", run.stderr);

    file("cut.rs", b"#[grad]\nfn f(x: f64) -> f64\n");
    let run = gradgen(&["cut.rs"]);
    assert_bad_input(&run, "error: unexpected end of input");
    assert!(run.stderr.contains(" --> cut.rs:2:20\n"), "{}", run.stderr);

    file("binary.rs", &[0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0]);
    let run = gradgen(&["binary.rs"]);
    assert_bad_input(&run, "error: cannot read binary.rs: it is not UTF-8 text");
}

/// A generated file of absurd depth is refused, not a stack overflow.
#[test]
fn absurdly_nested_file() {
    let depth = 100_000;
    let text = format!(
        "fn f() -> f64 {{ {}1.0{} }}",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    file("deep.rs", text.as_bytes());
    let run = gradgen(&["deep.rs"]);
    assert_bad_input(
        &run,
        "error: brackets nested deeper than 2000 levels\n --> deep.rs:1:",
    );
}

#[test]
fn function_that_is_not_there() {
    file("absent.rs", SEVERAL.as_bytes());
    let run = gradgen(&["absent.rs", "-f", "rosenbrock", "-f", "tanh"]);
    assert_bad_input(&run, "error: no function `tanh` in absent.rs\n");
    let listed = "`rosenbrock`, `activations::sigmoid`, `Circle::area`";
    assert!(run.stderr.contains(listed), "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing is shown when a name is wrong");

    let run = gradgen(&["absent.rs", "-f", "helper"]);
    assert_bad_input(
        &run,
        "error: `helper` has no #[grad] attribute\n --> absent.rs:8:4\n",
    );

    file("none.rs", b"fn f(x: f64) -> f64 { x }\n");
    let run = gradgen(&["none.rs"]);
    assert_bad_input(&run, "error: no function of none.rs has #[grad]");
}

#[test]
fn malformed_grad_attribute() {
    file(
        "name_value.rs",
        b"#[grad = \"x\"]\nfn f(x: f64) -> f64 { x }\n",
    );
    let run = gradgen(&["name_value.rs"]);
    assert_bad_input(&run, " --> name_value.rs:1:3\n");
}

#[test]
fn bad_options() {
    for (args, expected) in [
        (&[][..], "error: no FILE given"),
        (
            &["--frobnicate", "x.rs"],
            "error: unknown option `--frobnicate`",
        ),
        (&["a.rs", "b.rs"], "error: one FILE at a time"),
        (
            &["a.rs", "--function"],
            "error: `--function` needs the NAME",
        ),
    ] {
        let run = gradgen(args);
        assert_bad_input(&run, expected);
        assert!(run.stderr.contains("Usage: gradgen FILE"), "{}", run.stderr);
    }
}

#[test]
fn help_and_version() {
    let run = gradgen(&["--help"]);
    assert_ok(&run);
    assert!(run.stdout.starts_with("Usage: gradgen FILE [OPTIONS]"));
    let run = gradgen(&["-V"]);
    assert_ok(&run);
    assert_eq!(
        run.stdout,
        format!("gradgen {}\n", env!("CARGO_PKG_VERSION"))
    );
}
