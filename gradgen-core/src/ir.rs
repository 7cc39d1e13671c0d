//! The intermediate representation: an add-only, hash-consed expression DAG.
//!
//! A [`Graph`] is a flat list of [`Node`]s. A node is an operation ([`Op`]) and the ids of its
//! operands. Two invariants hold for every graph and every pass relies on them:
//!
//! 1. **Operands come first.** A node's operands have smaller ids than the node itself, so the
//!    id order is a topological order: the forward pass reads it upwards and the reverse sweep
//!    downwards, without a sort.
//! 2. **No duplicates.** [`Graph::add_raw`] looks the node up in a memo table before pushing it, so
//!    building an expression that already exists returns the existing id. Shared
//!    subexpressions are shared by construction, in the function and in its adjoint code.
//!
//! Nodes are never removed or changed; passes that drop work (dead code) do it by choosing which
//! ids to emit. Every node keeps the source span it was first built from, so a later pass can
//! point at the user's tokens.
//!
//! # Where loops and branches go
//!
//! A graph is one *region*: straight-line code whose inputs are [`Op::Param`] nodes. A loop
//! that stays a loop is an [`Op::Loop`] node naming a body region in [`Graph::regions`] (its
//! own graph, whose params are the iteration's inputs: carried values, values of the enclosing
//! graph, array elements at indices affine in the loop variables); its results are read by
//! [`Op::LoopOut`] projections. Its reverse sweep is an [`Op::LoopAdj`] node, the reversed
//! loop over the body's own adjoint code, with [`Op::LoopAdjOut`] projections. Because regions
//! are graphs of the same kind, differentiation and emission work on a region without knowing
//! whether it is the whole function or a loop body; see [`crate::region`]. A branch on a float
//! is a [`Op::Select`], whose arms emission turns into a real `if`.

use std::collections::HashMap;
use std::fmt;

use proc_macro2::Span;

/// The index of a node in its [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u32);

impl Id {
    /// The id of the node at `index`. Ids are only made by a [`Graph`], which keeps them below
    /// [`MAX_NODES`], so the conversion to `u32` is lossless.
    pub(crate) fn new(index: usize) -> Id {
        Id(index as u32)
    }

    /// The position of the node in [`Graph::nodes`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// A float constant, hashed and compared by its bits.
///
/// Comparing bits makes `0.0` and `-0.0` two different constants (they are different values
/// for division and for `atan2`), and makes every NaN payload its own constant; neither
/// matters for correctness, because a constant is only ever merged with a bit-identical one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Const(u64);

impl Const {
    /// The constant holding `value`.
    pub fn new(value: f64) -> Self {
        Const(value.to_bits())
    }

    /// The value of the constant.
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.get())
    }
}

/// The float type of a function: every float of it, parameters, literals and results, is of
/// this type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FloatTy {
    #[default]
    F64,
    F32,
}

impl FloatTy {
    /// The Rust name of the type.
    pub fn name(self) -> &'static str {
        match self {
            FloatTy::F64 => "f64",
            FloatTy::F32 => "f32",
        }
    }

    /// `value` rounded to this type (constants of an `f32` function are `f32` values, held
    /// exactly in an `f64`).
    pub fn round(self, value: f64) -> f64 {
        match self {
            FloatTy::F64 => value,
            FloatTy::F32 => f64::from(value as f32),
        }
    }
}

/// A comparison between two floats, giving a boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    /// Evaluates the comparison.
    pub fn eval(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }

    /// The Rust operator.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }
}

