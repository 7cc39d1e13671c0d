//! Simplification on construction: every node is built through [`Builder::add`], which applies
//! the named rules below before hash-consing.
//!
//! Each rule looks only at the new node and its operands, and either returns an existing id or
//! a node with fewer or simpler operations. A construction applies at most [`MAX_REWRITES`]
//! rules in a chain, and a rule that builds an inner node does so on strictly smaller operands,
//! so construction always terminates.
//!
//! Before / after, for the adjoint of `y` in `100.0 * (y - x * x).powi(2)`:
//!
//! ```text
//! before: 1.0 * 100.0 * (2.0 * c)      after: 200.0 * c
//! ```
//!
//! | rule | rewrite | exact? |
//! |---|---|---|
//! | `fold_constants` | an operation on constants becomes its value | yes: only IEEE-exact operations are folded (`+ - * /`, `sqrt`, `abs`, rounding, `max`, `min`, `mul_add`, comparisons); transcendental calls stay calls |
//! | `commute_constants_left` | `x * c` → `c * x`, `x + c` → `c + x` | yes |
//! | `mul_one` | `1 * x` → `x` | yes |
//! | `mul_minus_one` | `-1 * x` → `-x` | yes |
//! | `mul_zero` | `0 * x` → `0` only where `x` is a finite constant | yes; `0 * inf` is NaN, so a non-constant `x` is kept |
//! | `add_zero` | `0 + x` → `x`, `x - 0` → `x` | but for the sign of a zero result |
//! | `sub_from_zero` | `0 - x` → `-x` | but for the sign of a zero result |
//! | `sub_self` | `x - x` → `0` | adjoint code only: differs where `x` is infinite or NaN |
//! | `neg_neg` | `--x` → `x` | yes |
//! | `neg_const_factor` | `-(c * x)` → `(-c) * x` | yes |
//! | `neg_operand_out` | `(-a) * b` → `-(a * b)`, `(-a) / b` and `a / (-b)` likewise | yes |
//! | `add_neg` | `a + (-b)` → `a - b` | yes |
//! | `sub_neg` | `a - (-b)` → `a + b` | yes |
//! | `add_negative_constant` | `c + x` with `c < 0` → `x - |c|` | yes |
//! | `add_negative_product` | `a + (c * x)` with `c < 0` → `a - (|c| * x)`, and `-` likewise | yes |
//! | `merge_const_factors` | `c1 * (c2 * x)` → `(c1 * c2) * x`, where `c1 * c2` is normal | adjoint code only: may differ in the last bit |
//! | `div_one` | `x / 1` → `x` | yes |
//! | `select_same` | `if c { a } else { a }` → `a` | yes |
//!
//! | `select_not` | `if !c { a } else { b }` → `if c { b } else { a }` | yes |
//! | `select_distribute` | `(if c { a } else { 0 }) * p` → `if c { a * p } else { 0 }`, and `/`, unary `-` likewise | adjoint code only: the untaken arm of a branch passes an exact 0, even where `p` is NaN or infinite there |
//! | `select_sum_distribute` | `(Σ if cᵢ { aᵢ } else { 0 }) * p` → `Σ ((if cᵢ { aᵢ } else { 0 }) * p)`, then `select_distribute` on each, and `/` likewise | adjoint code only: a value read in arms of `if`s on different conditions has a sum of such selects for adjoint, and where none is taken its partial `p` (a `sqrt` at a negative `x`) must not reach the gradient as `0 · NaN` |
//! | `select_merge` | `(if c { a } else { b }) + (if c { d } else { e })` → `if c { a + d } else { b + e }`, and `-` likewise | yes |
//!
//! Not rules, on purpose: `sqrt(x * x)` → `x` and `ln(x * x)` → `2 ln x` (both wrong for
//! negative `x`), and `x / x` → `1` (wrong at 0).

use proc_macro2::Span;

use crate::ir::{Cmp, Const, Graph, Id, Op};

/// The largest number of rules one construction may apply in a chain. Real chains are two or
/// three long; the limit makes termination evident rather than argued.
pub const MAX_REWRITES: usize = 8;

/// Builds nodes into a graph, simplifying each on construction.
///
/// If the graph reaches [`crate::ir::MAX_NODES`], further constructions return node 0 and
/// [`Builder::too_large`] reports it; the pipeline turns that into a compile error before
/// anything is emitted.
pub struct Builder<'g> {
    graph: &'g mut Graph,
    span: Span,
    too_large: bool,
    /// Whether the rules that may change a result in its last bit are on. They are for the
    /// adjoint code only: the value of `<name>_grad` is computed exactly as the original
    /// function computes it.
    reassociate: bool,
    /// How many `select_distribute` rewrites into a select whose zero arm is nested are building
    /// arms right now: at most [`MAX_DISTRIBUTE_DEPTH`], so a long chain of selects (the
    /// adjoint of a running maximum) is not copied once per path through it.
    distributing: usize,
}

/// How deep `select_distribute` goes into selects nested in arms.
const MAX_DISTRIBUTE_DEPTH: usize = 2;

