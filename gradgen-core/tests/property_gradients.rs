//! Property test: the reverse-mode gradient of randomly generated functions agrees with
//! forward-mode dual numbers (num-dual) on the same expression tree.
//!
//! Each case is a function `fn f(x: f64, y: f64, z: f64) -> f64` made of `let` bindings and a
//! final expression over the supported operations, in method form (`a.sin()`) and path form
//! (`f64::sin(a)`), nested up to 8 operations deep (the domain guards below add a few more
//! levels), with later bindings reusing earlier ones and the parameters several times (and
//! sometimes repeating a whole subtree, or shadowing a name).
//! The tree is rendered as Rust source, taken through `parse_function` and `differentiate`,
//! and evaluated with `eval::evaluate` at random points; the same tree is evaluated
//! independently with `Dual64`, once per input.
//!
//! Domains are kept safe by construction (`ln` of `|e| + 0.5`, `asin` of `0.9 * tanh(e)`,
//! ...). Kinks (`abs`, `max`, `min`, `clamp`, `floor`, ...) are generated, and a point that lands
//! within 1e-6 of a kink or a jump is skipped, since the two sides there legitimately differ.
//!
//! The tolerance is relative 1e-9 (with an absolute floor of 1e-12), widened by an estimate of
//! the rounding noise of the expression: the dual evaluation is repeated with every
//! intermediate result perturbed by about 2^-40 relative (Monte Carlo arithmetic), and the
//! spread that causes is added to the tolerance. That spread is thousands of times larger than
//! the few-ulp differences between two correct evaluations (fused `mul_add`, constant folding,
//! different but equivalent derivative formulas), so a cancellation cannot fail the test, while
//! a wrong rule still does: a relative error of 1e-8 in the derivative of `sin` alone fails
//! hundreds of comparisons.
//!
//! Values are compared where both sides are finite. A non-finite gradgen result where the
//! reference is an ordinary number (below 1e100) is a failure; a reference that alone is NaN
//! (num-dual computes `0 * inf` on constant subexpressions such as `cbrt(-0.0)`) is counted and
//! skipped. `SHOW_NONFINITE=1` prints those cases.
//!
//! Deterministic: every random choice comes from a seeded splitmix64.

mod common;

use common::Rng;
use std::fmt::Write as _;

use num_dual::{Dual64, DualNum};

const SEED: u64 = 0x6772_6164_6765_6e21;
const FUNCTIONS: usize = 600;
const POINTS_PER_FUNCTION: usize = 5;
const MAX_DEPTH: u32 = 8;
/// A point closer than this to a kink or a jump of the tree is skipped.
const KINK_MARGIN: f64 = 1e-6;
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;
/// The relative perturbation of every intermediate result in the noise estimate.
const MC_DELTA: f64 = 1.0 / (1u64 << 40) as f64;

// ---------------------------------------------------------------------------------------------
// Expression trees

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

/// The float methods the generator uses, with their arity (receiver included).
#[derive(Clone, Copy, Debug, PartialEq)]
enum F {
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Exp,
    Exp2,
    ExpM1,
    Ln,
    Log2,
    Log10,
    Ln1p,
    Log,
    Sqrt,
    Cbrt,
    Powf,
    Recip,
    Abs,
    Hypot,
    Max,
    Min,
    Clamp,
    MulAdd,
    Floor,
    Ceil,
    Round,
    Trunc,
    Signum,
}

impl F {
    fn name(self) -> &'static str {
        match self {
            F::Sin => "sin",
            F::Cos => "cos",
            F::Tan => "tan",
            F::Asin => "asin",
            F::Acos => "acos",
            F::Atan => "atan",
            F::Atan2 => "atan2",
            F::Sinh => "sinh",
            F::Cosh => "cosh",
            F::Tanh => "tanh",
            F::Asinh => "asinh",
            F::Acosh => "acosh",
            F::Atanh => "atanh",
            F::Exp => "exp",
            F::Exp2 => "exp2",
            F::ExpM1 => "exp_m1",
            F::Ln => "ln",
            F::Log2 => "log2",
            F::Log10 => "log10",
            F::Ln1p => "ln_1p",
            F::Log => "log",
            F::Sqrt => "sqrt",
            F::Cbrt => "cbrt",
            F::Powf => "powf",
            F::Recip => "recip",
            F::Abs => "abs",
            F::Hypot => "hypot",
            F::Max => "max",
            F::Min => "min",
            F::Clamp => "clamp",
            F::MulAdd => "mul_add",
            F::Floor => "floor",
            F::Ceil => "ceil",
            F::Round => "round",
            F::Trunc => "trunc",
            F::Signum => "signum",
        }
    }
}

