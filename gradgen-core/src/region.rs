//! Loops kept as loops: the body of such a loop is a region, a graph of its own.
//!
//! A loop that stays a loop is an [`Op::Loop`](crate::ir::Op::Loop) node of the enclosing
//! graph, and its body is a [`Region`]: a [`Graph`] of one iteration whose parameters are the
//! iteration's [`Input`]s (the carried variables as the iteration finds them, values of the
//! enclosing graph, elements of arrays read at an index computed from the loop variables). An
//! iteration's results are the carried variables' next values and its [`Store`]s into buffers.
//!
//! Differentiating the loop differentiates the body once, as a function of its inputs; the
//! emitted gradient runs the body forward over the trip, then the body's adjoint over the trip
//! reversed. Nothing in a region depends on the trip count, so neither does the emitted code.
//!
//! # What the reverse sweep keeps
//!
//! The reversed body reads some values of the forward body. Those it can recompute for free
//! (constants, the loop variables, elements of the function's parameters, values of the
//! enclosing graph) it recomputes; every other one the forward loop pushes on a tape (a
//! `Vec` on the heap, never the stack) at the end of each iteration, and the reverse loop pops
//! them in the opposite order. A loop's gradient thus keeps `P · trips` values, `P` the number
//! of taped values of its body, listed in the IR dump. Nested kept loops push and pop on the
//! same tape, which stays balanced because the reverse pops in exactly the reverse order.
//!
//! A *reduction* (every carried variable only accumulates, `s += e`, with `e` not reading a
//! carried variable) whose results have constant adjoints needs no tape: each iteration's
//! adjoint is then known when it runs, so its reverse body runs right after its forward body,
//! in one loop (the loop is *fused*).

use std::fmt;

use crate::ir::{Graph, Id};

/// How `#[grad]` treats `for` loops, chosen by `#[grad(loops = "...")]`.
///
/// - `auto` (the default) keeps a loop of at least [`AUTO_MIN_TRIP`] iterations whose trip
///   count times its body's size is over [`UNROLL_BUDGET`], and unrolls the others, where
///   straight-line code is faster. A loop whose bounds depend on a kept loop's variable is
///   always kept. A loop that cannot be kept (see the README) is unrolled.
/// - `keep` keeps every loop, and reports one that cannot be kept.
/// - `unroll` unrolls every loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopMode {
    #[default]
    Auto,
    Keep,
    Unroll,
}

/// In `auto` mode, a loop of fewer iterations is unrolled without trying to keep it.
pub const AUTO_MIN_TRIP: usize = 16;

/// In `auto` mode, a loop is unrolled when its trip count times the node count of its body is
/// at most this: about the size where a loop's bookkeeping stops paying for itself. A body's
/// node count is taken with its own kept loops unrolled ([`unrolled_len`]), so an outer loop
/// is never unrolled into many copies of a large inner loop.
pub const UNROLL_BUDGET: usize = 2_000;

/// The node count of `graph` with each of its kept loops unrolled at its longest trip count.
pub fn unrolled_len(graph: &Graph) -> usize {
    graph
        .regions
        .iter()
        .fold(graph.len(), |n, r| n.saturating_add(r.unrolled_len))
}

/// An integer affine in the loop variables of the enclosing kept loops: `Σ c·v + constant`,
/// where `v` is the variable of the kept loop at a nesting level (0 outermost).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Affine {
    /// `(level, coefficient)`, by increasing level, no zero coefficient.
    pub terms: Vec<(u32, i64)>,
    pub constant: i64,
}

impl Affine {
    /// The constant `c`.
    pub fn constant(c: i64) -> Affine {
        Affine {
            terms: Vec::new(),
            constant: c,
        }
    }

    /// The loop variable of `level`.
    pub fn var(level: u32) -> Affine {
        Affine {
            terms: vec![(level, 1)],
            constant: 0,
        }
    }

    /// The value, if it does not depend on a loop variable.
    pub fn as_constant(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.constant)
    }

    /// `self + k·other`; `None` on overflow.
    pub fn plus_scaled(&self, other: &Affine, k: i64) -> Option<Affine> {
        let mut terms = self.terms.clone();
        for &(level, c) in &other.terms {
            let c = c.checked_mul(k)?;
            match terms.iter_mut().find(|(l, _)| *l == level) {
                Some((_, existing)) => *existing = existing.checked_add(c)?,
                None => terms.push((level, c)),
            }
        }
        terms.retain(|&(_, c)| c != 0);
        terms.sort();
        let constant = self.constant.checked_add(other.constant.checked_mul(k)?)?;
        Some(Affine { terms, constant })
    }

    /// `k·self`; `None` on overflow.
    pub fn scaled(&self, k: i64) -> Option<Affine> {
        Affine::constant(0).plus_scaled(self, k)
    }

    /// The smallest and largest value over the given ranges of the loop variables (by level,
    /// inclusive); `None` on overflow or a variable without a range.
    pub fn interval(&self, ranges: &[(i64, i64)]) -> Option<(i64, i64)> {
        let (mut lo, mut hi) = (self.constant, self.constant);
        for &(level, c) in &self.terms {
            let &(a, b) = ranges.get(level as usize)?;
            let (x, y) = (c.checked_mul(a)?, c.checked_mul(b)?);
            lo = lo.checked_add(x.min(y))?;
            hi = hi.checked_add(x.max(y))?;
        }
        Some((lo, hi))
    }
}