/// One operation of the IR. The operand count of each is fixed; [`Op::arity`] gives it.
///
/// Every operation except [`Op::Cmp`] yields a float. The float functions are named after
/// the `f64` methods they stand for and have exactly their semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// The function's parameter with this index.
    Param(u32),
    /// A float constant.
    Const(Const),
    /// An integer constant, compared with an integer parameter.
    Int(i64),
    /// `n as f64` (or `f32`) of an integer node.
    IntToFloat,
    Add,
    Sub,
    Mul,
    Div,
    Neg,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    /// `y.atan2(x)`, operands `[y, x]`.
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
    /// `x.log(base)`, operands `[x, base]`.
    Log,
    Sqrt,
    Cbrt,
    /// `x.powi(n)` with a constant integer exponent.
    Powi(i32),
    /// `x.powf(y)`, operands `[x, y]`.
    Powf,
    Recip,
    Abs,
    Hypot,
    Max,
    Min,
    /// `x.clamp(lo, hi)`, operands `[x, lo, hi]`.
    Clamp,
    /// `a.mul_add(b, c)`, operands `[a, b, c]`.
    MulAdd,
    Floor,
    Ceil,
    Round,
    Trunc,
    Signum,
    /// A comparison of two floats, giving a boolean.
    Cmp(Cmp),
    /// `a && b` on booleans.
    And,
    /// `a || b` on booleans.
    Or,
    /// `!a` on a boolean.
    Not,
    /// A call of another function `f` with a gradient, `f(args)`: `callee` indexes
    /// [`Graph::callees`], `arity` is the number of (float) arguments. Emitted as one call of
    /// `f_grad`, whose value this is.
    Call {
        callee: u32,
        arity: u8,
    },
    /// The partial derivative of a call with respect to its argument `index`; its one operand is
    /// the [`Op::Call`] node, whose `f_grad` call also gives this.
    CallGrad {
        index: u8,
    },
    /// `if cond { a } else { b }`, operands `[cond, a, b]`: a branch on a float condition of
    /// the user's, or a convention of a derivative rule at a kink. Emission puts the work that
    /// only one arm needs inside that arm, so the untaken side is not evaluated.
    Select,
    /// A loop kept as a loop: `region` indexes [`Graph::regions`]; the operands are
    /// [`Region::operands`](crate::region::Region::operands): the values of this graph the
    /// body reads, the initial values of the variables it carries, and the earlier effects on
    /// the buffers it touches (for order only).
    Loop {
        region: u32,
        arity: u32,
    },
    /// The value of carried variable `index` when the loop (the operand) ends.
    LoopOut(u32),
    /// The reverse sweep of a kept loop: operands are the adjoint of each carried variable's
    /// final value (its seed), then the loop's own operands, which the reversed body reads.
    LoopAdj {
        region: u32,
        arity: u32,
    },
    /// The adjoint of operand `index` of the loop whose [`Op::LoopAdj`] is the operand.
    LoopAdjOut(u32),
    /// A buffer (a local array that a kept loop indexes at run time) made from its elements,
    /// the operands, row-major.
    BufInit {
        buf: u32,
        arity: u32,
    },
    /// Element `index` (row-major) of buffer `buf`, read after the effect that is its operand
    /// (the buffer's creation or the last loop that wrote it).
    BufElem {
        buf: u32,
        index: u32,
    },
    /// Adds operand 1 to element `index` of the buffer's adjoint; operand 0 is the
    /// [`Op::BufElem`] whose adjoint this is.
    BufAdj {
        buf: u32,
        index: u32,
    },
    /// Element `index` of the buffer's adjoint once every later effect has added to it: the
    /// adjoint of the buffer's initial element. The operand is the [`Op::BufInit`].
    BufAdjRead {
        buf: u32,
        index: u32,
    },
}

impl Op {
    /// The number of operands.
    pub fn arity(self) -> usize {
        match self {
            Op::Param(_) | Op::Const(_) | Op::Int(_) => 0,
            Op::Add | Op::Sub | Op::Mul | Op::Div => 2,
            Op::Atan2 | Op::Log | Op::Powf | Op::Hypot | Op::Max | Op::Min | Op::Cmp(_) => 2,
            Op::And | Op::Or => 2,
            Op::Call { arity, .. } => usize::from(arity),
            Op::Loop { arity, .. } | Op::LoopAdj { arity, .. } | Op::BufInit { arity, .. } => {
                arity as usize
            }
            Op::BufAdj { .. } => 2,
            Op::Clamp | Op::MulAdd | Op::Select => 3,
            _ => 1,
        }
    }

