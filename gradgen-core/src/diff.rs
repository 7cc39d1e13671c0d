//! Differentiation: one reverse sweep over the graph, accumulating adjoints.
//!
//! The sweep visits nodes from the output down to the parameters (descending ids are a
//! reverse topological order, see [`crate::ir`]). A node with an adjoint `ā` passes
//! `ā · ∂node/∂operand` to each operand through the node's `rule`; an operand reached from
//! several consumers sums their contributions. The adjoint code is built in the same graph as
//! the function, through the simplifying [`Builder`], so it shares every forward value it
//! reads and every expression it repeats.
//!
//! Before / after, for `x.sin() * y`:
//!
//! ```text
//! %2 = sin %0            ; forward
//! %3 = mul %2, %1        ; forward, the output; ā = 1
//! %4 = cos %0            ; adjoint of %2 is %1 (= y), so x gets y · cos x
//! %5 = mul %1, %4        ; ∂/∂x
//!                        ; ∂/∂y is %2 itself: no new node
//! ```
//!
//! The rules read like a table of derivatives, one named function per operation. Where the
//! textbook formula overflows or loses precision, the rule uses a safe form, and the form is
//! stated in the rule's documentation. At the points where a derivative is not unique the
//! rules give the conventions of DESIGN.md (½ at ties, 0 for `abs` at 0, and so on).

use std::collections::{HashMap, HashSet};

use crate::ir::{Cmp, Graph, Id, Node, Op};
use crate::region::{ArrayRef, Input, Region, RegionAdjoint};
use crate::simplify::Builder;

/// One term of an operand's adjoint: `value`, to be added (or subtracted, if `negate`).
struct Term {
    operand: Id,
    value: Id,
    negate: bool,
}

fn plus(operand: Id, value: Id) -> Term {
    Term {
        operand,
        value,
        negate: false,
    }
}

fn minus(operand: Id, value: Id) -> Term {
    Term {
        operand,
        value,
        negate: true,
    }
}

/// The result of differentiating one output.
pub struct Gradient {
    /// The adjoint of each node of the forward graph (`None` where it is zero), indexed by id.
    pub adjoints: Vec<Option<Id>>,
    /// The derivative with respect to each parameter, in parameter order.
    pub params: Vec<Id>,
    /// The number of nodes of the forward graph; nodes at or above it are adjoint code.
    pub forward_len: usize,
    /// The adjoint code run for its effects, in order: reversed kept loops, additions to
    /// buffers' adjoints. Emission keeps them whether or not a value of theirs is read.
    pub effects: Vec<Id>,
}

/// Which arrays that kept loops read at run time hold differentiated values.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    /// Whether each parameter of the function (by index) is differentiated.
    pub params: Vec<bool>,
}

impl Activity {
    fn array(&self, array: &ArrayRef) -> bool {
        match array {
            ArrayRef::Param { param, .. } => self.params.get(*param).copied().unwrap_or(true),
            ArrayRef::Buffer(_) => true,
        }
    }
}

/// Differentiates `output` with respect to `params` by one reverse sweep, adding the adjoint
/// code to `graph`.
pub fn differentiate(graph: &mut Graph, output: Id, params: &[Id]) -> Gradient {
    differentiate_with(graph, output, params, &Activity::default(), &[])
}

/// [`differentiate`], for a graph that may hold kept loops: `activity` tells which arrays
/// they read are differentiated, and `effects` are nodes that run for their effects (loops
/// inside a loop body), differentiated even when the output does not read them.
pub fn differentiate_with(
    graph: &mut Graph,
    output: Id,
    params: &[Id],
    activity: &Activity,
    effects: &[Id],
) -> Gradient {
    let forward_len = graph.len();
    let active = active_nodes(graph, params, activity);
    let roots: Vec<Id> = std::iter::once(output)
        .chain(effects.iter().copied())
        .collect();
    let mut live = vec![false; forward_len];
    for id in graph.live(&roots) {
        live[id.index()] = true;
    }
    let last = roots.iter().map(|r| r.index()).max().unwrap_or(0);
    let mut adjoints: Vec<Option<Id>> = vec![None; forward_len];
    let mut sweep = Sweep {
        seeds: HashMap::new(),
        effects: Vec::new(),
        activity,
        active: &active,
    };
    let log_sums = LogSums::find(graph, &roots);
    let mut b = Builder::for_adjoint(graph);
    adjoints[output.index()] = Some(b.constant(1.0));
    for index in (0..=last).rev() {
        let id = Id::new(index);
        let node = b.graph().node(id).clone();
        let terms = if node.op.is_structural() {
            if !live[index] || !active[index] {
                continue;
            }
            b.at(b.graph().span(id));
            sweep.structural(&mut b, id, &node, adjoints[index])
        } else {
            let Some(adjoint) = adjoints[index] else {
                continue;
            };
            b.at(b.graph().span(id));
            log_sums.terms(&mut b, id, &node, adjoint)
        };
        for term in terms {
            if !active[term.operand.index()] {
                continue;
            }
            let slot = &mut adjoints[term.operand.index()];
            *slot = Some(accumulate(&mut b, *slot, term));
        }
    }
    let zero = b.constant(0.0);
    let params: Vec<Id> = params
        .iter()
        .map(|p| adjoints[p.index()].unwrap_or(zero))
        .collect();
    let mut roots = vec![output];
    roots.extend(params.iter().copied());
    roots.extend(sweep.effects.iter().copied());
    crate::simplify::fold_lone_reciprocals(graph, forward_len, &roots);
    Gradient {
        adjoints,
        params,
        forward_len,
        effects: sweep.effects,
    }
}

