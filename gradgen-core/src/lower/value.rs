//! The values of lowering: what a Rust expression of the body evaluates to while the body is
//! executed symbolically.
//!
//! Floats are graph nodes; integers and booleans are known at compile time (literals, loop
//! variables, and arithmetic on them), which is what lets loops unroll and integer conditions
//! settle before anything is emitted. Arrays and tuples hold values.

use std::rc::Rc;

use proc_macro2::Span;

use crate::ir::Id;

/// A lowered expression.
#[derive(Clone, Debug)]
pub enum Value {
    /// A float: a node of the graph.
    Float(Id),
    /// An integer known at compile time, with the span it came from.
    Int(i64, Span),
    /// A boolean known at compile time.
    Bool(bool),
    /// A boolean known only at run time (a comparison of floats, a `bool` parameter): a
    /// boolean node.
    Cond(Id),
    /// An integer known only at run time: an integer parameter.
    RtInt(Id),
    /// An array; shared until written, so reading `w[i][j]` does not copy `w`.
    Array(Rc<Vec<Value>>),
    /// A tuple, as returned by `sin_cos` or written `(a, b)`.
    Tuple(Vec<Value>),
    /// The value of a statement-like expression: an assignment, a loop, an `if` without `else`.
    Unit,
    /// An integer that depends on the variables of kept loops (see [`crate::region`]).
    Index(crate::region::Affine),
    /// A local array held in a buffer, because a kept loop indexes it at run time.
    Buffer(u32),
    /// A part of an array indexed at run time, not yet down to a float (`w[j]` of `w[j][k]`):
    /// the array and the indices so far.
    Elements(crate::region::ArrayRef, Vec<crate::region::Affine>),
}

impl Value {
    /// An array of these elements.
    pub fn array(elements: Vec<Value>) -> Value {
        Value::Array(Rc::new(elements))
    }

    /// What the value is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Float(_) => "a float",
            Value::Int(..) => "an integer",
            Value::Bool(_) => "a boolean",
            Value::Cond(_) => "a boolean known only at run time",
            Value::RtInt(_) => "an integer known only at run time (a parameter)",
            Value::Array(_) => "an array",
            Value::Tuple(_) => "a tuple",
            Value::Unit => "`()`",
            Value::Index(_) => "an integer that depends on a loop variable",
            Value::Buffer(_) | Value::Elements(..) => "an array",
        }
    }
}

/// An integer operation evaluated at compile time; `None` on overflow or division by zero.
pub fn int_op(op: &syn::BinOp, a: i64, b: i64) -> Option<IntResult> {
    use syn::BinOp::*;
    Some(match op {
        Add(_) => IntResult::Int(a.checked_add(b)?),
        Sub(_) => IntResult::Int(a.checked_sub(b)?),
        Mul(_) => IntResult::Int(a.checked_mul(b)?),
        Div(_) => IntResult::Int(a.checked_div(b)?),
        Rem(_) => IntResult::Int(a.checked_rem(b)?),
        Lt(_) => IntResult::Bool(a < b),
        Le(_) => IntResult::Bool(a <= b),
        Gt(_) => IntResult::Bool(a > b),
        Ge(_) => IntResult::Bool(a >= b),
        Eq(_) => IntResult::Bool(a == b),
        Ne(_) => IntResult::Bool(a != b),
        _ => return None,
    })
}

/// The result of [`int_op`].
pub enum IntResult {
    Int(i64),
    Bool(bool),
}