/// How a literal constant is spelled.
#[derive(Clone, Copy, Debug)]
enum ConstForm {
    /// `{:?}` of the value: `1.5`, `1e-7`.
    Plain,
    /// An integer-valued constant as `3f64`.
    Suffixed,
    /// A named constant, by path.
    Named(&'static str),
}

#[derive(Clone, Debug)]
enum E {
    /// A parameter (`0..3`) or a `let` binding (`3 + k`).
    Var(usize),
    Const(f64, ConstForm),
    Neg(Box<E>),
    Bin(Bin, Box<E>, Box<E>),
    /// A method call; `path` renders it as `f64::name(args)` instead of `a.name(rest)`.
    Call(F, Vec<E>, bool),
    /// `a.powi(n)`.
    Powi(Box<E>, i32, bool),
    /// Redundant parentheses around the operand when rendered.
    Paren(Box<E>),
}

fn bin(op: Bin, a: E, b: E) -> E {
    E::Bin(op, Box::new(a), Box::new(b))
}

fn lit(v: f64) -> E {
    E::Const(v, ConstForm::Plain)
}

struct Program {
    /// The `let` bindings in order: name and value.
    lets: Vec<(String, E)>,
    output: E,
}

const PARAMS: [&str; 3] = ["x", "y", "z"];
const LET_NAMES: [&str; 8] = ["a", "b", "c", "d", "g", "h", "k", "m"];

struct Gen<'r> {
    rng: &'r mut Rng,
    /// The variables a leaf may name now: parameters and the visible `let`s.
    visible: Vec<usize>,
    /// Subtrees built so far in this program, to repeat some of them verbatim.
    built: Vec<E>,
}

