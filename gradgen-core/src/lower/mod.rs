//! Lowering: the body of a Rust function to a [`Graph`], by executing it symbolically.
//!
//! Floats become graph nodes; integers, booleans, loop variables and array indices are known
//! at compile time, so `for` loops with constant bounds unroll, `if` on an integer condition
//! keeps only the branch taken, and mutation is rebinding: after `s += x * x`, the name `s`
//! stands for a new node. The graph that comes out is straight-line code.
//!
//! Before / after, for
//! `fn f(x: [f64; 2]) -> f64 { let mut s = 0.0; for i in 0..2 { s += x[i] * x[i]; } s.sin() }`
//! unrolled:
//!
//! ```text
//! %0 = param x[0]
//! %1 = param x[1]
//! %2 = const 0.0
//! %3 = mul %0, %0
//! %4 = add %2, %3      ; s
//! %5 = mul %1, %1
//! %6 = add %4, %5      ; s
//! %7 = sin %6
//! ```
//!
//! Every construct outside the supported language is reported, under its tokens, into the
//! shared [`Diagnostics`], and lowering goes on with the rest of the body, so one compile
//! lists every problem. A construct that failed lowers to nothing (`None`), and whatever uses
//! it is skipped without a second message.

mod branch;
mod expr;
mod kept;
mod value;

use std::collections::{BTreeMap, HashMap, HashSet};

use proc_macro2::{Ident, Span};
use syn::spanned::Spanned;
use syn::{Block, Expr, ItemFn, Local, Pat, Stmt};

use crate::check::{Kind, Param};
use crate::consts::FileConsts;
use crate::error::{Diagnostics, Place};
use crate::ir::{FloatTy, Graph, Id, Op};
use crate::region::{Buffer, LoopMode};
use crate::simplify::Builder;

pub use value::Value;

/// How deeply expressions may nest (parentheses, calls, unary operators). A chain of binary
/// operators such as a long sum does not count: it is lowered in a loop. Deeper nesting is a
/// compile error that asks for `let` bindings, instead of a stack overflow in the compiler.
pub const MAX_NESTING: usize = 256;

/// The most loop iterations a function may unroll to, nested loops multiplied out. A larger
/// function is a compile error naming the loop that crossed the limit, instead of a build that
/// takes minutes.
pub const MAX_UNROLLED_ITERATIONS: usize = 200_000;

/// The most elements an array may have, the product of the lengths of a nested one. Larger
/// arrays are a compile error rather than an allocation that cannot be made.
pub const MAX_ARRAY_LEN: usize = 1 << 20;

/// What a body may contain, for the end of error messages.
pub const SUPPORTED: &str = "gradgen supports `let` (and `let mut`) bindings, float literals, \
     `std::f64::consts`, `+ - * /`, unary `-`, arrays and indexing, `for` loops over ranges \
     with bounds known at compile time, `if` / `else`, and f64 methods such as `x.sin()` or `f64::sin(x)` \
     (the README lists them all)";

/// One scalar of the parameters: where it is and its node.
#[derive(Clone, Debug)]
pub struct Slot {
    /// The index of the parameter in [`Function::params`].
    pub param: usize,
    /// The indices into the parameter's array, from the outside in; empty for an `f64`.
    pub index: Vec<usize>,
    /// The [`Op::Param`] node.
    pub id: Id,
}

