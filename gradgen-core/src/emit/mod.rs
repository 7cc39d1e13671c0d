//! Emission: the differentiated graph to the tokens of `<name>_grad`.
//!
//! Only the nodes that the value or the gradient need are emitted, in id order (operands
//! first). A node becomes a `let` statement when the user named it, when it is used more than
//! once, when it is a result, or when inlining it would nest expressions deeper than
//! [`MAX_INLINE_DEPTH`]; every other node is written inline in its one consumer, so the code
//! reads like a hand-written gradient.
//!
//! Before / after, for `fn f(x: f64) -> f64 { (x * x).sin().exp() }`:
//!
//! ```text
//! let t0 = x * x;                         // used twice
//! let value = f64::exp(f64::sin(t0));     // the result
//! let t1 = value * f64::cos(t0);
//! let d_x = t1 * x + t1 * x;
//! (value, d_x)
//! ```
//!
//! A node whose every use is inside one arm of a select is emitted inside that arm, so the
//! arm's work is done only when it is taken (see `homes`). A call or an operation that fails
//! outside its domain, read by the same arm of two selects on one condition in one block (an
//! `if` and the `if` of its adjoint), is computed in the first and handed to the second
//! through the first's result:
//! `let (value, t1) = if c { let t1 = x.sqrt(); (t1, t1) } else { (0.0, 0.0) };` (see
//! `exports`); the other arm's stand-in is never read.
//!
//! Names are given in emission order: the user's `let` names, `value` for the result, `d_<p>`
//! for the derivative with respect to parameter `p`, `d_<name>` for the adjoint of a named
//! binding, and `t0`, `t1`, ... for the rest, each made unique. Nothing depends on memory
//! addresses or hash order, so the same source gives the same tokens.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use crate::diff::Gradient;
use crate::ir::{FloatTy, Graph, Id, Op};
use crate::lower::Function;
use crate::ops;

mod loops;

use loops::{Ctx, RegionPlan};

/// The deepest an emitted expression may nest before a node is given its own statement. It
/// keeps expressions readable and keeps rustc and prettyplease far from their recursion limits.
pub const MAX_INLINE_DEPTH: usize = 12;

/// The most `let` statements a function is emitted with. Each `let` opens a lexical scope
/// nested in the previous one, and rustc's debug-info generation recurses through them: a few
/// thousand crash a debug build. Past this many, the temporaries are declared by one `let`
/// and assigned once each (`let (t0, t1, ...); t0 = ...;`), which is the same code with a
/// single scope.
pub const MAX_LET_STATEMENTS: usize = 1000;

/// Operator precedence of an emitted expression, lowest first. An operand whose precedence is
/// below what its position needs is wrapped in parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    If,
    Or,
    And,
    Cmp,
    Add,
    Mul,
    Cast,
    Neg,
    Atom,
}

/// The roots of emission: the value, the derivative for each parameter, and the adjoint code
/// that runs for its effects (reversed kept loops).
#[derive(Clone)]
pub struct Roots {
    pub value: Id,
    pub gradient: Vec<Id>,
    pub effects: Vec<Id>,
}

impl Roots {
    /// The value first, then the gradient in parameter order, then the effects.
    pub fn all(&self) -> Vec<Id> {
        std::iter::once(self.value)
            .chain(self.gradient.iter().copied())
            .chain(self.effects.iter().copied())
            .collect()
    }
}

/// The decisions of emission: which nodes are statements, and their names.
struct Plan<'a> {
    graph: &'a Graph,
    ctx: &'a Ctx,
    /// The variables of the kept loops around this graph, by level.
    vars: Vec<Ident>,
    /// The plans of the kept loops of this graph, by region.
    loops: BTreeMap<u32, RegionPlan<'a>>,
    /// Whether a buffer made here declares its adjoint array here too; not in the forward
    /// body of a loop whose reverse runs apart, where the reversed body declares it.
    buffer_adjoints_here: bool,
    live: Vec<Id>,
    names: BTreeMap<Id, Ident>,
    /// How each parameter scalar is read: `x`, or `w[1][3]` for an element of an array.
    params: BTreeMap<Id, TokenStream>,
    /// The statements of each block, in id order: the function body, and each arm of a select
    /// for the statements only that arm needs.
    blocks: BTreeMap<Home, Vec<Id>>,
    /// For each call of another function, the names its partial derivatives are bound to, by
    /// argument (`None` where the gradient does not need it).
    call_partials: BTreeMap<Id, Vec<Option<Ident>>>,
    /// For each select that hands values out of its arms (see [`homes`]), the nodes whose
    /// names it hands out, each with the arm that computes it.
    exports: BTreeMap<Id, Vec<(Id, bool)>>,
}

/// Where a statement is emitted: in the function body, or inside one arm of a select (the
/// `then` arm for `true`), because nothing outside that arm reads it. An arm's work is then
/// done only when the arm is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Home {
    Top,
    Arm(Id, bool),
}

/// The `<name>_grad` function for `f`, whose graph now also holds the adjoint code.
pub fn emit(f: &Function, graph: &Graph, grad: &Gradient) -> TokenStream {
    let roots = Roots {
        value: f.output,
        gradient: grad.params.clone(),
        effects: grad.effects.clone(),
    };
    let mut taken = Taken::new(f.params.iter().map(|p| unraw(&p.ident)));
    let ctx = Ctx::new(f, graph, &grad.params, &mut taken);
    let whole = whole_buffer_gradients(f, graph, &roots, &ctx);
    // The elements of a gradient returned as a whole buffer adjoint are not read one by one:
    // the plan computes the buffer instead (see `Plan::gradient`).
    let mut planned = roots.clone();
    for (index, _, range) in gradient_ranges(f) {
        if whole.contains_key(&index) {
            for g in &mut planned.gradient[range] {
                *g = graph.node(*g).args[0];
            }
        }
    }
    let plan = Plan::new(f, graph, grad, &planned, &ctx, &mut taken);
    let float = graph.float();
    let mut body: Vec<TokenStream> = f.assumptions.iter().map(|a| assumption(a, float)).collect();
    body.extend(f.const_assumptions.iter().map(const_assumption));
    body.extend(plan.index_checks(f));
    body.extend(ctx.declarations(f));
    body.extend(plan.statements());
    body.extend(plan.array_gradient_additions(f, &roots));
    let value = plan.operand(roots.value, Prec::If);
    let (gradient, gradient_ty) = plan.gradient(f, &roots, &whole);
    let signature = plan.signature(f, &gradient_ty);
    let doc = doc_lines(f);
    let cfgs = f.item.attrs.iter().filter(|a| carried_over(a));
    let allow = plan.lint_allowances();
    quote! {
        #(#doc)*
        #(#cfgs)*
        #allow
        #[must_use]
        #signature {
            #(#body)*
            (#value, #gradient)
        }
    }
}