impl Gen<'_> {
    fn leaf(&mut self) -> E {
        if self.rng.chance(0.15) {
            return self.constant();
        }
        let lets: Vec<usize> = self.visible.iter().copied().filter(|&v| v >= 3).collect();
        if !lets.is_empty() && self.rng.chance(0.6) {
            return E::Var(*self.rng.pick(&lets));
        }
        E::Var(self.rng.below(3))
    }

    fn constant(&mut self) -> E {
        match self.rng.below(10) {
            0 => {
                let (path, v) = *self.rng.pick(&[
                    ("std::f64::consts::PI", std::f64::consts::PI),
                    ("f64::consts::E", std::f64::consts::E),
                    ("core::f64::consts::LN_2", std::f64::consts::LN_2),
                    (
                        "std::f64::consts::FRAC_1_SQRT_2",
                        std::f64::consts::FRAC_1_SQRT_2,
                    ),
                    ("f64::EPSILON", f64::EPSILON),
                ]);
                E::Const(v, ConstForm::Named(path))
            }
            1 => E::Const(self.rng.range(-3.0, 4.0).round(), ConstForm::Suffixed),
            2 => lit(*self.rng.pick(&[0.5, 1.0, 2.0, 0.0, -1.0, 1e-3, 3.25])),
            _ => {
                let v = self.rng.range(-3.0, 3.0);
                // A few significant digits, as a person would write.
                lit((v * 1000.0).round() / 1000.0)
            }
        }
    }

    /// A value in [-1, 1]: `sin`, `cos` or `tanh` of `e`.
    fn bounded(&mut self, e: E) -> E {
        let f = *self.rng.pick(&[F::Sin, F::Cos, F::Tanh]);
        self.call(f, vec![e])
    }

    /// A value at least 0.5: `|e| + 0.5`, or `e * e + 1`.
    fn positive(&mut self, e: E) -> E {
        if self.rng.chance(0.8) {
            let abs = self.call(F::Abs, vec![e]);
            bin(Bin::Add, abs, lit(0.5))
        } else {
            bin(Bin::Add, bin(Bin::Mul, e.clone(), e), lit(1.0))
        }
    }

    fn call(&mut self, f: F, args: Vec<E>) -> E {
        E::Call(f, args, self.rng.chance(0.3))
    }

    fn expr(&mut self, depth: u32) -> E {
        if depth == 0 || self.rng.chance(0.12 + 0.06 * f64::from(MAX_DEPTH - depth)) {
            return self.leaf();
        }
        if self.built.len() > 2 && self.rng.chance(0.06) {
            return self.rng.pick(&self.built).clone();
        }
        let e = self.node(depth - 1);
        if self.rng.chance(0.05) {
            return E::Paren(Box::new(e));
        }
        self.built.push(e.clone());
        e
    }

    fn node(&mut self, d: u32) -> E {
        let choice = self.rng.below(46);
        match choice {
            0..=3 => bin(Bin::Add, self.expr(d), self.expr(d)),
            4..=6 => bin(Bin::Sub, self.expr(d), self.expr(d)),
            7..=10 => bin(Bin::Mul, self.expr(d), self.expr(d)),
            11 => {
                // Division by something kept away from zero, or (rarely) by anything.
                let num = self.expr(d);
                let den = self.expr(d);
                let den = match self.rng.below(4) {
                    0 => den,
                    1 => self.positive(den),
                    2 => bin(Bin::Add, self.bounded(den), lit(2.0)),
                    _ => {
                        let p = self.positive(den);
                        E::Neg(Box::new(p))
                    }
                };
                bin(Bin::Div, num, den)
            }
            12 => E::Neg(Box::new(self.expr(d))),
            13 => {
                let f = *self.rng.pick(&[F::Sin, F::Cos, F::Atan, F::Tanh, F::Asinh]);
                let a = self.expr(d);
                self.call(f, vec![a])
            }
            14 => {
                // tan of an argument inside (-pi/2, pi/2).
                let a = self.expr(d);
                let a = self.bounded(a);
                self.call(F::Tan, vec![a])
            }
            15 => {
                let f = *self.rng.pick(&[F::Asin, F::Acos, F::Atanh]);
                let a = self.expr(d);
                let a = self.call(F::Tanh, vec![a]);
                self.call(f, vec![bin(Bin::Mul, lit(0.9), a)])
            }
            16 => {
                let a = self.expr(d);
                let abs = self.call(F::Abs, vec![a]);
                self.call(F::Acosh, vec![bin(Bin::Add, abs, lit(1.5))])
            }
            17 | 18 => {
                // exp-like of a bounded argument, or (sometimes) of anything.
                let f = *self
                    .rng
                    .pick(&[F::Exp, F::Exp2, F::ExpM1, F::Sinh, F::Cosh]);
                let a = self.expr(d);
                let a = if self.rng.chance(0.75) {
                    let b = self.bounded(a);
                    bin(Bin::Mul, lit(2.5), b)
                } else {
                    a
                };
                self.call(f, vec![a])
            }
            19 | 20 => {
                let f = *self
                    .rng
                    .pick(&[F::Ln, F::Log2, F::Log10, F::Sqrt, F::Recip]);
                let a = self.expr(d);
                let a = self.positive(a);
                self.call(f, vec![a])
            }
            21 => {
                let a = self.expr(d);
                let abs = self.call(F::Abs, vec![a]);
                self.call(F::Ln1p, vec![abs])
            }
            22 => {
                let a = self.expr(d);
                let a = self.positive(a);
                let base = if self.rng.chance(0.5) {
                    lit(*self.rng.pick(&[2.0, 10.0, 3.5, 0.25]))
                } else {
                    let b = self.expr(d);
                    let abs = self.call(F::Abs, vec![b]);
                    bin(Bin::Add, abs, lit(1.5))
                };
                self.call(F::Log, vec![a, base])
            }
            23 => {
                let a = self.expr(d);
                self.call(F::Cbrt, vec![a])
            }
            24..=26 => {
                let n = *self.rng.pick(&[-3, -2, -1, 0, 1, 2, 2, 3, 4, 5]);
                let a = self.expr(d);
                let a = if n < 0 { self.positive(a) } else { a };
                E::Powi(Box::new(a), n, self.rng.chance(0.3))
            }
            27 | 28 => {
                // powf with a constant exponent.
                let c: f64 = *self
                    .rng
                    .pick(&[0.5, 1.5, 2.5, -0.7, 2.0, 3.0, 1.0, 0.0, 1.0 / 3.0]);
                let a = self.expr(d);
                // A negative base is fine for an integer-valued exponent.
                let a = if c.fract() == 0.0 && self.rng.chance(0.5) {
                    a
                } else {
                    self.positive(a)
                };
                self.call(F::Powf, vec![a, lit(c)])
            }
            29 => {
                // powf with a variable exponent.
                let a = self.expr(d);
                let a = self.positive(a);
                let e = self.expr(d);
                let e = self.bounded(e);
                self.call(F::Powf, vec![a, bin(Bin::Mul, lit(1.5), e)])
            }
            30 | 31 => {
                let a = self.expr(d);
                self.call(F::Abs, vec![a])
            }
            32 => {
                let (a, b) = (self.expr(d), self.expr(d));
                self.call(F::Hypot, vec![a, b])
            }
            33..=35 => {
                let f = *self.rng.pick(&[F::Max, F::Min]);
                let (a, b) = (self.expr(d), self.expr(d));
                self.call(f, vec![a, b])
            }
            36 | 37 => {
                let (a, b, c) = (self.expr(d), self.expr(d), self.expr(d));
                self.call(F::MulAdd, vec![a, b, c])
            }
            38 | 39 => {
                let (a, b) = (self.expr(d), self.expr(d));
                self.call(F::Atan2, vec![a, b])
            }
            40 => {
                // clamp with constant bounds, or with lo <= hi by construction.
                let a = self.expr(d);
                if self.rng.chance(0.5) {
                    let lo = self.rng.range(-2.0, 0.5);
                    let lo = (lo * 100.0).round() / 100.0;
                    let hi = lo + 0.25 + (self.rng.range(0.0, 2.0) * 100.0).round() / 100.0;
                    self.call(F::Clamp, vec![a, lit(lo), lit(hi)])
                } else {
                    let lo = self.expr(d);
                    let w = self.expr(d);
                    let abs = self.call(F::Abs, vec![w]);
                    let hi = bin(Bin::Add, lo.clone(), bin(Bin::Add, abs, lit(0.25)));
                    self.call(F::Clamp, vec![a, lo, hi])
                }
            }
            41 => {
                let f = *self
                    .rng
                    .pick(&[F::Floor, F::Ceil, F::Round, F::Trunc, F::Signum]);
                let a = self.expr(d);
                let a = self.call(f, vec![a]);
                // Keep the piecewise-constant part multiplied into something differentiable.
                let b = self.expr(d);
                bin(Bin::Mul, a, b)
            }
            42 => {
                let (a, b) = (self.expr(d), self.expr(d));
                bin(Bin::Mul, a.clone(), bin(Bin::Add, a, b))
            }
            43 => {
                let a = self.expr(d);
                bin(Bin::Mul, a.clone(), a)
            }
            _ => {
                let (a, b) = (self.expr(d), self.expr(d));
                bin(
                    Bin::Sub,
                    bin(Bin::Mul, a.clone(), b.clone()),
                    bin(Bin::Div, a, self.positive(b)),
                )
            }
        }
    }
}