/// A function after lowering.
pub struct Function {
    /// The original function's signature and attributes; its body is left out (empty).
    pub item: ItemFn,
    /// The checked parameters.
    pub params: Vec<Param>,
    /// Every scalar of every parameter, in order; `Op::Param(k)` is `slots[k]`.
    pub slots: Vec<Slot>,
    /// The body; its nodes are the function's forward pass.
    pub graph: Graph,
    /// The node of the returned value.
    pub output: Id,
    /// The user's `let` names, by node; the first binding of a node names it.
    pub names: BTreeMap<Id, String>,
    /// Constants written in a short form (`PI`, `consts::PI`) with the value they were taken
    /// to have. The short form may name a constant of the user's own, which gradgen cannot
    /// see, so the emitted code asserts at compile time that it has this value.
    pub assumptions: Vec<(syn::ExprPath, f64)>,
    /// Integer constants of the file read as array lengths or in the body (`N` in `0..N`), with
    /// the value they were read with; the emitted code asserts each, since the file was read
    /// as text, not resolved.
    pub const_assumptions: Vec<(syn::Path, i64)>,
    /// Integer parameters used as indices (`z[label]`), each with the length of the array: the
    /// emitted code asserts `label < len` first, since indexing past the end panics in the
    /// original function and the select that reads the element would not.
    pub index_checks: Vec<(Id, usize)>,
    /// The local arrays that kept loops index at run time; see [`crate::region`].
    pub buffers: Vec<Buffer>,
}

impl Function {
    /// The slots of the differentiated parameters, in order.
    pub fn differentiated_slots(&self) -> Vec<&Slot> {
        self.slots
            .iter()
            .filter(|s| self.params[s.param].differentiated)
            .collect()
    }
}

/// Lowers the body of `item` with its checked `params`; `None` if anything was reported.
pub fn lower(
    item: &ItemFn,
    params: Vec<Param>,
    float: FloatTy,
    diags: &mut Diagnostics,
) -> Option<Function> {
    lower_in(
        item,
        params,
        float,
        &FileConsts::default(),
        LoopMode::Auto,
        diags,
    )
}

/// [`lower`], with the integer constants of the function's file (`0..N`, `[0.0; N]`).
pub fn lower_in(
    item: &ItemFn,
    params: Vec<Param>,
    float: FloatTy,
    consts: &FileConsts,
    loop_mode: LoopMode,
    diags: &mut Diagnostics,
) -> Option<Function> {
    let mut graph = Graph::of(float);
    let mut lower = Lower {
        b: Builder::new(&mut graph),
        scopes: vec![Vec::new()],
        names: BTreeMap::new(),
        assumptions: Vec::new(),
        consts,
        const_uses: params.iter().flat_map(|p| p.consts_used.clone()).collect(),
        index_checks: Vec::new(),
        silenced: 0,
        diags,
        depth: 0,
        unrolled: 0,
        returns_float: matches!(&item.sig.output, syn::ReturnType::Type(_, t)
            if crate::check::float_type(t).is_some()),
        returned: None,
        path: Vec::new(),
        conditional_returns: Vec::new(),
        loop_mode,
        frames: Vec::new(),
        buffers: Vec::new(),
        buffer_levels: Vec::new(),
        top_effects: HashMap::new(),
        unkeepable: HashSet::new(),
        slots: Vec::new(),
        param_shapes: params.iter().map(|p| p.shape.clone()).collect(),
        param_arrays: HashMap::new(),
        own_name: syn::ext::IdentExt::unraw(&item.sig.ident).to_string(),
    };
    let slots = lower.params(&params);
    lower.slots = slots.clone();
    lower.bind_rejected_params(item, &params);
    let output = lower.body(&item.block);
    let too_large = lower.b.too_large();
    let names = std::mem::take(&mut lower.names);
    let buffers = std::mem::take(&mut lower.buffers);
    let assumptions = std::mem::take(&mut lower.assumptions);
    let mut index_checks = std::mem::take(&mut lower.index_checks);
    index_checks.sort();
    index_checks.dedup();
    let mut const_assumptions = std::mem::take(&mut lower.const_uses);
    const_assumptions.sort_by_key(|(path, _)| crate::check::text(path));
    const_assumptions.dedup_by_key(|(path, _)| crate::check::text(path));
    if too_large {
        let msg = "the function is too large to differentiate; split it into smaller functions";
        diags.report(Place::of(&item.sig.ident), msg);
    }
    let output = output?;
    // The signature and attributes, without the body: cloning a body whose expressions nest
    // thousands deep (a long sum) would recurse as deep, and nothing after lowering reads it.
    let item = ItemFn {
        attrs: item.attrs.clone(),
        vis: item.vis.clone(),
        sig: item.sig.clone(),
        block: Box::new(Block {
            brace_token: item.block.brace_token,
            stmts: Vec::new(),
        }),
    };
    diags.is_empty().then_some(Function {
        item,
        params,
        slots,
        graph,
        output,
        names,
        assumptions,
        const_assumptions,
        index_checks,
        buffers,
    })
}