/// The differentiated array parameters whose gradient is, element for element, the adjoint
/// array of one buffer of the same shape (a `mut` parameter the loops write, and nothing else
/// reads), by parameter index: the gradient returns that array, as one value.
fn whole_buffer_gradients(
    f: &Function,
    graph: &Graph,
    roots: &Roots,
    ctx: &Ctx,
) -> BTreeMap<usize, u32> {
    let mut out = BTreeMap::new();
    for (index, p, ids) in per_parameter(f, roots) {
        if p.shape.is_empty() || ctx.d_params.contains_key(&index) {
            continue;
        }
        let buffer = ids
            .iter()
            .enumerate()
            .try_fold(None, |found, (k, &id)| match graph.op(id) {
                Op::BufAdjRead { buf, index } if index as usize == k => {
                    found.is_none_or(|b| b == buf).then_some(Some(buf))
                }
                _ => None,
            });
        if let Some(Some(buf)) = buffer {
            if ctx.buffer_shape(buf) == p.shape.as_slice() {
                out.insert(index, buf);
            }
        }
    }
    out
}

/// Each differentiated parameter with its index and the positions of its derivatives in the
/// gradient ([`Roots::gradient`], [`Gradient::params`]), scalar by scalar.
pub(super) fn gradient_ranges(
    f: &Function,
) -> Vec<(usize, &crate::check::Param, std::ops::Range<usize>)> {
    let mut start = 0;
    let differentiated = f
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.differentiated);
    differentiated
        .map(|(index, p)| {
            let range = start..start + p.len();
            start = range.end;
            (index, p, range)
        })
        .collect()
}

/// Each differentiated parameter with its index and the roots of its derivatives.
fn per_parameter<'f>(
    f: &'f Function,
    roots: &Roots,
) -> Vec<(usize, &'f crate::check::Param, Vec<Id>)> {
    let ranges = gradient_ranges(f).into_iter();
    ranges
        .map(|(index, p, range)| {
            (
                index,
                p,
                roots.gradient.get(range).unwrap_or_default().to_vec(),
            )
        })
        .collect()
}

