//! What `#[grad]` costs a build, as the function grows: functions of about 100, 1,000 and
//! 10,000 scalar operations, written as source text, are expanded by `gradgen_core::expand`
//! (what the macro runs), and the expansion is compiled by rustc. Prints two markdown tables.
//!
//! ```sh
//! cargo run --example build_cost             # gradgen-core at opt-level 0, as cargo builds
//!                                            # proc macros by default, in release builds too
//! cargo run --release --example build_cost   # gradgen-core optimised
//! ```
//!
//! Two families: straight-line code (a chain of `let`s, each reading the previous one and
//! the inputs), and loops (a tanh layer `h = tanh(W·x + b)` summed; by its `auto` rule,
//! gradgen unrolls the layer of 3 units, under 16 iterations, and keeps the outer loop of the
//! layers of 31 and 303 units, the inner loop over 16 inputs unrolled). A second table
//! grows the trip count of kept loops (`loops = "keep"`) from 100 to 100,000: extended
//! Rosenbrock (a reduction, one fused loop) and a recurrence `h = tanh(w·h + x_i)` (a forward
//! loop, a tape, a reversed loop), whose emitted code and build time should not grow.
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

/// Extended Rosenbrock of `n` inputs, its loop kept.
fn rosenbrock_kept(n: usize) -> String {
    format!(
        "#[grad(loops = \"keep\")]
        pub fn extended_rosenbrock(x: &[f64; {n}]) -> f64 {{
            let mut s = 0.0;
            for i in 0..{n} / 2 {{
                let a = x[2 * i];
                s += 100.0 * (x[2 * i + 1] - a * a).powi(2) + (1.0 - a).powi(2);
            }}
            s
        }}"
    )
}

/// A recurrence of `n` steps, its loop kept: each step reads the previous one, so the
/// gradient's forward loop keeps a tape for the reversed loop.
fn recurrence_kept(n: usize) -> String {
    format!(
        "#[grad(loops = \"keep\")]
        pub fn recurrence(x: &[f64; {n}], w: f64) -> f64 {{
            let mut h = 0.0;
            for i in 0..{n} {{
                h = (w * h + x[i]).tanh();
            }}
            h
        }}"
    )
}

/// One measured function.
struct Measured {
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

fn measure(source: &str, dir: &Path) -> Measured {
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

/// Prints the table of `sources`, each `(label, source)`.
fn table(sources: &[(String, String)], dir: &Path) {
    println!(
        "| function | ops f | ops emitted | expansion | emitted tokens | formatted | \
         rustc -O f alone | rustc -O f + ∇ | rustc debug f + ∇ |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for (label, source) in sources {
        let m = measure(source, dir);
        println!(
            "| {label} | {} | {} | {:.2} ms | {} | {}, {} lines | {} | {} | {} |",
            m.ops.function,
            m.ops.emitted,
            m.expansion.as_secs_f64() * 1e3,
            kilobytes(m.token_bytes),
            kilobytes(m.formatted_bytes),
            m.formatted_lines,
            seconds(m.rustc_function),
            seconds(m.rustc_optimised),
            seconds(m.rustc_debug),
        );
    }
}

/// Bytes in KB, with a decimal below 10 KB.
fn kilobytes(bytes: usize) -> String {
    match bytes as f64 / 1e3 {
        kb if kb < 10.0 => format!("{kb:.1} KB"),
        kb => format!("{kb:.0} KB"),
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("gradgen-build-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let profile = if cfg!(debug_assertions) {
        "gradgen-core at opt-level 0, as cargo builds proc macros by default"
    } else {
        "gradgen-core optimised (--release)"
    };
    println!("Expansion: median of several runs, {profile}. rustc: one run each.\n");
    // Eight operations a block, less what hash-consing shares.
    let by_size: Vec<(String, String)> = [12, 125, 1250]
        .map(|blocks| ("straight-line".to_string(), straight_line(blocks)))
        .into_iter()
        .chain([3, 31, 303].map(|hidden| ("loops".to_string(), layer(hidden))))
        .collect();
    table(&by_size, &dir);
    println!("\nAgainst the trip count, loops kept (`loops = \"keep\"`):\n");
    let trips = [100, 1_000, 10_000, 100_000];
    let by_trips: Vec<(String, String)> = trips
        .map(|n| (format!("extended Rosenbrock n = {n}"), rosenbrock_kept(n)))
        .into_iter()
        .chain(trips.map(|n| (format!("recurrence n = {n}"), recurrence_kept(n))))
        .collect();
    table(&by_trips, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