/// What a rule turns a node into.
#[derive(Debug, PartialEq)]
enum Rewrite {
    /// An existing node.
    To(Id),
    /// Another node, to be simplified in turn.
    Node(Op, Vec<Id>),
}

type Rule = fn(&mut Builder<'_>, Op, &[Id]) -> Option<Rewrite>;

/// The rules, in the order they are tried; see the module table.
const RULES: &[Rule] = &[
    fold_constants,
    commute_constants_left,
    mul_one,
    mul_minus_one,
    add_zero,
    sub_from_zero,
    sub_self,
    neg_neg,
    neg_const_factor,
    neg_operand_out,
    add_neg,
    sub_neg,
    add_negative_constant,
    add_negative_product,
    merge_const_factors,
    div_one,
    select_same,
    select_not,
    select_distribute,
    select_sum_distribute,
    select_merge,
];

impl<'g> Builder<'g> {
    /// A builder adding to `graph`; new nodes get `span` until [`Builder::at`] changes it.
    pub fn new(graph: &'g mut Graph) -> Self {
        Builder {
            graph,
            span: Span::call_site(),
            too_large: false,
            reassociate: false,
            distributing: 0,
        }
    }

    /// A builder for adjoint code, which may also apply the rules that round differently
    /// (`merge_const_factors`, `sub_self`, `select_distribute`).
    pub fn for_adjoint(graph: &'g mut Graph) -> Self {
        Builder {
            reassociate: true,
            ..Builder::new(graph)
        }
    }

    /// The graph being built.
    pub fn graph(&self) -> &Graph {
        self.graph
    }

    /// The graph being built, to change its regions or to swap in another graph (a loop
    /// body being lowered).
    pub fn graph_mut(&mut self) -> &mut Graph {
        self.graph
    }

    /// Sets the span given to the nodes built from now on.
    pub fn at(&mut self, span: Span) {
        self.span = span;
    }

    /// Whether the graph hit its size limit.
    pub fn too_large(&self) -> bool {
        self.too_large
    }

    /// A constant node.
    pub fn constant(&mut self, value: f64) -> Id {
        let value = self.graph.float().round(value);
        self.raw(Op::Const(Const::new(value)), vec![])
    }

    /// The index of the called function `name`; see [`Graph::callee`].
    pub fn callee(&mut self, name: &str) -> u32 {
        self.graph.callee(name)
    }

    /// An integer constant node.
    pub fn int(&mut self, value: i64) -> Id {
        self.raw(Op::Int(value), vec![])
    }

    /// A parameter node.
    pub fn param(&mut self, index: u32) -> Id {
        self.raw(Op::Param(index), vec![])
    }

    /// Builds `op(args)`, simplified.
    pub fn add(&mut self, op: Op, args: Vec<Id>) -> Id {
        if op.is_structural() {
            return self.raw(op, args);
        }
        let (mut op, mut args) = (op, args);
        for _ in 0..MAX_REWRITES {
            match RULES.iter().find_map(|rule| rule(self, op, &args)) {
                None => break,
                Some(Rewrite::To(id)) => return id,
                Some(Rewrite::Node(new_op, new_args)) => (op, args) = (new_op, new_args),
            }
        }
        self.raw(op, args)
    }

    fn raw(&mut self, op: Op, args: Vec<Id>) -> Id {
        match self.graph.add_raw(op, args, self.span) {
            Ok(id) => id,
            Err(_) => {
                self.too_large = true;
                Id::new(0)
            }
        }
    }

    /// `a + b`
    pub fn sum(&mut self, a: Id, b: Id) -> Id {
        self.add(Op::Add, vec![a, b])
    }

    /// `a - b`
    pub fn diff(&mut self, a: Id, b: Id) -> Id {
        self.add(Op::Sub, vec![a, b])
    }

    /// `a * b`
    pub fn product(&mut self, a: Id, b: Id) -> Id {
        self.add(Op::Mul, vec![a, b])
    }

    /// `a / b`
    pub fn quotient(&mut self, a: Id, b: Id) -> Id {
        self.add(Op::Div, vec![a, b])
    }

    /// `-a`
    pub fn negate(&mut self, a: Id) -> Id {
        self.add(Op::Neg, vec![a])
    }

    /// A one-operand function of `a`.
    pub fn call(&mut self, op: Op, a: Id) -> Id {
        self.add(op, vec![a])
    }

    /// `c * a` for a constant `c`.
    pub fn scale(&mut self, c: f64, a: Id) -> Id {
        let c = self.constant(c);
        self.product(c, a)
    }

    /// `a <cmp> b`
    pub fn compare(&mut self, cmp: Cmp, a: Id, b: Id) -> Id {
        self.add(Op::Cmp(cmp), vec![a, b])
    }

    /// `if cond { then } else { otherwise }`
    pub fn select(&mut self, cond: Id, then: Id, otherwise: Id) -> Id {
        self.add(Op::Select, vec![cond, then, otherwise])
    }

    fn constant_of(&self, id: Id) -> Option<f64> {
        self.graph.constant(id)
    }

    fn is_const(&self, id: Id, value: f64) -> bool {
        self.constant_of(id)
            .is_some_and(|c| c.to_bits() == value.to_bits())
    }
}

/// Evaluates `op` on constants where the result is exactly what the emitted code would
/// compute at run time (IEEE-exact operations only), else `None`.
pub fn eval_exact(op: Op, c: &[f64]) -> Option<f64> {
    Some(match (op, c) {
        (Op::Add, [a, b]) => a + b,
        (Op::Sub, [a, b]) => a - b,
        (Op::Mul, [a, b]) => a * b,
        (Op::Div, [a, b]) => a / b,
        (Op::Neg, [a]) => -a,
        (Op::Sqrt, [a]) => a.sqrt(),
        (Op::Abs, [a]) => a.abs(),
        (Op::Recip, [a]) => a.recip(),
        (Op::Floor, [a]) => a.floor(),
        (Op::Ceil, [a]) => a.ceil(),
        (Op::Round, [a]) => a.round(),
        (Op::Trunc, [a]) => a.trunc(),
        (Op::Signum, [a]) => a.signum(),
        (Op::Max, [a, b]) => a.max(*b),
        (Op::Min, [a, b]) => a.min(*b),
        (Op::MulAdd, [a, b, d]) => a.mul_add(*b, *d),
        (Op::Powi(0), [_]) => 1.0,
        (Op::Powi(1), [a]) => *a,
        _ => return None,
    })
}

/// `fold_constants`: an IEEE-exact operation on constants becomes its value; a select on a
/// comparison of constants becomes the arm it picks.
fn fold_constants(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if op == Op::Select {
        let cond = b.graph.node(args[0]).clone();
        let Op::Cmp(cmp) = cond.op else { return None };
        let (x, y) = (b.constant_of(cond.args[0])?, b.constant_of(cond.args[1])?);
        return Some(Rewrite::To(if cmp.eval(x, y) { args[1] } else { args[2] }));
    }
    if args.is_empty() || op.is_bool() {
        return None;
    }
    let c: Vec<f64> = args
        .iter()
        .map(|&a| b.constant_of(a))
        .collect::<Option<_>>()?;
    // In `f32`, an `f64` `+ - * /` or `sqrt` rounded to `f32` is the `f32` result (53 bits are
    // more than twice 24 plus 2); a fused multiply-add is not, so it is left to run time.
    if op == Op::MulAdd && b.graph.float() == crate::ir::FloatTy::F32 {
        return None;
    }
    let value = eval_exact(op, &c)?;
    Some(Rewrite::To(b.constant(value)))
}

/// `commute_constants_left`: constants go to the left of `+` and `*`, so `x * 2` and `2 * x`
/// are one node and the other rules need to look on one side only.
fn commute_constants_left(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let commutes = matches!(op, Op::Add | Op::Mul);
    let swap = commutes && b.constant_of(args[1]).is_some() && b.constant_of(args[0]).is_none();
    swap.then(|| Rewrite::Node(op, vec![args[1], args[0]]))
}

/// `mul_one`: `1 * x` → `x`.
fn mul_one(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Mul && b.is_const(args[0], 1.0)).then(|| Rewrite::To(args[1]))
}

