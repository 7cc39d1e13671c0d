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

/// Counts the operations needed for the value alone and for all `roots`. A kept loop counts
/// the operations of its body once, as the emitted code holds them once, whatever its trip
/// count.
pub fn counts(graph: &Graph, roots: &Roots) -> OpCounts {
    let function = count(graph, &[roots.value]);
    let emitted = count(graph, &roots.all());
    let gradient: Vec<Id> = roots
        .gradient
        .iter()
        .chain(&roots.effects)
        .copied()
        .collect();
    OpCounts {
        function,
        emitted,
        gradient: count(graph, &gradient),
    }
}

/// The counted operations live from `roots`, the bodies of kept loops among them included.
fn count(graph: &Graph, roots: &[Id]) -> usize {
    let mut n = 0;
    for id in graph.live(roots) {
        let op = graph.op(id);
        n += usize::from(op.is_counted());
        let region = match op {
            Op::Loop { region, .. } | Op::LoopAdj { region, .. } => &graph.regions[region as usize],
            _ => continue,
        };
        let Some(adjoint) = region.adjoint.as_ref() else {
            n += count(&region.body, &region.roots());
            continue;
        };
        let body = &region.body;
        let forward = |id: &Id| id.index() < adjoint.forward_len;
        if matches!(op, Op::Loop { .. }) {
            let live = body.live(&region.roots());
            n += live
                .iter()
                .filter(|&&i| forward(&i) && body.op(i).is_counted())
                .count();
            let inner: Vec<Id> = live
                .into_iter()
                .filter(|&i| matches!(body.op(i), Op::Loop { .. }))
                .collect();
            n += inner
                .iter()
                .map(|&i| count(body, &[i]) - usize::from(body.op(i).is_counted()))
                .sum::<usize>();
        } else {
            let mut reverse: Vec<Id> = adjoint.inputs.iter().flatten().copied().collect();
            reverse.extend(&adjoint.effects);
            let live = body.live(&reverse);
            n += live
                .iter()
                .filter(|&&i| !forward(&i) && body.op(i).is_counted())
                .count();
            let inner: Vec<Id> = live
                .into_iter()
                .filter(|&i| matches!(body.op(i), Op::LoopAdj { .. }))
                .collect();
            n += inner.iter().map(|&i| count(body, &[i])).sum::<usize>();
        }
    }
    n
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
    for (r, region) in d.graph.regions.iter().enumerate() {
        dump_region(&mut out, r, region, 1);
    }
    let _ = writeln!(out, "value {}", roots.value);
    let mut zeros = 0;
    let has_loops = !d.graph.regions.is_empty();
    for (slot, g) in f.differentiated_slots().into_iter().zip(&roots.gradient) {
        if has_loops && d.graph.constant(*g) == Some(0.0) {
            zeros += 1;
            continue;
        }
        let _ = writeln!(out, "d_{} {g}", slot_name(d, slot.id));
    }
    if zeros > 0 {
        let _ = writeln!(
            out,
            "({zeros} derivatives that only kept loops add to are not listed)"
        );
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

/// A kept loop's body, its inputs, and what its gradient keeps per iteration.
fn dump_region(out: &mut String, r: usize, region: &crate::region::Region, depth: usize) {
    let pad = "  ".repeat(depth);
    let range = &region.range;
    let rev = if range.reversed { ".rev()" } else { "" };
    let _ = writeln!(
        out,
        "{pad}loop #{r}: i{} in {}..{}{rev}",
        region.level, range.start, range.end
    );
    for (k, input) in region.inputs.iter().enumerate() {
        let _ = writeln!(out, "{pad}  param {k} = {input}");
    }
    for id in region.body.live(&region.roots()) {
        node_line(out, &pad, &region.body, id);
    }
    for c in &region.carried {
        let _ = writeln!(out, "{pad}  carried {} <- {}", c.name, c.next);
    }
    for s in &region.stores {
        let _ = writeln!(out, "{pad}  store buffer #{} <- {}", s.buffer, s.value);
    }
    if let Some(a) = &region.adjoint {
        let fused = if a.fused {
            "fused: the reversed body runs in the forward loop"
        } else {
            "reversed apart: a second loop, over the tape"
        };
        let _ = writeln!(out, "{pad}  adjoint ({fused})");
        let mut roots: Vec<Id> = a.inputs.iter().flatten().copied().collect();
        roots.extend(&a.effects);
        for id in region.body.live(&roots) {
            if id.index() < a.forward_len {
                continue;
            }
            node_line(out, &pad, &region.body, id);
        }
        for (k, adjoint) in a.inputs.iter().enumerate() {
            if let Some(adjoint) = adjoint {
                let _ = writeln!(out, "{pad}  d(param {k}) {adjoint}");
            }
        }
    }
    for (k, inner) in region.body.regions.iter().enumerate() {
        dump_region(out, k, inner, depth + 1);
    }
}

/// `%id = op args` of a loop body's node.
fn node_line(out: &mut String, pad: &str, body: &Graph, id: Id) {
    let node = body.node(id);
    let args: Vec<String> = node.args.iter().map(Id::to_string).collect();
    let _ = writeln!(
        out,
        "{pad}  {id} = {} {}",
        op_name(node.op),
        args.join(", ")
    );
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
        Op::Loop { region, .. } => format!("loop #{region}"),
        Op::LoopOut(k) => format!("loop-out {k}"),
        Op::LoopAdj { region, .. } => format!("loop-reverse #{region}"),
        Op::LoopAdjOut(k) => format!("loop-reverse-out {k}"),
        Op::BufInit { buf, .. } => format!("buffer #{buf}"),
        Op::BufElem { buf, index } => format!("buffer #{buf}[{index}]"),
        Op::BufAdj { buf, index } => format!("buffer-adjoint #{buf}[{index}] +="),
        Op::BufAdjRead { buf, index } => format!("buffer-adjoint #{buf}[{index}]"),
        op => ops::method_name(op).unwrap_or("op").to_string(),
    }
}
