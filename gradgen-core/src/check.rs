//! Checks the parts of a function that lowering does not read: the attribute's arguments and
//! the signature. The body is checked as it is lowered (see [`crate::lower`]); both report into
//! one [`Diagnostics`], so a function with a bad signature and a bad body gets every message
//! in one compile.
//!
//! Accepted: a free function whose parameters are `f64`, arrays of `f64` of literal lengths (or
//! integer constants of the file)
//! (`[f64; 3]`, `[[f64; 4]; 8]`, deeper), or references to such arrays, and which returns
//! `f64`; any visibility and attributes; no generics, not `async`, `const`, `unsafe` or
//! `extern`. `#[grad(wrt(a, b))]` differentiates only the parameters named; the others are
//! data.

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, ItemFn, Lit, Pat, ReturnType, Type};

use crate::consts::FileConsts;
use crate::error::{Diagnostics, Place};
use crate::ir::FloatTy;

const PARAM_HELP: &str =
    "parameters must be `f64` (or `f32`), integers or `bool` (which are data, never \
     differentiated), arrays of these whose lengths are literals or integer constants of this \
     crate with a literal value (`[f64; 3]`, `[f64; N]`), or references to such arrays";

/// A checked parameter.
#[derive(Clone)]
pub struct Param {
    pub ident: Ident,
    /// The array lengths from the outside in: `[]` for `f64`, `[8, 4]` for `[[f64; 4]; 8]`.
    pub shape: Vec<usize>,
    /// What its scalars are.
    pub kind: Kind,
    /// The file constants its array lengths were read from, with their values.
    pub consts_used: Vec<(syn::Path, i64)>,
    /// Whether the gradient includes this parameter.
    pub differentiated: bool,
    /// Whether the parameter was declared `mut`.
    pub mutable: bool,
}

/// What the scalars of a parameter are. Integers and booleans are data: never differentiated,
/// read in conditions and converted with `as f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Float(FloatTy),
    Int,
    Bool,
}

impl Param {
    /// The number of scalars in the parameter.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the parameter holds no scalar (an array of length 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reports everything wrong with the attribute arguments and the signature of `item`, and
/// returns the parameters that could be read.
pub fn check(attr: &TokenStream, item: &ItemFn, diags: &mut Diagnostics) -> (Vec<Param>, FloatTy) {
    check_in(attr, item, &FileConsts::default(), diags)
}

/// [`check`], with the integer constants of the function's file for array lengths (`[f64; N]`).
pub fn check_in(
    attr: &TokenStream,
    item: &ItemFn,
    consts: &FileConsts,
    diags: &mut Diagnostics,
) -> (Vec<Param>, FloatTy) {
    check_qualifiers(item, diags);
    let float = check_return(&item.sig, diags).unwrap_or_default();
    let mut params: Vec<Param> = item
        .sig
        .inputs
        .iter()
        .filter_map(|i| param(i, float, consts, diags))
        .collect();
    if let Some(wrt) = parse_wrt(attr, diags) {
        apply_wrt(&wrt, item, &mut params, diags);
    }
    (params, float)
}

fn check_qualifiers(item: &ItemFn, diags: &mut Diagnostics) {
    let sig = &item.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let msg = "generic functions are not supported; write the function for `f64`";
        diags.report(Place::of(&sig.generics), msg);
    }
    let qualifiers = [
        sig.constness.map(|t| (t.span, "`const fn`")),
        sig.asyncness.map(|t| (t.span, "`async fn`")),
        sig.unsafety.map(|t| (t.span, "`unsafe fn`")),
        sig.abi.as_ref().map(|abi| (abi.span(), "`extern fn`")),
    ];
    for (span, what) in qualifiers.into_iter().flatten() {
        diags.report(
            span,
            format!("{what} is not supported; `#[grad]` takes a plain `fn`"),
        );
    }
    if let Some(dots) = &sig.variadic {
        diags.report(Place::of(&dots), "variadic functions are not supported");
    }
}