/// `mul_minus_one`: `-1 * x` → `-x`.
fn mul_minus_one(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Mul && b.is_const(args[0], -1.0)).then(|| Rewrite::Node(Op::Neg, vec![args[1]]))
}

/// `add_zero`: `0 + x` → `x` and `x - 0` → `x`. Equal values; the only difference is that
/// `0.0 + -0.0` is `+0.0`, so a sum that is zero may come out as `-0.0` (which compares equal).
fn add_zero(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let zero = |id| b.constant_of(id) == Some(0.0);
    match op {
        Op::Add if zero(args[0]) => Some(Rewrite::To(args[1])),
        Op::Sub if zero(args[1]) => Some(Rewrite::To(args[0])),
        _ => None,
    }
}

/// `sub_from_zero`: `0 - x` → `-x`, equal but for the sign of a zero result.
fn sub_from_zero(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Sub && b.constant_of(args[0]) == Some(0.0))
        .then(|| Rewrite::Node(Op::Neg, vec![args[1]]))
}

/// `sub_self`: `x - x` → `0`, in adjoint code only: for an infinite or NaN `x` the difference
/// is NaN, and the value of the function must stay what the user's code computes.
fn sub_self(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Sub && args[0] == args[1] && b.reassociate).then(|| Rewrite::To(b.constant(0.0)))
}

/// `neg_neg`: `--x` → `x`.
fn neg_neg(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let inner = b
        .graph
        .node(args.first().copied().filter(|_| op == Op::Neg)?);
    (inner.op == Op::Neg).then(|| Rewrite::To(inner.args[0]))
}

/// `neg_const_factor`: `-(c * x)` → `(-c) * x`.
fn neg_const_factor(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let inner = b
        .graph
        .node(args.first().copied().filter(|_| op == Op::Neg)?)
        .clone();
    let c = (inner.op == Op::Mul)
        .then(|| b.constant_of(inner.args[0]))
        .flatten()?;
    Some(Rewrite::Node(Op::Mul, vec![b.constant(-c), inner.args[1]]))
}

