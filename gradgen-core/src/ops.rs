//! The vocabulary of a `#[grad]` body: the float methods and constants gradgen knows.
//!
//! One table serves lowering (which names a user may write), emission (which name a node is
//! written back as) and the error messages (which names to suggest).

use crate::ir::{FloatTy, Op};

/// A float method that a body may call as `x.name(args)` or `f64::name(x, args)`.
#[derive(Clone, Copy, Debug)]
pub struct Method {
    /// The method's name, as written in Rust.
    pub name: &'static str,
    /// The IR operation; for `powi` the exponent is filled in by lowering.
    pub op: Op,
    /// The number of operands, the receiver included.
    pub arity: usize,
}

const fn m(name: &'static str, op: Op, arity: usize) -> Method {
    Method { name, op, arity }
}

/// Every supported method, in the order the README lists them.
pub const METHODS: &[Method] = &[
    m("sin", Op::Sin, 1),
    m("cos", Op::Cos, 1),
    m("tan", Op::Tan, 1),
    m("asin", Op::Asin, 1),
    m("acos", Op::Acos, 1),
    m("atan", Op::Atan, 1),
    m("atan2", Op::Atan2, 2),
    m("sinh", Op::Sinh, 1),
    m("cosh", Op::Cosh, 1),
    m("tanh", Op::Tanh, 1),
    m("asinh", Op::Asinh, 1),
    m("acosh", Op::Acosh, 1),
    m("atanh", Op::Atanh, 1),
    m("exp", Op::Exp, 1),
    m("exp2", Op::Exp2, 1),
    m("exp_m1", Op::ExpM1, 1),
    m("ln", Op::Ln, 1),
    m("log2", Op::Log2, 1),
    m("log10", Op::Log10, 1),
    m("ln_1p", Op::Ln1p, 1),
    m("log", Op::Log, 2),
    m("sqrt", Op::Sqrt, 1),
    m("cbrt", Op::Cbrt, 1),
    m("powi", Op::Powi(0), 2),
    m("powf", Op::Powf, 2),
    m("recip", Op::Recip, 1),
    m("abs", Op::Abs, 1),
    m("hypot", Op::Hypot, 2),
    m("max", Op::Max, 2),
    m("min", Op::Min, 2),
    m("clamp", Op::Clamp, 3),
    m("mul_add", Op::MulAdd, 3),
    m("floor", Op::Floor, 1),
    m("ceil", Op::Ceil, 1),
    m("round", Op::Round, 1),
    m("trunc", Op::Trunc, 1),
    m("signum", Op::Signum, 1),
];

/// The method called `name`.
pub fn method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// The method name a node of this operation is emitted as, if it is a method.
pub fn method_name(op: Op) -> Option<&'static str> {
    let op = if let Op::Powi(_) = op {
        Op::Powi(0)
    } else {
        op
    };
    METHODS.iter().find(|m| m.op == op).map(|m| m.name)
}

/// The names of the supported methods, for error messages.
pub fn method_list() -> String {
    METHODS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The constants of `std::f64::consts` that are stable, with their values.
pub const CONSTS: &[(&str, f64)] = &[
    ("E", std::f64::consts::E),
    ("FRAC_1_PI", std::f64::consts::FRAC_1_PI),
    ("FRAC_1_SQRT_2", std::f64::consts::FRAC_1_SQRT_2),
    ("FRAC_2_PI", std::f64::consts::FRAC_2_PI),
    ("FRAC_2_SQRT_PI", std::f64::consts::FRAC_2_SQRT_PI),
    ("FRAC_PI_2", std::f64::consts::FRAC_PI_2),
    ("FRAC_PI_3", std::f64::consts::FRAC_PI_3),
    ("FRAC_PI_4", std::f64::consts::FRAC_PI_4),
    ("FRAC_PI_6", std::f64::consts::FRAC_PI_6),
    ("FRAC_PI_8", std::f64::consts::FRAC_PI_8),
    ("LN_10", std::f64::consts::LN_10),
    ("LN_2", std::f64::consts::LN_2),
    ("LOG10_2", std::f64::consts::LOG10_2),
    ("LOG10_E", std::f64::consts::LOG10_E),
    ("LOG2_10", std::f64::consts::LOG2_10),
    ("LOG2_E", std::f64::consts::LOG2_E),
    ("PI", std::f64::consts::PI),
    ("SQRT_2", std::f64::consts::SQRT_2),
    ("TAU", std::f64::consts::TAU),
];

/// The associated constants of `f64` a body may name as `f64::NAME`.
pub const ASSOCIATED: &[(&str, f64)] = &[
    ("EPSILON", f64::EPSILON),
    ("MAX", f64::MAX),
    ("MIN", f64::MIN),
    ("MIN_POSITIVE", f64::MIN_POSITIVE),
    ("INFINITY", f64::INFINITY),
    ("NEG_INFINITY", f64::NEG_INFINITY),
    ("NAN", f64::NAN),
];

/// A constant named by a path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    pub value: f64,
    /// Written in a short form (`PI`, `consts::PI`) that depends on the user's imports, so it
    /// could name a constant of the user's own instead.
    pub short: bool,
}

