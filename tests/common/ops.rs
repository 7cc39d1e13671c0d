//! The functions of one operation each that both `rules.rs` and `conventions.rs` check: the
//! first on many points, the second at the point where the derivative is a convention.

use gradgen::grad;

#[grad]
pub fn abs(x: f64) -> f64 {
    x.abs()
}

#[grad]
pub fn max(x: f64, y: f64) -> f64 {
    x.max(y)
}

#[grad]
pub fn min(x: f64, y: f64) -> f64 {
    x.min(y)
}

#[grad]
pub fn clamp_const(x: f64) -> f64 {
    x.clamp(-1.0, 2.0)
}

#[grad]
pub fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

#[grad]
pub fn sqrt(x: f64) -> f64 {
    x.sqrt()
}

#[grad]
pub fn powf_2_5(x: f64) -> f64 {
    x.powf(2.5)
}

#[grad]
pub fn powf_1(x: f64) -> f64 {
    x.powf(1.0)
}

#[grad]
pub fn powf_0_5(x: f64) -> f64 {
    x.powf(0.5)
}

#[grad]
pub fn powf_3(x: f64) -> f64 {
    x.powf(3.0)
}

#[grad]
pub fn powf(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[grad]
pub fn powi_0(x: f64) -> f64 {
    x.powi(0)
}

#[grad]
pub fn hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

#[grad]
pub fn tanh(x: f64) -> f64 {
    x.tanh()
}

#[grad]
pub fn floor(x: f64) -> f64 {
    x.floor()
}

#[grad]
pub fn ceil(x: f64) -> f64 {
    x.ceil()
}

#[grad]
pub fn round(x: f64) -> f64 {
    x.round()
}

#[grad]
pub fn trunc(x: f64) -> f64 {
    x.trunc()
}

#[grad]
pub fn signum(x: f64) -> f64 {
    x.signum()
}