impl fmt::Display for Affine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for &(level, c) in &self.terms {
            let sign = if c < 0 {
                "-"
            } else if first {
                ""
            } else {
                "+"
            };
            let magnitude = c.unsigned_abs();
            let coefficient = if magnitude == 1 {
                String::new()
            } else {
                format!("{magnitude}*")
            };
            write!(f, "{sign}{coefficient}i{level}")?;
            first = false;
        }
        if first || self.constant != 0 {
            let sign = if self.constant < 0 || first { "" } else { "+" };
            write!(f, "{sign}{}", self.constant)?;
        }
        Ok(())
    }
}

/// An array a kept loop indexes at run time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArrayRef {
    /// A parameter of the function (by index), or the part of it at `prefix` (`w[3]`).
    Param { param: usize, prefix: Vec<usize> },
    /// A buffer of the function, by index into [`Buffer`]s.
    Buffer(u32),
}

/// A local array that a kept loop indexes at run time, emitted as a mutable array.
#[derive(Clone, Debug)]
pub struct Buffer {
    /// The user's name for it.
    pub name: String,
    pub shape: Vec<usize>,
}

/// What a parameter of a body graph stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Carried variable `k` as the iteration starts.
    Carried(usize),
    /// Operand `k` of the loop node: a value of the enclosing graph.
    Captured(usize),
    /// An element of an array at an index computed from the loop variables, read as the
    /// iteration starts.
    Load { array: ArrayRef, index: Vec<Affine> },
    /// `n as f64` of an affine of the loop variables.
    Index(Affine),
    /// The adjoint of carried variable `k` at the end of the iteration (reverse body only).
    Seed(usize),
    /// The adjoint of store `k`'s element (reverse body only).
    StoreSeed(usize),
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Carried(k) => write!(f, "carried #{k} as the iteration starts"),
            Input::Captured(k) => write!(f, "operand #{k} of the loop"),
            Input::Load { array, index } => {
                match array {
                    ArrayRef::Param { param, prefix } => {
                        write!(f, "parameter #{param}")?;
                        prefix.iter().try_for_each(|i| write!(f, "[{i}]"))?;
                    }
                    ArrayRef::Buffer(b) => write!(f, "buffer #{b}")?,
                }
                index.iter().try_for_each(|a| write!(f, "[{a}]"))
            }
            Input::Index(a) => write!(f, "({a}) as float"),
            Input::Seed(k) => write!(f, "adjoint of carried #{k} at the iteration's end"),
            Input::StoreSeed(k) => write!(f, "adjoint of store #{k}"),
        }
    }
}

impl Input {
    /// Whether the reverse body can recompute the input instead of reading it from the tape.
    pub fn is_recomputable(&self) -> bool {
        match self {
            Input::Captured(_) | Input::Index(_) | Input::Seed(_) | Input::StoreSeed(_) => true,
            Input::Load { array, .. } => matches!(array, ArrayRef::Param { .. }),
            Input::Carried(_) => false,
        }
    }
}

/// A variable of the enclosing scope that the body assigns, so each iteration passes it on.
#[derive(Clone, Debug)]
pub struct Carried {
    /// The user's name.
    pub name: String,
    /// The operand of the loop node holding its value before the loop.
    pub init: usize,
    /// Its value at the end of an iteration, a node of the body.
    pub next: Id,
}

/// `buffer[index] = value` at the end of each iteration.
#[derive(Clone, Debug)]
pub struct Store {
    pub buffer: u32,
    pub index: Vec<Affine>,
    pub value: Id,
}

/// The range of a kept loop: `start..end`, by decreasing values if `reversed`.
#[derive(Clone, Debug, Default)]
pub struct LoopRange {
    pub start: Affine,
    pub end: Affine,
    pub reversed: bool,
}

/// The body of a kept loop; see the module documentation.
#[derive(Clone, Default)]
pub struct Region {
    /// The nesting level of the loop among kept loops; its variable is `Affine::var(level)`.
    pub level: u32,
    /// The user's name of the loop variable.
    pub var: String,
    pub range: LoopRange,
    /// One iteration; `Op::Param(k)` is `inputs[k]`.
    pub body: Graph,
    /// The user's `let` names of body nodes.
    pub names: std::collections::BTreeMap<Id, String>,
    pub inputs: Vec<Input>,
    /// The operands of the loop node, ids of the enclosing graph.
    pub operands: Vec<Id>,
    pub carried: Vec<Carried>,
    pub stores: Vec<Store>,
    /// The loops inside the body, which run for their effects on buffers even when no value
    /// of theirs is read.
    pub effects: Vec<Id>,
    /// The buffers of the enclosing scopes the loop reads or writes.
    pub buffers_read: Vec<u32>,
    pub buffers_written: Vec<u32>,
    /// The node count of the loop unrolled: its longest trip count (over the enclosing loops'
    /// ranges) times its body's [`unrolled_len`].
    pub unrolled_len: usize,
    /// Set by differentiation.
    pub adjoint: Option<RegionAdjoint>,
}

