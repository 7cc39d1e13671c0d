//! Lowering: the body of a Rust function to a [`Graph`].
//!
//! Before / after, for `fn f(x: f64) -> f64 { let s = x * x; s.sin().exp() }`:
//!
//! ```text
//! %0 = param x
//! %1 = mul %0, %0      ; s
//! %2 = sin %1
//! %3 = exp %2
//! return %3
//! ```
//!
//! Every construct outside the supported language is reported, under its tokens, into the
//! shared [`Diagnostics`], and lowering goes on with the rest of the body, so one compile
//! lists every problem. A construct that failed lowers to nothing (`None`), and whatever uses
//! it is skipped without a second message.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Span};
use syn::spanned::Spanned;
use syn::{BinOp, Block, Expr, ItemFn, Lit, Local, Pat, Stmt, UnOp};

use crate::error::{Diagnostics, Place};
use crate::ir::{Graph, Id, Op};
use crate::ops;
use crate::simplify::Builder;

/// How deeply expressions may nest (parentheses, calls, unary operators). A chain of binary
/// operators such as a long sum does not count: it is lowered in a loop. Deeper nesting is a
/// compile error that asks for `let` bindings, instead of a stack overflow in the compiler.
pub const MAX_NESTING: usize = 256;

/// What a body may contain, for the end of error messages.
pub const SUPPORTED: &str = "gradgen supports `let` bindings, float literals, \
     `std::f64::consts`, `+ - * /`, unary `-`, and f64 methods such as `x.sin()` or \
     `f64::sin(x)` (the README lists them all)";

/// A function after lowering.
pub struct Function {
    /// The original function, kept for its signature and attributes.
    pub item: ItemFn,
    /// The parameters in order, each with its [`Op::Param`] node.
    pub params: Vec<(Ident, Id)>,
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
}

/// A lowered expression.
#[derive(Clone, Copy)]
enum Value {
    /// A float node.
    Float(Id),
    /// An integer literal, which may only stand as the exponent of `powi`.
    Int(i64, Span),
}

/// Lowers the body of `item`; `None` if anything was reported.
pub fn lower(item: &ItemFn, diags: &mut Diagnostics) -> Option<Function> {
    let mut graph = Graph::new();
    let mut lower = Lower {
        b: Builder::new(&mut graph),
        scopes: vec![Vec::new()],
        names: BTreeMap::new(),
        assumptions: Vec::new(),
        diags,
        depth: 0,
    };
    let params = lower.params(item);
    let output = lower.body(&item.block);
    let too_large = lower.b.too_large();
    let names = std::mem::take(&mut lower.names);
    let assumptions = std::mem::take(&mut lower.assumptions);
    if too_large {
        let msg = "the function is too large to differentiate; split it into smaller functions";
        diags.report(Place::of(&item.sig.ident), msg);
    }
    let output = output?;
    diags.is_empty().then(|| Function {
        item: item.clone(),
        params,
        graph,
        output,
        names,
        assumptions,
    })
}

struct Lower<'a> {
    b: Builder<'a>,
    /// Visible bindings, innermost scope last; a later binding of a name shadows an earlier.
    /// A binding whose value failed to lower holds `None`: its uses are skipped silently, as
    /// the failure was reported where it happened.
    scopes: Vec<Vec<(String, Option<Value>)>>,
    names: BTreeMap<Id, String>,
    assumptions: Vec<(syn::ExprPath, f64)>,
    diags: &'a mut Diagnostics,
    depth: usize,
}

