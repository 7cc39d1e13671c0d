//! The main example, checked: training on Iris makes progress (debug build, a few epochs), the
//! emitted gradients equal hand-written backpropagation, and bad data files give errors that
//! name the file and the line.

#[path = "../examples/train_mlp/data.rs"]
mod data;
#[path = "../examples/train_mlp/net.rs"]
mod net;
#[path = "../examples/train_mlp/train.rs"]
mod train;

use std::path::PathBuf;

use net::{one_hot, Mlp, Network, Skip};
use train::Options;

#[test]
fn a_few_epochs_on_iris_lower_the_loss_and_classify() {
    let options = Options {
        epochs: 30,
        ..Options::default()
    };
    let report = train::run(&options, &mut std::io::sink()).expect("iris trains");
    assert!(report.final_loss < 0.5 * report.first_loss, "{report:?}");
    assert!(report.test_accuracy >= 0.85, "{report:?}");
    assert!(report.train_accuracy >= 0.85, "{report:?}");
    assert!(report.gradient_check < 1e-5, "{report:?}");
}

#[test]
fn the_skip_network_trains_too() {
    let options = Options {
        epochs: 30,
        arch: "skip".into(),
        ..Options::default()
    };
    let report = train::run(&options, &mut std::io::sink()).expect("iris trains");
    assert!(report.final_loss < 0.5 * report.first_loss, "{report:?}");
    assert!(report.test_accuracy >= 0.85, "{report:?}");
}

/// The emitted gradient equals hand-written backpropagation to 1e-12, relative to the largest
/// component, on random weights and random samples.
fn matches_backpropagation<const I: usize, const O: usize, N: Network<I, O>>() {
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..20 {
        let net = N::random(&mut rng);
        let x: [f64; I] = std::array::from_fn(|_| 4.0 * rng.f64() - 2.0);
        let y = one_hot::<O>(rng.usize(0..O));
        let (loss, generated) = net.generated(&x, &y);
        let (hand_loss, by_hand) = net.by_hand(&x, &y);
        assert!(
            (loss - hand_loss).abs() <= 1e-12 * loss.abs().max(1.0),
            "{loss} {hand_loss}"
        );
        let (g, h) = (generated.parameters(), by_hand.parameters());
        let scale = h.iter().fold(1e-300_f64, |m, v| m.max(v.abs()));
        for (k, (g, h)) in g.iter().zip(&h).enumerate() {
            assert!(
                (g - h).abs() <= 1e-12 * scale,
                "parameter {k}: {g} against {h}"
            );
        }
    }
}

#[test]
fn mlp_gradient_equals_backpropagation() {
    matches_backpropagation::<4, 3, Mlp<4, 8, 3>>();
    matches_backpropagation::<30, 2, Mlp<30, 16, 2>>();
    matches_backpropagation::<64, 10, Mlp<64, 32, 10>>();
}

#[test]
fn skip_gradient_equals_backpropagation() {
    matches_backpropagation::<4, 3, Skip<4, 8, 3>>();
    matches_backpropagation::<30, 2, Skip<30, 16, 2>>();
}

fn bad_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradgen-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a temporary file");
    path
}

fn load_error(path: &std::path::Path) -> String {
    match data::load::<4>(path, 3) {
        Ok(d) => panic!("{} loaded {} samples", path.display(), d.x.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_file_is_named() {
    let path = PathBuf::from("/nonexistent/iris.csv");
    let message = load_error(&path);
    assert!(
        message.starts_with("/nonexistent/iris.csv: cannot open"),
        "{message}"
    );
}

#[test]
fn a_wrong_column_count_names_the_line() {
    let path = bad_file(
        "columns.csv",
        "3,4,a,b,c\n5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0\n",
    );
    let message = load_error(&path);
    assert!(
        message.ends_with("columns.csv:3: expected 5 columns (4 features and the class), found 4"),
        "{message}"
    );
}

#[test]
fn a_field_that_is_not_a_number_names_the_line_and_column() {
    let path = bad_file("number.csv", "5.1,3.5,1.4,0.2,0\n4.9,three,1.4,0.2,0\n");
    let message = load_error(&path);
    assert!(
        message.ends_with("number.csv:2: column 2 is `three`, which is not a number"),
        "{message}"
    );
}

#[test]
fn a_class_out_of_range_names_the_line() {
    let path = bad_file("label.csv", "5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,7\n");
    let message = load_error(&path);
    assert!(
        message.ends_with("label.csv:2: the class `7` is not an integer from 0 to 2"),
        "{message}"
    );
}

#[test]
fn the_example_reports_a_bad_file_instead_of_panicking() {
    let path = bad_file("short.csv", "1,2\n");
    let options = Options {
        file: Some(path),
        ..Options::default()
    };
    let message = train::run(&options, &mut std::io::sink()).expect_err("a bad file");
    assert!(
        message.contains("short.csv:1: expected 5 columns"),
        "{message}"
    );
}

#[test]
fn options_parse_and_reject() {
    let args = [
        "--data",
        "breast-cancer",
        "--hidden",
        "16",
        "--epochs",
        "3",
        "--seed",
        "2",
    ];
    let o = Options::from_args(args.map(Into::into))
        .expect("valid")
        .expect("not help");
    assert_eq!(
        (o.data.as_str(), o.hidden, o.epochs, o.seed),
        ("breast-cancer", 16, 3, 2)
    );
    assert!(Options::from_args(["--help"].map(Into::into))
        .expect("valid")
        .is_none());
    assert!(Options::HELP.contains("--epochs N"));
    let bad = Options::from_args(["--epochs", "many"].map(Into::into));
    assert_eq!(
        bad.expect_err("not a number"),
        "--epochs takes a number, not `many`"
    );
    let unknown = train::run(
        &Options {
            hidden: 5,
            ..Options::default()
        },
        &mut std::io::sink(),
    );
    assert!(unknown
        .expect_err("no such size")
        .starts_with("no compiled network"));
}
