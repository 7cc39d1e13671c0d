//! Loading the classification data sets: CSV (optionally gzip-compressed) through the `csv` and
//! `flate2` crates, a seeded train/test split, and feature standardisation.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A labelled data set with `I` features per sample.
#[derive(Clone, Debug)]
pub struct Dataset<const I: usize> {
    pub x: Vec<[f64; I]>,
    pub y: Vec<usize>,
    pub classes: usize,
}

/// A problem reading a data file, with the file and line it is about.
#[derive(Debug)]
pub enum DataError {
    Open {
        path: PathBuf,
        error: std::io::Error,
    },
    Read {
        path: PathBuf,
        line: u64,
        error: String,
    },
    Columns {
        path: PathBuf,
        line: u64,
        expected: usize,
        found: usize,
    },
    Number {
        path: PathBuf,
        line: u64,
        column: usize,
        field: String,
    },
    Label {
        path: PathBuf,
        line: u64,
        label: f64,
        classes: usize,
    },
    Empty {
        path: PathBuf,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Open { path, error } => {
                write!(f, "{}: cannot open: {error}", path.display())
            }
            DataError::Read { path, line, error } => {
                write!(f, "{}:{line}: {error}", path.display())
            }
            DataError::Columns {
                path,
                line,
                expected,
                found,
            } => write!(
                f,
                "{}:{line}: expected {expected} columns ({} features and the class), found {found}",
                path.display(),
                expected - 1
            ),
            DataError::Number {
                path,
                line,
                column,
                field,
            } => write!(
                f,
                "{}:{line}: column {column} is `{field}`, which is not a number",
                path.display()
            ),
            DataError::Label {
                path,
                line,
                label,
                classes,
            } => write!(
                f,
                "{}:{line}: the class `{label}` is not an integer from 0 to {}",
                path.display(),
                classes - 1
            ),
            DataError::Empty { path } => write!(f, "{}: no samples", path.display()),
        }
    }
}

impl std::error::Error for DataError {}

/// Where the example's data files are: `examples/data` of this repository.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("data")
}

/// Reads a data set of `I` features and `classes` classes. A `.gz` file is decompressed; a
/// file whose first line is the `rows,features,class names...` header has it skipped.
pub fn load<const I: usize>(path: &Path, classes: usize) -> Result<Dataset<I>, DataError> {
    let file = File::open(path).map_err(|error| DataError::Open {
        path: path.into(),
        error,
    })?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut data = Dataset {
        x: Vec::new(),
        y: Vec::new(),
        classes,
    };
    for (index, record) in csv.records().enumerate() {
        let line = index as u64 + 1;
        let record = record.map_err(|e| DataError::Read {
            path: path.into(),
            line: e.position().map_or(line, |p| p.line()),
            error: e.to_string(),
        })?;
        if index == 0 && is_header(&record) {
            continue;
        }
        let (x, y) = sample::<I>(path, line, &record, classes)?;
        data.x.push(x);
        data.y.push(y);
    }
    if data.x.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(data)
}

/// The header line holds class names, so some field of it is not a number.
fn is_header(record: &csv::StringRecord) -> bool {
    record
        .iter()
        .any(|field| field.trim().parse::<f64>().is_err())
}

fn sample<const I: usize>(
    path: &Path,
    line: u64,
    record: &csv::StringRecord,
    classes: usize,
) -> Result<([f64; I], usize), DataError> {
    if record.len() != I + 1 {
        let found = record.len();
        return Err(DataError::Columns {
            path: path.into(),
            line,
            expected: I + 1,
            found,
        });
    }
    let mut values = [0.0; I];
    let mut label = 0.0;
    for (column, field) in record.iter().enumerate() {
        let value = field.trim().parse::<f64>().map_err(|_| DataError::Number {
            path: path.into(),
            line,
            column: column + 1,
            field: field.to_string(),
        })?;
        match values.get_mut(column) {
            Some(slot) => *slot = value,
            None => label = value,
        }
    }
    let class = label as usize;
    if label.fract() != 0.0 || label < 0.0 || class >= classes {
        return Err(DataError::Label {
            path: path.into(),
            line,
            label,
            classes,
        });
    }
    Ok((values, class))
}

impl<const I: usize> Dataset<I> {
    /// Splits off a test set of `test_fraction` of the samples, shuffled with `seed`.
    pub fn split(&self, test_fraction: f64, seed: u64) -> (Dataset<I>, Dataset<I>) {
        let mut order: Vec<usize> = (0..self.x.len()).collect();
        fastrand::Rng::with_seed(seed).shuffle(&mut order);
        let test_len = (self.x.len() as f64 * test_fraction).round() as usize;
        let pick = |indices: &[usize]| Dataset {
            x: indices.iter().map(|&i| self.x[i]).collect(),
            y: indices.iter().map(|&i| self.y[i]).collect(),
            classes: self.classes,
        };
        (pick(&order[test_len..]), pick(&order[..test_len]))
    }

    /// The mean and standard deviation of each feature (a constant feature gets 1).
    pub fn moments(&self) -> ([f64; I], [f64; I]) {
        let n = self.x.len() as f64;
        let mut mean = [0.0; I];
        let mut std = [0.0; I];
        for x in &self.x {
            for k in 0..I {
                mean[k] += x[k] / n;
            }
        }
        for x in &self.x {
            for k in 0..I {
                std[k] += (x[k] - mean[k]).powi(2) / n;
            }
        }
        (mean, std.map(|v| if v > 0.0 { v.sqrt() } else { 1.0 }))
    }

    /// The features standardised with the given moments (those of the training set).
    pub fn standardised(&self, (mean, std): &([f64; I], [f64; I])) -> Dataset<I> {
        let x = self
            .x
            .iter()
            .map(|x| std::array::from_fn(|k| (x[k] - mean[k]) / std[k]))
            .collect();
        Dataset {
            x,
            y: self.y.clone(),
            classes: self.classes,
        }
    }
}