impl Lower<'_> {
    fn params(&mut self, item: &ItemFn) -> Vec<(Ident, Id)> {
        let mut params = Vec::new();
        for (index, input) in item.sig.inputs.iter().enumerate() {
            let syn::FnArg::Typed(typed) = input else {
                continue;
            };
            let Pat::Ident(p) = &*typed.pat else { continue };
            self.b.at(p.ident.span());
            let id = self.b.param(index as u32);
            self.bind(&p.ident, Some(Value::Float(id)));
            params.push((p.ident.clone(), id));
        }
        params
    }

    fn report(&mut self, place: impl Into<Place>, message: impl Into<String>) -> Option<Value> {
        self.diags.report(place, message);
        None
    }

    fn bind(&mut self, ident: &Ident, value: Option<Value>) {
        let name = syn::ext::IdentExt::unraw(ident).to_string();
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name, value));
        }
    }

    /// `Some(binding)` if `name` is bound, where the binding is `None` if its value failed.
    fn lookup(&self, name: &str) -> Option<Option<Value>> {
        let mut bindings = self.scopes.iter().rev().flat_map(|s| s.iter().rev());
        bindings.find(|(n, _)| n == name).map(|&(_, v)| v)
    }

    /// The function body: statements, then a final expression or `return`.
    fn body(&mut self, block: &Block) -> Option<Id> {
        let value = self.block(block)?;
        self.float(value)
    }

    fn block(&mut self, block: &Block) -> Option<Value> {
        self.scopes.push(Vec::new());
        let value = self.statements(block);
        self.scopes.pop();
        value
    }

    fn statements(&mut self, block: &Block) -> Option<Value> {
        let Some((last, init)) = block.stmts.split_last() else {
            return self.report(
                Place::of(&block),
                "the body must end with an `f64` expression",
            );
        };
        for stmt in init {
            self.statement(stmt);
        }
        match last {
            Stmt::Expr(expr, None) => self.tail(expr),
            Stmt::Expr(Expr::Return(ret), Some(_)) => self.returned(ret),
            other => {
                self.statement(other);
                self.report(
                    Place::of(&other),
                    "the body must end with an `f64` expression",
                )
            }
        }
    }

    fn tail(&mut self, expr: &Expr) -> Option<Value> {
        match expr {
            Expr::Return(ret) => self.returned(ret),
            _ => self.expr(expr),
        }
    }

    fn returned(&mut self, ret: &syn::ExprReturn) -> Option<Value> {
        match &ret.expr {
            Some(expr) => self.expr(expr),
            None => self.report(Place::of(&ret), "`return` needs an `f64` value"),
        }
    }

    fn statement(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Local(local) => self.local(local),
            Stmt::Expr(Expr::Return(ret), _) => {
                let msg = "`return` is only supported as the last statement of the body";
                self.report(Place::of(&ret), msg);
            }
            Stmt::Expr(expr, _) => {
                self.expr(expr);
            }
            Stmt::Item(item) => {
                let msg = format!("items inside a `#[grad]` body are not supported; {SUPPORTED}");
                self.report(Place::of(&item), msg);
            }
            Stmt::Macro(mac) => {
                let msg = format!("macros are not supported in a `#[grad]` body; {SUPPORTED}");
                self.report(Place::of(&mac), msg);
            }
        }
    }

    fn local(&mut self, local: &Local) {
        let value = match &local.init {
            Some(init) if init.diverge.is_some() => {
                let msg = "`let ... else` is not supported; bind with a plain `let`";
                self.report(Place::of(&local), msg)
            }
            Some(init) => self.expr(&init.expr),
            None => self.report(
                Place::of(&local),
                "`let` needs a value: write `let name = expr;`",
            ),
        };
        let Some(ident) = self.binding(&local.pat) else {
            return;
        };
        if let Some(Value::Float(id)) = value {
            let is_computed = !matches!(self.b.graph().op(id), Op::Param(_) | Op::Const(_));
            if is_computed {
                let name = syn::ext::IdentExt::unraw(&ident).to_string();
                self.names.entry(id).or_insert(name);
            }
        }
        self.bind(&ident, value);
    }

    /// The name a `let` pattern binds: `name` or `name: f64`.
    fn binding(&mut self, pat: &Pat) -> Option<Ident> {
        match pat {
            Pat::Ident(p) if p.mutability.is_some() => {
                let msg = "`let mut` is not supported; bind each new value with its own `let`";
                self.report(Place::of(&p.mutability), msg);
                Some(p.ident.clone())
            }
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p.ident.clone()),
            Pat::Type(t) if crate::check::is_f64(&t.ty) => self.binding(&t.pat),
            Pat::Type(t) => {
                let msg = format!(
                    "`let` of type `{}` is not supported; values are `f64`",
                    crate::check::text(&*t.ty)
                );
                self.report(Place::of(&t.ty), msg);
                self.binding(&t.pat)
            }
            other => {
                let msg = format!(
                    "the pattern `{}` is not supported; bind one name: `let name = expr;`",
                    crate::check::text(other)
                );
                self.report(Place::of(&other), msg);
                None
            }
        }
    }

    /// The float node of `value`, reporting an integer where a float is needed.
    fn float(&mut self, value: Value) -> Option<Id> {
        match value {
            Value::Float(id) => Some(id),
            Value::Int(v, span) => {
                let msg = format!(
                    "integer `{v}` where an `f64` is needed: integer arithmetic is not \
                     supported; write `{v}.0`"
                );
                self.report(span, msg);
                None
            }
        }
    }

    fn expr(&mut self, expr: &Expr) -> Option<Value> {
        if self.depth >= MAX_NESTING {
            let msg = format!(
                "expression nested deeper than {MAX_NESTING} levels; split it with `let` bindings"
            );
            return self.report(Place::of(&expr), msg);
        }
        self.depth += 1;
        let value = self.expr_inner(expr);
        self.depth -= 1;
        value
    }

    fn expr_inner(&mut self, expr: &Expr) -> Option<Value> {
        match expr {
            Expr::Lit(lit) => self.literal(&lit.lit),
            Expr::Path(path) => self.path(path),
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            Expr::Unary(u) => self.unary(u),
            Expr::Binary(b) if arithmetic(&b.op).is_some() => self.binary_chain(b),
            Expr::Binary(b) => self.unsupported_binary(b),
            Expr::Assign(a) => {
                self.expr(&a.right);
                let msg = format!(
                    "assignment `{} = ...` is not supported: values cannot be changed; bind the \
                     new value with `let`",
                    crate::check::text(&a.left)
                );
                self.report(Place::of(&a), msg)
            }
            Expr::MethodCall(call) => self.method_call(call),
            Expr::Call(call) => self.call(call),
            Expr::Block(b) if b.label.is_none() => self.block(&b.block),
            other => self.unsupported(other),
        }
    }

    fn literal(&mut self, lit: &Lit) -> Option<Value> {
        match lit {
            Lit::Float(f) if matches!(f.suffix(), "" | "f64") => match f.base10_parse::<f64>() {
                Ok(v) => Some(Value::Float(self.constant_at(v, f.span()))),
                Err(e) => self.report(Place::of(&f), e.to_string()),
            },
            Lit::Float(f) => {
                let msg = format!("`{}` literals are not supported; use `f64`", f.suffix());
                self.report(Place::of(&f), msg)
            }
            Lit::Int(i) if matches!(i.suffix(), "f64") => match i.base10_parse::<f64>() {
                Ok(v) => Some(Value::Float(self.constant_at(v, i.span()))),
                Err(e) => self.report(Place::of(&i), e.to_string()),
            },
            Lit::Int(i) => match i.base10_parse::<i64>() {
                Ok(v) => Some(Value::Int(v, i.span())),
                Err(e) => self.report(Place::of(&i), e.to_string()),
            },
            other => {
                let msg = format!(
                    "the literal `{}` is not a number",
                    crate::check::text(other)
                );
                self.report(Place::of(&other), msg)
            }
        }
    }

    fn constant_at(&mut self, value: f64, span: Span) -> Id {
        self.b.at(span);
        self.b.constant(value)
    }

    fn path(&mut self, path: &syn::ExprPath) -> Option<Value> {
        let segments: Vec<String> = path
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        let plain =
            path.qself.is_none() && path.path.segments.iter().all(|s| s.arguments.is_none());
        if plain && segments.len() == 1 && path.path.leading_colon.is_none() {
            if let Some(binding) = self.lookup(&segments[0]) {
                return binding;
            }
        }
        if let Some(constant) = plain.then(|| ops::constant(&segments)).flatten() {
            if constant.short {
                self.assumptions.push((path.clone(), constant.value));
            }
            return Some(Value::Float(self.constant_at(constant.value, path.span())));
        }
        let name = crate::check::text(path);
        let msg = format!(
            "`{name}` is not a parameter, a `let` binding, or a constant of `std::f64::consts` \
             or `f64` (such as `f64::EPSILON`); a `#[grad]` body cannot read other items: pass \
             the value as a parameter"
        );
        self.report(Place::of(&path), msg)
    }

    fn unary(&mut self, u: &syn::ExprUnary) -> Option<Value> {
        let operand = self.expr(&u.expr);
        match u.op {
            UnOp::Neg(_) => match operand? {
                Value::Int(v, span) => Some(Value::Int(-v, span)),
                Value::Float(id) => {
                    self.b.at(u.span());
                    Some(Value::Float(self.b.negate(id)))
                }
            },
            UnOp::Deref(_) => self.report(
                Place::of(&u),
                "dereferencing is not supported; values are `f64`",
            ),
            UnOp::Not(_) => {
                self.report(Place::of(&u), format!("`!` is not supported; {SUPPORTED}"))
            }
            _ => self.report(
                Place::of(&u),
                format!("this operator is not supported; {SUPPORTED}"),
            ),
        }
    }

    /// A chain of binary operators, lowered left to right in a loop so that a sum of ten
    /// thousand terms does not recurse ten thousand deep.
    fn binary_chain(&mut self, top: &syn::ExprBinary) -> Option<Value> {
        let mut links = vec![top];
        while let Expr::Binary(inner) = &*links[links.len() - 1].left {
            if arithmetic(&inner.op).is_none() {
                break;
            }
            links.push(inner);
        }
        let mut acc = self.expr(&links[links.len() - 1].left);
        for link in links.iter().rev() {
            let right = self.expr(&link.right);
            acc = self.binary(link, acc, right);
        }
        acc
    }

    fn binary(
        &mut self,
        e: &syn::ExprBinary,
        left: Option<Value>,
        right: Option<Value>,
    ) -> Option<Value> {
        let op = arithmetic(&e.op)?;
        let (left, right) = (left?, right?);
        if let (Value::Int(..), Value::Int(..)) = (left, right) {
            let msg = "integer arithmetic is not supported: write a `powi` exponent as one \
                       literal such as `5`, and float values with a decimal point such as `2.0`";
            return self.report(Place::of(&e), msg);
        }
        let (l, r) = (self.float(left), self.float(right));
        self.b.at(e.span());
        Some(Value::Float(self.b.add(op, vec![l?, r?])))
    }

    /// A binary operator outside `+ - * /`: reported under the operator. For an assignment
    /// (`+=`) only the right side is lowered, since the left is not read as a value.
    fn unsupported_binary(&mut self, e: &syn::ExprBinary) -> Option<Value> {
        let assigns = matches!(
            e.op,
            BinOp::AddAssign(_) | BinOp::SubAssign(_) | BinOp::MulAssign(_) | BinOp::DivAssign(_)
        );
        if !assigns {
            self.expr(&e.left);
        }
        self.expr(&e.right);
        self.report(Place::of(&e.op), binop_message(&e.op))
    }

    fn method_call(&mut self, call: &syn::ExprMethodCall) -> Option<Value> {
        let receiver = self.expr(&call.receiver);
        let args: Vec<Option<Value>> = call.args.iter().map(|a| self.expr(a)).collect();
        if call.turbofish.is_some() {
            let msg = "type arguments on a method are not supported";
            return self.report(Place::of(&call.turbofish), msg);
        }
        let mut operands = vec![receiver];
        operands.extend(args);
        self.apply(
            &call.method.to_string(),
            call.method.span(),
            call.span(),
            operands,
        )
    }

    fn call(&mut self, call: &syn::ExprCall) -> Option<Value> {
        let args: Vec<Option<Value>> = call.args.iter().map(|a| self.expr(a)).collect();
        if let Expr::Path(p) = &*call.func {
            let local = p.path.get_ident().and_then(|i| self.lookup(&i.to_string()));
            if local.is_some_and(|binding| binding.is_none()) {
                // A binding that failed (a closure, say) was reported where it was made.
                return None;
            }
        }
        let name = match &*call.func {
            Expr::Path(p) if p.qself.is_none() => {
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                match segs
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    ["f64", name] => Some(name.to_string()),
                    _ => None,
                }
            }
            _ => None,
        };
        match name {
            Some(name) => self.apply(&name, call.func.span(), call.span(), args),
            None => {
                let msg = format!(
                    "calls to `{}` are not supported; a `#[grad]` body can call the f64 methods \
                     as `f64::name(x, ...)`: {}",
                    crate::check::text(&*call.func),
                    ops::method_list()
                );
                self.report(Place::of(&call.func), msg)
            }
        }
    }

    /// Applies the method `name` to `operands` (the receiver first).
    fn apply(
        &mut self,
        name: &str,
        name_span: Span,
        span: Span,
        operands: Vec<Option<Value>>,
    ) -> Option<Value> {
        let Some(method) = ops::method(name) else {
            let msg = format!(
                "the method `{name}` is not supported; gradgen differentiates these f64 \
                 methods: {}",
                ops::method_list()
            );
            return self.report(name_span, msg);
        };
        if operands.len() != method.arity {
            let msg = format!(
                "`{name}` takes {} argument{} besides the receiver",
                method.arity - 1,
                if method.arity == 2 { "" } else { "s" }
            );
            return self.report(span, msg);
        }
        let operands: Vec<Value> = operands.into_iter().collect::<Option<_>>()?;
        if method.name == "powi" {
            return self.powi(operands[0], operands[1], span);
        }
        let ids: Vec<Option<Id>> = operands.into_iter().map(|v| self.float(v)).collect();
        let ids: Vec<Id> = ids.into_iter().collect::<Option<_>>()?;
        self.b.at(span);
        Some(Value::Float(self.b.add(method.op, ids)))
    }

    fn powi(&mut self, base: Value, exponent: Value, span: Span) -> Option<Value> {
        let base = self.float(base)?;
        let n = match exponent {
            Value::Int(n, s) => i32::try_from(n).map_err(|_| s),
            Value::Float(id) => Err(self.b.graph().span(id)),
        };
        match n {
            Ok(n) => {
                self.b.at(span);
                Some(Value::Float(self.b.add(Op::Powi(n), vec![base])))
            }
            Err(s) => self.report(
                s,
                "`powi` takes an integer literal exponent such as `2` or `-3`; use `powf` for a \
                 float exponent",
            ),
        }
    }

    fn unsupported(&mut self, expr: &Expr) -> Option<Value> {
        let hint = match expr {
            Expr::If(_) | Expr::Match(_) => " yet (for a kink, use `max`, `min`, `abs` or `clamp`)",
            Expr::ForLoop(_) | Expr::Cast(_) | Expr::Index(_) | Expr::Array(_) => " yet",
            _ => "",
        };
        let msg = format!("{} not supported{hint}; {SUPPORTED}", describe(expr));
        self.report(Place::of(&expr), msg)
    }
}

