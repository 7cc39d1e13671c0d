//! Lowering of expressions: literals, names, operators, casts, indexing, calls.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Lit, UnOp};

use super::value::{int_op, IntResult, Value};
use super::{Lower, MAX_NESTING, SUPPORTED};
use crate::error::Place;
use crate::ir::{Id, Op};
use crate::ops;

impl Lower<'_> {
    pub(super) fn expr(&mut self, expr: &Expr) -> Option<Value> {
        if self.returned.is_some() {
            return Some(Value::Unit);
        }
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
            Expr::Binary(b) if assignment(&b.op).is_some() => {
                self.assign(&b.left, assignment(&b.op).as_ref(), &b.right)
            }
            Expr::Binary(b) => self.binary_chain(b),
            Expr::Assign(a) => self.assign(&a.left, None, &a.right),
            Expr::MethodCall(call) => self.method_call(call),
            Expr::Call(call) => self.call(call),
            Expr::Block(b) if b.label.is_none() => self.block(&b.block),
            Expr::Index(ix) => self.index_expr(ix),
            Expr::Array(a) => {
                let elements: Option<Vec<Value>> = a.elems.iter().map(|e| self.expr(e)).collect();
                Some(Value::array(elements?))
            }
            Expr::Repeat(r) => self.repeat(r),
            Expr::Tuple(t) => {
                let parts: Option<Vec<Value>> = t.elems.iter().map(|e| self.expr(e)).collect();
                Some(if t.elems.is_empty() {
                    Value::Unit
                } else {
                    Value::Tuple(parts?)
                })
            }
            Expr::Cast(c) => self.cast(c),
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::If(e) => self.if_expr(e),
            Expr::Return(r) => self.return_expr(r),
            other => self.unsupported(other),
        }
    }

    fn return_expr(&mut self, r: &syn::ExprReturn) -> Option<Value> {
        let value = match &r.expr {
            Some(e) => self.expr(e),
            None => self.report(Place::of(&r), "`return` needs an `f64` value"),
        };
        self.returned = Some(value);
        Some(Value::Unit)
    }

    fn literal(&mut self, lit: &Lit) -> Option<Value> {
        let float = self.b.graph().float();
        match lit {
            Lit::Float(f) => self.float_literal(f.suffix(), f.base10_digits(), f),
            Lit::Int(i) if matches!(i.suffix(), "f64" | "f32") => {
                self.float_literal(i.suffix(), i.base10_digits(), i)
            }
            Lit::Int(i) => match i.base10_parse::<i64>() {
                Ok(v) => Some(Value::Int(v, i.span())),
                Err(e) => self.report(Place::of(&i), e.to_string()),
            },
            Lit::Bool(b) => Some(Value::Bool(b.value)),
            other => {
                let text = crate::check::text(other);
                let msg = format!("the literal `{text}` is not a number of `{}`", float.name());
                self.report(Place::of(&other), msg)
            }
        }
    }

    /// A float literal, read straight to the function's float type (an `f32` literal is not
    /// rounded twice, through `f64`).
    fn float_literal(
        &mut self,
        suffix: &str,
        digits: &str,
        at: &dyn quote::ToTokens,
    ) -> Option<Value> {
        let float = self.b.graph().float();
        if !suffix.is_empty() && suffix != float.name() {
            let msg = format!(
                "a `{suffix}` literal in a function of `{}`: a `#[grad]` function computes in one \
                 float type",
                float.name()
            );
            return self.report(Place::of(at), msg);
        }
        let value = match float {
            crate::ir::FloatTy::F64 => digits.parse::<f64>().ok(),
            crate::ir::FloatTy::F32 => digits.parse::<f32>().ok().map(f64::from),
        };
        let span = Place::of(at).start;
        match value {
            Some(v) => Some(Value::Float(self.constant_at(v, span))),
            None => self.report(span, format!("`{digits}` is not a number")),
        }
    }

    fn constant_at(&mut self, value: f64, span: Span) -> Id {
        self.b.at(span);
        self.b.constant(value)
    }

    fn path(&mut self, path: &syn::ExprPath) -> Option<Value> {
        let segments = crate::check::plain_segments(&path.path).unwrap_or_default();
        let plain = path.qself.is_none() && !segments.is_empty();
        if plain && segments.len() == 1 && path.path.leading_colon.is_none() {
            // Bindings are named without `r#`.
            let name = crate::check::unraw_str(&segments[0]);
            if let Some((scope, binding)) = self.lookup_scoped(name) {
                let Some(value) = binding else {
                    self.silenced += 1;
                    return None;
                };
                return self.lift(scope, value);
            }
        }
        if let Some(name) = segments.last().filter(|_| plain) {
            if let Some(value) = self.consts.get(name) {
                self.const_uses.push((path.path.clone(), value));
                return Some(Value::Int(value, path.span()));
            }
        }
        let float = self.b.graph().float();
        if let Some(constant) = plain.then(|| ops::constant(&segments, float)).flatten() {
            if constant.short {
                self.assumptions.push((path.clone(), constant.value));
            }
            return Some(Value::Float(self.constant_at(constant.value, path.span())));
        }
        if let Some(why) = segments.last().and_then(|n| self.consts.why_not(n)) {
            return self.report(Place::of(&path), why);
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
        let operand = self.expr(&u.expr)?;
        match (u.op, operand) {
            (UnOp::Neg(_), Value::Int(v, span)) => match v.checked_neg() {
                Some(negated) => Some(Value::Int(negated, span)),
                None => self.report(Place::of(&u), format!("`-({v})` overflows an `i64`")),
            },
            (UnOp::Neg(_), Value::Float(id)) => {
                self.b.at(u.span());
                Some(Value::Float(self.b.negate(id)))
            }
            (UnOp::Not(_), Value::Bool(b)) => Some(Value::Bool(!b)),
            (UnOp::Not(_), Value::Cond(c)) => Some(Value::Cond(self.b.add(Op::Not, vec![c]))),
            (UnOp::Deref(_), _) => self.report(
                Place::of(&u),
                "dereferencing is not supported; values are `f64`",
            ),
            (op, value) => {
                let msg = format!(
                    "`{}` does not apply to {}",
                    crate::check::text(&op),
                    value.kind()
                );
                self.report(Place::of(&u), msg)
            }
        }
    }

    /// A chain of binary operators, lowered left to right in a loop so that a sum of ten
    /// thousand terms does not recurse ten thousand deep.
    fn binary_chain(&mut self, top: &syn::ExprBinary) -> Option<Value> {
        let mut links = vec![top];
        while let Expr::Binary(inner) = &*links[links.len() - 1].left {
            if assignment(&inner.op).is_some() || is_lazy(&inner.op) {
                break;
            }
            links.push(inner);
        }
        let mut acc = self.expr(&links[links.len() - 1].left);
        for link in links.iter().rev() {
            acc = match acc {
                Some(Value::Bool(b)) if is_lazy(&link.op) => self.lazy(&link.op, b, &link.right),
                Some(Value::Cond(c)) if is_lazy(&link.op) => {
                    self.lazy_cond(&link.op, c, &link.right)
                }
                Some(left) => {
                    let right = self.expr(&link.right);
                    self.binary_op(&link.op, *link, left, right?)
                }
                None => {
                    self.expr(&link.right);
                    None
                }
            };
        }
        acc
    }

    /// `a && b` and `a || b` on a boolean known at compile time: `b` is lowered only when it
    /// decides the result, as Rust would evaluate it.
    fn lazy(&mut self, op: &BinOp, left: bool, right: &Expr) -> Option<Value> {
        let decided = matches!(op, BinOp::And(_)) != left;
        if decided {
            return Some(Value::Bool(left));
        }
        match self.expr(right)? {
            Value::Bool(b) => Some(Value::Bool(b)),
            Value::Cond(c) => Some(Value::Cond(c)),
            other => {
                let msg = format!("`&&` and `||` need booleans, not {}", other.kind());
                self.report(Place::of(&right), msg)
            }
        }
    }

    /// `c && right` or `c || right` with `c` a condition on floats.
    fn lazy_cond(&mut self, op: &BinOp, c: Id, right: &Expr) -> Option<Value> {
        let and = matches!(op, BinOp::And(_));
        match self.expr(right)? {
            Value::Bool(b) if b == and => Some(Value::Cond(c)),
            Value::Bool(b) => Some(Value::Bool(b)),
            Value::Cond(r) => {
                let node = if and { Op::And } else { Op::Or };
                Some(Value::Cond(self.b.add(node, vec![c, r])))
            }
            other => {
                let msg = format!("`&&` and `||` need booleans, not {}", other.kind());
                self.report(Place::of(&right), msg)
            }
        }
    }

    /// `left op right`: float arithmetic builds a node, float comparisons a condition, integer
    /// arithmetic and comparisons are evaluated.
    /// `at` is the whole expression, for error messages only: reading its tokens costs its
    /// size, so the success path never does.
    pub(super) fn binary_op(
        &mut self,
        op: &BinOp,
        at: &dyn quote::ToTokens,
        left: Value,
        right: Value,
    ) -> Option<Value> {
        match (left, right) {
            (Value::Float(l), Value::Float(r)) => {
                if let Some(cmp) = comparison(op) {
                    self.b.at(op.span());
                    return Some(Value::Cond(self.b.compare(cmp, l, r)));
                }
                let Some(arith) = arithmetic(op) else {
                    return self.report(Place::of(op), float_operator_message(op));
                };
                self.b.at(op.span());
                let op = arith;
                Some(Value::Float(self.b.add(op, vec![l, r])))
            }
            (Value::Int(a, span), Value::Int(b, _)) => match int_op(op, a, b) {
                Some(IntResult::Int(v)) => Some(Value::Int(v, span)),
                Some(IntResult::Bool(v)) => Some(Value::Bool(v)),
                None => {
                    let msg = format!(
                        "`{a} {} {b}` overflows, divides by zero, or is not an integer operation",
                        crate::check::text(op)
                    );
                    self.report(Place::of(at), msg)
                }
            },
            (l @ (Value::RtInt(_) | Value::Int(..)), r @ (Value::RtInt(_) | Value::Int(..))) => {
                self.runtime_integers(op, at, l, r)
            }
            (l @ (Value::Index(_) | Value::Int(..)), r @ (Value::Index(_) | Value::Int(..))) => {
                self.index_arithmetic(op, l, r)
            }
            (Value::Int(v, span), Value::Float(_)) | (Value::Float(_), Value::Int(v, span)) => {
                let msg = format!(
                    "integer `{v}` where an `f64` is needed; write `{v}.0`, or `i as f64` for a \
                     loop variable (integer arithmetic stays integer: `3 / 2` is `1`)"
                );
                self.report(span, msg)
            }
            (Value::RtInt(_), Value::Float(_)) | (Value::Float(_), Value::RtInt(_)) => {
                let msg = format!(
                    "`{}` of a float and an integer parameter; convert the integer with \
                     `n as f64`",
                    crate::check::text(op)
                );
                self.report(Place::of(at), msg)
            }
            (Value::Bool(a), Value::Bool(b)) if matches!(op, BinOp::Eq(_) | BinOp::Ne(_)) => {
                Some(Value::Bool((a == b) == matches!(op, BinOp::Eq(_))))
            }
            (l, r) => {
                let msg = format!(
                    "`{}` does not apply to {} and {}",
                    crate::check::text(op),
                    l.kind(),
                    r.kind()
                );
                self.report(Place::of(at), msg)
            }
        }
    }

    /// A comparison involving an integer parameter, done at run time; arithmetic on one is not
    /// supported (it would have to be an integer node of its own).
    fn runtime_integers(
        &mut self,
        op: &BinOp,
        at: &dyn quote::ToTokens,
        l: Value,
        r: Value,
    ) -> Option<Value> {
        let Some(cmp) = comparison(op) else {
            let msg = "arithmetic on integer parameters is not supported; compare them, or \
                       convert them with `as f64`";
            return self.report(Place::of(at), msg);
        };
        let mut node = |v: Value| match v {
            Value::RtInt(id) => id,
            Value::Int(i, _) => self.b.int(i),
            _ => self.b.int(0),
        };
        let (l, r) = (node(l), node(r));
        self.b.at(op.span());
        Some(Value::Cond(self.b.compare(cmp, l, r)))
    }

    fn cast(&mut self, c: &syn::ExprCast) -> Option<Value> {
        let value = self.expr(&c.expr)?;
        let target = crate::check::text(&c.ty);
        let same_float = crate::check::float_type(&c.ty) == Some(self.b.graph().float());
        let to_int = matches!(
            target.as_str(),
            "usize" | "isize" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64"
        );
        match value {
            Value::Int(v, span) if same_float => {
                // Integers below 2^53 convert exactly, as `as f64` does at run time.
                Some(Value::Float(self.constant_at(v as f64, span)))
            }
            Value::Int(v, span) if to_int => Some(Value::Int(wrap(v, &target), span)),
            Value::Float(id) if same_float => Some(Value::Float(id)),
            Value::RtInt(id) if same_float => {
                self.b.at(c.span());
                Some(Value::Float(self.b.add(Op::IntToFloat, vec![id])))
            }
            Value::RtInt(id) if to_int => Some(Value::RtInt(id)),
            Value::Index(a) if same_float => self.index_as_float(a),
            Value::Index(a) if to_int => Some(Value::Index(a)),
            other => {
                let msg = format!(
                    "`as {target}` on {} is not supported; gradgen supports `as f64` on integers \
                     (`i as f64`) and integer casts of integers",
                    other.kind()
                );
                self.report(Place::of(&c), msg)
            }
        }
    }

    fn index_expr(&mut self, ix: &syn::ExprIndex) -> Option<Value> {
        let base = self.expr(&ix.expr)?;
        let index = self.expr(&ix.index)?;
        let runtime_base = matches!(base, Value::Buffer(_) | Value::Elements(..));
        if runtime_base || matches!(index, Value::Index(_)) {
            return self.index_runtime(base, index);
        }
        match index {
            Value::RtInt(id) => self.element_at_run_time(&base, id, &ix.index),
            Value::Int(i, _) => match usize::try_from(i) {
                Ok(i) => self.element_at(&base, i, &ix.index),
                Err(_) => self.report(Place::of(&ix.index), format!("negative index `{i}`")),
            },
            other => {
                let msg = format!("an index must be an integer, not {}", other.kind());
                self.report(Place::of(&ix.index), msg)
            }
        }
    }

    /// `a[n]` with `n` an integer parameter: a select of the elements on `n == k`, and a check
    /// that `n` is in bounds, as indexing would panic (see `Function::index_checks`).
    fn element_at_run_time(&mut self, base: &Value, n: Id, index: &Expr) -> Option<Value> {
        let Value::Array(items) = base else {
            let msg = format!("{} cannot be indexed", base.kind());
            return self.report(Place::of(&index), msg);
        };
        let Some((last, rest)) = items.split_last() else {
            return self.report(Place::of(&index), "an empty array cannot be indexed");
        };
        self.index_checks.push((n, items.len()));
        let mut value = last.clone();
        for (k, item) in rest.iter().enumerate().rev() {
            let k = self.b.int(i64::try_from(k).unwrap_or(i64::MAX));
            let is_k = self.b.compare(crate::ir::Cmp::Eq, n, k);
            value = self.merge(is_k, item.clone(), value, index)?;
        }
        Some(value)
    }

    /// The element `i` of an array, reporting an index out of bounds or a non-array base.
    pub(super) fn element_at(&mut self, base: &Value, i: usize, index: &Expr) -> Option<Value> {
        match base {
            Value::Array(items) if i < items.len() => Some(items[i].clone()),
            Value::Array(items) => {
                let msg = format!(
                    "index {i} is out of bounds for an array of length {}",
                    items.len()
                );
                self.report(Place::of(&index), msg)
            }
            other => {
                let msg = format!("{} cannot be indexed", other.kind());
                self.report(Place::of(&index), msg)
            }
        }
    }

    fn repeat(&mut self, r: &syn::ExprRepeat) -> Option<Value> {
        let element = self.expr(&r.expr)?;
        let len = self.index(&r.len)?;
        if len > super::MAX_ARRAY_LEN {
            let max = super::MAX_ARRAY_LEN;
            let msg = format!("an array of {len} elements is more than {max} (`MAX_ARRAY_LEN`)");
            return self.report(Place::of(&r.len), msg);
        }
        Some(Value::array(vec![element; len]))
    }

    fn method_call(&mut self, call: &syn::ExprMethodCall) -> Option<Value> {
        let receiver = self.expr(&call.receiver);
        let args: Vec<Option<Value>> = call.args.iter().map(|a| self.expr(a)).collect();
        if call.turbofish.is_some() {
            let msg = "type arguments on a method are not supported";
            return self.report(Place::of(&call.turbofish), msg);
        }
        match (call.method.to_string().as_str(), &receiver) {
            ("len", Some(Value::Array(items))) if args.is_empty() => {
                return Some(Value::Int(items.len() as i64, call.span()));
            }
            ("sin_cos", _) if args.is_empty() => return self.sin_cos(receiver?, call.span()),
            _ => {}
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

    fn sin_cos(&mut self, receiver: Value, span: Span) -> Option<Value> {
        let x = self.float(receiver)?;
        self.b.at(span);
        let (s, c) = (self.b.call(Op::Sin, x), self.b.call(Op::Cos, x));
        Some(Value::Tuple(vec![Value::Float(s), Value::Float(c)]))
    }

    fn call(&mut self, call: &syn::ExprCall) -> Option<Value> {
        let args: Vec<Option<Value>> = call.args.iter().map(|a| self.expr(a)).collect();
        let Expr::Path(p) = &*call.func else {
            return self.unsupported_call(&call.func);
        };
        if let Some(ident) = p.path.get_ident() {
            if self
                .lookup(&syn::ext::IdentExt::unraw(ident).to_string())
                .is_some_and(|binding| binding.is_none())
            {
                // A binding that failed (a closure, say) was reported where it was made.
                self.silenced += 1;
                return None;
            }
        }
        let segments = crate::check::plain_segments(&p.path).unwrap_or_default();
        match segments
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [ty, name] if p.qself.is_none() && *ty == self.b.graph().float().name() => {
                self.apply(name, call.func.span(), call.span(), args)
            }
            [name] if p.qself.is_none() && p.path.leading_colon.is_none() => {
                let name = crate::check::unraw_str(name);
                self.call_with_gradient(name, call, args)
            }
            [_, ..] if p.qself.is_none() => {
                let colon = if p.path.leading_colon.is_some() {
                    "::"
                } else {
                    ""
                };
                let path = format!("{colon}{}", segments.join("::"));
                self.call_with_gradient(&path, call, args)
            }
            _ => self.unsupported_call(&call.func),
        }
    }

    /// A call of another function `f`, which must have `f_grad` beside it: `#[grad]` on `f`
    /// makes one, and a user can write one by hand to give `f` a derivative of their own.
    /// `name` may be a path (`m::f`, `Self::f`); its `_grad` is then looked up at the same path.
    fn call_with_gradient(
        &mut self,
        name: &str,
        call: &syn::ExprCall,
        args: Vec<Option<Value>>,
    ) -> Option<Value> {
        if self.lookup(name).is_some() {
            let msg = format!("`{name}` is a variable, not a function");
            return self.report(Place::of(&call.func), msg);
        }
        let own = name.strip_prefix("Self::").unwrap_or(name);
        if crate::check::unraw_str(own) == self.own_name {
            // Recursion is not differentiated: `_grad` would call itself, and wherever the call's
            // value is also read outside its arm it runs before the branch, base case or not.
            let msg = format!(
                "a `#[grad]` function cannot call itself: `{name}_grad` would recurse without \
                 end; write the recursion as a loop"
            );
            return self.report(Place::of(&call.func), msg);
        }
        let args: Vec<Value> = args.into_iter().collect::<Option<_>>()?;
        let mut ids = Vec::with_capacity(args.len());
        for (arg, expr) in args.into_iter().zip(&call.args) {
            match arg {
                Value::Float(id) => ids.push(id),
                other => {
                    let msg = format!(
                        "a call of `{name}` passes {} here; calls of other functions take `f64` \
                         arguments",
                        other.kind()
                    );
                    return self.report(Place::of(&expr), msg);
                }
            }
        }
        let Ok(arity) = u8::try_from(ids.len()) else {
            return self.report(Place::of(&call), "a call takes at most 255 arguments");
        };
        let callee = self.b.callee(name);
        self.b.at(call.func.span());
        Some(Value::Float(self.b.add(Op::Call { callee, arity }, ids)))
    }

    fn unsupported_call(&mut self, func: &Expr) -> Option<Value> {
        let msg = format!(
            "calls to `{}` are not supported; a `#[grad]` body can call a function by its name \
             or path (`f(x)`, `m::f(x)`), which needs an `f_grad` beside it, and the f64 \
             methods as `f64::name(x, ...)`: {}",
            crate::check::text(func),
            ops::method_list()
        );
        self.report(Place::of(&func), msg)
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
            let (n, s) = (method.arity - 1, if method.arity == 2 { "" } else { "s" });
            let msg = format!("`{name}` takes {n} argument{s} besides the receiver");
            return self.report(span, msg);
        }
        let operands: Vec<Value> = operands.into_iter().collect::<Option<_>>()?;
        if method.name == "powi" {
            return self.powi(&operands[0], &operands[1], span);
        }
        let ids: Vec<Option<Id>> = operands.into_iter().map(|v| self.float(v)).collect();
        let ids: Vec<Id> = ids.into_iter().collect::<Option<_>>()?;
        self.b.at(span);
        Some(Value::Float(self.b.add(method.op, ids)))
    }

    fn powi(&mut self, base: &Value, exponent: &Value, span: Span) -> Option<Value> {
        let base = self.float(base.clone())?;
        let n = match exponent {
            Value::Int(n, s) => i32::try_from(*n).map_err(|_| *s),
            Value::Float(id) => Err(self.b.graph().span(*id)),
            Value::RtInt(_) => {
                let msg = "`powi` takes an integer exponent known at compile time; this one is an \
                           integer parameter, known only at run time: write \
                           `x.powf(n as f64)`";
                return self.report(span, msg);
            }
            _ => Err(span),
        };
        match n {
            Ok(n) => {
                self.b.at(span);
                Some(Value::Float(self.b.add(Op::Powi(n), vec![base])))
            }
            Err(s) => self.report(
                s,
                "`powi` takes an integer exponent known at compile time, such as `2`, `-3` or a \
                 loop variable; use `powf` for a float exponent",
            ),
        }
    }

    /// The float node of `value`, reporting anything else where a float is needed.
    pub(super) fn float(&mut self, value: Value) -> Option<Id> {
        match value {
            Value::Float(id) => Some(id),
            Value::Int(v, span) => self.float_needed(v, span),
            other => {
                let msg = format!("{} where an `f64` is needed", other.kind());
                self.report(Span::call_site(), msg).and(None)
            }
        }
    }

    fn unsupported(&mut self, expr: &Expr) -> Option<Value> {
        let hint = match expr {
            Expr::Match(_) => " yet (use `if` / `else`)",
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

/// `v as T` for an integer type `T`, wrapping as `as` does (`255 as i8` is `-1`). Values are
/// held as `i64`, so a `u64` or `usize` above `i64::MAX` keeps its wrapped `i64` bits.
fn wrap(v: i64, target: &str) -> i64 {
    match target {
        "i8" => i64::from(v as i8),
        "i16" => i64::from(v as i16),
        "i32" => i64::from(v as i32),
        "u8" => i64::from(v as u8),
        "u16" => i64::from(v as u16),
        "u32" => i64::from(v as u32),
        _ => v,
    }
}

/// The comparison of a comparison operator.
fn comparison(op: &BinOp) -> Option<crate::ir::Cmp> {
    use crate::ir::Cmp;
    Some(match op {
        BinOp::Lt(_) => Cmp::Lt,
        BinOp::Le(_) => Cmp::Le,
        BinOp::Gt(_) => Cmp::Gt,
        BinOp::Ge(_) => Cmp::Ge,
        BinOp::Eq(_) => Cmp::Eq,
        BinOp::Ne(_) => Cmp::Ne,
        _ => return None,
    })
}

/// The operator of a compound assignment (`+` for `+=`, with its span), `None` for other
/// operators.
fn assignment(op: &BinOp) -> Option<BinOp> {
    let span = op.span();
    match op {
        BinOp::AddAssign(_) => Some(BinOp::Add(syn::Token![+](span))),
        BinOp::SubAssign(_) => Some(BinOp::Sub(syn::Token![-](span))),
        BinOp::MulAssign(_) => Some(BinOp::Mul(syn::Token![*](span))),
        BinOp::DivAssign(_) => Some(BinOp::Div(syn::Token![/](span))),
        _ => None,
    }
}

/// Whether `op` is a compound assignment (`+=`, ...).
pub(super) fn is_assignment(op: &BinOp) -> bool {
    assignment(op).is_some()
}

fn is_lazy(op: &BinOp) -> bool {
    matches!(op, BinOp::And(_) | BinOp::Or(_))
}

fn float_operator_message(op: &BinOp) -> String {
    let symbol = crate::check::text(op);
    format!("the operator `{symbol}` is not supported on floats; {SUPPORTED}")
}

/// What the user wrote, named for an error message ("`while` loops are").
fn describe(expr: &Expr) -> &'static str {
    match expr {
        Expr::While(_) => "`while` loops are",
        Expr::Loop(_) => "`loop` is",
        Expr::Match(_) => "`match` is",
        Expr::Closure(_) => "closures are",
        Expr::Reference(r) if r.mutability.is_some() => "`&mut` references are",
        Expr::Reference(_) => "references are",
        Expr::Field(_) => "field access is",
        Expr::Macro(_) => "macros are",
        Expr::Range(_) => "ranges outside a `for` loop are",
        Expr::Struct(_) => "structs are",
        Expr::Try(_) => "the `?` operator is",
        Expr::Async(_) | Expr::Await(_) => "`async` is",
        Expr::Unsafe(_) => "`unsafe` blocks are",
        Expr::Block(_) => "labelled blocks are",
        Expr::Break(_) | Expr::Continue(_) => "`break` and `continue` are",
        _ => "this expression is",
    }
}