/// Whether every variable of `e` is in `visible`.
fn only_names(e: &E, visible: &[usize]) -> bool {
    match e {
        E::Var(v) => visible.contains(v),
        E::Const(..) => true,
        E::Neg(a) | E::Paren(a) | E::Powi(a, ..) => only_names(a, visible),
        E::Bin(_, a, b) => only_names(a, visible) && only_names(b, visible),
        E::Call(_, args, _) => args.iter().all(|a| only_names(a, visible)),
    }
}

fn generate(rng: &mut Rng) -> Program {
    let n_lets = rng.below(6);
    let mut lets: Vec<(String, E)> = Vec::new();
    let mut visible: Vec<usize> = vec![0, 1, 2];
    let mut built = Vec::new();
    for k in 0..n_lets {
        let depth = 1 + rng.below(MAX_DEPTH as usize) as u32;
        let mut g = Gen {
            rng,
            visible: visible.clone(),
            built,
        };
        let value = g.expr(depth);
        built = g.built;
        // Sometimes shadow an earlier binding's name.
        let name = if k > 0 && rng.chance(0.15) {
            lets[rng.below(k)].0.clone()
        } else {
            LET_NAMES[k].to_string()
        };
        visible.retain(|&v| v < 3 || lets[v - 3].0 != name);
        visible.push(3 + k);
        // A repeated subtree may only name what is still visible.
        built.retain(|e| only_names(e, &visible));
        lets.push((name, value));
    }
    let depth = 1 + rng.below(MAX_DEPTH as usize) as u32;
    let mut g = Gen {
        rng,
        visible,
        built,
    };
    let output = g.node(depth - 1);
    Program { lets, output }
}

// ---------------------------------------------------------------------------------------------
// Rendering as Rust source, with the fewest parentheses that keep the tree's meaning (plus
// the redundant ones the tree asks for).

