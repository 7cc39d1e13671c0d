//! Command-line options, the training loop, the gradient check and the timing comparison.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::data::{self, Dataset};
use crate::net::{one_hot, Mlp, Network, Skip};

/// The options of the example.
#[derive(Clone, Debug)]
pub struct Options {
    pub data: String,
    pub file: Option<PathBuf>,
    pub arch: String,
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub batch: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data: "iris".into(),
            file: None,
            arch: "mlp".into(),
            hidden: 8,
            epochs: 100,
            learning_rate: 0.05,
            batch: 8,
            seed: 7,
        }
    }
}

impl Options {
    pub const HELP: &'static str = "\
usage: train_mlp [options]
  --data NAME     iris (default), breast-cancer or digits
  --file PATH     read the data set from PATH instead of examples/data
  --arch NAME     mlp (default: one tanh layer) or skip (two layers and a skip connection)
  --hidden N      hidden units: 8 (default) or 16 for iris, 16 for breast-cancer, 32 for digits
  --epochs N      passes over the training set (default 100)
  --lr RATE       learning rate (default 0.05)
  --batch N       mini-batch size (default 8)
  --seed N        seed of the split, the initial weights and the shuffles (default 7)";

    /// Parses the arguments; `Ok(None)` for `--help`.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>, String> {
        use lexopt::prelude::*;
        let mut o = Options::default();
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Long("data") => o.data = text(&mut parser)?,
                Long("file") => o.file = Some(text(&mut parser)?.into()),
                Long("arch") => o.arch = text(&mut parser)?,
                Long("hidden") => o.hidden = number(&text(&mut parser)?, "--hidden")?,
                Long("epochs") => o.epochs = number(&text(&mut parser)?, "--epochs")?,
                Long("lr") => o.learning_rate = number(&text(&mut parser)?, "--lr")?,
                Long("batch") => o.batch = number::<usize>(&text(&mut parser)?, "--batch")?.max(1),
                Long("seed") => o.seed = number(&text(&mut parser)?, "--seed")?,
                Short('h') | Long("help") => return Ok(None),
                other => return Err(other.unexpected().to_string()),
            }
        }
        Ok(Some(o))
    }
}

/// The value of the option just read.
fn text(parser: &mut lexopt::Parser) -> Result<String, String> {
    let value = parser.value().map_err(|e| e.to_string())?;
    value
        .into_string()
        .map_err(|v| format!("not valid text: {v:?}"))
}

fn number<T: std::str::FromStr>(text: &str, option: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{option} takes a number, not `{text}`"))
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub first_loss: f64,
    pub final_loss: f64,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub gradient_check: f64,
    pub generated_over_hand: f64,
}

/// Loads the data set the options name and trains the network they name on it.
pub fn run(o: &Options, out: &mut dyn Write) -> Result<Report, String> {
    match (o.data.as_str(), o.arch.as_str(), o.hidden) {
        ("iris", "mlp", 8) => train_on::<4, 3, Mlp<4, 8, 3>>(o, "iris.csv", out),
        ("iris", "mlp", 16) => train_on::<4, 3, Mlp<4, 16, 3>>(o, "iris.csv", out),
        ("iris", "skip", 8) => train_on::<4, 3, Skip<4, 8, 3>>(o, "iris.csv", out),
        ("digits", "mlp", 32) => train_on::<64, 10, Mlp<64, 32, 10>>(o, "digits.csv.gz", out),
        ("breast-cancer", "mlp", 16) => {
            train_on::<30, 2, Mlp<30, 16, 2>>(o, "breast_cancer.csv", out)
        }
        ("breast-cancer", "skip", 16) => {
            train_on::<30, 2, Skip<30, 16, 2>>(o, "breast_cancer.csv", out)
        }
        (data, arch, hidden) => Err(format!(
            "no compiled network for --data {data} --arch {arch} --hidden {hidden}: `#[grad]` \
             differentiates fixed sizes, and this example compiles iris mlp 8 and 16, iris \
             skip 8, breast-cancer mlp 16, breast-cancer skip 16 and digits mlp 32"
        )),
    }
}

