//! A reference evaluator of the IR, in plain `f64` arithmetic.
//!
//! It computes every node with the same `f64` operation the emitted code calls, so it gives
//! the emitted function's results without compiling it. Tests use it to check the derivative
//! rules on thousands of generated functions, and tools to evaluate a gradient at a point.

use crate::ir::{Graph, Op};

/// The value of every node of `graph` for the given parameter values, indexed by id.
/// Booleans (comparisons) are `1.0` for true and `0.0` for false. A parameter index outside
/// `params` reads as NaN.
pub fn evaluate(graph: &Graph, params: &[f64]) -> Vec<f64> {
    let mut values: Vec<f64> = Vec::with_capacity(graph.len());
    for node in graph.nodes() {
        let arg = |i: usize| values[node.args[i].index()];
        let v = match node.op {
            Op::Param(i) => params.get(i as usize).copied().unwrap_or(f64::NAN),
            Op::Const(c) => c.get(),
            Op::Int(v) => v as f64,
            Op::IntToFloat => arg(0),
            Op::Cmp(cmp) => f64::from(u8::from(cmp.eval(arg(0), arg(1)))),
            Op::And => f64::from(u8::from(arg(0) != 0.0 && arg(1) != 0.0)),
            Op::Or => f64::from(u8::from(arg(0) != 0.0 || arg(1) != 0.0)),
            Op::Not => f64::from(u8::from(arg(0) == 0.0)),
            Op::Select => {
                if arg(0) != 0.0 {
                    arg(1)
                } else {
                    arg(2)
                }
            }
            op => apply(
                op,
                &node
                    .args
                    .iter()
                    .map(|a| values[a.index()])
                    .collect::<Vec<_>>(),
            ),
        };
        values.push(v);
    }
    values
}

/// Applies a float operation to its operand values.
pub fn apply(op: Op, a: &[f64]) -> f64 {
    if let Some(v) = crate::simplify::eval_exact(op, a) {
        return v;
    }
    match (op, a) {
        (Op::Sin, [x]) => x.sin(),
        (Op::Cos, [x]) => x.cos(),
        (Op::Tan, [x]) => x.tan(),
        (Op::Asin, [x]) => x.asin(),
        (Op::Acos, [x]) => x.acos(),
        (Op::Atan, [x]) => x.atan(),
        (Op::Atan2, [y, x]) => y.atan2(*x),
        (Op::Sinh, [x]) => x.sinh(),
        (Op::Cosh, [x]) => x.cosh(),
        (Op::Tanh, [x]) => x.tanh(),
        (Op::Asinh, [x]) => x.asinh(),
        (Op::Acosh, [x]) => x.acosh(),
        (Op::Atanh, [x]) => x.atanh(),
        (Op::Exp, [x]) => x.exp(),
        (Op::Exp2, [x]) => x.exp2(),
        (Op::ExpM1, [x]) => x.exp_m1(),
        (Op::Ln, [x]) => x.ln(),
        (Op::Log2, [x]) => x.log2(),
        (Op::Log10, [x]) => x.log10(),
        (Op::Ln1p, [x]) => x.ln_1p(),
        (Op::Log, [x, b]) => x.log(*b),
        (Op::Cbrt, [x]) => x.cbrt(),
        (Op::Powi(n), [x]) => x.powi(n),
        (Op::Powf, [x, y]) => x.powf(*y),
        (Op::Hypot, [x, y]) => x.hypot(*y),
        (Op::Clamp, [x, lo, hi]) if lo <= hi => x.clamp(*lo, *hi),
        _ => f64::NAN,
    }
}
