//! `cargo bench --bench gradients`: each benchmark function (`functions/generated.rs`), its
//! gradient emitted by `#[grad]`, the same gradient written by hand and by forward mode with
//! num-dual, timed by criterion in one run; then one markdown table of the median times (the
//! best of a few rounds that alternate the four), their ratios and the operation counts of the
//! source text that `#[grad]` compiled.
//!
//! Criterion's usual arguments apply (`cargo bench --bench gradients -- gmm` measures the GMM
//! rows only; the table then has those rows). The table reads the estimates that criterion
//! wrote in this run, under `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion` or the target
//! directory's `criterion/`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, SamplingMode};

#[path = "functions/mod.rs"]
mod functions;

use functions::{dual, generated, hand, inputs};

/// The four timings of a row, as criterion names them within the row's group.
const VARIANTS: [&str; 4] = ["function", "gradgen", "hand", "num_dual"];

/// A row of the table.
struct Row {
    /// Criterion's group.
    id: &'static str,
    label: &'static str,
    /// Differentiated inputs.
    inputs: usize,
    /// The text `#[grad]` compiled: two for BA, one function per residual.
    sources: &'static [&'static str],
    /// Operations of CasADi's reverse sweep (SX) for the gradient alone, BENCHMARKS.md.
    casadi: Option<usize>,
    /// Whether num-dual is timed: not where one evaluation per input takes seconds.
    num_dual: bool,
    /// Criterion's samples of each timing: fewer for functions of many milliseconds.
    samples: usize,
}

/// Criterion's samples of each timing of most rows.
const SAMPLES: usize = 30;

const ROWS: [Row; 16] = [
    Row {
        id: "rosenbrock_2d",
        label: "2-D Rosenbrock",
        inputs: 2,
        sources: &[generated::ROSENBROCK_2D],
        casadi: Some(9),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "exp_sin_sq",
        label: "`exp(sin(x²))`",
        inputs: 1,
        sources: &[generated::EXP_SIN_SQ],
        casadi: Some(7),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "extended_rosenbrock_10",
        label: "extended Rosenbrock n = 10",
        inputs: 10,
        sources: &[generated::EXTENDED_ROSENBROCK_10],
        casadi: Some(45),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "extended_rosenbrock_100",
        label: "extended Rosenbrock n = 100",
        inputs: 100,
        sources: &[generated::EXTENDED_ROSENBROCK_100],
        casadi: Some(450),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "extended_rosenbrock_10_keep",
        label: "extended Rosenbrock n = 10, `loops = \"keep\"`",
        inputs: 10,
        sources: &[generated::EXTENDED_ROSENBROCK_10_KEEP],
        casadi: Some(45),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "extended_rosenbrock_1000",
        label: "extended Rosenbrock n = 1,000, loop kept",
        inputs: 1000,
        sources: &[generated::EXTENDED_ROSENBROCK_1000],
        casadi: None,
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "extended_rosenbrock_100000",
        label: "extended Rosenbrock n = 100,000, loop kept",
        inputs: 100_000,
        sources: &[generated::EXTENDED_ROSENBROCK_100000],
        casadi: None,
        num_dual: false,
        samples: SAMPLES,
    },
    Row {
        id: "chained_rosenbrock_10",
        label: "chained Rosenbrock n = 10",
        inputs: 10,
        sources: &[generated::CHAINED_ROSENBROCK_10],
        casadi: Some(81),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "chained_rosenbrock_100",
        label: "chained Rosenbrock n = 100",
        inputs: 100,
        sources: &[generated::CHAINED_ROSENBROCK_100],
        casadi: Some(891),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "log_sum_exp_100",
        label: "log-sum-exp, 100 values",
        inputs: 100,
        sources: &[generated::LOG_SUM_EXP],
        casadi: None,
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "mlp_4_8_3",
        label: "4-8-3 tanh MLP, one sample",
        inputs: 67,
        sources: &[generated::MLP],
        casadi: Some(251),
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "gmm_d2_k5_n10",
        label: "GMM d = 2, K = 5, N = 10",
        inputs: 30,
        sources: &[generated::GMM_SMALL],
        casadi: None,
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "gmm_d10_k25_n2",
        label: "GMM d = 10, K = 25, N = 2",
        inputs: 1650,
        sources: &[generated::GMM_LARGE],
        casadi: None,
        num_dual: true,
        samples: SAMPLES,
    },
    Row {
        id: "gmm_d10_k25_n1000",
        label: "GMM d = 10, K = 25, N = 1,000, loops kept",
        inputs: 1650,
        sources: &[generated::GMM_D10_K25],
        casadi: None,
        num_dual: false,
        samples: SAMPLES,
    },
    Row {
        id: "gmm_d64_k100_n1000",
        label: "GMM d = 64, K = 100, N = 1,000, loops kept",
        inputs: 214_500,
        sources: &[generated::GMM_D64_K100],
        casadi: None,
        num_dual: false,
        samples: 10,
    },
    Row {
        id: "ba_jacobian",
        label: "BA, 2×15 Jacobian of one observation",
        inputs: 15,
        sources: &[generated::BA_RESIDUAL_0, generated::BA_RESIDUAL_1],
        casadi: None,
        num_dual: true,
        samples: SAMPLES,
    },
];