/// A name in scope. A binding whose value failed to lower holds `None`: its uses are skipped
/// silently, as the failure was reported where it happened.
#[derive(Clone)]
struct Binding {
    name: String,
    value: Option<Value>,
    mutable: bool,
}

struct Lower<'a> {
    b: Builder<'a>,
    /// Visible bindings, innermost scope last; a later binding of a name shadows an earlier.
    scopes: Vec<Vec<Binding>>,
    names: BTreeMap<Id, String>,
    assumptions: Vec<(syn::ExprPath, f64)>,
    consts: &'a FileConsts,
    /// The file constants read so far, with their values, for the emitted compile-time check.
    const_uses: Vec<(syn::Path, i64)>,
    /// Uses of a binding whose value failed: they lower to nothing, without a message, since
    /// the failure was reported where the binding was made.
    silenced: usize,
    //// Integer parameters used as indices, with the length of the array they index.
    index_checks: Vec<(Id, usize)>,
    diags: &'a mut Diagnostics,
    depth: usize,
    /// Whether the signature declares a float result; if not, that was reported already.
    returns_float: bool,
    /// Loop iterations unrolled so far, against [`MAX_UNROLLED_ITERATIONS`].
    unrolled: usize,
    /// The value of a `return` that has run; once set, the rest of the body is skipped.
    returned: Option<Option<Value>>,
    /// The conditions of the float `if`s being lowered, innermost last, each as the condition
    /// under which the current arm runs.
    path: Vec<Id>,
    /// Returns that ran under a float condition, in the order they ran: the function's value
    /// is the first whose condition holds, else what the body goes on to return.
    conditional_returns: Vec<(Id, Option<Value>)>,
    /// How loops are treated, from the attribute.
    loop_mode: LoopMode,
    /// The kept loops whose bodies are being lowered, outermost first.
    frames: Vec<kept::Frame>,
    /// The buffers made so far, and the level of the graph that creates each.
    buffers: Vec<Buffer>,
    buffer_levels: Vec<u32>,
    /// The last effect on each buffer in the function's graph.
    top_effects: HashMap<u32, Id>,
    /// Loops that could not be kept, not to be tried again when an enclosing loop unrolls.
    unkeepable: HashSet<usize>,
    /// The parameters' scalars, and each parameter's shape, to recognise parameter arrays.
    slots: Vec<Slot>,
    param_shapes: Vec<Vec<usize>>,
    /// Arrays of the function's graph found to be (or not to be) parameter arrays, by the
    /// address of their elements; see `Lower::lift`.
    #[allow(clippy::type_complexity)]
    param_arrays: HashMap<usize, (std::rc::Rc<Vec<Value>>, Option<(usize, Vec<usize>)>)>,
    /// The function's own name, to refuse a call of itself.
    own_name: String,
}