    /// Whether the operation counts as one scalar operation: arithmetic, negation, comparison
    /// and math calls do; parameters, constants and selects do not.
    pub fn is_counted(self) -> bool {
        !matches!(
            self,
            Op::Param(_) | Op::Const(_) | Op::Int(_) | Op::Select | Op::CallGrad { .. }
        ) && !self.is_structural()
    }

    /// Whether the operation belongs to a kept loop or a buffer: it is emitted as a loop, a
    /// variable or an array access, never as an expression of its operands.
    pub fn is_structural(self) -> bool {
        matches!(
            self,
            Op::Loop { .. }
                | Op::LoopOut(_)
                | Op::LoopAdj { .. }
                | Op::LoopAdjOut(_)
                | Op::BufInit { .. }
                | Op::BufElem { .. }
                | Op::BufAdj { .. }
                | Op::BufAdjRead { .. }
        )
    }

    /// Whether the operation yields a boolean rather than a float.
    pub fn is_bool(self) -> bool {
        matches!(self, Op::Cmp(_) | Op::And | Op::Or | Op::Not)
    }
}

/// A node: an operation and its operands, which all have smaller ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub op: Op,
    pub args: Vec<Id>,
}

/// The largest number of nodes a graph may hold. Hitting it is a compile error that asks the
/// user to split the function; it keeps a runaway expansion from exhausting memory.
pub const MAX_NODES: usize = 4_000_000;

/// The graph would exceed [`MAX_NODES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// An add-only, hash-consed DAG; see the module documentation for its invariants.
#[derive(Clone, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    spans: Vec<Span>,
    /// Hashed with a fixed-seed fast hasher: the table is only looked up, never iterated, so
    /// the seed cannot reach the output, and SipHash's resistance to crafted keys buys
    /// nothing against the user's own function.
    memo: HashMap<Node, Id, foldhash::fast::FixedState>,
    callees: Vec<String>,
    float: FloatTy,
    /// The bodies of the loops kept as loops, by [`Op::Loop`] index.
    pub regions: Vec<crate::region::Region>,
}

impl Graph {
    /// An empty graph of `f64`s.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty graph of floats of type `float`.
    pub fn of(float: FloatTy) -> Self {
        Graph {
            float,
            ..Self::default()
        }
    }

    /// The float type of the graph's values.
    pub fn float(&self) -> FloatTy {
        self.float
    }