fn param(
    input: &FnArg,
    float: FloatTy,
    consts: &FileConsts,
    diags: &mut Diagnostics,
) -> Option<Param> {
    let typed = match input {
        FnArg::Receiver(r) => {
            let msg = "methods are not supported; `#[grad]` takes a free function";
            diags.report(Place::of(&r), msg);
            return None;
        }
        FnArg::Typed(typed) => typed,
    };
    let mut lengths = Lengths {
        consts,
        used: Vec::new(),
        unreadable: None,
        oversized: None,
    };
    let shape = match shape(&typed.ty, true, &mut lengths) {
        Some((shape, Kind::Float(found))) if found == float => Some((shape, Kind::Float(found))),
        Some((shape, kind @ (Kind::Int | Kind::Bool))) => Some((shape, kind)),
        Some((_, Kind::Float(found))) => {
            let msg = format!(
                "this parameter is of `{}` but the function returns `{}`; a `#[grad]` function \
                 computes in one float type",
                found.name(),
                float.name()
            );
            diags.report(Place::of(&typed.ty), msg);
            None
        }
        None => {
            match (lengths.unreadable.take(), lengths.oversized) {
                (Some((path, why)), _) => diags.report(Place::of(&path), why),
                (None, Some(n)) => {
                    let max = crate::lower::MAX_ARRAY_LEN;
                    let msg = format!(
                        "an array parameter of {n} elements is more than gradgen takes, {max} \
                         (`MAX_ARRAY_LEN`): the macro works on each element, and its time and \
                         memory grow with them; pass the data as several arrays"
                    );
                    diags.report(Place::of(&typed.ty), msg);
                }
                (None, None) => {
                    let msg = format!(
                        "parameter type `{}` is not supported; {PARAM_HELP}",
                        text(&typed.ty)
                    );
                    diags.report(Place::of(&typed.ty), msg);
                }
            }
            None
        }
    };
    match &*typed.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
            let (shape, kind) = shape?;
            Some(Param {
                ident: p.ident.clone(),
                shape,
                kind,
                consts_used: lengths.used,
                differentiated: matches!(kind, Kind::Float(_)),
                mutable: p.mutability.is_some(),
            })
        }
        other => {
            let msg = format!(
                "parameter pattern `{}` is not supported; name each parameter",
                text(other)
            );
            diags.report(Place::of(&other), msg);
            None
        }
    }
}

/// The array lengths of a parameter type, `None` if the type is not supported.
fn shape(ty: &Type, outermost: bool, lengths: &mut Lengths) -> Option<(Vec<usize>, Kind)> {
    match ty {
        Type::Paren(inner) => shape(&inner.elem, outermost, lengths),
        Type::Group(inner) => shape(&inner.elem, outermost, lengths),
        Type::Reference(r) if outermost && r.mutability.is_none() => {
            matches!(&*r.elem, Type::Array(_))
                .then(|| shape(&r.elem, false, lengths))
                .flatten()
        }
        Type::Array(array) => {
            let len = lengths.of(&array.len)?;
            let (mut inner, float) = shape(&array.elem, false, lengths)?;
            inner.insert(0, len);
            // Larger arrays are refused, so the product of lengths cannot overflow below.
            let elements = inner.iter().try_fold(1usize, |n, &len| n.checked_mul(len));
            if elements.is_none_or(|n| n > crate::lower::MAX_ARRAY_LEN) {
                lengths.oversized = Some(elements.unwrap_or(usize::MAX));
                return None;
            }
            Some((inner, float))
        }
        _ => scalar_kind(ty).map(|kind| (Vec::new(), kind)),
    }
}

/// The kind of a scalar type: a float, an integer type, or `bool`.
fn scalar_kind(ty: &Type) -> Option<Kind> {
    if let Some(float) = float_type(ty) {
        return Some(Kind::Float(float));
    }
    let Type::Path(p) = ty else { return None };
    let name = p.path.get_ident()?.to_string();
    match name.as_str() {
        "bool" => Some(Kind::Bool),
        n if is_integer_type(n) => Some(Kind::Int),
        _ => None,
    }
}

