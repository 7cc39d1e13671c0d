//! Numeric checks of generated gradients against forward-mode dual numbers and finite
//! differences.
//!
//! A [`Rule`] bundles a generated `<name>_grad`, the plain function it was generated from, and
//! a reference built on [`Dual64`] (num-dual's methods, or a helper of [`dual`] where num-dual
//! has no such method or its formula breaks down at extreme arguments). [`Rule::check`] runs
//! it over a set of points and, at every point, compares
//!
//! - the value with the plain function, exactly (NaN matches NaN);
//! - every partial with the dual reference: `|g - e| <= DUAL_REL·|e| + abs`, where `abs` is
//!   [`TINY_ABS`] unless the rule sets its own; an infinite reference must be matched exactly;
//!   a NaN reference is skipped and not counted (the reference broke down, typically `0·inf`
//!   inside num-dual at a singular point that the convention tests cover by name);
//! - every partial with a central finite difference (step relative to the point's size),
//!   within `FD_REL` plus an allowance for rounding and underflow and for the truncation
//!   error, estimated from a second difference with twice the step; only where one means
//!   something: not beyond `fd_max` in magnitude, not at the rule's kinks, not where the
//!   function or the gradient is not finite.
//!
//! A [`Suite`] collects the outcomes of several rules, prints what was checked, and fails once
//! with every mismatch listed.

pub use num_dual::{Dual64, DualNum};

/// Relative tolerance against the dual reference.
pub const DUAL_REL: f64 = 1e-10;
/// Absolute tolerance against the dual reference, for expected values at or near zero.
pub const TINY_ABS: f64 = 1e-300;
/// The step of a central difference, relative to the size of the point.
pub const FD_STEP: f64 = 1e-7;
/// Relative tolerance against central differences.
pub const FD_REL: f64 = 1e-5;
/// Rounding allowance of a central difference, in units of `(|f(x+h)| + |f(x-h)|) / 2h`.
pub const FD_NOISE: f64 = 16.0 * f64::EPSILON;
/// Beyond this magnitude of any argument, finite differences are not tried by default.
pub const FD_MAX: f64 = 1e6;
/// The fewest points at which every partial of a rule must be compared with the reference.
pub const MIN_POINTS: usize = 20;

type GradFn<'a, const N: usize> = Box<dyn Fn([f64; N]) -> (f64, [f64; N]) + 'a>;
type PlainFn<'a, const N: usize> = Box<dyn Fn([f64; N]) -> f64 + 'a>;
type DualFn<'a, const N: usize> = Box<dyn Fn([Dual64; N]) -> Dual64 + 'a>;
type PointFn<'a, const N: usize> = Box<dyn Fn([f64; N]) -> bool + 'a>;

/// A generated gradient with what it is checked against.
pub struct Rule<'a, const N: usize> {
    name: String,
    grad: GradFn<'a, N>,
    plain: PlainFn<'a, N>,
    reference: DualFn<'a, N>,
    abs: f64,
    fd_max: f64,
    kink: PointFn<'a, N>,
}

/// A rule of one argument.
pub fn unary<'a>(
    name: &str,
    grad: impl Fn(f64) -> (f64, f64) + 'a,
    plain: impl Fn(f64) -> f64 + 'a,
    reference: impl Fn(Dual64) -> Dual64 + 'a,
) -> Rule<'a, 1> {
    Rule::new(
        name,
        move |[x]| {
            let (v, d) = grad(x);
            (v, [d])
        },
        move |[x]| plain(x),
        move |[x]| reference(x),
    )
}

/// A rule of two arguments.
pub fn binary<'a>(
    name: &str,
    grad: impl Fn(f64, f64) -> (f64, (f64, f64)) + 'a,
    plain: impl Fn(f64, f64) -> f64 + 'a,
    reference: impl Fn(Dual64, Dual64) -> Dual64 + 'a,
) -> Rule<'a, 2> {
    Rule::new(
        name,
        move |[x, y]| {
            let (v, (dx, dy)) = grad(x, y);
            (v, [dx, dy])
        },
        move |[x, y]| plain(x, y),
        move |[x, y]| reference(x, y),
    )
}

