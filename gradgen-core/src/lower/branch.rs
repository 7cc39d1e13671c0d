//! `if` on a float condition: both arms are lowered, and every value they leave behind (the
//! `if`'s own value, each variable either arm assigns, a `return` in one arm) becomes a select
//! on the condition. The graph stays a DAG; emission puts the work only one arm needs inside
//! that arm (see [`crate::emit`]), and the adjoint of an untaken arm is an exact 0 (see
//! `select_distribute` in [`crate::simplify`]), so the untaken side neither runs nor leaks a
//! NaN into the gradient.
//!
//! Before / after, for `let mut t = x; if x < 0.0 { t += 1.0; } t * t`:
//!
//! ```text
//! %2 = cmp < %0, %1
//! %4 = add %0, %3
//! %5 = select %2, %4, %0    ; t after the if
//! %6 = mul %5, %5
//! ```

use super::value::Value;
use super::{Binding, Lower};
use crate::error::Place;
use crate::ir::{Id, Op};

impl Lower<'_> {
    /// `if c { ... } else { ... }` on the condition node `c`.
    pub(super) fn float_if(&mut self, c: Id, e: &syn::ExprIf) -> Option<Value> {
        let before = self.snapshot();
        let (then_value, then_returned) = self.arm(c, |l| l.block(&e.then_branch));
        let after_then = std::mem::replace(&mut self.scopes, before);
        let not_c = self.b.add(Op::Not, vec![c]);
        let (else_value, else_returned) = match &e.else_branch {
            Some((_, otherwise)) => self.arm(not_c, |l| l.expr(otherwise)),
            None => (Some(Value::Unit), None),
        };
        let after_else = std::mem::take(&mut self.scopes);
        match (then_returned, else_returned) {
            (Some(t), Some(o)) => {
                self.scopes = after_else;
                let returned = self.merge(c, t?, o?, e);
                self.returned = Some(returned);
                Some(Value::Unit)
            }
            (Some(t), None) => {
                self.scopes = after_else;
                self.return_under(c, t);
                else_value
            }
            (None, Some(o)) => {
                self.scopes = after_then;
                self.return_under(not_c, o);
                then_value
            }
            (None, None) => {
                self.scopes = self.merge_scopes(c, after_then, after_else, e)?;
                self.merge(c, then_value?, else_value?, e)
            }
        }
    }

    fn snapshot(&self) -> Vec<Vec<Binding>> {
        self.scopes.clone()
    }

    /// Lowers one arm under `condition`; returns its value and, if it returned, what.
    fn arm(
        &mut self,
        condition: Id,
        lower: impl FnOnce(&mut Self) -> Option<Value>,
    ) -> (Option<Value>, Option<Option<Value>>) {
        self.path.push(condition);
        let value = lower(self);
        self.path.pop();
        (value, self.returned.take())
    }

    /// Records a `return` that runs when `condition` holds on the current path.
    fn return_under(&mut self, condition: Id, value: Option<Value>) {
        let mut full = condition;
        for &outer in self.path.iter().rev() {
            full = self.b.add(Op::And, vec![outer, full]);
        }
        self.conditional_returns.push((full, value));
    }

    /// The bindings after the `if`: each variable that the arms left different is a select.
    fn merge_scopes(
        &mut self,
        c: Id,
        then: Vec<Vec<Binding>>,
        otherwise: Vec<Vec<Binding>>,
        at: &dyn quote::ToTokens,
    ) -> Option<Vec<Vec<Binding>>> {
        let mut merged = Vec::with_capacity(then.len());
        for (t_scope, o_scope) in then.into_iter().zip(otherwise) {
            let mut scope = Vec::with_capacity(t_scope.len());
            for (t, o) in t_scope.into_iter().zip(o_scope) {
                let value = match (t.value, o.value) {
                    (Some(a), Some(b)) => self.merge(c, a, b, at),
                    _ => None,
                };
                scope.push(Binding { value, ..o });
            }
            merged.push(scope);
        }
        Some(merged)
    }

    /// A boolean as a node: a condition is one already; a constant becomes a comparison that
    /// is always true or always false (`0 == 0`, `0 != 0`).
    fn boolean(&mut self, v: Value) -> Id {
        match v {
            Value::Cond(id) => id,
            Value::Bool(b) => {
                let zero = self.b.int(0);
                let cmp = if b {
                    crate::ir::Cmp::Eq
                } else {
                    crate::ir::Cmp::Ne
                };
                self.b.compare(cmp, zero, zero)
            }
            _ => self.b.int(0),
        }
    }

    /// The value that is `a` when `c` holds and `b` otherwise.
    pub(super) fn merge(
        &mut self,
        c: Id,
        a: Value,
        b: Value,
        at: &dyn quote::ToTokens,
    ) -> Option<Value> {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) if x == y => Some(Value::Float(x)),
            (Value::Float(x), Value::Float(y)) => Some(Value::Float(self.b.select(c, x, y))),
            (Value::Int(x, s), Value::Int(y, _)) if x == y => Some(Value::Int(x, s)),
            (Value::RtInt(x), Value::RtInt(y)) if x == y => Some(Value::RtInt(x)),
            (Value::Cond(x), Value::Cond(y)) if x == y => Some(Value::Cond(x)),
            (Value::Bool(x), Value::Bool(y)) if x == y => Some(Value::Bool(x)),
            (Value::Index(x), Value::Index(y)) if x == y => Some(Value::Index(x)),
            (Value::Buffer(x), Value::Buffer(y)) if x == y => Some(Value::Buffer(x)),
            (Value::Elements(x, i), Value::Elements(y, j)) if x == y && i == j => {
                Some(Value::Elements(x, i))
            }
            (a @ (Value::Cond(_) | Value::Bool(_)), b @ (Value::Cond(_) | Value::Bool(_))) => {
                // `(c && a) || (!c && b)`: booleans have no select of their own.
                let (a, b) = (self.boolean(a), self.boolean(b));
                let not_c = self.b.add(Op::Not, vec![c]);
                let (when, otherwise) = (
                    self.b.add(Op::And, vec![c, a]),
                    self.b.add(Op::And, vec![not_c, b]),
                );
                Some(Value::Cond(self.b.add(Op::Or, vec![when, otherwise])))
            }
            (Value::Unit, Value::Unit) => Some(Value::Unit),
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                let pairs = x.iter().cloned().zip(y.iter().cloned());
                let merged: Option<Vec<Value>> =
                    pairs.map(|(a, b)| self.merge(c, a, b, at)).collect();
                Some(Value::array(merged?))
            }
            (Value::Tuple(x), Value::Tuple(y)) if x.len() == y.len() => {
                let merged: Option<Vec<Value>> = x
                    .into_iter()
                    .zip(y)
                    .map(|(a, b)| self.merge(c, a, b, at))
                    .collect();
                Some(Value::Tuple(merged?))
            }
            (Value::Int(x, _), Value::Int(y, _)) => {
                let msg = format!(
                    "after this `if` on a float condition, an integer is `{x}` in one arm and \
                     `{y}` in the other; gradgen settles integers at compile time, so both arms \
                     must give the same one (compute a float instead)"
                );
                self.report(Place::of(at), msg)
            }
            (a, b) => {
                let msg = format!(
                    "after this `if` on a float condition, a value is {} in one arm and {} in \
                     the other; gradgen can join floats (and arrays and tuples of them), and \
                     integers or booleans only where both arms agree",
                    a.kind(),
                    b.kind()
                );
                self.report(Place::of(at), msg)
            }
        }
    }
}