    /// The nodes, in id order (a topological order).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with this id.
    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id.index()]
    }

    /// The operation of this node.
    pub fn op(&self, id: Id) -> Op {
        self.nodes[id.index()].op
    }

    /// The span of the source the node was first built from.
    pub fn span(&self, id: Id) -> Span {
        self.spans[id.index()]
    }

    /// The constant value of this node, if it is a constant.
    pub fn constant(&self, id: Id) -> Option<f64> {
        match self.op(id) {
            Op::Const(c) => Some(c.get()),
            _ => None,
        }
    }

    /// Adds a node without simplifying it, returning the existing id if the same node is
    /// already present. Use [`crate::simplify::Builder`] to build with simplification.
    pub fn add_raw(&mut self, op: Op, args: Vec<Id>, span: Span) -> Result<Id, TooLarge> {
        debug_assert_eq!(op.arity(), args.len(), "operand count of {op:?}");
        let node = Node { op, args };
        if let Some(&id) = self.memo.get(&node) {
            return Ok(id);
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(TooLarge);
        }
        let id = Id(self.nodes.len() as u32);
        self.nodes.push(node.clone());
        self.spans.push(span);
        self.memo.insert(node, id);
        Ok(id)
    }

    /// Replaces node `id` by `op(args)`, which must compute the same value from operands older
    /// than `id` (the ids stay a topological order). The memo follows: the old form no longer
    /// finds `id`, the new form does unless an equal node already exists.
    pub fn rewrite(&mut self, id: Id, op: Op, args: Vec<Id>) {
        debug_assert!(args.iter().all(|a| *a < id), "operands older than the node");
        let new = Node { op, args };
        let old = std::mem::replace(&mut self.nodes[id.index()], new.clone());
        if self.memo.get(&old) == Some(&id) {
            self.memo.remove(&old);
        }
        self.memo.entry(new).or_insert(id);
    }

    /// The index of the called function `name` in [`Graph::callees`], added if new.
    pub fn callee(&mut self, name: &str) -> u32 {
        let found = self.callees.iter().position(|c| c == name);
        let index = found.unwrap_or_else(|| {
            self.callees.push(name.to_string());
            self.callees.len() - 1
        });
        index as u32
    }

    /// The names of the functions the graph calls, by [`Op::Call`] index.
    pub fn callees(&self) -> &[String] {
        &self.callees
    }

    /// The id of an existing node equal to `node`, if there is one.
    pub fn lookup(&self, node: &Node) -> Option<Id> {
        self.memo.get(node).copied()
    }

    /// The ids reachable from `roots`, in increasing order: the nodes that computing the roots
    /// needs. Uses petgraph's depth-first search over [`Graph::to_petgraph`].
    pub fn live(&self, roots: &[Id]) -> Vec<Id> {
        let view = self.to_petgraph();
        let mut seen = vec![false; self.len()];
        // One search for all roots: it keeps what it discovered, so a node reachable from
        // several roots is visited once (a gradient has a root per parameter scalar).
        let mut dfs = petgraph::visit::Dfs::empty(&view);
        for &root in roots {
            dfs.move_to(petgraph::graph::NodeIndex::new(root.index()));
            while let Some(n) = dfs.next(&view) {
                seen[n.index()] = true;
            }
        }
        (0..self.len())
            .filter(|&i| seen[i])
            .map(|i| Id(i as u32))
            .collect()
    }

    /// The graph as a petgraph graph with the same node indices, an edge from each node to each
    /// of its operands, weighted by operand position. The operand order of a node is its `args`;
    /// the edge weights only repeat it for views such as Graphviz.
    pub fn to_petgraph(&self) -> petgraph::graph::DiGraph<Op, usize> {
        let mut view = petgraph::graph::DiGraph::with_capacity(self.len(), self.len() * 2);
        for node in &self.nodes {
            view.add_node(node.op);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            for (pos, arg) in node.args.iter().enumerate() {
                let from = petgraph::graph::NodeIndex::new(i);
                view.add_edge(from, petgraph::graph::NodeIndex::new(arg.index()), pos);
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_raw_returns_existing_id_for_same_node() {
        let mut g = Graph::new();
        let s = Span::call_site();
        let x = g.add_raw(Op::Param(0), vec![], s).unwrap();
        let a = g.add_raw(Op::Sin, vec![x], s).unwrap();
        let b = g.add_raw(Op::Sin, vec![x], s).unwrap();
        assert_eq!(a, b);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn constants_are_told_apart_by_bits() {
        let mut g = Graph::new();
        let s = Span::call_site();
        let p = g.add_raw(Op::Const(Const::new(0.0)), vec![], s).unwrap();
        let n = g.add_raw(Op::Const(Const::new(-0.0)), vec![], s).unwrap();
        assert_ne!(p, n);
    }

    #[test]
    fn live_keeps_only_what_roots_need() {
        let mut g = Graph::new();
        let s = Span::call_site();
        let x = g.add_raw(Op::Param(0), vec![], s).unwrap();
        let dead = g.add_raw(Op::Cos, vec![x], s).unwrap();
        let root = g.add_raw(Op::Sin, vec![x], s).unwrap();
        assert_eq!(g.live(&[root]), vec![x, root]);
        assert!(!g.live(&[root]).contains(&dead));
    }
}