/// Precedence of a rendered expression: 1 `+ -`, 2 `* /`, 3 unary `-`, 4 method call or path
/// call, 5 atom.
fn render(p: &Program, e: &E, out: &mut String) -> u8 {
    match e {
        E::Var(v) if *v < 3 => {
            out.push_str(PARAMS[*v]);
            5
        }
        E::Var(v) => {
            out.push_str(&p.lets[v - 3].0);
            5
        }
        E::Const(v, form) => match form {
            ConstForm::Named(path) => {
                out.push_str(path);
                5
            }
            _ if *v < 0.0 || (*v == 0.0 && v.is_sign_negative()) => {
                out.push('-');
                render(p, &E::Const(-v, *form), out);
                3
            }
            ConstForm::Suffixed => {
                write!(out, "{}f64", *v as i64).unwrap();
                5
            }
            ConstForm::Plain => {
                write!(out, "{v:?}").unwrap();
                5
            }
        },
        E::Paren(inner) => {
            out.push('(');
            render(p, inner, out);
            out.push(')');
            5
        }
        E::Neg(a) => {
            out.push('-');
            operand(p, a, 3, out);
            3
        }
        E::Bin(op, a, b) => {
            let (prec, sym) = match op {
                Bin::Add => (1, " + "),
                Bin::Sub => (1, " - "),
                Bin::Mul => (2, " * "),
                Bin::Div => (2, " / "),
            };
            operand(p, a, prec, out);
            out.push_str(sym);
            operand(p, b, prec + 1, out);
            prec
        }
        E::Call(f, args, path) => {
            if *path {
                write!(out, "f64::{}(", f.name()).unwrap();
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    render(p, a, out);
                }
                out.push(')');
            } else {
                receiver(p, &args[0], out);
                write!(out, ".{}(", f.name()).unwrap();
                for (i, a) in args[1..].iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    render(p, a, out);
                }
                out.push(')');
            }
            4
        }
        E::Powi(a, n, path) => {
            if *path {
                out.push_str("f64::powi(");
                render(p, a, out);
                write!(out, ", {n})").unwrap();
            } else {
                receiver(p, a, out);
                write!(out, ".powi({n})").unwrap();
            }
            4
        }
    }
}

/// Renders `e` where precedence at least `min` is needed, parenthesizing otherwise.
fn operand(p: &Program, e: &E, min: u8, out: &mut String) {
    let mut s = String::new();
    if render(p, e, &mut s) >= min {
        out.push_str(&s);
    } else {
        write!(out, "({s})").unwrap();
    }
}

/// Renders a method receiver: a literal is always parenthesized.
fn receiver(p: &Program, e: &E, out: &mut String) {
    if matches!(e, E::Const(_, ConstForm::Plain | ConstForm::Suffixed)) {
        out.push('(');
        render(p, e, out);
        out.push(')');
    } else {
        operand(p, e, 4, out);
    }
}