/// The log-sum-exps of a graph, `L = ln Σₖ exp(vₖ)`, where the chain rule term by term does
/// more than it needs to.
///
/// **The shift.** Where every `vₖ` is `uₖ − m` for one `m`, `∂L/∂m` is exactly −1 (`−Σₖ
/// exp(uₖ − m) / Σₖ exp(uₖ − m)`). The sweep passes that −1 to `m` in one term, where term by
/// term `m` would get the sum of the softmax, `1 − Σ softmax` once added to the `+ m` that
/// undoes the shift: zero but for rounding, and sent back through the whole running maximum
/// that computed `m`. With the rule the two terms are `ā − ā`, which folds to an exact zero,
/// and the maximum gets no adjoint. The `uₖ` keep their ordinary adjoints, even where they
/// depend on `m` themselves.
///
/// **No overflow guard.** The adjoint of each `exp(vₖ)` is `ā / Σ`, zero only where the sum
/// is infinite, and then `L` is infinite too: the guard of [`strong_product`], which makes
/// `0 · inf` count as 0, would only turn the NaN gradient of an infinite value into a
/// finite one. The exponentials take the plain product.
///
/// A sum qualifies when every node between `L` and the exponentials (and, for the shift, the
/// subtractions) is used by its parent in the pattern alone: then no other path reaches them,
/// and the terms the rules drop or change are those the pattern accounts for.
#[derive(Default)]
struct LogSums {
    /// Each `ln` of a shifted sum, with its shift `m`.
    logs: HashMap<Id, Id>,
    /// The subtractions `uₖ − m` of shifted sums, with their shift.
    shifts: HashMap<Id, Id>,
    /// The exponentials summed under an `ln`.
    terms: HashSet<Id>,
}

impl LogSums {
    fn find(graph: &Graph, roots: &[Id]) -> Self {
        let mut uses = vec![0u32; graph.len()];
        for node in graph.nodes() {
            for arg in &node.args {
                uses[arg.index()] += 1;
            }
        }
        for root in roots {
            uses[root.index()] += 1;
        }
        let mut found = Self::default();
        for (index, node) in graph.nodes().iter().enumerate() {
            if node.op != Op::Ln {
                continue;
            }
            let Some(exps) = sum_of_exps(graph, &uses, node.args[0]) else {
                continue;
            };
            if let Some((m, subs)) = common_shift(graph, &uses, &exps) {
                found.logs.insert(Id::new(index), m);
                found.shifts.extend(subs.into_iter().map(|s| (s, m)));
            }
            found.terms.extend(exps);
        }
        found
    }

    /// The terms of node `id` (with adjoint `a`): the chain rule's, changed as the pattern
    /// it belongs to allows.
    fn terms(&self, b: &mut Builder<'_>, id: Id, node: &Node, a: Id) -> Vec<Term> {
        if self.terms.contains(&id) {
            return vec![plus(node.args[0], b.product(a, id))];
        }
        let mut terms = rule(b, id, node, a);
        if let Some(&m) = self.shifts.get(&id) {
            terms.retain(|t| !(t.operand == m && t.negate));
        }
        if let Some(&m) = self.logs.get(&id) {
            terms.push(minus(m, a));
        }
        terms
    }
}

/// The exponentials of `sum` if it is an addition tree of nodes used once each whose leaves
/// are exponentials used once each.
fn sum_of_exps(graph: &Graph, uses: &[u32], sum: Id) -> Option<Vec<Id>> {
    let mut exps = Vec::new();
    let mut stack = vec![sum];
    while let Some(id) = stack.pop() {
        if uses[id.index()] != 1 {
            return None;
        }
        let node = graph.node(id);
        match node.op {
            Op::Add => stack.extend(node.args.iter().copied()),
            Op::Exp => exps.push(id),
            _ => return None,
        }
    }
    Some(exps)
}