/// The differentiated body of a kept loop.
#[derive(Clone, Debug)]
pub struct RegionAdjoint {
    /// The number of forward nodes of the body; the adjoint code follows them.
    pub forward_len: usize,
    /// The adjoint of each input (`None` where it is zero or not wanted).
    pub inputs: Vec<Option<Id>>,
    /// Whether the reverse body runs in the forward loop (see the module documentation).
    pub fused: bool,
    /// The constant adjoints of the carried variables' final values, when fused.
    pub seeds: Vec<f64>,
    /// The effects of the reversed body (reversed inner loops, buffer adjoints), in order.
    pub effects: Vec<Id>,
}

impl Region {
    /// Whether the loop is a reduction: each carried variable's next value is the variable
    /// plus (or minus) a term that reads no carried variable, and nothing else reads them.
    pub fn is_reduction(&self) -> bool {
        use crate::ir::Op;
        let carried_param = |id: Id| match self.body.op(id) {
            Op::Param(k) => matches!(self.inputs.get(k as usize), Some(Input::Carried(_))),
            _ => false,
        };
        let mut uses = vec![0usize; self.body.len()];
        let live = self.body.live(&self.roots());
        for &id in &live {
            for a in &self.body.node(id).args {
                uses[a.index()] += 1;
            }
        }
        let reads_carried = |id: Id| self.body.live(&[id]).into_iter().any(&carried_param);
        self.carried.iter().enumerate().all(|(k, c)| {
            let node = self.body.node(c.next);
            let param = self.inputs.iter().position(|i| *i == Input::Carried(k));
            // A variable the body overwrites without reading is not accumulated.
            let Some(param) = param.and_then(|p| self.body.lookup(&param_node(p))) else {
                return false;
            };
            let (own, term) = match (node.op, node.args.as_slice()) {
                (Op::Add, &[a, b]) if a == param => (a, b),
                (Op::Add, &[a, b]) if b == param => (b, a),
                (Op::Sub, &[a, b]) if a == param => (a, b),
                _ => return false,
            };
            uses[own.index()] == 1 && !reads_carried(term)
        })
    }

    /// The node of parameter `k` of the body, if the body reads it.
    pub fn param(&self, k: usize) -> Option<Id> {
        self.body.lookup(&param_node(k))
    }

    /// A new input and its parameter node.
    pub fn new_input(&mut self, input: Input) -> Id {
        self.inputs.push(input);
        let k = self.inputs.len() - 1;
        self.body
            .add_raw(
                crate::ir::Op::Param(k as u32),
                Vec::new(),
                proc_macro2::Span::call_site(),
            )
            .unwrap_or(Id::new(0))
    }

    /// Whether operand `k` of the loop node is a value the body reads (captured, or a carried
    /// variable's initial value), which has an adjoint, rather than an effect it follows.
    pub fn operand_has_adjoint(&self, k: usize) -> bool {
        let adjoint = self.adjoint.as_ref();
        let captured = self.inputs.iter().enumerate().any(|(i, input)| {
            *input == Input::Captured(k)
                && adjoint.is_some_and(|a| a.inputs.get(i).copied().flatten().is_some())
        });
        captured || self.carried.iter().any(|c| c.init == k)
    }

    /// The values an iteration produces: the carried variables' next values, then the stored
    /// values.
    pub fn roots(&self) -> Vec<Id> {
        let carried = self.carried.iter().map(|c| c.next);
        let stores = self.stores.iter().map(|s| s.value);
        carried
            .chain(stores)
            .chain(self.effects.iter().copied())
            .collect()
    }
}

/// The node `Op::Param(index)`, for a lookup.
fn param_node(index: usize) -> crate::ir::Node {
    crate::ir::Node {
        op: crate::ir::Op::Param(index as u32),
        args: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_arithmetic_keeps_terms_sorted_and_drops_zeros() {
        let i = Affine::var(0);
        let j = Affine::var(1);
        let a = j
            .plus_scaled(&i, 2)
            .unwrap()
            .plus_scaled(&Affine::constant(1), 1)
            .unwrap();
        assert_eq!(a.terms, vec![(0, 2), (1, 1)]);
        assert_eq!(a.to_string(), "2*i0+i1+1");
        let zero = a.plus_scaled(&a, -1).unwrap();
        assert_eq!(zero.as_constant(), Some(0));
    }

    #[test]
    fn affine_interval_covers_the_ranges() {
        let a = Affine::var(0)
            .scaled(-2)
            .unwrap()
            .plus_scaled(&Affine::constant(9), 1)
            .unwrap();
        assert_eq!(a.interval(&[(0, 4)]), Some((1, 9)));
        assert_eq!(a.interval(&[]), None);
    }
}