/// Whether `name` is a primitive integer type.
pub fn is_integer_type(name: &str) -> bool {
    matches!(
        name,
        "usize" | "isize" | "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64"
    )
}

/// Array lengths as written: literals, or integer constants of the file, which the emitted
/// code then checks (see [`crate::consts`]).
struct Lengths<'a> {
    consts: &'a FileConsts,
    used: Vec<(syn::Path, i64)>,
    /// A constant of the file that names a length but has no value to read, and why.
    unreadable: Option<(syn::Path, String)>,
    /// The element count of an array over [`crate::lower::MAX_ARRAY_LEN`].
    oversized: Option<usize>,
}

impl Lengths<'_> {
    fn of(&mut self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Int(i) => i.base10_parse().ok(),
                _ => None,
            },
            Expr::Group(g) => self.of(&g.expr),
            Expr::Paren(p) => self.of(&p.expr),
            Expr::Path(p) if p.qself.is_none() => {
                let name = plain_segments(&p.path)?.pop()?;
                if let Some(why) = self.consts.why_not(&name) {
                    self.unreadable.get_or_insert((p.path.clone(), why));
                }
                let value = self.consts.get(&name)?;
                self.used.push((p.path.clone(), value));
                usize::try_from(value).ok()
            }
            _ => None,
        }
    }
}

/// The names in `wrt(...)`, or `None` for a bare `#[grad]`.
fn parse_wrt(attr: &TokenStream, diags: &mut Diagnostics) -> Option<Vec<Ident>> {
    match parse_args(attr) {
        Ok(args) => args.wrt,
        Err(e) => {
            diags.report(e.span(), e.to_string());
            None
        }
    }
}

/// How the attribute asks loops to be treated: `#[grad(loops = "keep")]`, `"unroll"` or
/// `"auto"` (the default). An invalid argument was reported by [`check`].
pub fn loop_mode(attr: &TokenStream) -> crate::region::LoopMode {
    parse_args(attr).map(|a| a.loops).unwrap_or_default()
}

/// The arguments of `#[grad(...)]`.
struct Args {
    wrt: Option<Vec<Ident>>,
    loops: crate::region::LoopMode,
}

fn parse_args(attr: &TokenStream) -> syn::Result<Args> {
    use crate::region::LoopMode;
    let mut args = Args {
        wrt: None,
        loops: LoopMode::Auto,
    };
    if attr.is_empty() {
        return Ok(args);
    }
    let mut loops_given = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("loops") {
            if std::mem::replace(&mut loops_given, true) {
                return Err(meta.error("`loops` is given twice; keep one"));
            }
            let value: syn::LitStr = meta.value()?.parse()?;
            args.loops = match value.value().as_str() {
                "auto" => LoopMode::Auto,
                "keep" => LoopMode::Keep,
                "unroll" => LoopMode::Unroll,
                _ => {
                    let msg = "`loops` is \"auto\" (the default), \"keep\" or \"unroll\"";
                    return Err(syn::Error::new(value.span(), msg));
                }
            };
            return Ok(());
        }
        if !meta.path.is_ident("wrt") {
            let msg = "unknown argument; `#[grad]` takes `wrt(a, b, ...)` and `loops = \"...\"`";
            return Err(meta.error(msg));
        }
        if args.wrt.is_some() {
            return Err(meta.error("`wrt` is given twice; list every parameter in one `wrt(...)`"));
        }
        let mut found = Vec::new();
        meta.parse_nested_meta(|inner| match inner.path.get_ident() {
            Some(ident) => {
                found.push(ident.clone());
                Ok(())
            }
            None => Err(inner.error("`wrt` lists parameter names")),
        })?;
        args.wrt = Some(found);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr.clone())?;
    Ok(args)
}