/// The shift `m` and the subtractions if every one of `exps` is `exp(uₖ − m)` of a subtraction
/// used once.
fn common_shift(graph: &Graph, uses: &[u32], exps: &[Id]) -> Option<(Id, Vec<Id>)> {
    let mut shift = None;
    let mut subs = Vec::with_capacity(exps.len());
    for &e in exps {
        let sub = graph.node(e).args[0];
        let node = graph.node(sub);
        if node.op != Op::Sub || uses[sub.index()] != 1 {
            return None;
        }
        let m = node.args[1];
        if *shift.get_or_insert(m) != m {
            return None;
        }
        subs.push(sub);
    }
    Some((shift?, subs))
}

/// Which nodes depend on a differentiated parameter. Only those need an adjoint: a constant
/// subexpression such as `(2.0 * PI).cos()`, or one of data parameters only, passes nothing on.
/// A kept loop is also active when it reads a differentiated array.
fn active_nodes(graph: &Graph, params: &[Id], activity: &Activity) -> Vec<bool> {
    let mut active = vec![false; graph.len()];
    for p in params {
        active[p.index()] = true;
    }
    for (i, node) in graph.nodes().iter().enumerate() {
        let reads_active = match node.op {
            Op::Loop { region, .. } => graph
                .regions
                .get(region as usize)
                .is_some_and(|r| reads_active_array(r, activity)),
            _ => false,
        };
        active[i] = active[i] || reads_active || node.args.iter().any(|a| active[a.index()]);
    }
    active
}

/// Whether a loop body, or a loop inside it, reads a differentiated array.
fn reads_active_array(region: &Region, activity: &Activity) -> bool {
    let own = region.inputs.iter().any(|input| match input {
        Input::Load { array, .. } => activity.array(array),
        _ => false,
    });
    own || region
        .body
        .regions
        .iter()
        .any(|r| reads_active_array(r, activity))
}

/// The state of a reverse sweep that kept loops and buffers need.
struct Sweep<'a> {
    /// The adjoints of each kept loop's results, gathered from its `LoopOut` nodes.
    seeds: HashMap<Id, Vec<Option<Id>>>,
    effects: Vec<Id>,
    activity: &'a Activity,
    active: &'a [bool],
}

impl Sweep<'_> {
    /// The terms of a loop or buffer node, recording the adjoint code it runs for effect.
    fn structural(
        &mut self,
        b: &mut Builder<'_>,
        v: Id,
        node: &Node,
        adjoint: Option<Id>,
    ) -> Vec<Term> {
        match node.op {
            Op::LoopOut(k) => {
                if let Some(a) = adjoint {
                    let slots = self.seeds.entry(node.args[0]).or_default();
                    if slots.len() <= k as usize {
                        slots.resize(k as usize + 1, None);
                    }
                    slots[k as usize] = Some(a);
                }
                vec![]
            }
            Op::BufElem { buf, index } => {
                if let Some(a) = adjoint {
                    let effect = b.add(Op::BufAdj { buf, index }, vec![v, a]);
                    self.effects.push(effect);
                }
                vec![]
            }
            Op::BufInit { buf, .. } => node
                .args
                .iter()
                .enumerate()
                .filter(|(_, a)| self.active[a.index()])
                .map(|(k, &a)| {
                    let index = k as u32;
                    plus(a, b.add(Op::BufAdjRead { buf, index }, vec![v]))
                })
                .collect(),
            Op::Loop { region, .. } => self.rule_loop(b, v, node, region as usize),
            _ => vec![],
        }
    }

    /// A kept loop: its body is differentiated once, and the reversed loop (`LoopAdj`) gives
    /// the adjoint of each value the loop read from this graph.
    fn rule_loop(&mut self, b: &mut Builder<'_>, v: Id, node: &Node, r: usize) -> Vec<Term> {
        let mut region = std::mem::take(&mut b.graph_mut().regions[r]);
        let mut seeds = self.seeds.remove(&v).unwrap_or_default();
        seeds.resize(region.carried.len(), None);
        let constant: Option<Vec<f64>> = seeds
            .iter()
            .map(|s| s.map_or(Some(0.0), |id| b.graph().constant(id)))
            .collect();
        let fused = region.is_reduction()
            && region.stores.is_empty()
            && region.buffers_read.is_empty()
            && region.buffers_written.is_empty();
        let constant = constant.filter(|_| fused);
        let operand_active: Vec<bool> = node.args.iter().map(|a| self.active[a.index()]).collect();
        differentiate_region(&mut region, constant, &operand_active, self.activity);
        let zero = b.constant(0.0);
        let mut args: Vec<Id> = seeds.iter().map(|s| s.unwrap_or(zero)).collect();
        // The reversed body reads the values the loop captured again; the carried variables'
        // initial values and the effects the loop followed it does not read.
        let captured = |k: usize| region.inputs.contains(&Input::Captured(k));
        args.extend((0..node.args.len()).map(|k| if captured(k) { node.args[k] } else { zero }));
        let arity = args.len() as u32;
        let region_index = r as u32;
        let adj = b.add(
            Op::LoopAdj {
                region: region_index,
                arity,
            },
            args,
        );
        self.effects.push(adj);
        let mut terms = Vec::new();
        for (k, (&operand, &active)) in node.args.iter().zip(&operand_active).enumerate() {
            if active && region.operand_has_adjoint(k) {
                let out = b.add(Op::LoopAdjOut(k as u32), vec![adj]);
                terms.push(plus(operand, out));
            }
        }
        b.graph_mut().regions[r] = region;
        terms
    }
}

