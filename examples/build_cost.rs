//! What `#[grad]` costs a build, as the function grows: functions of about 100, 1,000 and
//! 10,000 scalar operations, written as source text, are expanded by `gradgen_core::expand`
//! (what the macro runs), and the expansion is compiled by rustc. Prints a markdown table.
//!
//! ```sh
//! cargo run --example build_cost             # gradgen-core at opt-level 0, as cargo builds
//!                                            # proc macros by default, in release builds too
//! cargo run --release --example build_cost   # gradgen-core optimised
//! ```
//!
//! Two families: straight-line code (a chain of `let`s, each reading the previous one and
//! the inputs), and loops (a tanh layer `h = tanh(W·x + b)` summed, unrolled by gradgen).
//! Expansion is timed from the tokens, as the compiler hands them to the macro (the median of
//! several runs); the emitted size is that of those tokens as text and of the formatted code;
//! rustc compiles the expansion (the function and `<name>_grad`, both `pub`) as a library,
//! with `-C opt-level=3` and with `-C opt-level=0`, and the function alone with `-C
//! opt-level=3`, each once.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use quote::ToTokens;

/// The straight-line function of `blocks` blocks of eight operations.
fn straight_line(blocks: usize) -> String {
    let mut body = String::from("let t0 = x[0] * y;\n");
    for i in 1..=blocks {
        let (p, j, k) = (i - 1, i % 8, (i * 5 + 3) % 8);
        let _ = writeln!(
            body,
            "let t{i} = (t{p} * x[{j}] + x[{k}]).sin() * y - t{p} / (1.5 + t{p} * x[{k}]);"
        );
    }
    format!("pub fn straight(x: &[f64; 8], y: f64) -> f64 {{\n{body}t{blocks}\n}}")
}

/// A tanh layer with `hidden` units on 16 inputs, its outputs summed.
fn layer(hidden: usize) -> String {
    format!(
        "#[grad(wrt(w, b))]
        pub fn layer(w: &[[f64; 16]; {hidden}], b: &[f64; {hidden}], x: &[f64; 16]) -> f64 {{
            let mut total = 0.0;
            for j in 0..{hidden} {{
                let mut s = b[j];
                for k in 0..16 {{
                    s += w[j][k] * x[k];
                }}
                total += s.tanh();
            }}
            total
        }}"
    )
}

/// One measured function.
struct Measured {
    family: &'static str,
    ops: gradgen_core::OpCounts,
    expansion: Duration,
    token_bytes: usize,
    formatted_bytes: usize,
    formatted_lines: usize,
    rustc_function: Duration,
    rustc_optimised: Duration,
    rustc_debug: Duration,
}

/// The median time of `f` over enough runs to fill about a second (at least 3, at most 50).
fn median_time(mut f: impl FnMut() -> Duration) -> Duration {
    let mut times = vec![f()];
    let mut total = times[0];
    while times.len() < 3 || (total < Duration::from_secs(1) && times.len() < 50) {
        let t = f();
        total += t;
        times.push(t);
    }
    times.sort();
    times[times.len() / 2]
}

/// The time rustc takes to compile `code` as a library with `opt-level`.
fn rustc(dir: &Path, name: &str, code: &str, opt_level: u8) -> Duration {
    let source = dir.join(format!("{name}.rs"));
    std::fs::write(&source, code).expect("the temporary directory is writable");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let start = Instant::now();
    let status = Command::new(rustc)
        .args(["--crate-type", "lib", "--edition", "2021", "-C"])
        .arg(format!("opt-level={opt_level}"))
        .arg("--out-dir")
        .arg(dir)
        .arg(&source)
        .status()
        .expect("rustc runs");
    let elapsed = start.elapsed();
    assert!(status.success(), "rustc failed on {}", source.display());
    elapsed
}

fn measure(family: &'static str, source: &str, dir: &Path) -> Measured {
    let (attr, item) = gradgen_core::parse_function(source).expect("the source parses");
    let tokens = item.to_token_stream();
    let expansion = median_time(|| {
        let (attr, tokens) = (attr.clone(), tokens.clone());
        let start = Instant::now();
        let out = gradgen_core::expand(attr, tokens);
        let elapsed = start.elapsed();
        drop(out);
        elapsed
    });
    let expanded = gradgen_core::expand(attr, tokens).to_string();
    let formatted = gradgen_core::format_code(&expanded).expect("the expansion formats");
    let function = gradgen_core::format_code(&item.to_token_stream().to_string())
        .expect("the function formats");
    Measured {
        family,
        ops: gradgen_core::op_counts(source).expect("the source differentiates"),
        expansion,
        token_bytes: expanded.len(),
        formatted_bytes: formatted.len(),
        formatted_lines: formatted.lines().count(),
        rustc_function: rustc(dir, "function", &function, 3),
        rustc_optimised: rustc(dir, "optimised", &formatted, 3),
        rustc_debug: rustc(dir, "debug", &formatted, 0),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let dir = std::env::temp_dir().join(format!("gradgen-build-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    // Eight operations a block, less what hash-consing shares.
    let sources = [
        ("straight-line", straight_line(12)),
        ("straight-line", straight_line(125)),
        ("straight-line", straight_line(1250)),
        ("loops", layer(3)),
        ("loops", layer(31)),
        ("loops", layer(303)),
    ];
    let profile = if cfg!(debug_assertions) {
        "gradgen-core at opt-level 0, as cargo builds proc macros by default"
    } else {
        "gradgen-core optimised (--release)"
    };
    println!("Expansion: median of several runs, {profile}. rustc: one run each.\n");
    println!(
        "| function | ops f | ops emitted | expansion | emitted tokens | formatted | \
         rustc -O f alone | rustc -O f + ∇ | rustc debug f + ∇ |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (family, source) in &sources {
        let m = measure(family, source, &dir);
        println!(
            "| {} | {} | {} | {:.2} ms | {} KB | {} KB, {} lines | {} | {} | {} |",
            m.family,
            m.ops.function,
            m.ops.emitted,
            m.expansion.as_secs_f64() * 1e3,
            m.token_bytes / 1000,
            m.formatted_bytes / 1000,
            m.formatted_lines,
            seconds(m.rustc_function),
            seconds(m.rustc_optimised),
            seconds(m.rustc_debug),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