fn apply_wrt(wrt: &[Ident], item: &ItemFn, params: &mut [Param], diags: &mut Diagnostics) {
    // A parameter the signature check rejected is still a parameter: no second message.
    let declared = |name: &Ident| {
        item.sig.inputs.iter().any(|input| match input {
            FnArg::Typed(t) => matches!(&*t.pat, Pat::Ident(p) if p.ident == *name),
            FnArg::Receiver(_) => false,
        })
    };
    let mut seen = BTreeSet::new();
    for name in wrt {
        if !seen.insert(name.to_string()) {
            diags.report(name.span(), format!("`{name}` is listed twice in `wrt`"));
        } else if !declared(name) {
            diags.report(
                name.span(),
                format!("`{name}` is not a parameter of the function"),
            );
        } else if params
            .iter()
            .any(|p| p.ident == *name && !matches!(p.kind, Kind::Float(_)))
        {
            let msg = format!("`{name}` is an integer or boolean parameter: it has no gradient");
            diags.report(name.span(), msg);
        }
    }
    for p in params.iter_mut() {
        p.differentiated = seen.contains(&p.ident.to_string()) && matches!(p.kind, Kind::Float(_));
    }
}

/// The float type the function returns, which all its floats must have.
fn check_return(sig: &syn::Signature, diags: &mut Diagnostics) -> Option<FloatTy> {
    match &sig.output {
        ReturnType::Type(_, ty) => {
            let float = float_type(ty);
            if float.is_none() {
                let msg = format!(
                    "return type `{}` is not supported; the function must return `f64` or `f32`",
                    text(ty)
                );
                diags.report(Place::of(&ty), msg);
            }
            float
        }
        ReturnType::Default => {
            let msg =
                "the function must return `f64` (or `f32`); add `-> f64` after the parameters";
            diags.report(sig.paren_token.span.close(), msg);
            None
        }
    }
}

/// The float type `ty` names: `f64` or `f32`, written plainly, as `std::primitive::f64`, or in
/// parentheses.
pub fn float_type(ty: &Type) -> Option<FloatTy> {
    let p = match ty {
        Type::Paren(inner) => return float_type(&inner.elem),
        Type::Group(inner) => return float_type(&inner.elem),
        Type::Path(p) if p.qself.is_none() => p,
        _ => return None,
    };
    let segments = plain_segments(&p.path)?;
    let names: Vec<&str> = segments.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["f64"] | ["std" | "core", "primitive", "f64"] => Some(FloatTy::F64),
        ["f32"] | ["std" | "core", "primitive", "f32"] => Some(FloatTy::F32),
        _ => None,
    }
}

/// Whether `ty` is `f64`.
pub fn is_f64(ty: &Type) -> bool {
    float_type(ty) == Some(FloatTy::F64)
}

/// The names of a path's segments, `None` if any has generic arguments (`Vec::<f64>::new`).
pub fn plain_segments(path: &syn::Path) -> Option<Vec<String>> {
    let plain = path.segments.iter().all(|s| s.arguments.is_none());
    plain.then(|| path.segments.iter().map(|s| s.ident.to_string()).collect())
}

/// `name` without the `r#` of a raw identifier: the name bindings, constants and callees go by.
pub fn unraw_str(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// The tokens of `node` as the user wrote them, for quoting in a message: the token stream's
/// text without the spaces it puts inside paths, calls and references (`&f64`, not `& f64`).
pub fn text(node: &dyn quote::ToTokens) -> String {
    let spaced = node.to_token_stream().to_string();
    let chars: Vec<char> = spaced.chars().collect();
    let mut out = String::with_capacity(spaced.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let word_before = prev.is_alphanumeric() || prev == '_' || prev == '!';
        let tight_after = matches!(prev, '(' | '[' | '&' | '.' | '!' | '<' | '#')
            || (prev == ':' && i > 1 && chars[i - 2] == ':');
        let tight_before = matches!(next, ')' | ']' | ',' | ';' | '.' | '?' | '>')
            || (next == ':' && chars.get(i + 2) == Some(&':'))
            || (matches!(next, '(' | '[' | '<') && word_before);
        if c == ' ' && (tight_after || tight_before) {
            continue;
        }
        out.push(c);
    }
    out
}
