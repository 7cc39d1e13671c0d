//! The differentiation pipeline behind `#[gradgen::grad]`.
//!
//! ```text
//! syn::ItemFn → lower → check → differentiate → simplify → emit → TokenStream
//! ```
//!
//! [`lower`] turns the body into an add-only, hash-consed DAG ([`ir`]) and [`check`] validates
//! the signature, both reporting every problem into one sink; [`diff`] runs one reverse sweep
//! over the DAG, building the adjoint code through the simplifying constructor of
//! [`simplify`]; [`emit`] writes the value and gradient back as Rust.
//!
//! This crate never names `proc_macro`, so every pass runs in ordinary unit tests, and the
//! functions below give the same pipeline to tests and tools: [`emitted_code`] for the
//! formatted code, [`ir_dump`] for the IR, [`op_counts`] for operation counts.

pub mod check;
pub mod diff;
pub mod dump;
pub mod emit;
pub mod error;
pub mod eval;
pub mod ir;
pub mod lower;
pub mod ops;
pub mod simplify;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ItemFn;

pub use crate::dump::OpCounts;
pub use crate::error::{Diagnostic, Error};

/// A function taken through the whole pipeline.
pub struct Differentiated {
    /// The lowered function; its `graph` holds the forward pass only.
    pub function: lower::Function,
    /// The forward graph extended with the adjoint code.
    pub graph: ir::Graph,
    /// The adjoints and the derivative of each parameter.
    pub gradient: diff::Gradient,
}

impl Differentiated {
    /// The roots that emission starts from.
    pub fn roots(&self) -> emit::Roots {
        emit::Roots {
            value: self.function.output,
            gradient: self.gradient.params.clone(),
        }
    }
}

/// Runs lower, check and differentiate on a function with the given attribute arguments.
pub fn differentiate(attr: &TokenStream, item: &ItemFn) -> Result<Differentiated, Error> {
    let mut diags = error::Diagnostics::default();
    let (params, float) = check::check(attr, item, &mut diags);
    let function = lower::lower(item, params, float, &mut diags);
    diags.finish()?;
    let function = function.ok_or_else(|| {
        Error::new(
            item.sig.ident.span(),
            "internal error: lowering failed without a message",
        )
    })?;
    let mut graph = function.graph.clone();
    let params: Vec<ir::Id> = function
        .differentiated_slots()
        .iter()
        .map(|s| s.id)
        .collect();
    let gradient = diff::differentiate(&mut graph, function.output, &params);
    if graph.len() >= ir::MAX_NODES {
        let msg = "the gradient is too large to emit; split the function into smaller functions";
        return Err(Error::new(item.sig.ident.span(), msg));
    }
    Ok(Differentiated {
        function,
        graph,
        gradient,
    })
}

/// The `<name>_grad` function for `item`, without the original.
pub fn try_expand(attr: TokenStream, item: TokenStream) -> Result<TokenStream, Error> {
    let item: ItemFn = syn::parse2(item)?;
    let d = differentiate(&attr, &item)?;
    Ok(emit::emit(&d.function, &d.graph, &d.gradient))
}

/// What `#[grad]` expands to: the original function, then `<name>_grad`; on error, the
/// original function (so that its callers compile) and one `compile_error!` per problem.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(attr, item.clone()) {
        Ok(generated) => {
            // The original is often called only through its gradient; that is no reason to
            // warn about it.
            let mut out = quote::quote!(#[allow(dead_code)]);
            out.extend(item);
            out.extend(generated);
            out
        }
        Err(e) => {
            let mut out = item;
            out.extend(e.to_compile_error());
            out
        }
    }
}

/// Parses a function from source text; a `#[grad]` attribute on it, if any, is taken off and
/// its arguments returned.
pub fn parse_function(source: &str) -> Result<(TokenStream, ItemFn), Error> {
    let mut item: ItemFn = syn::parse_str(source)?;
    let mut attr = TokenStream::new();
    let is_grad = |a: &syn::Attribute| a.path().segments.last().is_some_and(|s| s.ident == "grad");
    if let Some(pos) = item.attrs.iter().position(is_grad) {
        let grad = item.attrs.remove(pos);
        if let syn::Meta::List(list) = grad.meta {
            attr = list.tokens;
        }
    }
    Ok((attr, item))
}

/// The emitted `<name>_grad` of a function given as source text, formatted by prettyplease.
pub fn emitted_code(source: &str) -> Result<String, Error> {
    let (attr, item) = parse_function(source)?;
    let tokens = try_expand(attr, item.into_token_stream())?;
    let file: syn::File = syn::parse2(tokens)?;
    Ok(prettyplease::unparse(&file))
}

/// An SSA-style text dump of the differentiated IR of a function given as source text; see
/// [`dump`].
pub fn ir_dump(source: &str) -> Result<String, Error> {
    let (attr, item) = parse_function(source)?;
    let d = differentiate(&attr, &item)?;
    Ok(dump::dump(&d))
}

/// The scalar operation counts of a function given as source text and of its emitted
/// gradient; see [`OpCounts`].
pub fn op_counts(source: &str) -> Result<OpCounts, Error> {
    let (attr, item) = parse_function(source)?;
    let d = differentiate(&attr, &item)?;
    Ok(dump::counts(&d.graph, &d.roots()))
}