/// The constant named by a path's segments, in any of the forms a user may write: `PI`
/// (imported), `consts::PI`, `f64::consts::PI`, `std::f64::consts::PI`,
/// `core::f64::consts::PI`, and `f64::EPSILON` for the associated constants.
pub fn constant(segments: &[String], float: FloatTy) -> Option<Constant> {
    let (last, prefix) = segments.split_last()?;
    let prefix: Vec<&str> = prefix.iter().map(String::as_str).collect();
    let ty = float.name();
    let short = matches!(prefix.as_slice(), [] | ["consts"]);
    let full = match prefix.as_slice() {
        [t, "consts"] | ["std" | "core", t, "consts"] => *t == ty,
        _ => false,
    };
    let named = CONSTS
        .iter()
        .find(|(n, _)| n == last)
        .filter(|_| short || full);
    if let Some(&(_, value)) = named {
        return Some(Constant {
            value: float.round(value),
            short,
        });
    }
    let is_assoc = match prefix.as_slice() {
        [t] | ["std" | "core", "primitive", t] => *t == ty,
        _ => false,
    };
    let assoc = ASSOCIATED
        .iter()
        .find(|(n, _)| n == last)
        .filter(|_| is_assoc);
    assoc.map(|&(_, value)| Constant {
        value: associated(float, last, value),
        short: false,
    })
}

/// The associated constant `name` of the float type: `f32::EPSILON` is not `f64::EPSILON`
/// rounded.
fn associated(float: FloatTy, name: &str, f64_value: f64) -> f64 {
    let f32_value = match name {
        "EPSILON" => f32::EPSILON,
        "MAX" => f32::MAX,
        "MIN" => f32::MIN,
        "MIN_POSITIVE" => f32::MIN_POSITIVE,
        _ => return float.round(f64_value),
    };
    match float {
        FloatTy::F64 => f64_value,
        FloatTy::F32 => f64::from(f32_value),
    }
}

/// The name in `core::f64::consts` (or `f32`) whose value is exactly `value`, for readable
/// emitted code (and so that clippy's `approx_constant` lint never sees a spelled-out π).
pub fn constant_name(value: f64, float: FloatTy) -> Option<&'static str> {
    let same = |c: f64| float.round(c).to_bits() == value.to_bits();
    CONSTS.iter().find(|(_, c)| same(*c)).map(|&(n, _)| n)
}

/// Whether `value` is close to a named constant without being it: clippy's `approx_constant`
/// lint would fire on the literal, so the emitted function allows that lint.
pub fn near_constant(value: f64, float: FloatTy) -> bool {
    let near = |c: f64| value != float.round(c) && ((value - c) / c).abs() < 1e-4;
    CONSTS.iter().any(|&(_, c)| near(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Vec<String> {
        s.split("::").map(String::from).collect()
    }

    #[test]
    fn constants_in_every_path_form() {
        let value = |form: &str| constant(&path(form), FloatTy::F64).map(|c| c.value);
        let pi = Some(std::f64::consts::PI);
        for form in [
            "PI",
            "consts::PI",
            "f64::consts::PI",
            "std::f64::consts::PI",
        ] {
            assert_eq!(value(form), pi, "{form}");
        }
        assert_eq!(value("core::f64::consts::TAU"), Some(std::f64::consts::TAU));
        assert_eq!(value("f64::EPSILON"), Some(f64::EPSILON));
        assert_eq!(value("std::f64::PI"), None);
        assert_eq!(value("f64::consts::EPSILON"), None);
    }

    #[test]
    fn short_forms_are_marked_for_a_compile_time_check() {
        let f64_constant = |form: &str| constant(&path(form), FloatTy::F64);
        assert!(f64_constant("PI").is_some_and(|c| c.short));
        assert!(f64_constant("consts::PI").is_some_and(|c| c.short));
        assert!(f64_constant("std::f64::consts::PI").is_some_and(|c| !c.short));
        assert!(f64_constant("std::f32::consts::PI").is_none());
        let f32_pi = constant(&path("std::f32::consts::PI"), FloatTy::F32);
        assert_eq!(
            f32_pi.map(|c| c.value),
            Some(f64::from(std::f32::consts::PI))
        );
    }

    #[test]
    fn every_method_maps_back_to_its_name() {
        for m in METHODS {
            assert_eq!(method_name(m.op), Some(m.name));
        }
        assert_eq!(method_name(Op::Powi(3)), Some("powi"));
    }
}