/// A rule of three arguments.
pub fn ternary<'a>(
    name: &str,
    grad: impl Fn(f64, f64, f64) -> (f64, (f64, f64, f64)) + 'a,
    plain: impl Fn(f64, f64, f64) -> f64 + 'a,
    reference: impl Fn(Dual64, Dual64, Dual64) -> Dual64 + 'a,
) -> Rule<'a, 3> {
    Rule::new(
        name,
        move |[x, y, z]| {
            let (v, (dx, dy, dz)) = grad(x, y, z);
            (v, [dx, dy, dz])
        },
        move |[x, y, z]| plain(x, y, z),
        move |[x, y, z]| reference(x, y, z),
    )
}

impl<'a, const N: usize> Rule<'a, N> {
    /// A rule with the default tolerances and no kinks.
    pub fn new(
        name: &str,
        grad: impl Fn([f64; N]) -> (f64, [f64; N]) + 'a,
        plain: impl Fn([f64; N]) -> f64 + 'a,
        reference: impl Fn([Dual64; N]) -> Dual64 + 'a,
    ) -> Self {
        Rule {
            name: name.to_string(),
            grad: Box::new(grad),
            plain: Box::new(plain),
            reference: Box::new(reference),
            abs: TINY_ABS,
            fd_max: FD_MAX,
            kink: Box::new(|_| false),
        }
    }

    /// Sets the absolute tolerance against the dual reference.
    pub fn abs(mut self, abs: f64) -> Self {
        self.abs = abs;
        self
    }

    /// Sets the largest argument magnitude at which finite differences are tried.
    pub fn fd_max(mut self, fd_max: f64) -> Self {
        self.fd_max = fd_max;
        self
    }

    /// Marks the points where finite differences mean nothing (kinks, jumps, domain edges).
    pub fn kinks(mut self, kink: impl Fn([f64; N]) -> bool + 'a) -> Self {
        self.kink = Box::new(kink);
        self
    }

    /// Checks the rule at every point.
    pub fn check(&self, points: &[[f64; N]]) -> Outcome {
        let mut out = Outcome {
            name: self.name.clone(),
            points: points.len(),
            dual_points: 0,
            fd_partials: 0,
            failures: Vec::new(),
        };
        for &x in points {
            self.check_point(x, &mut out);
        }
        out
    }

    fn check_point(&self, x: [f64; N], out: &mut Outcome) {
        let (value, grad) = (self.grad)(x);
        let plain = (self.plain)(x);
        let at = format!("{} at {}", self.name, show(&x));
        if !same(value, plain) {
            out.failures
                .push(format!("{at}: value {value:e}, plain function {plain:e}"));
        }
        let mut compared = 0;
        for (i, &g) in grad.iter().enumerate() {
            let r = (self.reference)(seeded(x, i));
            if plain.is_finite() && !close(r.re, plain, DUAL_REL, TINY_ABS) {
                let msg = format!("{at}: reference value {:e} != {plain:e} (test bug)", r.re);
                out.failures.push(msg);
            }
            if r.eps.is_nan() {
                continue;
            }
            compared += 1;
            if !close(g, r.eps, DUAL_REL, self.abs) {
                let e = r.eps;
                out.failures
                    .push(format!("{at}: partial {i} = {g:e}, dual reference {e:e}"));
            }
        }
        if compared == N {
            out.dual_points += 1;
        }
        let fd_applies =
            plain.is_finite() && x.iter().all(|v| v.abs() <= self.fd_max) && !(self.kink)(x);
        if !fd_applies {
            return;
        }
        for (i, &g) in grad.iter().enumerate() {
            if !g.is_finite() {
                continue;
            }
            let Some((slope, allowance)) = self.central_difference(x, i) else {
                continue;
            };
            out.fd_partials += 1;
            if (slope - g).abs() > FD_REL * g.abs().max(slope.abs()) + allowance {
                let msg = format!(
                    "{at}: partial {i} = {g:e}, central difference {slope:e} (± {allowance:e})"
                );
                out.failures.push(msg);
            }
        }
    }