/// `neg_operand_out`: `(-a) * b` → `-(a * b)`, `(-a) / b` → `-(a / b)` and `a / (-b)` →
/// `-(a / b)`, so that negations meet and cancel or fold into constants.
fn neg_operand_out(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if !matches!(op, Op::Mul | Op::Div) {
        return None;
    }
    let neg_inner = |id: Id| (b.graph.op(id) == Op::Neg).then(|| b.graph.node(id).args[0]);
    let (x, y) = match (neg_inner(args[0]), neg_inner(args[1])) {
        (Some(x), None) => (x, args[1]),
        (None, Some(y)) => (args[0], y),
        (Some(x), Some(y)) => return Some(Rewrite::Node(op, vec![x, y])),
        (None, None) => return None,
    };
    let inner = b.add(op, vec![x, y]);
    Some(Rewrite::Node(Op::Neg, vec![inner]))
}

/// `add_neg`: `a + (-b)` → `a - b`, and `(-a) + b` → `b - a`.
fn add_neg(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if op != Op::Add {
        return None;
    }
    let g = &b.graph;
    if g.op(args[1]) == Op::Neg {
        return Some(Rewrite::Node(
            Op::Sub,
            vec![args[0], g.node(args[1]).args[0]],
        ));
    }
    if g.op(args[0]) == Op::Neg {
        return Some(Rewrite::Node(
            Op::Sub,
            vec![args[1], g.node(args[0]).args[0]],
        ));
    }
    None
}

/// `sub_neg`: `a - (-b)` → `a + b`.
fn sub_neg(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let g = &b.graph;
    (op == Op::Sub && g.op(args[1]) == Op::Neg)
        .then(|| Rewrite::Node(Op::Add, vec![args[0], g.node(args[1]).args[0]]))
}

/// `add_negative_constant`: `c + x` with `c < 0` → `x - |c|`, so the code reads `x - 7.0`;
/// likewise `x - c` with `c < 0` → `|c| + x`.
fn add_negative_constant(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    match op {
        Op::Add => {
            let c = b.constant_of(args[0]).filter(|c| *c < 0.0)?;
            Some(Rewrite::Node(Op::Sub, vec![args[1], b.constant(-c)]))
        }
        Op::Sub => {
            let c = b.constant_of(args[1]).filter(|c| *c < 0.0)?;
            Some(Rewrite::Node(Op::Add, vec![b.constant(-c), args[0]]))
        }
        _ => None,
    }
}

/// `add_negative_product`: `a + (c * x)` with `c < 0` → `a - (|c| * x)`, and `a - (c * x)`
/// with `c < 0` → `a + (|c| * x)`, so the code reads `a - 1.5 * w`.
fn add_negative_product(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let flipped = match op {
        Op::Add => Op::Sub,
        Op::Sub => Op::Add,
        _ => return None,
    };
    let product = b.graph.node(args[1]).clone();
    let c = (product.op == Op::Mul)
        .then(|| b.constant_of(product.args[0]))
        .flatten()?;
    if c >= 0.0 || b.constant_of(args[0]).is_some() {
        return None;
    }
    let positive = b.scale(-c, product.args[1]);
    Some(Rewrite::Node(flipped, vec![args[0], positive]))
}

/// `merge_const_factors`: `c1 * (c2 * x)` → `(c1 * c2) * x` where the product is a finite,
/// normal, nonzero number.
fn merge_const_factors(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if !b.reassociate {
        return None;
    }
    let c1 = (op == Op::Mul).then(|| b.constant_of(args[0])).flatten()?;
    let inner = b.graph.node(args[1]).clone();
    let c2 = (inner.op == Op::Mul)
        .then(|| b.constant_of(inner.args[0]))
        .flatten()?;
    let product = c1 * c2;
    if !product.is_normal() {
        return None;
    }
    Some(Rewrite::Node(
        Op::Mul,
        vec![b.constant(product), inner.args[1]],
    ))
}

/// `div_one`: `x / 1` → `x`.
fn div_one(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Div && b.is_const(args[1], 1.0)).then(|| Rewrite::To(args[0]))
}

/// `select_not`: `if !c { a } else { b }` → `if c { b } else { a }`.
fn select_not(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    let cond = b
        .graph
        .node(args.first().copied().filter(|_| op == Op::Select)?);
    (cond.op == Op::Not).then(|| Rewrite::Node(Op::Select, vec![cond.args[0], args[2], args[1]]))
}

