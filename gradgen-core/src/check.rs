//! Checks the parts of a function that lowering does not read: the attribute's arguments and
//! the signature. The body is checked as it is lowered (see [`crate::lower`]); both report into
//! one [`Diagnostics`], so a function with a bad signature and a bad body gets every message
//! in one compile.
//!
//! Accepted today: a free function `fn name(a: f64, b: f64, ...) -> f64`, with any visibility
//! and attributes, no generics, not `async`, `const`, `unsafe` or `extern`.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::error::{Diagnostics, Place};

const PARAM_HELP: &str = "parameters must be `name: f64`";

/// Reports everything wrong with the attribute arguments and the signature of `item`.
pub fn check(attr: &TokenStream, item: &ItemFn, diags: &mut Diagnostics) {
    if !attr.is_empty() {
        diags.report(Place::of(&attr), "`#[grad]` takes no arguments yet");
    }
    check_qualifiers(item, diags);
    for input in &item.sig.inputs {
        check_param(input, diags);
    }
    check_return(&item.sig, diags);
}

fn check_qualifiers(item: &ItemFn, diags: &mut Diagnostics) {
    let sig = &item.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        diags.report(
            Place::of(&sig.generics),
            "generic functions are not supported; write the function for `f64`",
        );
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

fn check_param(input: &FnArg, diags: &mut Diagnostics) {
    let typed = match input {
        FnArg::Receiver(r) => {
            let msg = "methods are not supported; `#[grad]` takes a free function of `f64`s";
            return diags.report(Place::of(&r), msg);
        }
        FnArg::Typed(typed) => typed,
    };
    match &*typed.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() => {}
        Pat::Ident(p) if p.mutability.is_some() => diags.report(
            Place::of(&p),
            format!("`mut` parameters are not supported; {PARAM_HELP} and a `let` binding"),
        ),
        other => diags.report(
            Place::of(&other),
            format!(
                "parameter pattern `{}` is not supported; {PARAM_HELP}",
                text(other)
            ),
        ),
    }
    if !is_f64(&typed.ty) {
        let msg = format!(
            "parameter type `{}` is not supported; {PARAM_HELP}",
            text(&*typed.ty)
        );
        diags.report(Place::of(&typed.ty), msg);
    }
}

fn check_return(sig: &syn::Signature, diags: &mut Diagnostics) {
    match &sig.output {
        ReturnType::Type(_, ty) if is_f64(ty) => {}
        ReturnType::Type(_, ty) => diags.report(
            Place::of(&ty),
            format!(
                "return type `{}` is not supported; the function must return `f64`",
                text(&**ty)
            ),
        ),
        ReturnType::Default => diags.report(
            sig.paren_token.span.close(),
            "the function must return `f64`; add `-> f64` after the parameters",
        ),
    }
}

/// Whether `ty` is `f64`, written plainly, as `std::primitive::f64`, or in parentheses.
pub fn is_f64(ty: &Type) -> bool {
    let p = match ty {
        Type::Paren(inner) => return is_f64(&inner.elem),
        Type::Group(inner) => return is_f64(&inner.elem),
        Type::Path(p) => p,
        _ => return false,
    };
    if p.qself.is_some() {
        return false;
    }
    let segments: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let plain = p.path.segments.iter().all(|s| s.arguments.is_none());
    plain
        && matches!(
            segments
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["f64"] | ["std" | "core", "primitive", "f64"]
        )
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
        let tight_after = matches!(prev, '(' | '[' | '&' | '.' | '!' | '<' | '#')
            || (prev == ':' && i > 1 && chars[i - 2] == ':');
        let tight_before = matches!(next, ')' | ']' | ',' | ';' | '.' | '?' | '>')
            || (next == ':' && chars.get(i + 2) == Some(&':'))
            || (matches!(next, '(' | '[' | '<')
                && (prev.is_alphanumeric() || prev == '_' || prev == '!'));
        if c == ' ' && (tight_after || tight_before) {
            continue;
        }
        out.push(c);
    }
    out
}
