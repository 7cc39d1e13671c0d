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

use crate::error::Diagnostics;

const PARAM_HELP: &str = "parameters must be `name: f64`";

/// Reports everything wrong with the attribute arguments and the signature of `item`.
pub fn check(attr: &TokenStream, item: &ItemFn, diags: &mut Diagnostics) {
    if !attr.is_empty() {
        diags.report(attr.span(), "`#[grad]` takes no arguments");
    }
    check_qualifiers(item, diags);
    for input in &item.sig.inputs {
        check_param(input, diags);
    }
    check_return(&item.sig.output, diags);
}

fn check_qualifiers(item: &ItemFn, diags: &mut Diagnostics) {
    let sig = &item.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        diags.report(
            sig.generics.span(),
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
        diags.report(span, format!("{what} is not supported; `#[grad]` takes a plain `fn`"));
    }
    if let Some(dots) = &sig.variadic {
        diags.report(dots.span(), "variadic functions are not supported");
    }
}

fn check_param(input: &FnArg, diags: &mut Diagnostics) {
    let typed = match input {
        FnArg::Receiver(r) => {
            let msg = "methods are not supported; `#[grad]` takes a free function of `f64`s";
            return diags.report(r.span(), msg);
        }
        FnArg::Typed(typed) => typed,
    };
    match &*typed.pat {
        Pat::Ident(p) if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() => {}
        Pat::Ident(p) if p.mutability.is_some() => diags.report(
            p.span(),
            format!("`mut` parameters are not supported; {PARAM_HELP} and a `let` binding"),
        ),
        other => diags.report(
            other.span(),
            format!("parameter pattern `{}` is not supported; {PARAM_HELP}", text(other)),
        ),
    }
    if !is_f64(&typed.ty) {
        let msg =
            format!("parameter type `{}` is not supported; {PARAM_HELP}", text(&*typed.ty));
        diags.report(typed.ty.span(), msg);
    }
}

fn check_return(output: &ReturnType, diags: &mut Diagnostics) {
    match output {
        ReturnType::Type(_, ty) if is_f64(ty) => {}
        ReturnType::Type(_, ty) => diags.report(
            ty.span(),
            format!("return type `{}` is not supported; the function must return `f64`", text(&**ty)),
        ),
        ReturnType::Default => diags.report(
            output.span(),
            "the function must return `f64`; add `-> f64`",
        ),
    }
}

/// Whether `ty` is `f64`, written plainly or as `std::primitive::f64`.
pub fn is_f64(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    if p.qself.is_some() {
        return false;
    }
    let segments: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
    let plain = p.path.segments.iter().all(|s| s.arguments.is_none());
    plain
        && matches!(
            segments.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ["f64"] | ["std" | "core", "primitive", "f64"]
        )
}

/// The tokens of `node` as the user wrote them, for quoting in a message.
pub fn text(node: &dyn quote::ToTokens) -> String {
    node.to_token_stream().to_string()
}