/// `select_distribute`: a product, quotient or negation of a select with a zero arm moves
/// into the other arm. This is what keeps the untaken side of a branch out of the gradient:
/// the adjoint of an untaken arm is `if c { a } else { 0 }`, and without the rule it would be
/// multiplied by the arm's partial derivatives, which may be NaN there (`0.5 / sqrt(x)` at a
/// negative `x`), giving NaN instead of 0.
fn select_distribute(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if !b.reassociate || !matches!(op, Op::Mul | Op::Div | Op::Neg) {
        return None;
    }
    // A zero arm may sit in a select nested in an arm (`if a { 1 } else if b { 0 } else
    // { y }`, from an `else if` chain or an early return): distributing into the outer
    // select distributes into the inner one in turn, so the zero stays an exact zero.
    let zero_arm_select = |id: Id| {
        let n = b.graph.node(id);
        if n.op != Op::Select {
            return None;
        }
        let direct = has_zero_arm(b.graph, id, 1);
        // Through a nested select only for a factor that can be infinite or NaN (a constant
        // times an exact zero is an exact zero already).
        let risky = op != Op::Neg && args.iter().any(|&a| a != id && b.constant_of(a).is_none());
        let nested = risky && b.distributing < MAX_DISTRIBUTE_DEPTH && has_zero_arm(b.graph, id, 2);
        (direct || nested).then(|| (n.args.clone(), !direct))
    };
    let (position, (select, nested)) =
        (0..args.len()).find_map(|k| Some((k, zero_arm_select(args[k])?)))?;
    if op == Op::Div && position == 1 {
        return None;
    }
    let arm = |value: Id, b: &mut Builder<'_>| {
        if b.constant_of(value) == Some(0.0) {
            return value;
        }
        let mut operands = args.to_vec();
        operands[position] = value;
        b.add(op, operands)
    };
    // A chain of selects each with a zero arm is distributed all the way down, once per link;
    // a zero arm only inside a nested select is followed a bounded number of times.
    b.distributing += usize::from(nested);
    let then = arm(select[1], b);
    let otherwise = arm(select[2], b);
    b.distributing -= usize::from(nested);
    Some(Rewrite::Node(Op::Select, vec![select[0], then, otherwise]))
}

/// `select_sum_distribute`; see the module table. Only for a factor that can be infinite or
/// NaN ([`may_be_unbounded`]), and only where every term of the sum is a select with a zero
/// arm (a term taken on every path reads the partial anyway).
fn select_sum_distribute(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    // Not inside another distribution: a sum in an arm being built stays one term, so the
    // products made are one per term of the outer sum, never one per path.
    if !b.reassociate || !matches!(op, Op::Mul | Op::Div) || b.distributing > 0 {
        return None;
    }
    let positions: &[usize] = if op == Op::Div { &[0] } else { &[0, 1] };
    let position = positions.iter().copied().find(|&k| {
        let other = args[1 - k];
        // Any divisor that is not a constant may be zero.
        let risky = match op {
            Op::Div => b.constant_of(other).is_none(),
            _ => may_be_unbounded(b.graph, other, 4),
        };
        risky && all_terms_guarded(b.graph, args[k], MAX_GUARDED_TERMS)
    })?;
    let sum = b.graph.node(args[position]).clone();
    let product = |term: Id, b: &mut Builder<'_>| {
        let mut operands = args.to_vec();
        operands[position] = term;
        b.add(op, operands)
    };
    b.distributing += 1;
    let left = product(sum.args[0], b);
    let right = product(sum.args[1], b);
    b.distributing -= 1;
    Some(Rewrite::Node(sum.op, vec![left, right]))
}

/// Whether `id` may be infinite or NaN for finite operands: it divides, or takes a function
/// with a restricted domain or that overflows (`sqrt`, `ln`, `exp`, `acos`, a callee's
/// partial, ...), within `depth` levels of arithmetic. A product of bounded partials (`1 − t²`
/// of a `tanh`) is left undistributed: it costs an operation per term and guards nothing.
fn may_be_unbounded(graph: &Graph, id: Id, depth: usize) -> bool {
    let n = graph.node(id);
    match n.op {
        Op::Const(_) | Op::Param(_) | Op::Int(_) => false,
        Op::Add | Op::Sub | Op::Mul | Op::Neg | Op::Abs | Op::Select => {
            depth > 0
                && n.args
                    .iter()
                    .any(|&a| may_be_unbounded(graph, a, depth - 1))
        }
        Op::Sin | Op::Cos | Op::Tanh | Op::Atan | Op::Atan2 | Op::Asinh | Op::Max | Op::Min => {
            false
        }
        Op::Powi(k) => k < 0 || depth > 0 && may_be_unbounded(graph, n.args[0], depth - 1),
        _ => true,
    }
}

/// The most terms [`select_sum_distribute`] splits a sum into: one product each.
const MAX_GUARDED_TERMS: usize = 64;

/// Whether `id` is a sum (or difference) of at least two terms, at most `budget`, each a
/// select with a zero arm.
fn all_terms_guarded(graph: &Graph, id: Id, budget: usize) -> bool {
    fn count(graph: &Graph, id: Id, budget: usize) -> Option<usize> {
        let n = graph.node(id);
        match n.op {
            Op::Add | Op::Sub => {
                let left = count(graph, n.args[0], budget)?;
                let right = count(graph, n.args[1], budget.checked_sub(left)?)?;
                Some(left + right).filter(|&t| t <= budget)
            }
            Op::Select if has_zero_arm(graph, id, 2) => (budget >= 1).then_some(1),
            _ => None,
        }
    }
    matches!(graph.op(id), Op::Add | Op::Sub) && count(graph, id, budget).is_some()
}

