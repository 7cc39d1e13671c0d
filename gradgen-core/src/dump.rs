//! Text views of a differentiated function: an SSA-style dump of the IR, and operation
//! counts.
//!
//! The dump lists the live nodes in id order, the forward pass first, then the adjoint code,
//! then which node is the value and which the derivative of each parameter:
//!
//! ```text
//! fn exp_sin_sq(x)
//!   %0 = param x
//!   %1 = mul %0, %0
//!   %2 = sin %1
//!   %3 = exp %2
//! adjoint
//!   %5 = cos %1
//!   %6 = mul %3, %5
//!   ...
//! value %3
//! d_x %8
//! ```

use std::fmt::Write;

use crate::emit::Roots;
use crate::ir::{Graph, Id, Op};
use crate::{ops, Differentiated};

/// Scalar operation counts: each arithmetic operator, negation, comparison and math call is
/// one; parameters, constants, copies and selects are free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpCounts {
    /// Operations of the function itself (its value).
    pub function: usize,
    /// Operations of the emitted `<name>_grad`, value and gradient together.
    pub emitted: usize,
    /// Operations the gradient alone needs (the forward values it reads included, the last
    /// steps of the value not): the measure of DESIGN.md's reference table.
    pub gradient: usize,
}

impl OpCounts {
    /// The emitted operations over the function's.
    pub fn ratio(&self) -> f64 {
        self.emitted as f64 / self.function.max(1) as f64
    }
}

/// Counts the operations needed for the value alone and for all `roots`.
pub fn counts(graph: &Graph, roots: &Roots) -> OpCounts {
    let count = |ids: Vec<Id>| {
        ids.into_iter()
            .filter(|&id| graph.op(id).is_counted())
            .count()
    };
    let function = count(graph.live(&[roots.value]));
    let emitted = count(graph.live(&roots.all()));
    let gradient = count(graph.live(&roots.gradient));
    OpCounts {
        function,
        emitted,
        gradient,
    }
}

/// The SSA-style dump of a differentiated function.
pub fn dump(d: &Differentiated) -> String {
    let f = &d.function;
    let roots = d.roots();
    let live = d.graph.live(&roots.all());
    let params: Vec<String> = f.params.iter().map(|p| p.ident.to_string()).collect();
    let mut out = format!("fn {}({})\n", f.item.sig.ident, params.join(", "));
    let (forward, adjoint): (Vec<Id>, Vec<Id>) = live
        .iter()
        .partition(|id| id.index() < d.gradient.forward_len);
    for id in forward {
        line(&mut out, d, id);
    }
    out.push_str("adjoint\n");
    for id in adjoint {
        line(&mut out, d, id);
    }
    let _ = writeln!(out, "value {}", roots.value);
    for (slot, g) in f.differentiated_slots().into_iter().zip(&roots.gradient) {
        let _ = writeln!(out, "d_{} {g}", slot_name(d, slot.id));
    }
    out
}

fn line(out: &mut String, d: &Differentiated, id: Id) {
    let node = d.graph.node(id);
    let args: Vec<String> = node.args.iter().map(Id::to_string).collect();
    let op = match node.op {
        Op::Param(_) => format!("param {}", slot_name(d, id)),
        op if args.is_empty() => op_label(&d.graph, op),
        op => format!("{} {}", op_label(&d.graph, op), args.join(", ")),
    };
    let _ = write!(out, "  {id} = {op}");
    if let Some(name) = d.function.names.get(&id) {
        let _ = write!(out, "  ; {name}");
    }
    out.push('\n');
}

/// The name of an operation with its callee's name for a call: `call norm`, `sin`.
pub(crate) fn op_label(graph: &Graph, op: Op) -> String {
    match op {
        Op::Call { callee, .. } => {
            let name = graph
                .callees()
                .get(callee as usize)
                .map_or("?", String::as_str);
            format!("call {name}")
        }
        op => op_name(op),
    }
}

/// `x` for a scalar parameter, `w[1][3]` for an element of an array parameter.
pub(crate) fn slot_name(d: &Differentiated, id: Id) -> String {
    let f = &d.function;
    let Some(slot) = f.slots.iter().find(|s| s.id == id) else {
        return id.to_string();
    };
    let mut name = f.params[slot.param].ident.to_string();
    for i in &slot.index {
        name.push_str(&format!("[{i}]"));
    }
    name
}

/// The name of an operation in the dump.
pub fn op_name(op: Op) -> String {
    match op {
        Op::Add => "add".into(),
        Op::Sub => "sub".into(),
        Op::Mul => "mul".into(),
        Op::Div => "div".into(),
        Op::Neg => "neg".into(),
        Op::Select => "select".into(),
        Op::Cmp(c) => format!("cmp {}", c.symbol()),
        Op::And => "and".into(),
        Op::Int(v) => format!("int {v}"),
        Op::IntToFloat => "as-float".into(),
        Op::Call { callee, .. } => format!("call #{callee}"),
        Op::CallGrad { index } => format!("call-partial {index}"),
        Op::Or => "or".into(),
        Op::Not => "not".into(),
        Op::Powi(n) => format!("powi {n}"),
        Op::Param(i) => format!("param {i}"),
        Op::Const(c) => format!("const {:?}", c.get()),
        op => ops::method_name(op).unwrap_or("op").to_string(),
    }
}