/// Differentiates a loop body as a function of its inputs, with the adjoints of its results
/// as seeds: constants when the loop is fused, else parameters read as each reversed iteration
/// starts.
fn differentiate_region(
    region: &mut Region,
    constant_seeds: Option<Vec<f64>>,
    operand_active: &[bool],
    activity: &Activity,
) {
    let fused = constant_seeds.is_some();
    let mut seed_ids = Vec::new();
    for k in 0..region.carried.len() {
        let id = match &constant_seeds {
            Some(c) => Builder::new(&mut region.body).constant(c[k]),
            None => region.new_input(Input::Seed(k)),
        };
        seed_ids.push(id);
    }
    for k in 0..region.stores.len() {
        seed_ids.push(region.new_input(Input::StoreSeed(k)));
    }
    let outputs = region.roots();
    let mut b = Builder::new(&mut region.body);
    let mut objective = b.constant(0.0);
    for (seed, out) in seed_ids.iter().zip(outputs) {
        let term = b.product(*seed, out);
        objective = b.sum(objective, term);
    }
    let params: Vec<Id> = (0..region.inputs.len())
        .filter(|&k| match &region.inputs[k] {
            Input::Carried(_) => true,
            Input::Captured(op) => operand_active.get(*op).copied().unwrap_or(true),
            Input::Load { array, .. } => activity.array(array),
            Input::Index(_) | Input::Seed(_) | Input::StoreSeed(_) => false,
        })
        .filter_map(|k| region.param(k))
        .collect();
    let effects = region.effects.clone();
    let grad = differentiate_with(&mut region.body, objective, &params, activity, &effects);
    let inputs = (0..region.inputs.len())
        .map(|k| {
            let p = region.param(k)?;
            grad.adjoints.get(p.index()).copied().flatten()
        })
        .collect();
    region.adjoint = Some(RegionAdjoint {
        forward_len: grad.forward_len,
        inputs,
        fused,
        seeds: constant_seeds.unwrap_or_default(),
        effects: grad.effects,
    });
}

fn accumulate(b: &mut Builder<'_>, so_far: Option<Id>, term: Term) -> Id {
    match (so_far, term.negate) {
        (None, false) => term.value,
        (None, true) => b.negate(term.value),
        (Some(acc), false) => b.sum(acc, term.value),
        (Some(acc), true) => b.diff(acc, term.value),
    }
}