/// Whether the select `id` has an arm that is the constant 0, in it or in a select nested in
/// its arms, at most `depth` deep.
fn has_zero_arm(graph: &Graph, id: Id, depth: usize) -> bool {
    let n = graph.node(id);
    if n.op != Op::Select || depth == 0 {
        return false;
    }
    n.args[1..]
        .iter()
        .any(|&arm| graph.constant(arm) == Some(0.0) || has_zero_arm(graph, arm, depth - 1))
}

/// `select_merge`: `(if c { a } else { b }) ± (if c { d } else { e })` →
/// `if c { a ± d } else { b ± e }`.
fn select_merge(b: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    if !matches!(op, Op::Add | Op::Sub) {
        return None;
    }
    let (l, r) = (b.graph.node(args[0]).clone(), b.graph.node(args[1]).clone());
    if l.op != Op::Select || r.op != Op::Select || l.args[0] != r.args[0] {
        return None;
    }
    let then = b.add(op, vec![l.args[1], r.args[1]]);
    let otherwise = b.add(op, vec![l.args[2], r.args[2]]);
    Some(Rewrite::Node(Op::Select, vec![l.args[0], then, otherwise]))
}

/// `select_same`: `if c { a } else { a }` → `a`.
fn select_same(_: &mut Builder<'_>, op: Op, args: &[Id]) -> Option<Rewrite> {
    (op == Op::Select && args[1] == args[2]).then(|| Rewrite::To(args[1]))
}

/// From how many products a reciprocal computed once is kept: `(1 / x) * yᵢ` for every `i`,
/// one division and a multiplication per use, instead of a division per use. A division takes
/// several times as long as a multiplication, but a few independent ones overlap with other
/// work, and the operation count (each operation one) favours them: below this many uses the
/// products become quotients.
pub const SHARED_RECIPROCAL_USES: u32 = 4;