fn train_on<const I: usize, const O: usize, N: Network<I, O>>(
    o: &Options,
    file: &str,
    out: &mut dyn Write,
) -> Result<Report, String> {
    let path = o
        .file
        .clone()
        .unwrap_or_else(|| data::data_dir().join(file));
    let all: Dataset<I> = data::load(&path, O).map_err(|e| e.to_string())?;
    let (train, test) = all.split(0.3, o.seed);
    let moments = train.moments();
    let (train, test) = (train.standardised(&moments), test.standardised(&moments));
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
    };
    // The bundled file by its path in the repository, wherever the clone is.
    let shown = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(&path)
        .to_path_buf();
    say(out, format!(
        "{}: {} training and {} test samples, {I} features, {O} classes; network {} ({} parameters)",
        shown.display(),
        train.x.len(),
        test.x.len(),
        std::any::type_name::<N>().rsplit("::").next().unwrap_or("?"),
        N::zero().parameters().len(),
    ));
    let mut rng = fastrand::Rng::with_seed(o.seed);
    let mut net = N::random(&mut rng);
    let check = gradient_check(&net, &train);
    say(out, format!("gradient check at the initial weights: largest relative error {check:.2e} against central differences"));
    let first_loss = mean_loss(&net, &train);
    let mut order: Vec<usize> = (0..train.x.len()).collect();
    let mut spent = Duration::ZERO;
    let mut final_loss = first_loss;
    for epoch in 1..=o.epochs {
        rng.shuffle(&mut order);
        let started = Instant::now();
        final_loss = epoch_of_training(&mut net, &train, &order, o);
        spent += started.elapsed();
        {
            say(
                out,
                format!(
                "epoch {epoch:>4}: loss {final_loss:.4}, train accuracy {:.3}, test accuracy {:.3}",
                accuracy(&net, &train),
                accuracy(&net, &test)
            ),
            );
        }
    }
    let (generated, by_hand) = time_gradients(&net, &train);
    let report = Report {
        first_loss,
        final_loss,
        train_accuracy: accuracy(&net, &train),
        test_accuracy: accuracy(&net, &test),
        gradient_check: check,
        generated_over_hand: generated.as_secs_f64() / by_hand.as_secs_f64(),
    };
    say(
        out,
        format!(
            "final test accuracy {:.3} on {} held-out samples (seed {}); {:.2} ms per epoch",
            report.test_accuracy,
            test.x.len(),
            o.seed,
            spent.as_secs_f64() * 1e3 / o.epochs.max(1) as f64
        ),
    );
    say(out, format!(
        "gradient of the training set: emitted by #[grad] {:.1} µs, hand-written backpropagation {:.1} µs, ratio {:.3}",
        generated.as_secs_f64() * 1e6,
        by_hand.as_secs_f64() * 1e6,
        report.generated_over_hand
    ));
    Ok(report)
}

/// One pass over the training set in mini-batches; returns the mean loss of the pass.
fn epoch_of_training<const I: usize, const O: usize, N: Network<I, O>>(
    net: &mut N,
    train: &Dataset<I>,
    order: &[usize],
    o: &Options,
) -> f64 {
    let mut total = 0.0;
    for batch in order.chunks(o.batch) {
        let mut sum = N::zero();
        for &i in batch {
            let (loss, g) = net.generated(&train.x[i], &one_hot(train.y[i]));
            total += loss;
            sum.add_scaled(1.0, &g);
        }
        net.add_scaled(-o.learning_rate / batch.len() as f64, &sum);
    }
    total / order.len() as f64
}

fn mean_loss<const I: usize, const O: usize, N: Network<I, O>>(net: &N, d: &Dataset<I>) -> f64 {
    let losses =
        d.x.iter()
            .zip(&d.y)
            .map(|(x, &y)| net.generated(x, &one_hot(y)).0);
    losses.sum::<f64>() / d.x.len() as f64
}

/// The fraction of samples whose largest logit is their class.
pub fn accuracy<const I: usize, const O: usize, N: Network<I, O>>(net: &N, d: &Dataset<I>) -> f64 {
    let right = d.x.iter().zip(&d.y).filter(|(x, &y)| {
        let z = net.logits(x);
        let best = (0..O).fold(0, |best, k| if z[k] > z[best] { k } else { best });
        best == y
    });
    right.count() as f64 / d.x.len() as f64
}

/// The largest relative error of the emitted gradient of the first samples' loss against
/// central finite differences, over every parameter.
pub fn gradient_check<const I: usize, const O: usize, N: Network<I, O>>(
    net: &N,
    d: &Dataset<I>,
) -> f64 {
    let samples = d.x.len().min(5);
    let loss = |n: &N| {
        (0..samples)
            .map(|i| n.generated(&d.x[i], &one_hot(d.y[i])).0)
            .sum::<f64>()
    };
    let mut grad = vec![0.0; net.parameters().len()];
    for i in 0..samples {
        let g = net.generated(&d.x[i], &one_hot(d.y[i])).1.parameters();
        grad.iter_mut().zip(g).for_each(|(s, g)| *s += g);
    }
    let p = net.parameters();
    let mut worst: f64 = 0.0;
    for (k, g) in grad.iter().enumerate() {
        let h = 1e-6 * p[k].abs().max(1.0);
        let shifted = |delta: f64| {
            let mut q = p.clone();
            q[k] += delta;
            loss(&net.with_parameters(&q))
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
        worst = worst.max((g - numeric).abs() / numeric.abs().max(g.abs()).max(1e-3));
    }
    worst
}

/// The time of the emitted and of the hand-written gradient over the training set, measured
/// alternately in the same run, the best of several rounds of each.
fn time_gradients<const I: usize, const O: usize, N: Network<I, O>>(
    net: &N,
    d: &Dataset<I>,
) -> (Duration, Duration) {
    let labels: Vec<[f64; O]> = d.y.iter().map(|&y| one_hot(y)).collect();
    let rounds = 20;
    let mut best = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let started = Instant::now();
        for (x, y) in d.x.iter().zip(&labels) {
            std::hint::black_box(net.generated(std::hint::black_box(x), y));
        }
        best.0 = best.0.min(started.elapsed());
        let started = Instant::now();
        for (x, y) in d.x.iter().zip(&labels) {
            std::hint::black_box(net.by_hand(std::hint::black_box(x), y));
        }
        best.1 = best.1.min(started.elapsed());
    }
    best
}