fn source(p: &Program) -> String {
    let mut s = String::from("fn f(x: f64, y: f64, z: f64) -> f64 {\n");
    for (name, value) in &p.lets {
        write!(s, "    let {name} = ").unwrap();
        render(p, value, &mut s);
        s.push_str(";\n");
    }
    s.push_str("    ");
    render(p, &p.output, &mut s);
    s.push_str("\n}\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Independent evaluation in forward mode

struct Forward<'r> {
    /// The smallest distance to a kink or jump seen.
    margin: f64,
    /// Whether an operand of the call being evaluated depends on a parameter: a kink of a
    /// constant is the same on both sides, so it is not recorded.
    live: bool,
    /// Perturbs every intermediate result when set (the noise estimate).
    noise: Option<&'r mut Rng>,
}

fn d(re: f64, eps: f64) -> Dual64 {
    Dual64::new(re, eps)
}

fn same(a: Dual64, b: Dual64) -> bool {
    a.re.to_bits() == b.re.to_bits() && a.eps.to_bits() == b.eps.to_bits()
}

/// Whether `e` depends on a parameter.
fn depends(p: &Program, e: &E) -> bool {
    match e {
        E::Var(v) if *v < 3 => true,
        E::Var(v) => depends(p, &p.lets[v - 3].1),
        E::Const(..) => false,
        E::Neg(a) | E::Paren(a) | E::Powi(a, ..) => depends(p, a),
        E::Bin(_, a, b) => depends(p, a) || depends(p, b),
        E::Call(_, args, _) => args.iter().any(|a| depends(p, a)),
    }
}

fn dist_to_int(v: f64) -> f64 {
    (v - v.round()).abs()
}

impl Forward<'_> {
    /// Records the distance to a kink; a NaN distance is ignored (the result is NaN then, and
    /// not compared).
    fn kink(&mut self, distance: f64) {
        if self.live {
            self.margin = self.margin.min(distance);
        }
    }

    fn perturb(&mut self, v: Dual64) -> Dual64 {
        match self.noise.as_deref_mut() {
            None => v,
            Some(rng) => {
                let (s1, s2) = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0));
                d(v.re * (1.0 + s1 * MC_DELTA), v.eps * (1.0 + s2 * MC_DELTA))
            }
        }
    }

    fn eval(&mut self, p: &Program, e: &E, lets: &[Dual64], inputs: &[Dual64; 3]) -> Dual64 {
        let v = match e {
            E::Var(v) if *v < 3 => return inputs[*v],
            E::Var(v) => return lets[v - 3],
            E::Const(c, _) => return Dual64::from_re(*c),
            E::Paren(a) => return self.eval(p, a, lets, inputs),
            E::Neg(a) => -self.eval(p, a, lets, inputs),
            E::Bin(op, a, b) => {
                let (a, b) = (self.eval(p, a, lets, inputs), self.eval(p, b, lets, inputs));
                match op {
                    Bin::Add => a + b,
                    Bin::Sub => a - b,
                    Bin::Mul => a * b,
                    Bin::Div => a / b,
                }
            }
            E::Powi(a, n, _) => self.eval(p, a, lets, inputs).powi(*n),
            E::Call(f, args, _) => {
                let a: Vec<Dual64> = args.iter().map(|a| self.eval(p, a, lets, inputs)).collect();
                self.live = args.iter().any(|a| depends(p, a));
                self.call(*f, &a, args)
            }
        };
        self.perturb(v)
    }

    fn call(&mut self, f: F, a: &[Dual64], args: &[E]) -> Dual64 {
        let x = a[0];
        match f {
            F::Sin => x.sin(),
            F::Cos => x.cos(),
            F::Tan => x.tan(),
            F::Asin => x.asin(),
            F::Acos => x.acos(),
            F::Atan => x.atan(),
            F::Atan2 => {
                // The value jumps by 2π across the negative x axis.
                if a[1].re < 0.0 {
                    self.kink(x.re.abs());
                }
                x.atan2(a[1])
            }
            F::Sinh => x.sinh(),
            F::Cosh => x.cosh(),
            F::Tanh => x.tanh(),
            F::Asinh => x.asinh(),
            F::Acosh => x.acosh(),
            F::Atanh => x.atanh(),
            F::Exp => x.exp(),
            F::Exp2 => x.exp2(),
            F::ExpM1 => x.exp_m1(),
            F::Ln => x.ln(),
            F::Log2 => x.log2(),
            F::Log10 => x.log10(),
            F::Ln1p => x.ln_1p(),
            F::Log => match args[1] {
                E::Const(base, _) => x.log(base),
                _ => x.ln() / a[1].ln(),
            },
            F::Sqrt => x.sqrt(),
            F::Cbrt => x.cbrt(),
            F::Powf => match args[1] {
                E::Const(c, _) => x.powf(c),
                _ => x.powd(a[1]),
            },
            F::Recip => x.recip(),
            F::Abs => {
                self.kink(x.re.abs());
                if x.re < 0.0 {
                    -x
                } else {
                    x
                }
            }
            F::Hypot => {
                let (x, y) = (a[0], a[1]);
                let h = x.re.hypot(y.re);
                self.kink(h);
                d(h, (x.re * x.eps + y.re * y.eps) / h)
            }
            F::Max | F::Min => {
                let (x, y) = (a[0], a[1]);
                // Operands equal as dual numbers give the same result whichever is taken.
                if !same(x, y) {
                    self.kink((x.re - y.re).abs() / (1.0 + x.re.abs() + y.re.abs()));
                }
                let x_wins = if f == F::Max {
                    x.re > y.re
                } else {
                    x.re < y.re
                };
                if x_wins {
                    x
                } else {
                    y
                }
            }
            F::Clamp => {
                let (x, lo, hi) = (a[0], a[1], a[2]);
                for bound in [lo, hi] {
                    if !same(x, bound) {
                        self.kink((x.re - bound.re).abs());
                    }
                }
                if x.re < lo.re {
                    lo
                } else if x.re > hi.re {
                    hi
                } else {
                    x
                }
            }
            F::MulAdd => x.mul_add(a[1], a[2]),
            F::Floor | F::Ceil | F::Trunc => {
                self.kink(dist_to_int(x.re));
                let v = match f {
                    F::Floor => x.re.floor(),
                    F::Ceil => x.re.ceil(),
                    _ => x.re.trunc(),
                };
                Dual64::from_re(v)
            }
            F::Round => {
                self.kink(dist_to_int(x.re - 0.5));
                Dual64::from_re(x.re.round())
            }
            F::Signum => {
                self.kink(x.re.abs());
                Dual64::from_re(x.re.signum())
            }
        }
    }

    /// The value and the derivative along `direction` at `point`.
    fn run(&mut self, p: &Program, point: [f64; 3], direction: usize) -> Dual64 {
        let inputs: [Dual64; 3] =
            std::array::from_fn(|i| d(point[i], if i == direction { 1.0 } else { 0.0 }));
        let mut lets = Vec::with_capacity(p.lets.len());
        for (_, value) in &p.lets {
            let v = self.eval(p, value, &lets, &inputs);
            lets.push(v);
        }
        self.eval(p, &p.output, &lets, &inputs)
    }
}