/// Turns `(1 / x) * y` into `y / x` where the reciprocal is used by fewer than
/// [`SHARED_RECIPROCAL_USES`] products and nothing else, after the adjoint code is complete,
/// when uses can be counted (a rule at construction could not tell, since later nodes may
/// still use the reciprocal). The softmax of a log-sum-exp keeps one reciprocal of the sum for
/// all its terms.
///
/// Only adjoint nodes (ids from `forward_len`) are rewritten, and a reciprocal counts every use
/// by a forward node, by a root and by a node live from `roots`. The rewritten node keeps its
/// id and its operands stay older than it, so the ids remain a topological order. The result
/// may differ from the product in the last bit, as adjoint code may.
pub fn fold_lone_reciprocals(graph: &mut Graph, forward_len: usize, roots: &[Id]) {
    let live = graph.live(roots);
    let mut uses = vec![0u32; graph.len()];
    let mut products = vec![0u32; graph.len()];
    let forward = (0..forward_len.min(graph.len())).map(Id::new);
    for id in forward.chain(live.iter().copied().filter(|id| id.index() >= forward_len)) {
        let node = graph.node(id);
        for arg in &node.args {
            uses[arg.index()] += 1;
            if node.op == Op::Mul && node.args[0] != node.args[1] {
                products[arg.index()] += 1;
            }
        }
    }
    for &id in roots {
        uses[id.index()] += 1;
    }
    let divisor = |graph: &Graph, r: Id| {
        let n = graph.node(r);
        let one = graph.constant(n.args.first().copied()?) == Some(1.0);
        let (u, p) = (uses[r.index()], products[r.index()]);
        let folds = u == p && u < SHARED_RECIPROCAL_USES;
        (n.op == Op::Div && one && r.index() >= forward_len && folds).then(|| n.args[1])
    };
    for id in live {
        let node = graph.node(id);
        if id.index() < forward_len || node.op != Op::Mul || node.args[0] == node.args[1] {
            continue;
        }
        let (l, r) = (node.args[0], node.args[1]);
        let quotient = match (divisor(graph, l), divisor(graph, r)) {
            (Some(x), _) => vec![r, x],
            (None, Some(x)) => vec![l, x],
            (None, None) => continue,
        };
        graph.rewrite(id, Op::Div, quotient);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph with parameters `x` (id 0) and `y` (id 1), and an adjoint builder over it (all
    /// rules on).
    fn with_builder(test: impl FnOnce(&mut Builder<'_>, Id, Id)) {
        let mut g = Graph::new();
        let mut b = Builder::for_adjoint(&mut g);
        let (x, y) = (b.param(0), b.param(1));
        test(&mut b, x, y);
    }

    fn node(b: &Builder<'_>, id: Id) -> (Op, Vec<Id>) {
        let n = b.graph().node(id);
        (n.op, n.args.clone())
    }

    #[test]
    fn fold_constants_exact_operations() {
        with_builder(|b, _, _| {
            let (two, three) = (b.constant(2.0), b.constant(3.0));
            let p = b.product(two, three);
            assert_eq!(b.graph().constant(p), Some(6.0));
            let s = b.call(Op::Sqrt, p);
            assert_eq!(b.graph().constant(s), Some(6f64.sqrt()));
        });
    }

    #[test]
    fn fold_constants_leaves_transcendental_calls() {
        with_builder(|b, _, _| {
            let two = b.constant(2.0);
            let s = b.call(Op::Sin, two);
            assert_eq!(node(b, s), (Op::Sin, vec![two]));
        });
    }

    #[test]
    fn fold_constants_picks_select_arm() {
        with_builder(|b, x, y| {
            let (one, two) = (b.constant(1.0), b.constant(2.0));
            let cond = b.compare(Cmp::Lt, one, two);
            assert_eq!(b.select(cond, x, y), x);
        });
    }

    #[test]
    fn commute_constants_left_shares_both_orders() {
        with_builder(|b, x, _| {
            let two = b.constant(2.0);
            assert_eq!(b.product(x, two), b.product(two, x));
            assert_eq!(b.sum(x, two), b.sum(two, x));
        });
    }

    #[test]
    fn mul_one_removes_factor() {
        with_builder(|b, x, _| {
            let one = b.constant(1.0);
            assert_eq!(b.product(x, one), x);
            assert_eq!(b.product(one, x), x);
        });
    }

    #[test]
    fn mul_minus_one_negates() {
        with_builder(|b, x, _| {
            let m = b.scale(-1.0, x);
            assert_eq!(node(b, m), (Op::Neg, vec![x]));
        });
    }

    #[test]
    fn mul_zero_only_for_finite_constants() {
        with_builder(|b, x, _| {
            let zero = b.constant(0.0);
            let p = b.product(zero, x);
            assert_eq!(
                node(b, p),
                (Op::Mul, vec![zero, x]),
                "0 * x is NaN for infinite x"
            );
            let five = b.constant(5.0);
            let p = b.product(zero, five);
            assert_eq!(b.graph().constant(p), Some(0.0));
            let inf = b.constant(f64::INFINITY);
            let p = b.product(zero, inf);
            assert!(b.graph().constant(p).is_some_and(f64::is_nan));
        });
    }

    #[test]
    fn add_zero_removes_term() {
        with_builder(|b, x, _| {
            let (zero, minus_zero) = (b.constant(0.0), b.constant(-0.0));
            assert_eq!(b.sum(x, minus_zero), x);
            assert_eq!(b.sum(x, zero), x);
            assert_eq!(b.diff(x, zero), x);
        });
    }

    #[test]
    fn sub_from_zero_negates() {
        with_builder(|b, x, _| {
            let zero = b.constant(0.0);
            let d = b.diff(zero, x);
            assert_eq!(node(b, d), (Op::Neg, vec![x]));
        });
    }

    #[test]
    fn sub_self_stays_out_of_forward_code() {
        let mut g = Graph::new();
        let mut b = Builder::new(&mut g);
        let x = b.param(0);
        let d = b.diff(x, x);
        assert_eq!(
            node(&b, d),
            (Op::Sub, vec![x, x]),
            "inf - inf is NaN, not 0"
        );
    }

    #[test]
    fn sub_self_is_zero() {
        with_builder(|b, x, _| {
            let s = b.call(Op::Sin, x);
            let d = b.diff(s, s);
            assert_eq!(b.graph().constant(d), Some(0.0));
        });
    }

    #[test]
    fn neg_neg_cancels() {
        with_builder(|b, x, _| {
            let n = b.negate(x);
            assert_eq!(b.negate(n), x);
        });
    }

    #[test]
    fn neg_const_factor_folds_sign() {
        with_builder(|b, x, _| {
            let p = b.scale(3.0, x);
            let n = b.negate(p);
            let (op, args) = node(b, n);
            assert_eq!(
                (op, b.graph().constant(args[0]), args[1]),
                (Op::Mul, Some(-3.0), x)
            );
        });
    }

    #[test]
    fn neg_operand_out_lets_negations_meet() {
        with_builder(|b, x, y| {
            let (nx, ny) = (b.negate(x), b.negate(y));
            let p = b.product(nx, y);
            let xy = b.product(x, y);
            assert_eq!(node(b, p), (Op::Neg, vec![xy]));
            assert_eq!(b.product(nx, ny), xy);
            let q = b.quotient(x, ny);
            let xdy = b.quotient(x, y);
            assert_eq!(node(b, q), (Op::Neg, vec![xdy]));
        });
    }

    #[test]
    fn add_neg_becomes_sub() {
        with_builder(|b, x, y| {
            let ny = b.negate(y);
            let s = b.sum(x, ny);
            assert_eq!(node(b, s), (Op::Sub, vec![x, y]));
            let nx = b.negate(x);
            let s = b.sum(nx, y);
            assert_eq!(node(b, s), (Op::Sub, vec![y, x]));
        });
    }

    #[test]
    fn sub_neg_becomes_add() {
        with_builder(|b, x, y| {
            let ny = b.negate(y);
            let d = b.diff(x, ny);
            assert_eq!(node(b, d), (Op::Add, vec![x, y]));
        });
    }

    #[test]
    fn add_negative_constant_reads_as_sub() {
        with_builder(|b, x, _| {
            let m7 = b.constant(-7.0);
            let s = b.sum(x, m7);
            let (op, args) = node(b, s);
            assert_eq!(
                (op, args[0], b.graph().constant(args[1])),
                (Op::Sub, x, Some(7.0))
            );
        });
    }

    #[test]
    fn add_negative_product_reads_as_sub() {
        with_builder(|b, x, y| {
            let p = b.scale(-1.5, y);
            let s = b.sum(x, p);
            let (op, args) = node(b, s);
            assert_eq!((op, args[0]), (Op::Sub, x));
            assert_eq!(node(b, args[1]).1[1], y);
        });
    }

    #[test]
    fn merge_const_factors_multiplies_constants() {
        with_builder(|b, x, _| {
            let inner = b.scale(3.0, x);
            let outer = b.scale(2.0, inner);
            let (op, args) = node(b, outer);
            assert_eq!(
                (op, b.graph().constant(args[0]), args[1]),
                (Op::Mul, Some(6.0), x)
            );
        });
    }

    #[test]
    fn merge_const_factors_stays_out_of_forward_code() {
        let mut g = Graph::new();
        let mut b = Builder::new(&mut g);
        let x = b.param(0);
        let inner = b.scale(3.0, x);
        let outer = b.scale(2.0, inner);
        assert_eq!(
            node(&b, outer).1[1],
            inner,
            "the value must round as the user wrote it"
        );
    }

    #[test]
    fn a_reciprocal_of_few_products_becomes_quotients_and_a_shared_one_stays() {
        let mut g = Graph::new();
        let s = Span::call_site();
        let x = g.add_raw(Op::Param(0), vec![], s).unwrap();
        let y = g.add_raw(Op::Param(1), vec![], s).unwrap();
        let z = g.add_raw(Op::Param(2), vec![], s).unwrap();
        let w = g.add_raw(Op::Param(3), vec![], s).unwrap();
        let forward_len = g.len();
        let mut b = Builder::for_adjoint(&mut g);
        let one = b.constant(1.0);
        let lone = b.quotient(one, x);
        let scaled = b.product(lone, y);
        let shared = b.quotient(one, w);
        let products: Vec<Id> = [x, y, z, w].iter().map(|&v| b.product(shared, v)).collect();
        let compared = b.quotient(one, z);
        let product = b.product(compared, y);
        let zero = b.constant(0.0);
        let test = b.compare(Cmp::Eq, compared, zero);
        let mut roots = vec![scaled, product, test];
        roots.extend(&products);
        fold_lone_reciprocals(&mut g, forward_len, &roots);
        assert_eq!(
            (g.op(scaled), g.node(scaled).args.clone()),
            (Op::Div, vec![y, x])
        );
        assert!(products.iter().all(|&p| g.op(p) == Op::Mul), "shared by 4");
        assert_eq!(g.op(product), Op::Mul, "the reciprocal is also compared");
        // The memo follows the rewrite: building `y / x` again finds the rewritten node.
        let again = Builder::for_adjoint(&mut g).quotient(y, x);
        assert_eq!(again, scaled);
    }

    #[test]
    fn merge_const_factors_keeps_overflowing_products() {
        with_builder(|b, x, _| {
            let inner = b.scale(1e300, x);
            let outer = b.scale(1e300, inner);
            assert_eq!(node(b, outer).1[1], inner);
        });
    }

    #[test]
    fn div_one_removes_divisor() {
        with_builder(|b, x, _| {
            let one = b.constant(1.0);
            assert_eq!(b.quotient(x, one), x);
        });
    }

    #[test]
    fn select_same_needs_no_condition() {
        with_builder(|b, x, y| {
            let c = b.compare(Cmp::Lt, x, y);
            assert_eq!(b.select(c, x, x), x);
        });
    }

    #[test]
    fn select_sum_distribute_puts_the_factor_in_each_taken_arm() {
        with_builder(|b, x, y| {
            let zero = b.constant(0.0);
            let (c1, c2) = (b.compare(Cmp::Gt, x, zero), b.compare(Cmp::Gt, y, zero));
            let (s1, s2) = (b.select(c1, y, zero), b.select(c2, x, zero));
            let sum = b.sum(s1, s2);
            let p = b.call(Op::Sqrt, x);
            let product = b.product(sum, p);
            // (if c1 { y * p } else { 0 }) + (if c2 { x * p } else { 0 })
            let (op, terms) = node(b, product);
            assert_eq!(op, Op::Add);
            for (term, c) in terms.iter().zip([c1, c2]) {
                let (op, args) = node(b, *term);
                assert_eq!(
                    (op, args[0], b.graph().constant(args[2])),
                    (Op::Select, c, Some(0.0))
                );
            }
            // A term taken on every path reads `p` anyway: left alone.
            let mixed = b.sum(s1, y);
            let kept = b.product(mixed, p);
            assert_eq!(node(b, kept), (Op::Mul, vec![mixed, p]));
        });
    }

    #[test]
    fn no_rule_rewrites_sqrt_of_square() {
        with_builder(|b, x, _| {
            let sq = b.product(x, x);
            let r = b.call(Op::Sqrt, sq);
            assert_eq!(node(b, r), (Op::Sqrt, vec![sq]));
            let l = b.call(Op::Ln, sq);
            assert_eq!(node(b, l), (Op::Ln, vec![sq]));
        });
    }
}