impl Lower<'_> {
    /// Binds each parameter to its `Param` nodes, one per scalar.
    fn params(&mut self, params: &[Param]) -> Vec<Slot> {
        let mut slots = Vec::new();
        for (p, param) in params.iter().enumerate() {
            self.b.at(param.ident.span());
            let kind = param.kind;
            let value = self.param_value(p, kind, &param.shape, &mut Vec::new(), &mut slots);
            self.bind(&param.ident, Some(value), param.mutable);
        }
        slots
    }

    /// Binds the parameters the signature check rejected as failed values, so their uses in
    /// the body are not reported a second time as unknown names.
    fn bind_rejected_params(&mut self, item: &ItemFn, accepted: &[Param]) {
        for input in &item.sig.inputs {
            let syn::FnArg::Typed(typed) = input else {
                continue;
            };
            let Pat::Ident(p) = &*typed.pat else { continue };
            if !accepted.iter().any(|a| a.ident == p.ident) {
                self.bind(&p.ident, None, false);
            }
        }
    }

    fn param_value(
        &mut self,
        param: usize,
        kind: Kind,
        shape: &[usize],
        index: &mut Vec<usize>,
        slots: &mut Vec<Slot>,
    ) -> Value {
        let Some((&len, inner)) = shape.split_first() else {
            let id = self.b.param(slots.len() as u32);
            slots.push(Slot {
                param,
                index: index.clone(),
                id,
            });
            return match kind {
                Kind::Float(_) => Value::Float(id),
                Kind::Int => Value::RtInt(id),
                Kind::Bool => Value::Cond(id),
            };
        };
        let mut elements = Vec::with_capacity(len);
        for i in 0..len {
            index.push(i);
            elements.push(self.param_value(param, kind, inner, index, slots));
            index.pop();
        }
        Value::array(elements)
    }

    fn report(&mut self, place: impl Into<Place>, message: impl Into<String>) -> Option<Value> {
        self.diags.report(place, message);
        None
    }

    fn bind(&mut self, ident: &Ident, value: Option<Value>, mutable: bool) {
        let name = syn::ext::IdentExt::unraw(ident).to_string();
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(Binding {
                name,
                value,
                mutable,
            });
        }
    }

    fn binding_mut(&mut self, name: &str) -> Option<&mut Binding> {
        self.scopes
            .iter_mut()
            .rev()
            .flat_map(|s| s.iter_mut().rev())
            .find(|b| b.name == name)
    }

    /// `Some(binding)` if `name` is bound, where the binding is `None` if its value failed.
    fn lookup(&self, name: &str) -> Option<Option<Value>> {
        self.lookup_scoped(name).map(|(_, value)| value)
    }

    /// [`Lower::lookup`], with the index of the scope of the binding.
    fn lookup_scoped(&self, name: &str) -> Option<(usize, Option<Value>)> {
        for (s, scope) in self.scopes.iter().enumerate().rev() {
            if let Some(b) = scope.iter().rev().find(|b| b.name == name) {
                return Some((s, b.value.clone()));
            }
        }
        None
    }

    /// The function body: statements, then a final expression or `return`.
    fn body(&mut self, block: &Block) -> Option<Id> {
        let value = self.block(block);
        let mut value = self.returned.take().unwrap_or(value);
        for (cond, returned) in std::mem::take(&mut self.conditional_returns)
            .into_iter()
            .rev()
        {
            value = self.merge(cond, returned?, value?, block);
        }
        match value? {
            Value::Float(id) => Some(id),
            Value::Int(v, span) => self.float_needed(v, span),
            // A return type the signature check rejected was reported there.
            _ if !self.returns_float => None,
            other => {
                let msg = format!("the function returns {}, not an `f64`", other.kind());
                self.report(Place::of(&block), msg).and(None)
            }
        }
    }

    fn float_needed(&mut self, v: i64, span: Span) -> Option<Id> {
        let msg = format!("integer `{v}` where an `f64` is needed; write `{v}.0`");
        self.report(span, msg);
        None
    }

    /// A block in its own scope; its value is its final expression, or `()`.
    fn block(&mut self, block: &Block) -> Option<Value> {
        self.scopes.push(Vec::new());
        let value = self.statements(block);
        self.scopes.pop();
        value
    }

    fn statements(&mut self, block: &Block) -> Option<Value> {
        let mut value = Some(Value::Unit);
        for (i, stmt) in block.stmts.iter().enumerate() {
            if self.returned.is_some() {
                break;
            }
            let is_last = i + 1 == block.stmts.len();
            value = self.statement(stmt, is_last);
        }
        value
    }

    /// Lowers a statement; its value is the block's value if it is the final expression.
    fn statement(&mut self, stmt: &Stmt, is_last: bool) -> Option<Value> {
        match stmt {
            Stmt::Local(local) => {
                self.local(local);
                Some(Value::Unit)
            }
            Stmt::Expr(expr, None) if is_last => self.checked_expr(expr),
            Stmt::Expr(expr, _) => self.checked_expr(expr).map(|_| Value::Unit),
            Stmt::Item(item) => {
                let msg = format!("items inside a `#[grad]` body are not supported; {SUPPORTED}");
                self.report(Place::of(&item), msg)
            }
            Stmt::Macro(mac) => {
                let msg = format!("macros are not supported in a `#[grad]` body; {SUPPORTED}");
                self.report(Place::of(&mac), msg)
            }
        }
    }

    /// An expression whose failure must have been reported: a statement that lowered to
    /// nothing without a message would silently drop work from the function, so that is
    /// reported here as an error of gradgen's own rather than emitted.
    fn checked_expr(&mut self, expr: &Expr) -> Option<Value> {
        let (reported, silenced) = (self.diags.len(), self.silenced);
        let value = self.expr(expr);
        if value.is_none() && self.diags.len() == reported && self.silenced == silenced {
            let msg = "gradgen could not lower this expression (an internal error; please \
                       report it); the gradient would have been wrong without it";
            self.report(Place::of(&expr), msg);
        }
        value
    }

    fn local(&mut self, local: &Local) {
        let value = match &local.init {
            Some(init) if init.diverge.is_some() => {
                let msg = "`let ... else` is not supported; bind with a plain `let`";
                self.report(Place::of(&local), msg)
            }
            Some(init) => self.checked_expr(&init.expr),
            None => {
                let msg = "`let` needs a value: write `let name = expr;`";
                self.report(Place::of(&local), msg)
            }
        };
        self.bind_pattern(&local.pat, value);
    }

    /// Binds the names of a `let` pattern: `name`, `mut name`, `name: T`, `_`, or a tuple of
    /// these.
    fn bind_pattern(&mut self, pat: &Pat, value: Option<Value>) {
        match pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                if let Some(Value::Float(id)) = &value {
                    self.name_node(*id, &p.ident);
                }
                self.bind(&p.ident, value, p.mutability.is_some());
            }
            Pat::Type(t) => {
                // The value of a `let` of the other float type would be rounded (or widened)
                // by the compiler; gradgen computes in the function's one float type.
                let float = self.b.graph().float();
                let annotated = crate::check::float_type(&t.ty);
                if annotated.is_some_and(|a| a != float) {
                    let msg = format!(
                        "a `let` of `{}` in a function of `{}`: a `#[grad]` function computes in \
                         one float type",
                        crate::check::text(&t.ty),
                        float.name()
                    );
                    self.report(Place::of(&t.ty), msg);
                    return self.bind_pattern(&t.pat, None);
                }
                self.bind_pattern(&t.pat, value)
            }
            Pat::Wild(_) => {}
            Pat::Tuple(t) => self.bind_tuple(t, value),
            other => {
                let msg = format!(
                    "the pattern `{}` is not supported; bind a name, `_`, or a tuple of names",
                    crate::check::text(other)
                );
                self.report(Place::of(&other), msg);
            }
        }
    }

    fn bind_tuple(&mut self, t: &syn::PatTuple, value: Option<Value>) {
        let parts = match value {
            Some(Value::Tuple(parts)) if parts.len() == t.elems.len() => {
                parts.into_iter().map(Some).collect()
            }
            Some(other) => {
                let msg = format!("a tuple of {} is bound to {}", t.elems.len(), other.kind());
                self.report(Place::of(&t), msg);
                vec![None; t.elems.len()]
            }
            None => vec![None; t.elems.len()],
        };
        for (pat, part) in t.elems.iter().zip(parts) {
            self.bind_pattern(pat, part);
        }
    }

    /// Names a computed node after the `let` that binds it, for readable emitted code.
    fn name_node(&mut self, id: Id, ident: &Ident) {
        let is_computed = !matches!(self.b.graph().op(id), Op::Param(_) | Op::Const(_));
        if is_computed {
            let name = syn::ext::IdentExt::unraw(ident).to_string();
            self.names.entry(id).or_insert(name);
        }
    }

    /// `for pat in range { body }`: kept as a loop when it should and can be (see
    /// [`crate::region`]), else unrolled: the body runs once per value of the range, in its
    /// own scope, with the loop variable bound to that value.
    fn for_loop(&mut self, f: &syn::ExprForLoop) -> Option<Value> {
        if let Some(label) = &f.label {
            return self.report(Place::of(&label), "loop labels are not supported");
        }
        let bounds = self.bounds(&f.expr)?;
        let constant = bounds.constant();
        let trip = constant.map(|(s, e)| usize::try_from(e.saturating_sub(s)).unwrap_or(0));
        if self.should_try_keeping(f, trip) {
            let forced = constant.is_none() || self.loop_mode == LoopMode::Keep;
            match self.keep(f, &bounds, forced) {
                kept::Keep::Kept => return Some(Value::Unit),
                kept::Keep::Unroll => {}
                kept::Keep::Failed(reason) if forced => return self.cannot_keep(f, &reason),
                kept::Keep::Failed(_) => self.remember_unkeepable(f),
            }
        }
        let Some((start, end)) = constant else {
            return self.fail_kept("a loop inside it has bounds that depend on its variable");
        };
        self.unroll(f, start, end, bounds.reversed)
    }

    fn unroll(&mut self, f: &syn::ExprForLoop, start: i64, end: i64, rev: bool) -> Option<Value> {
        let trip = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        if trip > MAX_UNROLLED_ITERATIONS {
            // Refused before the range is collected: it could be too large to allocate.
            let msg = format!(
                "this loop runs {trip} times, past the {MAX_UNROLLED_ITERATIONS} unrolled \
                 iterations a function may have (`MAX_UNROLLED_ITERATIONS`); keep it as a loop \
                 (`#[grad(loops = \"keep\")]`), or split the work into smaller functions"
            );
            return self.report(Place::of(&f.expr), msg);
        }
        if self.unrolled > MAX_UNROLLED_ITERATIONS {
            // Already reported, at the loop that crossed the limit.
            self.silenced += 1;
            return None;
        }
        self.unrolled = self.unrolled.saturating_add(trip);
        if self.unrolled > MAX_UNROLLED_ITERATIONS {
            let header = format!(
                "for {} in {}",
                crate::check::text(&f.pat),
                crate::check::text(&f.expr)
            );
            let msg = format!(
                "the loop `{header}` takes the function past {MAX_UNROLLED_ITERATIONS} unrolled \
                 iterations (`MAX_UNROLLED_ITERATIONS`); keep it as a loop \
                 (`#[grad(loops = \"keep\")]`), or split the work into smaller functions or \
                 shorter loops"
            );
            return self.report(Place::of(&f.expr), msg);
        }
        let mut values: Box<dyn Iterator<Item = i64>> = Box::new(start..end);
        if rev {
            values = Box::new((start..end).rev());
        }
        for i in values {
            self.scopes.push(Vec::new());
            self.bind_loop_variable(&f.pat, i);
            self.block(&f.body);
            self.scopes.pop();
            if self.returned.is_some() {
                break;
            }
        }
        Some(Value::Unit)
    }

    fn bind_loop_variable(&mut self, pat: &Pat, i: i64) {
        let span = pat.span();
        match pat {
            Pat::Ident(p) => self.bind(&p.ident, Some(Value::Int(i, span)), false),
            Pat::Wild(_) => {}
            other => {
                let msg = "a loop variable is a name or `_`";
                self.report(Place::of(&other), msg);
            }
        }
    }

    /// The bounds of a range: `a..b`, `a..=b`, and either in parentheses with `.rev()`, with
    /// bounds known at compile time or affine in the variables of kept loops.
    fn bounds(&mut self, expr: &Expr) -> Option<kept::Bounds> {
        match expr {
            Expr::Paren(p) => self.bounds(&p.expr),
            Expr::Group(g) => self.bounds(&g.expr),
            Expr::MethodCall(call) if call.method == "rev" && call.args.is_empty() => {
                let mut bounds = self.bounds(&call.receiver)?;
                bounds.reversed = !bounds.reversed;
                Some(bounds)
            }
            Expr::Range(r) => {
                let (Some(start), Some(end)) = (&r.start, &r.end) else {
                    return self
                        .report(Place::of(&r), "a loop range needs both bounds")
                        .and(None);
                };
                let (start, end) = (self.bound(start)?, self.bound(end)?);
                let end = match r.limits {
                    syn::RangeLimits::HalfOpen(_) => end,
                    syn::RangeLimits::Closed(_) => {
                        match end.plus_scaled(&crate::region::Affine::constant(1), 1) {
                            Some(end) => end,
                            None => {
                                let msg = format!("the range ends past the largest integer, {end}");
                                return self.report(Place::of(&r), msg).and(None);
                            }
                        }
                    }
                };
                Some(kept::Bounds {
                    start,
                    end,
                    reversed: false,
                })
            }
            other => {
                let msg = "a `for` loop runs over a range with bounds known at compile time, such \
                           as `0..N`, `1..=n` or `(0..N).rev()`";
                self.report(Place::of(&other), msg).and(None)
            }
        }
    }

    /// A loop bound: an integer known at compile time, or affine in kept loops' variables.
    fn bound(&mut self, expr: &Expr) -> Option<crate::region::Affine> {
        match self.expr(expr)? {
            Value::Index(a) => Some(a),
            Value::Int(v, _) => Some(crate::region::Affine::constant(v)),
            other => self.not_an_integer(expr, &other),
        }
    }

    /// An expression that must be an integer known at compile time.
    fn integer(&mut self, expr: &Expr) -> Option<i64> {
        match self.expr(expr)? {
            Value::Int(v, _) => Some(v),
            other => self.not_an_integer(expr, &other),
        }
    }

    fn not_an_integer<T>(&mut self, expr: &Expr, found: &Value) -> Option<T> {
        let msg = format!(
            "expected an integer known at compile time (a literal, a loop variable, or \
             arithmetic on them), found {}",
            found.kind()
        );
        self.report(Place::of(&expr), msg).and(None)
    }

    /// `if` on a condition known at compile time: only the branch taken is lowered. On a
    /// float condition, see [`Lower::float_if`].
    fn if_expr(&mut self, e: &syn::ExprIf) -> Option<Value> {
        let taken = match self.expr(&e.cond)? {
            Value::Bool(b) => b,
            Value::Cond(c) => return self.float_if(c, e),
            other => {
                let msg = format!("an `if` condition must be a boolean, not {}", other.kind());
                return self.report(Place::of(&e.cond), msg);
            }
        };
        match (taken, &e.else_branch) {
            (true, _) => self.block(&e.then_branch),
            (false, Some((_, otherwise))) => self.expr(otherwise),
            (false, None) => Some(Value::Unit),
        }
    }

    /// `place = value` or `place op= value`, where a place is a mutable name or an element of
    /// one (`h[j]`, `w[i][k]`).
    fn assign(&mut self, target: &Expr, op: Option<&syn::BinOp>, value: &Expr) -> Option<Value> {
        let value = self.expr(value);
        let (name, index_values) = self.place(target)?;
        let binding = self.lookup_scoped(&name);
        let mutable = self.binding_mut(&name).is_some_and(|b| b.mutable);
        if binding.is_some() && !mutable {
            let msg = format!("`{name}` is not mutable; declare it with `let mut`");
            return self.report(Place::of(&target), msg);
        }
        let Some((scope, binding)) = binding else {
            let msg =
                format!("`{name}` is not declared; declare it first with `let mut {name} = ...;`");
            return self.report(Place::of(&target), msg);
        };
        let Some(mut current) = binding else {
            self.silenced += 1;
            return None;
        };
        if self.level_of_binding(scope) != self.level() {
            return self.fail_kept(format!("it assigns `{name}` of an enclosing scope"));
        }
        if let Value::Buffer(b) = current {
            if !self.is_own_buffer(b) {
                return self.store(b, index_values, op, target, value?);
            }
            current = self.buffer_as_array(b)?;
        }
        let mut indices = Vec::with_capacity(index_values.len());
        for (v, expr) in index_values.into_iter().zip(index_exprs(target)) {
            indices.push(self.compile_time_index(v, expr)?);
        }
        let Some(old) = element(&current, &indices) else {
            let msg = format!("`{}` is out of bounds", crate::check::text(target));
            return self.report(Place::of(&target), msg);
        };
        let new = match op {
            None => value?,
            Some(op) => self.binary_op(op, target, old, value?)?,
        };
        if let Value::Float(id) = &new {
            let name = syn::Ident::new(&name, Span::call_site());
            self.name_node(*id, &name);
        }
        let updated = with_element(current, &indices, new)?;
        if let Some(b) = self.binding_mut(&name) {
            b.value = Some(updated);
        }
        Some(Value::Unit)
    }

    /// The name and the index values of an assignable place.
    fn place(&mut self, target: &Expr) -> Option<(String, Vec<Value>)> {
        match target {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                let ident = p.path.get_ident()?;
                Some((syn::ext::IdentExt::unraw(ident).to_string(), Vec::new()))
            }
            Expr::Index(ix) => {
                let (name, mut indices) = self.place(&ix.expr)?;
                indices.push(self.expr(&ix.index)?);
                Some((name, indices))
            }
            Expr::Paren(p) => self.place(&p.expr),
            other => {
                let msg = "only a variable or an element of one (`h[j]`) can be assigned";
                self.report(Place::of(&other), msg).and(None)
            }
        }
    }

    /// An index value that must be known at compile time.
    fn compile_time_index(&mut self, v: Value, expr: &Expr) -> Option<usize> {
        match v {
            Value::Int(i, _) => match usize::try_from(i) {
                Ok(i) => Some(i),
                Err(_) => self
                    .report(Place::of(&expr), format!("negative index `{i}`"))
                    .and(None),
            },
            Value::Index(_) => self
                .fail_kept("it writes a local array at a loop variable")
                .and(None),
            other => self.not_an_integer(expr, &other),
        }
    }

    /// An index known at compile time.
    fn index(&mut self, expr: &Expr) -> Option<usize> {
        let i = self.integer(expr)?;
        match usize::try_from(i) {
            Ok(i) => Some(i),
            Err(_) => self
                .report(Place::of(&expr), format!("negative index `{i}`"))
                .and(None),
        }
    }
}

/// The index expressions of a place, outermost first (`i`, `j` of `w[i][j]`).
fn index_exprs(target: &Expr) -> Vec<&Expr> {
    match target {
        Expr::Index(ix) => {
            let mut v = index_exprs(&ix.expr);
            v.push(&ix.index);
            v
        }
        Expr::Paren(p) => index_exprs(&p.expr),
        _ => Vec::new(),
    }
}

/// The element of `value` at `indices`.
fn element(value: &Value, indices: &[usize]) -> Option<Value> {
    let Some((&first, rest)) = indices.split_first() else {
        return Some(value.clone());
    };
    match value {
        Value::Array(items) => element(items.get(first)?, rest),
        _ => None,
    }
}

/// `value` with the element at `indices` replaced by `new`.
fn with_element(value: Value, indices: &[usize], new: Value) -> Option<Value> {
    let Some((&first, rest)) = indices.split_first() else {
        return Some(new);
    };
    let Value::Array(mut items) = value else {
        return None;
    };
    let slot = std::rc::Rc::make_mut(&mut items).get_mut(first)?;
    *slot = with_element(std::mem::replace(slot, Value::Unit), rest, new)?;
    Some(Value::Array(items))
}
