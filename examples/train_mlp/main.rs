//! Trains a tanh network classifier on a real data set with gradients emitted by `#[grad]`.
//!
//! ```text
//! cargo run --release --example train_mlp                          # Iris, 4-8-3
//! cargo run --release --example train_mlp -- --arch skip           # the DAG with a skip
//! cargo run --release --example train_mlp -- --data breast-cancer  # 30-16-2
//! ```
//!
//! The loss of one sample is a `#[grad]` function (see `net.rs`); training sums the per-sample
//! gradients of each mini-batch and takes a gradient-descent step. Before training, the
//! emitted gradient is checked against central finite differences; after it, the time of the
//! emitted gradient is compared with hand-written backpropagation of the same network, in the
//! same run.

mod data;
mod net;
mod train;

use std::io::Write;
use std::process::ExitCode;

use train::{Options, Report};

fn main() -> ExitCode {
    let options = match Options::from_args(std::env::args_os().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{}", Options::HELP);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{}", Options::HELP);
            return ExitCode::from(2);
        }
    };
    match train::run(&options, &mut std::io::stdout()) {
        Ok(Report { gradient_check, .. }) if gradient_check > 1e-5 => {
            eprintln!("error: the gradient check failed ({gradient_check:.2e})");
            ExitCode::FAILURE
        }
        Ok(r) => {
            let (first, last, train) = (r.first_loss, r.final_loss, r.train_accuracy);
            // A closed pipe (`| head`) is no reason to fail.
            let _ = writeln!(
                std::io::stdout(),
                "mean loss {first:.4} before training, {last:.4} in the last epoch; train accuracy {train:.3}"
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