/// An array literal (and its type) of `items` in the nested `shape`, row-major.
fn nested(items: &[TokenStream], shape: &[usize], float: FloatTy) -> (TokenStream, TokenStream) {
    let ty = float_type(float);
    let Some((&len, inner)) = shape.split_first() else {
        return (items.first().cloned().unwrap_or_default(), quote!(#ty));
    };
    let stride: usize = inner.iter().product();
    let rows: Vec<TokenStream> = (0..len)
        .map(|i| nested(&items[i * stride..(i + 1) * stride], inner, float).0)
        .collect();
    let inner_ty = nested(&items[..stride.min(items.len())], inner, float).1;
    let len = proc_macro2::Literal::usize_unsuffixed(len);
    (quote!([#(#rows),*]), quote!([#inner_ty; #len]))
}

/// The type of an array of floats of `shape`.
fn array_type(shape: &[usize], float: FloatTy) -> TokenStream {
    let ty = float_type(float);
    shape.iter().rev().fold(quote!(#ty), |inner, &len| {
        let len = proc_macro2::Literal::usize_unsuffixed(len);
        quote!([#inner; #len])
    })
}

fn float_type(float: FloatTy) -> Ident {
    Ident::new(float.name(), Span::call_site())
}

fn doc_lines(f: &Function) -> Vec<TokenStream> {
    let name = &f.item.sig.ident;
    let differentiated = f.params.iter().filter(|p| p.differentiated);
    let wrt: Vec<String> = differentiated
        .map(|p| format!("∂/∂{}", unraw(&p.ident)))
        .collect();
    let gradient = match wrt.as_slice() {
        [one] => format!("`{one}`"),
        many => format!("`({})`", many.join(", ")),
    };
    let lines = [
        // No intra-doc link: for an associated function it would not resolve.
        format!(" The value of `{name}` and its gradient {gradient}, as `(value, gradient)`."),
        String::new(),
        " Emitted by `#[grad]`: one reverse sweep, differentiated at compile time.".to_string(),
    ];
    lines.iter().map(|l| quote!(#[doc = #l])).collect()
}

/// How a parameter scalar is read: `x`, or `w[1][3]`.
fn access(f: &Function, slot: &crate::lower::Slot) -> TokenStream {
    let ident = &f.params[slot.param].ident;
    let index = slot
        .index
        .iter()
        .map(|&i| proc_macro2::Literal::usize_unsuffixed(i));
    quote!(#ident #([#index])*)
}

fn unraw(ident: &Ident) -> String {
    syn::ext::IdentExt::unraw(ident).to_string()
}

/// What a [`Plan`] of one graph starts from.
struct PlanSpec<'s> {
    /// What emission must compute.
    roots: Vec<Id>,
    /// Nodes read as written here instead of computed: parameters, and in a reversed loop
    /// body the forward values taken from the tape.
    params: BTreeMap<Id, TokenStream>,
    user_names: &'s BTreeMap<Id, String>,
    wanted: BTreeMap<Id, Wanted>,
    /// Nodes that must be statements (values a reversed body reads).
    forced: BTreeSet<Id>,
    vars: Vec<Ident>,
}

impl<'a> Plan<'a> {
    fn new(
        f: &Function,
        graph: &'a Graph,
        grad: &Gradient,
        roots: &Roots,
        ctx: &'a Ctx,
        taken: &mut Taken,
    ) -> Self {
        let roots_all = roots.all();
        // Only the elements the code reads: an array parameter of a million elements read by
        // a kept loop has a node per element, and few of them reached outside the loop.
        let reached = live_until(graph, &roots_all, &BTreeMap::new());
        let params = f
            .slots
            .iter()
            .filter(|slot| reached.binary_search(&slot.id).is_ok())
            .map(|slot| (slot.id, access(f, slot)))
            .collect();
        let spec = PlanSpec {
            roots: roots_all,
            params,
            user_names: &f.names,
            wanted: wanted_names(f, graph, grad, roots),
            forced: BTreeSet::new(),
            vars: Vec::new(),
        };
        Plan::build(graph, spec, ctx, taken)
    }

    /// The plan of `graph`, the function's or a loop body's.
    fn build(graph: &'a Graph, spec: PlanSpec<'_>, ctx: &'a Ctx, taken: &mut Taken) -> Self {
        let live = live_until(graph, &spec.roots, &spec.params);
        let homes = homes(graph, &live, &spec.roots);
        let exports = exports(graph, &live, &homes, &spec.params);
        let mut spec = spec;
        for (&select, handed) in &exports {
            spec.forced.insert(select);
            spec.forced.extend(
                handed
                    .iter()
                    .map(|&(n, _)| n)
                    .filter(|&n| !matches!(graph.op(n), Op::CallGrad { .. })),
            );
        }
        let statements = choose_statements(graph, &live, &spec);
        let mut names = name_statements(&spec, &statements, taken);
        // A partial read as a parameter (from the tape, or by its forward name) is not a
        // partial of a call emitted here.
        let own: Vec<Id> = live
            .iter()
            .copied()
            .filter(|id| !spec.params.contains_key(id))
            .collect();
        let call_partials = name_call_partials(graph, &own, &mut names, taken);
        let mut blocks: BTreeMap<Home, Vec<Id>> = BTreeMap::new();
        for &id in &statements {
            let home = homes[id.index()].unwrap_or(Home::Top);
            blocks.entry(home).or_default().push(id);
        }
        let mut plan = Plan {
            graph,
            ctx,
            vars: spec.vars,
            loops: BTreeMap::new(),
            buffer_adjoints_here: true,
            live,
            names,
            params: spec.params,
            blocks,
            call_partials,
            exports,
        };
        plan.plan_loops(taken);
        plan
    }

    /// The `let` statements, in id order.
    fn statements(&self) -> Vec<TokenStream> {
        let top = self
            .blocks
            .get(&Home::Top)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let structural = top.iter().any(|&id| self.graph.op(id).is_structural());
        if top.len() <= MAX_LET_STATEMENTS || structural && top.len() <= 4 * MAX_LET_STATEMENTS {
            return top.iter().map(|&id| self.statement(id, true)).collect();
        }
        let declared = top.iter().flat_map(|&id| self.bound_names(id));
        let mut out = vec![quote!(let (#(#declared),*);)];
        out.extend(top.iter().map(|&id| self.statement(id, false)));
        out
    }

    /// `let name = expr;`, or `name = expr;` for a name declared earlier; for a call of another
    /// function, `let (value, partials) = f_grad(args);`.
    fn statement(&self, id: Id, with_let: bool) -> TokenStream {
        if self.graph.op(id).is_structural() {
            return self.structural_statement(id, with_let);
        }
        // Every statement was named by `name_statements`; an unnamed one emits nothing.
        let Some(name) = self.names.get(&id) else {
            return TokenStream::new();
        };
        let (pattern, value) = match (self.graph.op(id), self.handed_out(id)) {
            (Op::Call { callee, arity }, _) => {
                (self.call_pattern(id, arity), self.call(id, callee))
            }
            (_, Some(handed)) => (quote!((#name, #(#handed),*)), self.expression(id).0),
            _ => (quote!(#name), self.expression(id).0),
        };
        // Under the user's call for a call, so that an `f_grad` of another shape (a `wrt` that
        // leaves out an argument, a hand-written one) is reported there.
        let span = match self.graph.op(id) {
            Op::Call { .. } => self.graph.span(id),
            _ => Span::call_site(),
        };
        if with_let {
            quote::quote_spanned!(span=> let #pattern = #value;)
        } else {
            quote::quote_spanned!(span=> #pattern = #value;)
        }
    }

    /// The names a statement binds: its own, and a call's partial derivatives.
    fn bound_names(&self, id: Id) -> Vec<Ident> {
        if matches!(
            self.graph.op(id),
            Op::Loop { .. } | Op::LoopAdj { .. } | Op::BufInit { .. } | Op::BufAdj { .. }
        ) {
            return Vec::new();
        }
        let partials = self.call_partials.get(&id).into_iter().flatten().flatten();
        let handed = self.handed_out(id).into_iter().flatten();
        self.names
            .get(&id)
            .into_iter()
            .chain(partials)
            .cloned()
            .chain(handed)
            .collect()
    }

    /// The names a select hands out of its arms, if it hands any.
    fn handed_out(&self, select: Id) -> Option<Vec<Ident>> {
        let handed = self.exports.get(&select)?;
        Some(
            handed
                .iter()
                .filter_map(|(n, _)| self.names.get(n).cloned())
                .collect(),
        )
    }

    /// `(value, partial)` for a call of one argument, `(value, (p0, p1, ...))` for more, with
    /// `_` for a partial the gradient does not need.
    fn call_pattern(&self, id: Id, arity: u8) -> TokenStream {
        let name = self.names.get(&id);
        let no_partials = vec![None; usize::from(arity)];
        let partials = self.call_partials.get(&id).unwrap_or(&no_partials);
        let each = partials
            .iter()
            .map(|p| p.as_ref().map_or_else(|| quote!(_), |p| quote!(#p)));
        let each: Vec<TokenStream> = each.collect();
        // Under the user's call: an `f_grad` of another shape is a mismatch of this pattern.
        let span = self.graph.span(id);
        match each.as_slice() {
            [one] => quote::quote_spanned!(span=> (#name, #one)),
            many => quote::quote_spanned!(span=> (#name, (#(#many),*))),
        }
    }

    /// `f_grad(args)`, named under the user's call so that a missing `f_grad` is reported there.
    fn call(&self, id: Id, callee: u32) -> TokenStream {
        let name = self
            .graph
            .callees()
            .get(callee as usize)
            .map_or("missing", String::as_str);
        let function = gradient_path(name, self.graph.span(id));
        let args = self
            .graph
            .node(id)
            .args
            .iter()
            .map(|&a| self.operand(a, Prec::If));
        quote!(#function(#(#args),*))
    }

    /// The expression of `id` as an operand needing precedence `need`.
    fn operand(&self, id: Id, need: Prec) -> TokenStream {
        let (tokens, prec) = self.reference(id);
        parenthesized(tokens, prec, need)
    }

    /// How `id` is written where it is used: its name, its literal, or its expression.
    fn reference(&self, id: Id) -> (TokenStream, Prec) {
        if let Some(name) = self.names.get(&id) {
            return (quote!(#name), Prec::Atom);
        }
        if let Some(access) = self.params.get(&id) {
            return (access.clone(), access_precedence(access));
        }
        self.expression(id)
    }

    /// The expression computing `id` from its operands.
    fn expression(&self, id: Id) -> (TokenStream, Prec) {
        let node = self.graph.node(id);
        let arg = |i: usize, need: Prec| self.operand(node.args[i], need);
        let ty = float_type(self.graph.float());
        match node.op {
            Op::Param(_) => {
                let access = self.params.get(&id).cloned().unwrap_or_default();
                let prec = access_precedence(&access);
                (access, prec)
            }
            Op::Const(c) => literal(c.get(), self.graph.float()),
            // The graph keeps constants on the left of `+` (see `simplify`); the code reads
            // better with them on the right, and `c + x == x + c` exactly.
            Op::Add if self.graph.constant(node.args[0]).is_some() => {
                binary(quote!(+), arg(1, Prec::Add), arg(0, Prec::Mul), Prec::Add)
            }
            Op::Add => binary(quote!(+), arg(0, Prec::Add), arg(1, Prec::Mul), Prec::Add),
            Op::Sub => binary(quote!(-), arg(0, Prec::Add), arg(1, Prec::Mul), Prec::Add),
            Op::Mul => binary(quote!(*), arg(0, Prec::Mul), arg(1, Prec::Neg), Prec::Mul),
            Op::Div => binary(quote!(/), arg(0, Prec::Mul), arg(1, Prec::Neg), Prec::Mul),
            Op::Neg => {
                let x = arg(0, Prec::Atom);
                (quote!(-#x), Prec::Neg)
            }
            Op::Cmp(cmp) => {
                let symbol: TokenStream = cmp.symbol().parse().unwrap_or_default();
                let (left, prec) = self.reference(node.args[0]);
                // `n as f64 < x` would read `f64<` as the start of generic arguments.
                let need = if prec == Prec::Cast {
                    Prec::Atom
                } else {
                    Prec::Add
                };
                binary(
                    symbol,
                    parenthesized(left, prec, need),
                    arg(1, Prec::Add),
                    Prec::Cmp,
                )
            }
            Op::Int(v) => {
                let magnitude = proc_macro2::Literal::u64_unsuffixed(v.unsigned_abs());
                if v < 0 {
                    (quote!(-#magnitude), Prec::Neg)
                } else {
                    (quote!(#magnitude), Prec::Atom)
                }
            }
            Op::IntToFloat => {
                let x = arg(0, Prec::Neg);
                (quote!(#x as #ty), Prec::Cast)
            }
            Op::And => binary(quote!(&&), arg(0, Prec::And), arg(1, Prec::Cmp), Prec::And),
            Op::Or => binary(quote!(||), arg(0, Prec::Or), arg(1, Prec::And), Prec::Or),
            Op::Not => {
                let x = arg(0, Prec::Atom);
                (quote!(!#x), Prec::Neg)
            }
            Op::Select => (self.select(id), Prec::If),
            Op::Powi(n) => {
                let (x, n) = (arg(0, Prec::If), proc_macro2::Literal::i32_unsuffixed(n));
                (quote!(#ty::powi(#x, #n)), Prec::Atom)
            }
            op => {
                let name = format_ident!("{}", ops::method_name(op).unwrap_or("from"));
                let args = (0..node.args.len()).map(|i| arg(i, Prec::If));
                (quote!(#ty::#name(#(#args),*)), Prec::Atom)
            }
        }
    }

    /// `if c { a } else { b }`, with an inlined select in the `else` arm written `else if`.
    fn select(&self, id: Id) -> TokenStream {
        let node = self.graph.node(id);
        let cond = self.operand(node.args[0], Prec::Or);
        let then = self.arm(id, true, node.args[1]);
        let other = node.args[2];
        let inline_select = self.graph.op(other) == Op::Select
            && !self.names.contains_key(&other)
            && !self.blocks.contains_key(&Home::Arm(id, false))
            && !self.exports.contains_key(&id);
        if inline_select {
            let rest = self.select(other);
            quote!(if #cond { #then } else #rest)
        } else {
            let otherwise = self.arm(id, false, other);
            quote!(if #cond { #then } else { #otherwise })
        }
    }

    /// The inside of an arm of the select `id`: the statements only this arm needs, then its
    /// value.
    fn arm(&self, id: Id, then: bool, value: Id) -> TokenStream {
        let mut statements = self
            .blocks
            .get(&Home::Arm(id, then))
            .map(Vec::as_slice)
            .unwrap_or_default();
        // `let s = ...; s` is clippy's `let_and_return`: an arm's value that is its last
        // statement is written as the arm's expression instead.
        let is_call = matches!(self.graph.op(value), Op::Call { .. });
        let handed = self.exports.get(&id);
        let value = if statements.last() == Some(&value) && !is_call && handed.is_none() {
            statements = &statements[..statements.len() - 1];
            self.expression(value).0
        } else {
            self.operand(value, Prec::If)
        };
        let lets = statements.iter().map(|&s| self.statement(s, true));
        let Some(handed) = handed else {
            return quote!(#(#lets)* #value);
        };
        // This arm's own values by name; the other arm's are never read when this one is
        // taken (their readers are inside arms of the same condition), so any value of the
        // type stands in.
        let float = self.graph.float();
        let named = handed.iter().filter(|(n, _)| self.names.contains_key(n));
        let values = named.map(|&(n, side)| match self.names.get(&n) {
            Some(name) if side == then => quote!(#name),
            _ if self.graph.op(n).is_bool() => quote!(false),
            _ => literal(0.0, float).0,
        });
        quote!(#(#lets)* (#value, #(#values),*))
    }

    /// `assert!(n < len)` for each integer parameter used as an index: the original function
    /// would panic there, and so does the gradient, before anything else.
    fn index_checks(&self, f: &Function) -> Vec<TokenStream> {
        let checks = f.index_checks.iter().filter_map(|&(n, len)| {
            let access = self.params.get(&n)?;
            let len = proc_macro2::Literal::usize_unsuffixed(len);
            Some(quote!(::core::assert!(#access < #len, "index out of bounds");))
        });
        checks.collect()
    }

    /// The gradient expression and type: each differentiated parameter's derivatives in its
    /// own shape; the bare shape for one parameter, a tuple for several.
    fn gradient(
        &self,
        f: &Function,
        roots: &Roots,
        whole: &BTreeMap<usize, u32>,
    ) -> (TokenStream, TokenStream) {
        let mut parts = Vec::new();
        for (index, p, ids) in per_parameter(f, roots) {
            let array = self.ctx.d_params.get(&index).cloned().or_else(|| {
                let buf = *whole.get(&index)?;
                Some(self.ctx.buffer_adjoint(buf).clone())
            });
            if let Some(d) = array {
                parts.push((quote!(#d), array_type(&p.shape, self.graph.float())));
                continue;
            }
            let items: Vec<TokenStream> = ids.iter().map(|&g| self.operand(g, Prec::If)).collect();
            parts.push(nested(&items, &p.shape, self.graph.float()));
        }
        match parts.as_slice() {
            [(one, ty)] => (one.clone(), ty.clone()),
            many => {
                let (values, tys): (Vec<_>, Vec<_>) = many.iter().cloned().unzip();
                (quote!((#(#values),*)), quote!((#(#tys),*)))
            }
        }
    }

    /// For a parameter whose gradient kept loops accumulate in an array, the additions of the
    /// derivatives the rest of the function contributes, element by element.
    fn array_gradient_additions(&self, f: &Function, roots: &Roots) -> Vec<TokenStream> {
        let mut out = Vec::new();
        for (index, _, ids) in per_parameter(f, roots) {
            let Some(d) = self.ctx.d_params.get(&index) else {
                continue;
            };
            let slots = f.slots.iter().filter(|s| s.param == index);
            for (slot, id) in slots.zip(ids) {
                if self.graph.constant(id) == Some(0.0) {
                    continue;
                }
                let at = slot
                    .index
                    .iter()
                    .map(|&i| proc_macro2::Literal::usize_unsuffixed(i));
                let value = self.operand(id, Prec::If);
                out.push(quote!(#d #([#at])* += #value;));
            }
        }
        out
    }

    /// The signature of `<name>_grad`: the original parameters as declared (without `mut`:
    /// the gradient never changes them), an underscore before those the gradient does not
    /// read, and the `(value, gradient)` return type.
    fn signature(&self, f: &Function, gradient_ty: &TokenStream) -> TokenStream {
        let vis = &f.item.vis;
        let name = format_ident!("{}_grad", f.item.sig.ident);
        let ty = float_type(self.graph.float());
        let live: BTreeSet<Id> = self.live.iter().copied().collect();
        let declared = f.item.sig.inputs.iter().filter_map(|arg| match arg {
            syn::FnArg::Typed(t) => Some(&t.ty),
            syn::FnArg::Receiver(_) => None,
        });
        let params = f
            .params
            .iter()
            .enumerate()
            .zip(declared)
            .map(|((index, p), param_ty)| {
                let read = f
                    .slots
                    .iter()
                    .any(|s| s.param == index && live.contains(&s.id))
                    || self.ctx.params_loaded.contains(&index);
                let ident = if read {
                    p.ident.clone()
                } else {
                    format_ident!("_{}", unraw(&p.ident))
                };
                quote!(#ident: #param_ty)
            });
        quote!(#vis fn #name(#(#params),*) -> (#ty, #gradient_ty))
    }

    /// The lints that the emitted code trips on purpose: exact float comparisons (the
    /// conventions at kinks test `x == y`), and literals close to a named constant.
    fn lint_allowances(&self) -> TokenStream {
        let compares = self.live.iter().any(|&id| {
            matches!(
                self.graph.op(id),
                Op::Cmp(crate::ir::Cmp::Eq | crate::ir::Cmp::Ne)
            )
        });
        let mut lints = Vec::new();
        if compares {
            lints.push(quote!(clippy::float_cmp));
        }
        if self.live.iter().any(|&id| self.graph.op(id) == Op::Not) {
            // `!(x < y)` is the user's condition, exactly: for NaN it is not `x >= y`.
            lints.push(quote!(
                clippy::nonminimal_bool,
                clippy::neg_cmp_op_on_partial_ord
            ));
        }
        if self.needs_approx_constant_allow() {
            lints.push(quote!(clippy::approx_constant));
        }
        if self.ctx.has_loops {
            // A kept loop's code is the same whatever the trip count: it may bind a variable
            // or an adjoint accumulator that a particular body never reads or changes, and it
            // indexes arrays by the loop variable, as the user's loop does.
            lints.push(quote!(
                unused_mut,
                unused_variables,
                unused_assignments,
                clippy::needless_range_loop,
                clippy::float_cmp,
                clippy::nonminimal_bool,
                clippy::neg_cmp_op_on_partial_ord,
                clippy::approx_constant
            ));
        }
        if lints.is_empty() {
            return TokenStream::new();
        }
        quote!(#[allow(#(#lints),*)])
    }

    fn needs_approx_constant_allow(&self) -> bool {
        let constants = self.live.iter().filter_map(|&id| self.graph.constant(id));
        constants.map(f64::abs).any(|v| {
            let float = self.graph.float();
            ops::constant_name(v, float).is_none() && ops::near_constant(v, float)
        })
    }
}

/// A compile-time check that a constant written in a short form (`PI`) is the standard one
/// gradgen took it for, not a constant of the user's own with the same name.
fn assumption((path, value): &(syn::ExprPath, f64), float: FloatTy) -> TokenStream {
    let standard = literal(*value, float).0;
    let message = format!(
        "`{}` in a #[grad] function must be the standard constant; write its full path",
        crate::check::text(path)
    );
    // Spanned on the user's path, so that a failed check is reported under it.
    let span = syn::spanned::Spanned::span(path);
    quote::quote_spanned! {span=>
        #[allow(clippy::assertions_on_constants)]
        const _: () = ::core::assert!(#path == #standard, #message);
    }
}

/// A compile-time check that an integer constant read from the crate's files as text (`N`) has the
/// value the function was expanded with, under the user's `N`.
fn const_assumption((path, value): &(syn::Path, i64)) -> TokenStream {
    let value = proc_macro2::Literal::i64_unsuffixed(*value);
    let message = format!(
        "`{}` is not the constant #[grad] read from this crate's files; write the length as a \
         literal",
        crate::check::text(path)
    );
    quote::quote_spanned! {syn::spanned::Spanned::span(path)=>
        #[allow(clippy::assertions_on_constants)]
        const _: () = ::core::assert!(#path == #value, #message);
    }
}

/// Whether an attribute of the original function also goes on `<name>_grad`: conditional
/// compilation, and the lint levels the user set (the gradient has the same parameters, so
/// an `allow(clippy::too_many_arguments)` or `allow(non_snake_case)` must reach it too).
fn carried_over(attr: &syn::Attribute) -> bool {
    ["cfg", "cfg_attr", "allow", "warn", "deny", "forbid"]
        .iter()
        .any(|n| attr.path().is_ident(n))
}

/// How tightly a parameter's access binds: a loop variable read as a float in a kept loop's
/// body is the cast `(i) as f64`, which `-` or a following `<` would otherwise misparse.
fn access_precedence(access: &TokenStream) -> Prec {
    let cast = access
        .clone()
        .into_iter()
        .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "as"));
    if cast {
        Prec::Cast
    } else {
        Prec::Atom
    }
}

/// `tokens`, of precedence `prec`, in parentheses if its position needs `need` or more. The
/// tokens are moved into the group, not copied as `quote!` would: operands nest as deep as the
/// expression, and copying each level would make emission quadratic in it.
fn parenthesized(tokens: TokenStream, prec: Prec, need: Prec) -> TokenStream {
    if prec < need {
        let group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, tokens);
        TokenStream::from(proc_macro2::TokenTree::Group(group))
    } else {
        tokens
    }
}

/// `l op r`, moving the operands' tokens (see [`parenthesized`]).
fn binary(op: TokenStream, l: TokenStream, r: TokenStream, prec: Prec) -> (TokenStream, Prec) {
    let mut tokens = l;
    tokens.extend([op, r]);
    (tokens, prec)
}

/// A float constant: a named constant of `core::f64::consts` (or `f32`) where the bits match,
/// else the shortest literal that reads back to the same bits.
fn literal(value: f64, float: FloatTy) -> (TokenStream, Prec) {
    let ty = float_type(float);
    let magnitude = value.abs();
    let tokens = if value.is_nan() {
        return (quote!(#ty::NAN), Prec::Atom);
    } else if magnitude.is_infinite() {
        quote!(#ty::INFINITY)
    } else if let Some(name) = ops::constant_name(magnitude, float) {
        let name = format_ident!("{name}");
        quote!(core::#ty::consts::#name)
    } else {
        // `Debug` prints the shortest digits that read back to the same value, in the type.
        let digits = match float {
            FloatTy::F64 => format!("{magnitude:?}"),
            FloatTy::F32 => format!("{:?}", magnitude as f32),
        };
        let lit = syn::LitFloat::new(&format!("{digits}_{}", float.name()), Span::call_site());
        quote!(#lit)
    };
    if value.is_sign_negative() {
        (quote!(-#tokens), Prec::Neg)
    } else {
        (tokens, Prec::Atom)
    }
}

/// The home of every live node, by id: the innermost block that contains all its uses. A use
/// as an arm of a select is inside that arm; any other use is wherever its user is. Computed
/// from the last node down: every user of a node comes after it, so by the time a node is
/// reached its entry has gathered all its uses and is final.
fn homes(graph: &Graph, live: &[Id], roots: &[Id]) -> Vec<Option<Home>> {
    let mut homes: Vec<Option<Home>> = vec![None; graph.len()];
    for &r in roots {
        homes[r.index()] = Some(Home::Top);
    }
    // Whether a node reads the result of a call, however indirectly: it must stay with the
    // call, inside the arm, for the call to run only there.
    let mut after_call = vec![false; graph.len()];
    for &id in live {
        let node = graph.node(id);
        after_call[id.index()] =
            matches!(node.op, Op::Call { .. }) || node.args.iter().any(|a| after_call[a.index()]);
    }
    for &id in live.iter().rev() {
        let home = *homes[id.index()].get_or_insert(Home::Top);
        let node = graph.node(id);
        for (k, &arg) in node.args.iter().enumerate() {
            let place = use_place(node, id, k, home);
            let joined = match homes[arg.index()] {
                Some(other) => (after_call[arg.index()] || fails_outside_its_domain(graph.op(arg)))
                    .then(|| shared_arm(graph, &homes, other, place))
                    .flatten()
                    .unwrap_or_else(|| common_home(&homes, other, place)),
                None => place,
            };
            homes[arg.index()] = Some(joined);
        }
    }
    homes
}

/// Where `user` (of node `node`, at `home`) reads its operand `k`: inside an arm for a
/// select's arm operands, at the top for a loop's operands (its body reads them, wherever it
/// is emitted), else where the user is.
fn use_place(node: &crate::ir::Node, user: Id, k: usize, home: Home) -> Home {
    if node.op.is_structural() {
        Home::Top
    } else if node.op == Op::Select && k > 0 {
        Home::Arm(user, k == 1)
    } else {
        home
    }
}

/// Whether computing `op` where its arm is not taken could go wrong: a call (which may panic
/// or do anything; what reads its result goes with it), or an operation outside whose domain
/// the value is NaN or infinite. Other values shared by arms (products, sines, even of a
/// square root) are computed before the branch, where straight-line code runs faster than
/// values handed out of an `if`, and a NaN there is discarded.
fn fails_outside_its_domain(op: Op) -> bool {
    match op {
        Op::Powi(k) => k < 0,
        _ => matches!(
            op,
            Op::Call { .. }
                | Op::Div
                | Op::Recip
                | Op::Sqrt
                | Op::Ln
                | Op::Log2
                | Op::Log10
                | Op::Ln1p
                | Op::Log
                | Op::Powf
                | Op::Tan
                | Op::Asin
                | Op::Acos
                | Op::Acosh
                | Op::Atanh
        ),
    }
}

/// For a value read in the same arm of two selects on one condition, in one block (the value
/// of an `if` and its adjoint, `if c { x.sqrt() }` and `if c { d / (2 * x.sqrt()) }`): the arm
/// of the first select, which computes it and hands it out (see [`exports`]), so that it is
/// computed only when that arm is taken, and once.
fn shared_arm(graph: &Graph, homes: &[Option<Home>], a: Home, b: Home) -> Option<Home> {
    let (Home::Arm(s1, side1), Home::Arm(s2, side2)) = (a, b) else {
        return None;
    };
    let same_condition = graph.node(s1).args[0] == graph.node(s2).args[0];
    let same_block = homes[s1.index()] == homes[s2.index()];
    (s1 != s2 && side1 == side2 && same_condition && same_block)
        .then(|| Home::Arm(s1.min(s2), side1))
}

/// Whether a use at `place` is inside `block`.
fn within(homes: &[Option<Home>], mut place: Home, block: Home) -> bool {
    loop {
        if place == block {
            return true;
        }
        match place {
            Home::Top => return false,
            Home::Arm(select, _) => place = homes[select.index()].unwrap_or(Home::Top),
        }
    }
}

/// The values each select hands out of its arms: those [`shared_arm`] put in its arm that a
/// later select's arm reads. A partial derivative of a call is handed out by its own name,
/// which the call's statement binds.
fn exports(
    graph: &Graph,
    live: &[Id],
    homes: &[Option<Home>],
    params: &BTreeMap<Id, TokenStream>,
) -> BTreeMap<Id, Vec<(Id, bool)>> {
    let mut out: BTreeMap<Id, Vec<(Id, bool)>> = BTreeMap::new();
    for &user in live {
        if params.contains_key(&user) {
            continue;
        }
        let node = graph.node(user);
        let home = homes[user.index()].unwrap_or(Home::Top);
        for (k, &arg) in node.args.iter().enumerate() {
            let place = use_place(node, user, k, home);
            let Some(Home::Arm(select, side)) = homes[arg.index()] else {
                continue;
            };
            let skipped = params.contains_key(&arg) || never_a_statement(graph.op(arg));
            if skipped || within(homes, place, Home::Arm(select, side)) {
                continue;
            }
            let handed = if matches!(node.op, Op::CallGrad { .. }) {
                user
            } else {
                arg
            };
            let list = out.entry(select).or_default();
            if !list.contains(&(handed, side)) {
                list.push((handed, side));
            }
        }
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

/// The innermost block containing both `a` and `b`.
fn common_home(homes: &[Option<Home>], a: Home, b: Home) -> Home {
    if a == b || a == Home::Top || b == Home::Top {
        return if a == b { a } else { Home::Top };
    }
    let chain = |mut h: Home| {
        let mut path = vec![h];
        while let Home::Arm(select, _) = h {
            h = homes[select.index()].unwrap_or(Home::Top);
            path.push(h);
        }
        path
    };
    let (a, b) = (chain(a), chain(b));
    a.into_iter().find(|h| b.contains(h)).unwrap_or(Home::Top)
}

/// Which live nodes get a `let` statement; see the module documentation. Loops and buffer
/// accesses always do, and so does every operand of a loop: its body reads it by name.
fn choose_statements(graph: &Graph, live: &[Id], spec: &PlanSpec<'_>) -> BTreeSet<Id> {
    let mut uses = vec![0usize; graph.len()];
    let mut loop_operands = BTreeSet::new();
    for &id in live {
        let node = graph.node(id);
        for &a in &node.args {
            uses[a.index()] += 1;
            if matches!(node.op, Op::Loop { .. } | Op::LoopAdj { .. }) {
                loop_operands.insert(a);
            }
        }
    }
    let mut is_root = vec![false; graph.len()];
    for r in &spec.roots {
        is_root[r.index()] = true;
    }
    let mut statements = BTreeSet::new();
    // The depth of the expression of each node inlined so far (0: a name or a leaf).
    let mut depth = vec![0usize; graph.len()];
    for &id in live {
        let node = graph.node(id);
        if never_a_statement(node.op) || spec.params.contains_key(&id) {
            continue;
        }
        let nested = node.args.iter().map(|a| depth[a.index()]).max();
        let d = 1 + nested.unwrap_or(0);
        let shared = uses[id.index()] >= 2;
        let named = spec.user_names.contains_key(&id) || is_root[id.index()];
        let named = named || matches!(node.op, Op::Call { .. }) || node.op.is_structural();
        let named = named || spec.forced.contains(&id) || loop_operands.contains(&id);
        if shared || named || d > MAX_INLINE_DEPTH {
            statements.insert(id);
        } else {
            depth[id.index()] = d;
        }
    }
    statements
}

/// Whether nodes of `op` are always read where they are, never bound by a `let`.
fn never_a_statement(op: Op) -> bool {
    matches!(
        op,
        Op::Param(_)
            | Op::Const(_)
            | Op::Int(_)
            | Op::CallGrad { .. }
            | Op::LoopOut(_)
            | Op::LoopAdjOut(_)
    )
}

/// The nodes that computing `roots` needs, in increasing order, not looking past the nodes
/// read as `params`.
fn live_until(graph: &Graph, roots: &[Id], params: &BTreeMap<Id, TokenStream>) -> Vec<Id> {
    let mut seen = vec![false; graph.len()];
    let mut stack: Vec<Id> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.index()], true) || params.contains_key(&id) {
            continue;
        }
        stack.extend(graph.node(id).args.iter().copied());
    }
    (0..graph.len()).filter(|&i| seen[i]).map(Id::new).collect()
}

/// Names the partial derivatives of the live calls `<call>_d<argument>`, and adds them to
/// `names` so that their uses refer to them.
fn name_call_partials(
    graph: &Graph,
    live: &[Id],
    names: &mut BTreeMap<Id, Ident>,
    taken: &mut Taken,
) -> BTreeMap<Id, Vec<Option<Ident>>> {
    let mut partials: BTreeMap<Id, Vec<Option<Ident>>> = BTreeMap::new();
    for &id in live {
        let node = graph.node(id);
        let Op::CallGrad { index } = node.op else {
            continue;
        };
        let call = node.args[0];
        let Op::Call { arity, .. } = graph.op(call) else {
            continue;
        };
        let call_name = names.get(&call).map(unraw).unwrap_or_default();
        let name = Ident::new(
            &unique(&format!("{call_name}_d{index}"), taken),
            Span::call_site(),
        );
        let slots = partials
            .entry(call)
            .or_insert_with(|| vec![None; usize::from(arity)]);
        if let Some(slot) = slots.get_mut(usize::from(index)) {
            *slot = Some(name.clone());
        }
        names.insert(id, name);
    }
    partials
}

/// Names the statements in id order, each name unique in the function.
fn name_statements(
    spec: &PlanSpec<'_>,
    statements: &BTreeSet<Id>,
    taken: &mut Taken,
) -> BTreeMap<Id, Ident> {
    let mut names: BTreeMap<Id, Ident> = BTreeMap::new();
    for &id in statements {
        let name = match spec.wanted.get(&id) {
            Some(Wanted::Name(w)) => unique(w, taken),
            Some(Wanted::AdjointOf(primal)) => {
                let emitted = names.get(primal).map(unraw);
                let primal_name = emitted.or_else(|| spec.user_names.get(primal).cloned());
                unique(&format!("d_{}", primal_name.unwrap_or_default()), taken)
            }
            None => match spec.user_names.get(&id) {
                Some(user) => unique(user, taken),
                None => next_temporary(taken),
            },
        };
        names.insert(id, Ident::new(&name, Span::call_site()));
    }
    names
}

/// The name a statement should get, before it is made unique.
enum Wanted {
    Name(String),
    /// `d_` and the emitted name of the node whose adjoint this is, so that `d_h_2` goes with
    /// `h_2` when a shadowed `h` was renamed.
    AdjointOf(Id),
}

/// The wanted names: the user's, then adjoints of the user's, then results (which win).
fn wanted_names(
    f: &Function,
    graph: &Graph,
    grad: &Gradient,
    roots: &Roots,
) -> BTreeMap<Id, Wanted> {
    let mut wanted: BTreeMap<Id, Wanted> = BTreeMap::new();
    for (id, name) in &f.names {
        wanted.insert(*id, Wanted::Name(name.clone()));
    }
    // An adjoint that several named values share (after `r = c + d`, `c` has the adjoint of
    // `r`) is named after the last of them, where it was formed.
    for (index, adjoint) in grad.adjoints.iter().enumerate().rev() {
        let primal = Id::new(index);
        // A forward value that is also an adjoint (hash-consing shares them) keeps a forward
        // name: `d_` would read as a derivative where the value is computed.
        let forward = adjoint.is_some_and(|a| a.index() < grad.forward_len);
        if let (Some(adjoint), true, false) = (adjoint, f.names.contains_key(&primal), forward) {
            wanted.entry(*adjoint).or_insert(Wanted::AdjointOf(primal));
        }
    }
    for (slot, g) in f.differentiated_slots().into_iter().zip(&roots.gradient) {
        // Most elements of a large array's gradient are a zero or a loop's output; a buffer
        // stands for a gradient returned whole.
        if never_a_statement(graph.op(*g)) || matches!(graph.op(*g), Op::BufInit { .. }) {
            continue;
        }
        let mut name = format!("d_{}", unraw(&f.params[slot.param].ident));
        for i in &slot.index {
            name.push_str(&format!("_{i}"));
        }
        wanted.insert(*g, Wanted::Name(name));
    }
    let value = Wanted::Name("value".to_string());
    wanted.entry(roots.value).or_insert(value);
    wanted
}

/// The names given so far, and for each wanted name the next suffix to try, so that naming the
/// thousandth `s` of an unrolled loop costs as little as naming the first.
struct Taken {
    names: BTreeSet<String>,
    next_suffix: BTreeMap<String, usize>,
    /// The next `t<n>` to try.
    temporaries: usize,
}

impl Taken {
    fn new(names: impl Iterator<Item = String>) -> Self {
        Taken {
            names: names.collect(),
            next_suffix: BTreeMap::new(),
            temporaries: 0,
        }
    }
}

/// `wanted`, or `wanted_2`, `wanted_3`, ... if it is taken or a keyword.
fn unique(wanted: &str, taken: &mut Taken) -> String {
    let mut name = wanted.to_string();
    let mut n = taken.next_suffix.get(wanted).copied().unwrap_or(2);
    while taken.names.contains(&name) || is_keyword(&name) {
        name = format!("{wanted}_{n}");
        n += 1;
    }
    taken.next_suffix.insert(wanted.to_string(), n);
    taken.names.insert(name.clone());
    name
}

fn next_temporary(taken: &mut Taken) -> String {
    loop {
        let name = format!("t{}", taken.temporaries);
        taken.temporaries += 1;
        if taken.names.insert(name.clone()) {
            return name;
        }
    }
}

/// Whether `name` would need a raw identifier; names built from user names can be (`d_` plus
/// a keyword is not a keyword, but an unraw user name itself can be one).
fn is_keyword(name: &str) -> bool {
    // Keywords are short words of letters; the test skips syn's parser for the many names
    // (`t12`, `d_x_3`) that cannot be one.
    let could_be = name.len() <= 8 && name.chars().all(|c| c.is_ascii_alphabetic());
    name == "_" || could_be && syn::parse_str::<Ident>(name).is_err()
}

/// The path of the gradient of the function at `path` (`m::f` gives `m::f_grad`), each
/// segment under `span`. A raw segment (`r#type`) stays raw, except the last, whose `_grad`
/// name is no keyword.
fn gradient_path(path: &str, span: Span) -> TokenStream {
    let (colon, path) = match path.strip_prefix("::") {
        Some(rest) => (quote!(::), rest),
        None => (TokenStream::new(), path),
    };
    let mut segments: Vec<&str> = path.split("::").collect();
    let last = segments.pop().unwrap_or("missing");
    let last = crate::check::unraw_str(last);
    let function = Ident::new(&format!("{last}_grad"), span);
    let leading = segments.iter().map(|s| match s.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, span),
        None => Ident::new(s, span),
    });
    quote!(#colon #(#leading ::)* #function)
}