    /// The central difference along argument `i` with step `h/2`, and how far it may be
    /// from the derivative: its rounding allowance plus its truncation error, estimated (as
    /// in Richardson extrapolation) by its distance from the difference with step `h`. `None`
    /// where the function is not finite on both sides.
    fn central_difference(&self, x: [f64; N], i: usize) -> Option<(f64, f64)> {
        let size = if x[i] != 0.0 {
            x[i].abs()
        } else {
            x.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
        };
        let h = FD_STEP * if size == 0.0 { 1.0 } else { size };
        let (wide, wide_noise) = self.difference(x, i, h)?;
        let (narrow, noise) = self.difference(x, i, h / 2.0)?;
        Some((narrow, noise + wide_noise + (wide - narrow).abs()))
    }

    /// `(f(x + h e_i) - f(x - h e_i)) / 2h` and its rounding allowance: a few ulps of each
    /// value, and a few subnormal quanta where the values underflow.
    fn difference(&self, x: [f64; N], i: usize, h: f64) -> Option<(f64, f64)> {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let (f_up, f_down) = ((self.plain)(up), (self.plain)(down));
        if !f_up.is_finite() || !f_down.is_finite() {
            return None;
        }
        let width = up[i] - down[i];
        let quantum = f64::from_bits(1);
        let noise = (FD_NOISE * (f_up.abs() + f_down.abs()) + 4.0 * quantum) / width;
        Some(((f_up - f_down) / width, noise))
    }
}

/// What checking one rule found.
pub struct Outcome {
    pub name: String,
    /// The number of points.
    pub points: usize,
    /// The points at which every partial was compared with the dual reference.
    pub dual_points: usize,
    /// The partials compared with a central difference.
    pub fd_partials: usize,
    /// One line per mismatch.
    pub failures: Vec<String>,
}

/// The outcomes of the rules of one test.
#[derive(Default)]
pub struct Suite {
    outcomes: Vec<Outcome>,
}

impl Suite {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `rule` at `points`.
    pub fn run<const N: usize>(&mut self, rule: Rule<'_, N>, points: &[[f64; N]]) -> &mut Self {
        self.outcomes.push(rule.check(points));
        self
    }