/// Rounds of each row: its four timings, one after the other, again and again, so that each
/// round sees about the same load of the machine; the table takes each timing's best round.
const ROUNDS: usize = 3;

/// One criterion group: the function and its gradients, [`ROUNDS`] times, as
/// `<row>/<variant>/round<r>`; num-dual's only if the row times it.
macro_rules! group {
    ($c:expr, $row:expr, $function:expr, $gradgen:expr, $hand:expr, $dual:expr $(,)?) => {{
        let (row, function, gradgen, hand, dual) = (&$row, $function, $gradgen, $hand, $dual);
        let mut group = $c.benchmark_group(row.id);
        group.sample_size(row.samples);
        if row.samples < SAMPLES {
            group.sampling_mode(SamplingMode::Flat);
        }
        for round in 1..=ROUNDS {
            let id = |variant| BenchmarkId::new(variant, format!("round{round}"));
            group.bench_function(id(VARIANTS[0]), |b| b.iter(&function));
            group.bench_function(id(VARIANTS[1]), |b| b.iter(&gradgen));
            group.bench_function(id(VARIANTS[2]), |b| b.iter(&hand));
            if row.num_dual {
                group.bench_function(id(VARIANTS[3]), |b| b.iter(&dual));
            }
        }
        group.finish();
    }};
}

/// Two gradients agree to 1e-10 relative to the larger magnitude (at least 1): a row times two
/// computations of one gradient (`tests/benchmarks.rs` checks the rows at debug speed).
fn assert_agree(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!(
            (x - y).abs() <= 1e-10 * scale,
            "{what}[{i}]: {x} against {y}"
        );
    }
}