/// The value and the gradient in forward mode, the noise of each, and the kink margin.
struct Expected {
    value: f64,
    gradient: [f64; 3],
    value_noise: f64,
    gradient_noise: [f64; 3],
    margin: f64,
}

fn forward(p: &Program, point: [f64; 3], noise_rng: &mut Rng) -> Expected {
    let mut exact = Forward {
        margin: f64::INFINITY,
        live: false,
        noise: None,
    };
    let runs: Vec<Dual64> = (0..3).map(|i| exact.run(p, point, i)).collect();
    let mut value_noise = 0.0f64;
    let mut gradient_noise = [0.0f64; 3];
    for _ in 0..2 {
        for (i, base) in runs.iter().enumerate() {
            let mut noisy = Forward {
                margin: f64::INFINITY,
                live: false,
                noise: Some(&mut *noise_rng),
            };
            let r = noisy.run(p, point, i);
            value_noise = value_noise.max((r.re - base.re).abs());
            gradient_noise[i] = gradient_noise[i].max((r.eps - base.eps).abs());
        }
    }
    Expected {
        value: runs[0].re,
        gradient: [runs[0].eps, runs[1].eps, runs[2].eps],
        value_noise,
        gradient_noise,
        margin: exact.margin,
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison

fn close(expected: f64, got: f64, noise: f64) -> bool {
    let tol = REL_TOL * expected.abs().max(got.abs()) + ABS_TOL + noise;
    (expected - got).abs() <= tol
}

#[derive(Default)]
struct Stats {
    functions: usize,
    points: usize,
    compared: usize,
    skipped_kink: usize,
    skipped_nonfinite: usize,
    finiteness_mismatch: usize,
    graph_nodes: usize,
    /// How many functions have their deepest expression at each nesting depth.
    deepest: [usize; 16],
}

/// The nesting depth of an expression (redundant parentheses not counted).
fn depth(e: &E) -> usize {
    match e {
        E::Var(_) | E::Const(..) => 0,
        E::Paren(a) => depth(a),
        E::Neg(a) | E::Powi(a, ..) => 1 + depth(a),
        E::Bin(_, a, b) => 1 + depth(a).max(depth(b)),
        E::Call(_, args, _) => 1 + args.iter().map(depth).max().unwrap_or(0),
    }
}

fn check_function(
    src: &str,
    p: &Program,
    rng: &mut Rng,
    stats: &mut Stats,
    failures: &mut Vec<String>,
) {
    let (attr, item) = gradgen_core::parse_function(src)
        .unwrap_or_else(|e| panic!("generated source does not parse: {e}\n{src}"));
    let d = gradgen_core::differentiate(&attr, &item)
        .unwrap_or_else(|e| panic!("generated source is rejected: {e}\n{src}"));
    stats.functions += 1;
    stats.graph_nodes += d.graph.len();
    let deepest = p
        .lets
        .iter()
        .map(|(_, e)| e)
        .chain([&p.output])
        .map(depth)
        .max();
    stats.deepest[deepest.unwrap_or(0).min(15)] += 1;
    for _ in 0..POINTS_PER_FUNCTION {
        let point = [
            rng.range(-2.5, 2.5),
            rng.range(-2.5, 2.5),
            rng.range(-2.5, 2.5),
        ];
        stats.points += 1;
        let exp = forward(p, point, rng);
        if exp.margin < KINK_MARGIN {
            stats.skipped_kink += 1;
            continue;
        }
        let values = gradgen_core::eval::evaluate(&d.graph, &point);
        let got_value = values[d.function.output.index()];
        let got_gradient: Vec<f64> = d
            .gradient
            .params
            .iter()
            .map(|id| values[id.index()])
            .collect();
        assert_eq!(got_gradient.len(), 3, "one derivative per parameter\n{src}");
        let pairs = std::iter::once(("value", exp.value, got_value, exp.value_noise)).chain(
            (0..3).map(|i| {
                (
                    PARAMS[i],
                    exp.gradient[i],
                    got_gradient[i],
                    exp.gradient_noise[i],
                )
            }),
        );
        for (what, e, g, noise) in pairs {
            if e.is_finite() && e.abs() < 1e100 && !g.is_finite() {
                // Not an overflow that a different but equivalent formula could cause: a
                // non-finite result where the derivative is an ordinary number is wrong.
                failures.push(format!(
                    "{what}: not finite at (x, y, z) = {point:?}\n  expected (num-dual) {e:e}\n  \
                     got (gradgen)       {g:e}\n{src}"
                ));
                continue;
            }
            if !(e.is_finite() && g.is_finite()) {
                if e.is_finite() != g.is_finite() {
                    stats.finiteness_mismatch += 1;
                    if std::env::var_os("SHOW_NONFINITE").is_some() {
                        eprintln!("{what} at {point:?}: expected {e:e}, got {g:e}\n{src}");
                    }
                } else {
                    stats.skipped_nonfinite += 1;
                }
                continue;
            }
            stats.compared += 1;
            if !close(e, g, noise) {
                let name = if what == "value" {
                    "value".to_string()
                } else {
                    format!("d/d{what}")
                };
                failures.push(format!(
                    "{name} differs at (x, y, z) = {point:?}\n  expected (num-dual) {e:e}\n  got (gradgen)       {g:e}\n  \
                     noise estimate {noise:e}, relative error {:e}\n{src}",
                    ((e - g) / e).abs(),
                ));
            }
        }
    }
}

fn report(stats: &Stats, failures: &[String]) {
    eprintln!(
        "functions {}, points {}, comparisons {}, skipped near a kink {}, non-finite on both sides {}, \
         finite on one side only {}, mean graph size {}",
        stats.functions,
        stats.points,
        stats.compared,
        stats.skipped_kink,
        stats.skipped_nonfinite,
        stats.finiteness_mismatch,
        stats.graph_nodes / stats.functions.max(1),
    );
    eprintln!("functions by deepest nesting (0..16): {:?}", stats.deepest);
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(5).map(String::as_str).collect();
        panic!(
            "{} mismatches; the first ones:\n\n{}",
            failures.len(),
            shown.join("\n\n")
        );
    }
}

#[test]
fn gradients_agree_with_forward_mode_duals() {
    let mut rng = Rng(SEED);
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for _ in 0..FUNCTIONS {
        let p = generate(&mut rng);
        let src = source(&p);
        check_function(&src, &p, &mut rng, &mut stats, &mut failures);
    }
    report(&stats, &failures);
    assert!(
        stats.compared >= FUNCTIONS * POINTS_PER_FUNCTION * 2,
        "too few comparisons"
    );
}

/// The generator and the renderer themselves: every operation appears, and the rendering of a
/// tree is read back by the core as the same function (checked above through the values).
#[test]
fn generator_covers_every_operation() {
    let mut rng = Rng(SEED);
    let mut all = String::new();
    for _ in 0..FUNCTIONS {
        all.push_str(&source(&generate(&mut rng)));
    }
    let names = [
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh",
        "acosh", "atanh", "exp", "exp2", "exp_m1", "ln", "log2", "log10", "ln_1p", "log", "sqrt",
        "cbrt", "powf", "powi", "recip", "abs", "hypot", "max", "min", "clamp", "mul_add", "floor",
        "ceil", "round", "trunc", "signum",
    ];
    for name in names {
        assert!(
            all.contains(&format!(".{name}(")),
            "method form of {name} never generated"
        );
        assert!(
            all.contains(&format!("f64::{name}(")),
            "path form of {name} never generated"
        );
    }
    for needle in [
        " / ",
        " - ",
        "-(",
        "f64::consts::",
        "f64::EPSILON",
        ".powi(-",
    ] {
        assert!(all.contains(needle), "`{needle}` never generated");
    }
}