    /// Prints what was checked, and fails with every mismatch if there is any, or if a rule
    /// was compared with its reference at fewer than [`MIN_POINTS`] points.
    pub fn finish(&self) {
        let mut failures = Vec::new();
        for o in &self.outcomes {
            println!(
                "{}: {} points, {} fully checked against the dual reference, {} partials \
                 against central differences",
                o.name, o.points, o.dual_points, o.fd_partials
            );
            if o.dual_points < MIN_POINTS {
                failures.push(format!(
                    "{}: only {} points checked against the dual reference",
                    o.name, o.dual_points
                ));
            }
            failures.extend(o.failures.iter().cloned());
        }
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Whether `got` matches `expected` within `rel·|expected| + abs`; infinities must be equal.
pub fn close(got: f64, expected: f64, rel: f64, abs: f64) -> bool {
    if expected.is_infinite() || got.is_infinite() {
        return got == expected;
    }
    (got - expected).abs() <= rel * expected.abs() + abs
}

/// Equal, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The point as duals, with argument `i` seeded.
pub fn seeded<const N: usize>(x: [f64; N], i: usize) -> [Dual64; N] {
    std::array::from_fn(|j| Dual64::new(x[j], if i == j { 1.0 } else { 0.0 }))
}

fn show<const N: usize>(x: &[f64; N]) -> String {
    let parts: Vec<String> = x.iter().map(|v| format!("{v:e}")).collect();
    format!("({})", parts.join(", "))
}

/// One-argument points.
pub fn singles(xs: &[f64]) -> Vec<[f64; 1]> {
    xs.iter().map(|&x| [x]).collect()
}

/// Every pair of `xs × ys`.
pub fn pairs(xs: &[f64], ys: &[f64]) -> Vec<[f64; 2]> {
    xs.iter()
        .flat_map(|&x| ys.iter().map(move |&y| [x, y]))
        .collect()
}

/// Every triple of `xs × ys × zs`.
pub fn triples(xs: &[f64], ys: &[f64], zs: &[f64]) -> Vec<[f64; 3]> {
    pairs(xs, ys)
        .into_iter()
        .flat_map(|[x, y]| zs.iter().map(move |&z| [x, y, z]))
        .collect()
}

/// Dual-number references that num-dual lacks, or whose num-dual formula overflows or
/// underflows inside at the extreme arguments these tests use. Where a reference formula is
/// the textbook derivative, it is written out plainly; `rule_*` tests cross-check these
/// helpers against num-dual at moderate arguments.
pub mod dual {
    use super::{Dual64, DualNum};

    /// `slope · eps`, and 0 for an unseeded operand (so that an infinite slope of one operand
    /// does not turn the partial of another into `inf · 0 = NaN`).
    fn times(slope: f64, eps: f64) -> f64 {
        if eps == 0.0 {
            0.0
        } else {
            slope * eps
        }
    }

    /// `value` with derivative `slope` with respect to `x`.
    pub fn chain(x: Dual64, value: f64, slope: f64) -> Dual64 {
        Dual64::new(value, times(slope, x.eps))
    }

    /// The largest power of two not above `m`, an exact scale (1 where `m` is not a normal
    /// number: nothing to fear from its square then).
    fn pow2_below(m: f64) -> f64 {
        if m.is_normal() {
            f64::from_bits(m.to_bits() & 0x7ff0_0000_0000_0000)
        } else {
            1.0
        }
    }

    /// `|x|`, with derivative 0 at 0 (the convention).
    pub fn abs(x: Dual64) -> Dual64 {
        let slope = if x.re > 0.0 {
            1.0
        } else if x.re < 0.0 {
            -1.0
        } else {
            0.0
        };
        chain(x, x.re.abs(), slope)
    }

    /// `max(x, y)`: the larger operand's derivative, half of each at a tie.
    pub fn max(x: Dual64, y: Dual64) -> Dual64 {
        if x.re > y.re {
            x
        } else if y.re > x.re {
            y
        } else {
            Dual64::new(x.re.max(y.re), 0.5 * (x.eps + y.eps))
        }
    }

    /// `min(x, y)`: the smaller operand's derivative, half of each at a tie.
    pub fn min(x: Dual64, y: Dual64) -> Dual64 {
        if x.re < y.re {
            x
        } else if y.re < x.re {
            y
        } else {
            Dual64::new(x.re.min(y.re), 0.5 * (x.eps + y.eps))
        }
    }

    /// `clamp(x, lo, hi)` as `min(max(x, lo), hi)`, which it stands for.
    pub fn clamp(x: Dual64, lo: Dual64, hi: Dual64) -> Dual64 {
        min(max(x, lo), hi)
    }

    /// `x·y + z` fused, as the plain function computes it (num-dual's `mul_add` rounds the
    /// product), with the product rule.
    pub fn mul_add(x: Dual64, y: Dual64, z: Dual64) -> Dual64 {
        let eps = times(y.re, x.eps) + times(x.re, y.eps) + z.eps;
        Dual64::new(x.re.mul_add(y.re, z.re), eps)
    }

    /// A piecewise-constant function (`floor`, `signum`, ...): derivative 0.
    pub fn flat(x: Dual64, f: fn(f64) -> f64) -> Dual64 {
        Dual64::new(f(x.re), 0.0)
    }

    /// `hypot(x, y)` as `s·√((x/s)² + (y/s)²)` in num-dual arithmetic, with an exact
    /// power-of-two scale `s` applied to the values only (the derivative does not change with
    /// the scale): no overflow or underflow, whatever the magnitudes. `(0, 0)` at the origin
    /// (the convention).
    pub fn hypot(x: Dual64, y: Dual64) -> Dual64 {
        if x.re == 0.0 && y.re == 0.0 {
            return Dual64::new(0.0, 0.0);
        }
        let s = pow2_below(x.re.abs().max(y.re.abs()));
        let (xs, ys) = (Dual64::new(x.re / s, x.eps), Dual64::new(y.re / s, y.eps));
        let r = (xs * xs + ys * ys).sqrt();
        Dual64::new(r.re * s, r.eps)
    }

    /// `atan2(y, x)`: `∂/∂y = x / (x² + y²)`, `∂/∂x = -y / (x² + y²)`, with both arguments
    /// divided by an exact power-of-two scale first. NaN at the origin.
    pub fn atan2(y: Dual64, x: Dual64) -> Dual64 {
        let s = pow2_below(x.re.abs().max(y.re.abs()));
        let (xs, ys) = (x.re / s, y.re / s);
        let r2 = xs * xs + ys * ys;
        let eps = (times(xs, y.eps) - times(ys, x.eps)) / r2 / s;
        Dual64::new(y.re.atan2(x.re), eps)
    }

    /// `tanh`, with derivative `1 / cosh²` (num-dual's `sinh / cosh` is `inf / inf` beyond
    /// about 710).
    pub fn tanh(x: Dual64) -> Dual64 {
        chain(x, x.re.tanh(), x.re.cosh().powi(-2))
    }

    /// `asinh`, with derivative `1 / √(1 + x²)`, as `1 / (|x| √(1 + 1/x²))` beyond 1 so that
    /// `x²` cannot overflow (num-dual's `1 / √(1 + x²)` gives 0 at 1e200).
    pub fn asinh(x: Dual64) -> Dual64 {
        let a = x.re.abs();
        let slope = if a <= 1.0 {
            1.0 / (1.0 + a * a).sqrt()
        } else {
            let r = 1.0 / a;
            r / (1.0 + r * r).sqrt()
        };
        chain(x, x.re.asinh(), slope)
    }

    /// `acosh`, with derivative `1 / √(x² - 1)`: `x - 1` is exact below 2, and beyond 2 it is
    /// `1 / (x √(1 - 1/x²))`, so that `x²` cannot overflow.
    pub fn acosh(x: Dual64) -> Dual64 {
        let v = x.re;
        let slope = if v < 2.0 {
            1.0 / ((v - 1.0) * (v + 1.0)).sqrt()
        } else {
            let r = 1.0 / v;
            r / (1.0 - r * r).sqrt()
        };
        chain(x, v.acosh(), slope)
    }

    /// `x^n`, with the textbook derivative `n·x^(n-1)` (num-dual forms `x^(n-3)·x·x`, which
    /// overflows or underflows first).
    pub fn powi(x: Dual64, n: i32) -> Dual64 {
        let slope = if n == 0 {
            0.0
        } else {
            f64::from(n) * x.re.powi(n - 1)
        };
        chain(x, x.re.powi(n), slope)
    }

    /// `x^c` for a constant `c`, with the textbook derivative `c·x^(c-1)`.
    pub fn powf(x: Dual64, c: f64) -> Dual64 {
        let slope = if c == 0.0 {
            0.0
        } else {
            c * x.re.powf(c - 1.0)
        };
        chain(x, x.re.powf(c), slope)
    }

    /// `x^y` for a variable `y`: `∂/∂x = y·x^(y-1)`, `∂/∂y = x^y ln x`.
    pub fn powf_var(x: Dual64, y: Dual64) -> Dual64 {
        let v = x.re.powf(y.re);
        let dx = y.re * x.re.powf(y.re - 1.0);
        let dy = v * x.re.ln();
        Dual64::new(v, times(dx, x.eps) + times(dy, y.eps))
    }
}