/// The row of criterion's group `id`.
fn row(id: &str) -> &'static Row {
    ROWS.iter()
        .find(|row| row.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

/// A GMM gradient as one list, α, μ, icf.
fn gmm_flat<const D: usize, const K: usize, const ICF: usize>(
    (da, dm, di): &hand::GmmGradient<D, K, ICF>,
) -> Vec<f64> {
    let rows = dm.iter().flatten().chain(di.iter().flatten());
    da.iter().chain(rows).copied().collect()
}

fn measure(c: &mut Criterion) {
    let (x, y) = (-1.2, 1.0);
    group!(
        c,
        row("rosenbrock_2d"),
        || generated::rosenbrock(black_box(x), black_box(y)),
        || generated::rosenbrock_grad(black_box(x), black_box(y)),
        || hand::rosenbrock(black_box(x), black_box(y)),
        || dual::rosenbrock(black_box(x), black_box(y)),
    );
    let x = 0.7;
    group!(
        c,
        row("exp_sin_sq"),
        || generated::exp_sin_sq(black_box(x)),
        || generated::exp_sin_sq_grad(black_box(x)),
        || hand::exp_sin_sq(black_box(x)),
        || dual::exp_sin_sq(black_box(x)),
    );
    let rng = &mut inputs::rng();
    let x10: [f64; 10] = inputs::uniform(rng, -1.5, 1.5);
    let x100: [f64; 100] = inputs::uniform(rng, -1.5, 1.5);
    group!(
        c,
        row("extended_rosenbrock_10"),
        || generated::extended_rosenbrock_10(black_box(&x10)),
        || generated::extended_rosenbrock_10_grad(black_box(&x10)),
        || hand::extended_rosenbrock(black_box(&x10)),
        || dual::extended_rosenbrock(black_box(&x10)),
    );
    group!(
        c,
        row("extended_rosenbrock_100"),
        || generated::extended_rosenbrock_100(black_box(&x100)),
        || generated::extended_rosenbrock_100_grad(black_box(&x100)),
        || hand::extended_rosenbrock(black_box(&x100)),
        || dual::extended_rosenbrock(black_box(&x100)),
    );
    group!(
        c,
        row("extended_rosenbrock_10_keep"),
        || generated::extended_rosenbrock_10_keep(black_box(&x10)),
        || generated::extended_rosenbrock_10_keep_grad(black_box(&x10)),
        || hand::extended_rosenbrock(black_box(&x10)),
        || dual::extended_rosenbrock(black_box(&x10)),
    );
    let x1000: [f64; 1000] = inputs::uniform(rng, -1.5, 1.5);
    let x100000: [f64; 100_000] = inputs::uniform(rng, -1.5, 1.5);
    let (generated_1000, hand_1000) = (
        generated::extended_rosenbrock_1000_grad(&x1000),
        hand::extended_rosenbrock(&x1000),
    );
    assert_agree("extended Rosenbrock 1000", &generated_1000.1, &hand_1000.1);
    group!(
        c,
        row("extended_rosenbrock_1000"),
        || generated::extended_rosenbrock_1000(black_box(&x1000)),
        || generated::extended_rosenbrock_1000_grad(black_box(&x1000)),
        || hand::extended_rosenbrock(black_box(&x1000)),
        || dual::extended_rosenbrock(black_box(&x1000)),
    );
    let x = &x100000;
    let (generated_100000, hand_100000) = (
        generated::extended_rosenbrock_100000_grad(x),
        hand::extended_rosenbrock(x),
    );
    assert_agree(
        "extended Rosenbrock 100000",
        &generated_100000.1,
        &hand_100000.1,
    );
    group!(
        c,
        row("extended_rosenbrock_100000"),
        || generated::extended_rosenbrock_100000(black_box(x)),
        || generated::extended_rosenbrock_100000_grad(black_box(x)),
        || hand::extended_rosenbrock(black_box(x)),
        || (),
    );
    group!(
        c,
        row("chained_rosenbrock_10"),
        || generated::chained_rosenbrock_10(black_box(&x10)),
        || generated::chained_rosenbrock_10_grad(black_box(&x10)),
        || hand::chained_rosenbrock(black_box(&x10)),
        || dual::chained_rosenbrock(black_box(&x10)),
    );
    group!(
        c,
        row("chained_rosenbrock_100"),
        || generated::chained_rosenbrock_100(black_box(&x100)),
        || generated::chained_rosenbrock_100_grad(black_box(&x100)),
        || hand::chained_rosenbrock(black_box(&x100)),
        || dual::chained_rosenbrock(black_box(&x100)),
    );
    let v: [f64; 100] = inputs::uniform(rng, -5.0, 5.0);
    group!(
        c,
        row("log_sum_exp_100"),
        || generated::log_sum_exp(black_box(&v)),
        || generated::log_sum_exp_grad(black_box(&v)),
        || hand::log_sum_exp(black_box(&v)),
        || dual::log_sum_exp(black_box(&v)),
    );
    let n = inputs::mlp();
    let (w1, b1, w2, b2, x, y) = (&n.w1, &n.b1, &n.w2, &n.b2, &n.x, &n.y);
    group!(
        c,
        row("mlp_4_8_3"),
        || generated::mlp_loss(black_box(w1), b1, w2, b2, x, y),
        || generated::mlp_loss_grad(black_box(w1), b1, w2, b2, x, y),
        || hand::mlp_loss(black_box(w1), b1, w2, b2, x, y),
        || dual::mlp_loss(black_box(w1), b1, w2, b2, x, y),
    );
    let g = inputs::gmm::<2, 5, 10, 3>();
    let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
    group!(
        c,
        row("gmm_d2_k5_n10"),
        || generated::gmm_2_5_10(black_box(a), m, q, x),
        || generated::gmm_2_5_10_grad(black_box(a), m, q, x),
        || hand::gmm(black_box(a), m, q, x),
        || dual::gmm::<2, 5, 10, 3, 30>(black_box(a), m, q, x),
    );
    let g = inputs::gmm::<10, 25, 2, 55>();
    let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
    group!(
        c,
        row("gmm_d10_k25_n2"),
        || generated::gmm_10_25_2(black_box(a), m, q, x),
        || generated::gmm_10_25_2_grad(black_box(a), m, q, x),
        || hand::gmm(black_box(a), m, q, x),
        || dual::gmm::<10, 25, 2, 55, 1650>(black_box(a), m, q, x),
    );
    let g = inputs::gmm::<10, 25, 1000, 55>();
    let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
    let (generated_d10, hand_d10) = (
        generated::gmm_10_25_1000_grad(a, m, q, x),
        hand::gmm(a, m, q, x),
    );
    assert_agree(
        "GMM d = 10",
        &gmm_flat(&generated_d10.1),
        &gmm_flat(&hand_d10.1),
    );
    group!(
        c,
        row("gmm_d10_k25_n1000"),
        || generated::gmm_10_25_1000(black_box(a), m, q, x),
        || generated::gmm_10_25_1000_grad(black_box(a), m, q, x),
        || hand::gmm(black_box(a), m, q, x),
        || (),
    );
    let g = inputs::gmm::<64, 100, 1000, 2080>();
    let (a, m, q, x) = (&g.alphas, &g.means, &g.icf, &g.x);
    let (generated_d64, hand_d64) = (
        generated::gmm_64_100_1000_grad(a, m, q, x),
        hand::gmm(a, m, q, x),
    );
    assert_agree(
        "GMM d = 64",
        &gmm_flat(&generated_d64.1),
        &gmm_flat(&hand_d64.1),
    );
    group!(
        c,
        row("gmm_d64_k100_n1000"),
        || generated::gmm_64_100_1000(black_box(a), m, q, x),
        || generated::gmm_64_100_1000_grad(black_box(a), m, q, x),
        || hand::gmm(black_box(a), m, q, x),
        || (),
    );
    let o = inputs::ba_test();
    let (cam, x, w, m) = (&o.cam, &o.x, o.w, &o.m);
    group!(
        c,
        row("ba_jacobian"),
        || generated::ba_residuals(black_box(cam), x, w, m),
        || generated::ba_jacobian(black_box(cam), x, w, m),
        || hand::ba_jacobian(black_box(cam), x, w, m),
        || dual::ba_jacobian(black_box(cam), x, w, m),
    );
}

/// Where criterion writes its estimates, found as criterion finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // This program is `<target>/release/deps/gradients-<hash>`.
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// The median time in nanoseconds of one round of one benchmark, if criterion measured it
/// after `since`.
fn round_median_ns(dir: &Path, path: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(path).join("new/estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// The least of the rounds' median times of one timing of a row, in nanoseconds.
fn best_ns(dir: &Path, group: &str, variant: &str, since: SystemTime) -> Option<f64> {
    (1..=ROUNDS)
        .filter_map(|r| round_median_ns(dir, &format!("{group}/{variant}/round{r}"), since))
        .min_by(f64::total_cmp)
}

fn time(ns: f64) -> String {
    match ns {
        ns if ns < 100.0 => format!("{ns:.2} ns"),
        ns if ns < 1e3 => format!("{ns:.0} ns"),
        ns if ns < 1e6 => format!("{:.3} µs", ns / 1e3),
        ns => format!("{:.3} ms", ns / 1e6),
    }
}

fn ratio(a: f64, b: f64) -> String {
    match a / b {
        r if r < 10.0 => format!("{r:.2}"),
        r if r < 100.0 => format!("{r:.1}"),
        r => format!("{r:.0}"),
    }
}

/// Operation counts of the row's sources, joined by ` + ` for BA's two residuals.
fn counts(row: &Row) -> [String; 3] {
    let counts: Vec<gradgen_core::OpCounts> = row
        .sources
        .iter()
        .map(|s| gradgen_core::op_counts(s).unwrap_or_else(|e| panic!("{e}\n{s}")))
        .collect();
    let join = |f: fn(&gradgen_core::OpCounts) -> usize| {
        let parts: Vec<String> = counts.iter().map(|c| f(c).to_string()).collect();
        parts.join(" + ")
    };
    [
        join(|c| c.function),
        join(|c| c.emitted),
        join(|c| c.gradient),
    ]
}

fn table(dir: &Path, since: SystemTime) -> String {
    let mut out = String::from(
        "| function | inputs | f | gradgen ∇ | ∇/f | hand ∇ | gradgen/hand | num-dual ∇ | \
         num-dual/gradgen | ops f | ops emitted | ops ∇ alone | CasADi ∇ |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for row in &ROWS {
        let times = VARIANTS.map(|v| best_ns(dir, row.id, v, since));
        let [Some(f), Some(emitted), Some(hand), dual] = times else {
            continue;
        };
        let (dual_time, dual_ratio) = match dual {
            Some(dual) => (time(dual), ratio(dual, emitted)),
            None if row.num_dual => continue,
            None => ("–".to_string(), "–".to_string()),
        };
        let [ops_f, ops_emitted, ops_gradient] = counts(row);
        let casadi = row.casadi.map_or("–".to_string(), |c| c.to_string());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {ops_f} | {ops_emitted} | \
             {ops_gradient} | {casadi} |\n",
            row.label,
            row.inputs,
            time(f),
            time(emitted),
            ratio(emitted, f),
            time(hand),
            ratio(emitted, hand),
            dual_time,
            dual_ratio,
        ));
    }
    out
}

/// The stack of the thread that measures: the largest rows keep arrays of megabytes on it
/// (GMM d = 64's parameters, data and gradients, 800 KB for each array of 100,000 values).
const STACK: usize = 256 << 20;

fn main() {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(run)
        .expect("a thread to measure on")
        .join()
        .expect("the measurements ran");
}

fn run() {
    let since = SystemTime::now();
    let dir = criterion_dir();
    // Short runs: the whole table in about three minutes. The medians are what the table
    // reports; fewer resamples only make criterion's confidence intervals coarser.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .sample_size(SAMPLES)
        .nresamples(10_000)
        .without_plots()
        .configure_from_args();
    measure(&mut c);
    println!();
    println!(
        "Median times of one run, the best of {ROUNDS} rounds (criterion, {})",
        dir.display()
    );
    println!();
    print!("{}", table(&dir, since));
}