/// The IR operation of an arithmetic operator, `None` for any other operator.
fn arithmetic(op: &BinOp) -> Option<Op> {
    match op {
        BinOp::Add(_) => Some(Op::Add),
        BinOp::Sub(_) => Some(Op::Sub),
        BinOp::Mul(_) => Some(Op::Mul),
        BinOp::Div(_) => Some(Op::Div),
        _ => None,
    }
}

fn binop_message(op: &BinOp) -> String {
    let symbol = crate::check::text(op);
    match op {
        BinOp::AddAssign(_) | BinOp::SubAssign(_) | BinOp::MulAssign(_) | BinOp::DivAssign(_) => {
            format!("`{symbol}` is not supported: values cannot be changed; bind the new value with `let`")
        }
        BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) | BinOp::Eq(_) | BinOp::Ne(_) => {
            format!("comparisons (`{symbol}`) are not supported yet; for a kink use `max`, `min`, `abs` or `clamp`")
        }
        _ => format!("the operator `{symbol}` is not supported; {SUPPORTED}"),
    }
}

/// What the user wrote, named for an error message ("`while` loops are").
fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::While(_) => "`while` loops are",
        Expr::Loop(_) => "`loop` is",
        Expr::ForLoop(_) => "`for` loops are",
        Expr::Match(_) => "`match` is",
        Expr::If(_) => "`if` is",
        Expr::Closure(_) => "closures are",
        Expr::Reference(r) if r.mutability.is_some() => "`&mut` references are",
        Expr::Reference(_) => "references are",
        Expr::Assign(_) => "assignment is",
        Expr::Index(_) => "indexing is",
        Expr::Array(_) | Expr::Repeat(_) => "arrays are",
        Expr::Tuple(_) => "tuples are",
        Expr::Cast(_) => "`as` casts are",
        Expr::Field(_) => "field access is",
        Expr::Macro(_) => "macros are",
        Expr::Range(_) => "ranges are",
        Expr::Struct(_) => "structs are",
        Expr::Try(_) => "the `?` operator is",
        Expr::Async(_) | Expr::Await(_) => "`async` is",
        Expr::Unsafe(_) => "`unsafe` blocks are",
        Expr::Block(_) => "labelled blocks are",
        Expr::Break(_) | Expr::Continue(_) => "`break` and `continue` are",
        _ => "this expression is",
    }
}