/// The terms that the node `v = op(args)` with adjoint `a` passes to its operands.
fn rule(b: &mut Builder<'_>, v: Id, node: &Node, a: Id) -> Vec<Term> {
    let x = node.args.first().copied().unwrap_or(v);
    let y = node.args.get(1).copied().unwrap_or(v);
    let z = node.args.get(2).copied().unwrap_or(v);
    match node.op {
        Op::Param(_) | Op::Const(_) | Op::Int(_) | Op::IntToFloat => vec![],
        Op::Cmp(_) | Op::And | Op::Or | Op::Not => vec![],
        Op::Floor | Op::Ceil | Op::Round | Op::Trunc | Op::Signum => vec![],
        Op::Add => vec![plus(x, a), plus(y, a)],
        Op::Sub => vec![plus(x, a), minus(y, a)],
        Op::Mul => rule_mul(b, x, y, a),
        Op::Div => rule_div(b, v, x, y, a),
        Op::Neg => vec![minus(x, a)],
        Op::Sin => scaled(b, x, a, |b| b.call(Op::Cos, x)),
        Op::Cos => negated(b, x, a, |b| b.call(Op::Sin, x)),
        Op::Tan => scaled(b, x, a, |b| rule_tan(b, v)),
        Op::Asin => divided(b, x, a, |b| sqrt_one_minus_square(b, x)),
        Op::Acos => divided_negated(b, x, a, |b| sqrt_one_minus_square(b, x)),
        Op::Atan => divided(b, x, a, |b| one_plus_square(b, x)),
        Op::Atan2 => rule_atan2(b, x, y, a),
        Op::Sinh => scaled(b, x, a, |b| b.call(Op::Cosh, x)),
        Op::Cosh => scaled(b, x, a, |b| b.call(Op::Sinh, x)),
        Op::Tanh => scaled(b, x, a, |b| rule_tanh(b, v)),
        Op::Asinh => divided(b, x, a, |b| rule_asinh(b, x)),
        Op::Acosh => divided(b, x, a, |b| rule_acosh(b, x)),
        Op::Atanh => divided(b, x, a, |b| one_minus_square(b, x)),
        Op::Exp if at_most_zero(b.graph(), x) => vec![plus(x, b.product(a, v))],
        Op::Exp => vec![plus(x, strong_product(b, a, v))],
        Op::Exp2 => {
            let d = b.scale(std::f64::consts::LN_2, v);
            vec![plus(x, strong_product(b, a, d))]
        }
        Op::ExpM1 => vec![plus(x, rule_exp_m1(b, x, a))],
        Op::Ln => vec![plus(x, b.quotient(a, x))],
        Op::Log2 => divided(b, x, a, |b| b.scale(std::f64::consts::LN_2, x)),
        Op::Log10 => divided(b, x, a, |b| b.scale(std::f64::consts::LN_10, x)),
        Op::Ln1p => divided(b, x, a, |b| one_plus(b, x)),
        Op::Log => rule_log(b, v, x, y, a),
        Op::Sqrt => scaled(b, x, a, |b| rule_sqrt(b, v)),
        Op::Cbrt => scaled(b, x, a, |b| rule_cbrt(b, v)),
        Op::Powi(n) => rule_powi(b, x, n, a),
        Op::Powf => rule_powf(b, v, x, y, a),
        Op::Recip => rule_recip(b, v, x, a),
        Op::Abs => vec![plus(x, rule_abs(b, x, a))],
        Op::Hypot => rule_hypot(b, v, x, y, a),
        Op::Max => rule_max_min(b, Cmp::Gt, x, y, a),
        Op::Min => rule_max_min(b, Cmp::Lt, x, y, a),
        Op::Clamp => rule_clamp(b, x, y, z, a),
        Op::MulAdd => vec![
            plus(x, b.product(a, y)),
            plus(y, b.product(a, x)),
            plus(z, a),
        ],
        Op::Select => rule_select(b, x, y, z, a),
        Op::Call { .. } => rule_call(b, v, &node.args, a),
        Op::CallGrad { .. } => vec![],
        // Differentiated by `Sweep::structural`; never reached.
        _ => vec![],
    }
}

/// `x` gets `a · d`, with `d` built by `partial`.
fn scaled(
    b: &mut Builder<'_>,
    x: Id,
    a: Id,
    partial: impl FnOnce(&mut Builder<'_>) -> Id,
) -> Vec<Term> {
    let d = partial(b);
    vec![plus(x, b.product(a, d))]
}

/// `x` gets `-(a · d)`.
fn negated(
    b: &mut Builder<'_>,
    x: Id,
    a: Id,
    partial: impl FnOnce(&mut Builder<'_>) -> Id,
) -> Vec<Term> {
    let d = partial(b);
    vec![minus(x, b.product(a, d))]
}

/// `x` gets `a / d`.
fn divided(
    b: &mut Builder<'_>,
    x: Id,
    a: Id,
    denominator: impl FnOnce(&mut Builder<'_>) -> Id,
) -> Vec<Term> {
    let d = denominator(b);
    vec![plus(x, b.quotient(a, d))]
}

/// `x` gets `-(a / d)`.
fn divided_negated(
    b: &mut Builder<'_>,
    x: Id,
    a: Id,
    denominator: impl FnOnce(&mut Builder<'_>) -> Id,
) -> Vec<Term> {
    let d = denominator(b);
    vec![minus(x, b.quotient(a, d))]
}

fn one_plus(b: &mut Builder<'_>, x: Id) -> Id {
    let one = b.constant(1.0);
    b.sum(one, x)
}

fn one_minus(b: &mut Builder<'_>, x: Id) -> Id {
    let one = b.constant(1.0);
    b.diff(one, x)
}

fn one_plus_square(b: &mut Builder<'_>, x: Id) -> Id {
    let square = b.product(x, x);
    one_plus(b, square)
}

/// `(1 - x)(1 + x)`: `1 - x·x` would lose the digits of `1 - |x|` near `|x| = 1`.
fn one_minus_square(b: &mut Builder<'_>, x: Id) -> Id {
    let (l, r) = (one_minus(b, x), one_plus(b, x));
    b.product(l, r)
}

fn sqrt_one_minus_square(b: &mut Builder<'_>, x: Id) -> Id {
    let s = one_minus_square(b, x);
    b.call(Op::Sqrt, s)
}

/// `d(x·y) = y dx + x dy`; for `x·x`, `2a · x` in one term, so the 2 can merge with a
/// constant factor of `a`.
fn rule_mul(b: &mut Builder<'_>, x: Id, y: Id, a: Id) -> Vec<Term> {
    if x == y {
        let twice = b.scale(2.0, a);
        return vec![plus(x, b.product(twice, x))];
    }
    vec![plus(x, b.product(a, y)), plus(y, b.product(a, x))]
}

/// `d(x/y) = dx / y - (x/y) dy / y`: with `t = a / y`, `x` gets `t` and `y` gets `-t·v`, which
/// reuses the quotient `v` instead of forming `x / y²` (which overflows first).
fn rule_div(b: &mut Builder<'_>, v: Id, x: Id, y: Id, a: Id) -> Vec<Term> {
    let t = b.quotient(a, y);
    vec![plus(x, t), minus(y, b.product(t, v))]
}

/// `tan' = 1 + tan²`, from the value already computed.
fn rule_tan(b: &mut Builder<'_>, v: Id) -> Id {
    one_plus_square(b, v)
}

/// `tanh' = 1 - tanh²`: finite for every argument (`tanh` saturates to ±1, never overflows).
fn rule_tanh(b: &mut Builder<'_>, v: Id) -> Id {
    let square = b.product(v, v);
    one_minus(b, square)
}

/// `asinh' = 1 / √(x² + 1)`, as `1 / hypot(x, 1)` so that `x²` cannot overflow.
fn rule_asinh(b: &mut Builder<'_>, x: Id) -> Id {
    let one = b.constant(1.0);
    b.add(Op::Hypot, vec![x, one])
}

/// `acosh' = 1 / √(x² - 1)`, as `√(x - 1) · √(x + 1)` so that `x²` cannot overflow.
fn rule_acosh(b: &mut Builder<'_>, x: Id) -> Id {
    let one = b.constant(1.0);
    let below = b.diff(x, one);
    let (l, r) = (b.call(Op::Sqrt, below), one_plus(b, x));
    let r = b.call(Op::Sqrt, r);
    b.product(l, r)
}

/// `atan2(y, x)`: `∂/∂y = x / (x² + y²)`, `∂/∂x = -y / (x² + y²)`, computed with `h = hypot(x,
/// y)` as `(x / h) / h`, so neither huge nor tiny arguments overflow or underflow. (`hypot` is
/// built as `(x, y)`, the order users write, so a `hypot` of the function is shared.)
fn rule_atan2(b: &mut Builder<'_>, y: Id, x: Id, a: Id) -> Vec<Term> {
    let h = b.add(Op::Hypot, vec![x, y]);
    let (xh, yh) = (b.quotient(x, h), b.quotient(y, h));
    let (dy, dx) = (b.quotient(xh, h), b.quotient(yh, h));
    vec![plus(y, b.product(a, dy)), minus(x, b.product(a, dx))]
}

/// `exp_m1' = exp`. Not `exp_m1 + 1` from the value already computed: below about -13 that
/// sum cancels to a few digits, and to 0 below -37.
fn rule_exp_m1(b: &mut Builder<'_>, x: Id, a: Id) -> Id {
    let e = b.call(Op::Exp, x);
    strong_product(b, a, e)
}

/// `a · d` where `d` may overflow to infinity while `a` underflows to zero, as in
/// `1 / (1 + exp(-x))` at `x = -800`: the product is taken as 0 when `a` is 0, the limit,
/// instead of `0 · inf = NaN`. Used by the exponential rules, whose partial is the
/// exponential itself.
fn strong_product(b: &mut Builder<'_>, a: Id, d: Id) -> Id {
    if b.graph().op(a) == Op::Neg {
        // Test the adjoint itself, not its negation, so the negations can cancel.
        let inner = b.graph().node(a).args[0];
        let product = strong_product(b, inner, d);
        return b.negate(product);
    }
    let product = b.product(a, d);
    let zero = b.constant(0.0);
    let vanishes = b.compare(Cmp::Eq, a, zero);
    b.select(vanishes, zero, product)
}

/// Whether `x` is `y - m` with `m` a maximum (a tree of `max`) that has `y` among its
/// operands: then `x <= 0` (or NaN), `exp(x) <= 1` cannot overflow, and the exponential's
/// adjoint needs no [`strong_product`] guard. This is the shift of a log-sum-exp or a softmax.
fn at_most_zero(graph: &Graph, x: Id) -> bool {
    let node = graph.node(x);
    if node.op != Op::Sub {
        return false;
    }
    let (y, m) = (node.args[0], node.args[1]);
    let mut stack = vec![m];
    let mut visited = 0;
    while let Some(id) = stack.pop() {
        if id == y {
            return true;
        }
        visited += 1;
        if visited > MAX_TREE_WALK {
            return false;
        }
        let n = graph.node(id);
        if n.op == Op::Max {
            stack.extend(n.args.iter().copied());
        }
    }
    false
}

/// How many nodes [`at_most_zero`] looks at before it gives up and keeps the guard.
const MAX_TREE_WALK: usize = 4096;

/// `log_b(x) = ln x / ln b`: `∂/∂x = 1 / (x ln b)`, `∂/∂b = -log_b(x) / (b ln b)`.
fn rule_log(b: &mut Builder<'_>, v: Id, x: Id, base: Id, a: Id) -> Vec<Term> {
    let ln_base = b.call(Op::Ln, base);
    let dx = b.product(x, ln_base);
    let db = b.product(base, ln_base);
    let av = b.product(a, v);
    vec![plus(x, b.quotient(a, dx)), minus(base, b.quotient(av, db))]
}

/// `sqrt' = 0.5 / |sqrt|`, from the value already computed: `+inf` at 0 and at -0, the
/// one-sided derivative.
fn rule_sqrt(b: &mut Builder<'_>, v: Id) -> Id {
    let half = b.constant(0.5);
    // `sqrt(-0.0)` is `-0.0`; its absolute value makes the derivative +inf there too.
    let v = b.call(Op::Abs, v);
    b.quotient(half, v)
}

/// `cbrt' = 1 / (3 cbrt²)`, from the value already computed: `+inf` at 0.
fn rule_cbrt(b: &mut Builder<'_>, v: Id) -> Id {
    let third = b.constant(1.0 / 3.0);
    let square = b.product(v, v);
    b.quotient(third, square)
}

/// `powi(x, n)' = n · powi(x, n - 1)`; `0` for `n = 0` (a constant function), `1` for `n = 1`,
/// `2x` for `n = 2`.
fn rule_powi(b: &mut Builder<'_>, x: Id, n: i32, a: Id) -> Vec<Term> {
    let d = match n {
        0 => return vec![],
        1 => return vec![plus(x, a)],
        2 => x,
        // `i32::MIN - 1` does not exist as an `i32`: the same power as a float exponent.
        i32::MIN => const_power(b, x, f64::from(n) - 1.0),
        _ => b.add(Op::Powi(n - 1), vec![x]),
    };
    let d = b.scale(f64::from(n), d);
    vec![plus(x, b.product(a, d))]
}

/// `powf(x, y)`. `∂/∂x = y · x^(y-1)`, never through `ln x`, so at `x = 0` a constant exponent
/// `c` gives `0` (c > 1), `1` (c = 1) or `inf` (0 < c < 1). `∂/∂y = x^y ln x`, and `0` where
/// `x^y` is `0` (the limit at `x = 0`, `y > 0`) instead of `0 · (-inf)`.
fn rule_powf(b: &mut Builder<'_>, v: Id, x: Id, y: Id, a: Id) -> Vec<Term> {
    let mut terms = Vec::new();
    if let Some(c) = b.graph().constant(y) {
        if c != 0.0 {
            let d = if c == 1.0 {
                b.constant(1.0)
            } else {
                const_power(b, x, c - 1.0)
            };
            let d = b.scale(c, d);
            terms.push(plus(x, b.product(a, d)));
        }
        return terms;
    }
    let one = b.constant(1.0);
    let y1 = b.diff(y, one);
    let p = b.add(Op::Powf, vec![x, y1]);
    let dx = b.product(y, p);
    terms.push(plus(x, b.product(a, dx)));
    let zero = b.constant(0.0);
    let is_zero = b.compare(Cmp::Eq, v, zero);
    let ln = b.call(Op::Ln, x);
    let dy = b.product(v, ln);
    let dy = b.select(is_zero, zero, dy);
    terms.push(plus(y, b.product(a, dy)));
    terms
}

/// `x^e` for a constant `e`: `x` itself for `e = 1`, else `powf(x, e)`.
fn const_power(b: &mut Builder<'_>, x: Id, e: f64) -> Id {
    if e == 1.0 {
        return x;
    }
    let e = b.constant(e);
    b.add(Op::Powf, vec![x, e])
}

/// `recip' = -1 / x² = -recip²`, from the value already computed.
fn rule_recip(b: &mut Builder<'_>, v: Id, x: Id, a: Id) -> Vec<Term> {
    let av = b.product(a, v);
    vec![minus(x, b.product(av, v))]
}

/// `abs' = sign(x)`, and `0` at `x = 0` (0 is in the subgradient).
fn rule_abs(b: &mut Builder<'_>, x: Id, a: Id) -> Id {
    let zero = b.constant(0.0);
    let positive = b.compare(Cmp::Gt, x, zero);
    let negative = b.compare(Cmp::Lt, x, zero);
    let minus_a = b.negate(a);
    let below = b.select(negative, minus_a, zero);
    b.select(positive, a, below)
}

/// `hypot(x, y)`: `∂/∂x = x / h`, `∂/∂y = y / h` (each at most 1 in size, so nothing
/// overflows), and `(0, 0)` at the origin (0 is in the subgradient).
fn rule_hypot(b: &mut Builder<'_>, h: Id, x: Id, y: Id, a: Id) -> Vec<Term> {
    let zero = b.constant(0.0);
    let at_origin = b.compare(Cmp::Eq, h, zero);
    let mut terms = Vec::new();
    for operand in [x, y] {
        let q = b.quotient(operand, h);
        let d = b.select(at_origin, zero, q);
        terms.push(plus(operand, b.product(a, d)));
    }
    terms
}

/// `max` (with `wins = Gt`) and `min` (with `wins = Lt`): the adjoint goes to the operand that
/// is returned, and half of it to each at a tie. When one operand is NaN neither comparison
/// holds and both get `0`.
fn rule_max_min(b: &mut Builder<'_>, wins: Cmp, x: Id, y: Id, a: Id) -> Vec<Term> {
    let half = b.scale(0.5, a);
    let zero = b.constant(0.0);
    let tie = b.compare(Cmp::Eq, x, y);
    let at_tie = b.select(tie, half, zero);
    let mut terms = Vec::new();
    for (this, other) in [(x, y), (y, x)] {
        let won = b.compare(wins, this, other);
        terms.push(plus(this, b.select(won, a, at_tie)));
    }
    terms
}

/// `clamp(x, lo, hi)`, differentiated as `min(max(x, lo), hi)`, the composition it stands for:
/// inside the bounds `x` gets the adjoint, below `lo` it goes to `lo`, above `hi` to `hi`, and
/// at a bound half goes to each side; where `x`, `lo` and `hi` coincide, the shares are ¼, ¼
/// and ½, which add up to 1 as a translation of all three requires.
fn rule_clamp(b: &mut Builder<'_>, x: Id, lo: Id, hi: Id, a: Id) -> Vec<Term> {
    let m = b.add(Op::Max, vec![x, lo]);
    let mut terms = rule_max_min(b, Cmp::Lt, m, hi, a);
    let Some(pos) = terms.iter().position(|t| t.operand == m) else {
        return terms;
    };
    let to_max = terms.remove(pos);
    terms.extend(rule_max_min(b, Cmp::Gt, x, lo, to_max.value));
    terms
}

/// A call `f(x₀, x₁, ...)`: each argument gets `a · ∂f/∂xᵢ`, the partials that the same call
/// of `f_grad` returns, so `f` is differentiated once, where it is defined.
fn rule_call(b: &mut Builder<'_>, v: Id, args: &[Id], a: Id) -> Vec<Term> {
    let mut terms = Vec::with_capacity(args.len());
    for (i, &arg) in args.iter().enumerate() {
        let index = u8::try_from(i).unwrap_or(u8::MAX);
        let partial = b.add(Op::CallGrad { index }, vec![v]);
        terms.push(plus(arg, b.product(a, partial)));
    }
    terms
}

/// `if c { t } else { e }`: the taken arm gets the adjoint.
fn rule_select(b: &mut Builder<'_>, c: Id, t: Id, e: Id, a: Id) -> Vec<Term> {
    let zero = b.constant(0.0);
    vec![plus(t, b.select(c, a, zero)), plus(e, b.select(c, zero, a))]
}
