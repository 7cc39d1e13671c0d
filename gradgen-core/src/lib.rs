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
//! formatted code, [`ir_dump`] for the IR, [`op_counts`] for operation counts, [`dot()`] for
//! a Graphviz picture of the DAG. [`mod@file`] finds the `#[grad]` functions of a whole source
//! file for the `gradgen` program (`src/bin/gradgen.rs`), which prints these views from the
//! command line.

pub mod check;
pub mod consts;
pub mod diff;
pub mod dot;
pub mod dump;
pub mod emit;
pub mod error;
pub mod eval;
pub mod file;
pub mod ir;
pub mod lower;
pub mod ops;
pub mod region;
pub mod simplify;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::ext::IdentExt;
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
            effects: self.gradient.effects.clone(),
        }
    }

    /// The `<name>_grad` function, as tokens.
    pub fn gradient_tokens(&self) -> TokenStream {
        emit::emit(&self.function, &self.graph, &self.gradient)
    }

    /// The `<name>_grad` function, formatted by prettyplease.
    pub fn emitted_code(&self) -> Result<String, Error> {
        format_code(&self.gradient_tokens().to_string())
    }

    /// The SSA-style text dump of the IR; see [`dump`].
    pub fn ir_dump(&self) -> String {
        dump::dump(self)
    }

    /// The scalar operation counts of the function and of its gradient; see [`OpCounts`].
    pub fn op_counts(&self) -> OpCounts {
        dump::counts(&self.graph, &self.roots())
    }

    /// The DAG in Graphviz DOT, forward pass and adjoint code told apart; see [`mod@dot`].
    pub fn dot(&self) -> String {
        dot::dot(self)
    }
}

/// Runs lower, check and differentiate on a function with the given attribute arguments.
pub fn differentiate(attr: &TokenStream, item: &ItemFn) -> Result<Differentiated, Error> {
    differentiate_in(attr, item, &consts::FileConsts::default())
}

/// [`differentiate`], with the integer constants of the function's file for array lengths
/// and loop bounds written as a `const` (`[f64; N]`, `0..N`).
pub fn differentiate_in(
    attr: &TokenStream,
    item: &ItemFn,
    consts: &consts::FileConsts,
) -> Result<Differentiated, Error> {
    let mut diags = error::Diagnostics::default();
    let (params, float) = check::check_in(attr, item, consts, &mut diags);
    let loops = check::loop_mode(attr);
    let function = lower::lower_in(item, params, float, consts, loops, &mut diags);
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
    let activity = diff::Activity {
        params: function.params.iter().map(|p| p.differentiated).collect(),
    };
    let gradient = diff::differentiate_with(&mut graph, function.output, &params, &activity, &[]);
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
    let item: ItemFn = parse_item(item)?;
    Ok(differentiate(&attr, &item)?.gradient_tokens())
}

/// What `#[grad]` expands to: the original function, then `<name>_grad`; on error, the
/// original function (so that its callers compile) and one `compile_error!` per problem.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(attr, item, &Options::default())
}

/// How `#[grad]` expands, beyond the function itself.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also emit the hidden constant holding the emitted code (see [`emitted_const`]).
    pub keep_text: bool,
    /// The file the function is in, read for the integer constants it defines (see
    /// [`consts`]); `None` where it is not known.
    pub source_file: Option<std::path::PathBuf>,
}

/// [`expand`] with [`Options`].
pub fn expand_with(attr: TokenStream, item: TokenStream, options: &Options) -> TokenStream {
    expansion(attr, item, options)
}

/// What `#[grad]` expands to under gradgen's `inspect` feature: [`expand`], and beside
/// `<name>_grad` the hidden constant that `gradgen::emitted!` reads (see [`emitted_const`]).
///
/// ```text
/// #[grad] fn f(x: f64) -> f64 { x.sin() }
/// ```
/// becomes
/// ```text
/// #[allow(dead_code)] fn f(x: f64) -> f64 { x.sin() }
/// fn f_grad(x: f64) -> (f64, f64) { (f64::sin(x), f64::cos(x)) }
/// const __gradgen_emitted_f: &str = "fn f_grad (x : f64) -> (f64 , f64) { ... }";
/// ```
pub fn expand_inspectable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(
        attr,
        item,
        &Options {
            keep_text: true,
            source_file: None,
        },
    )
}

fn expansion(attr: TokenStream, item: TokenStream, options: &Options) -> TokenStream {
    match generate(&attr, item.clone(), options) {
        Ok(generated) => {
            // The original is often called only through its gradient; that is no reason to
            // warn about it.
            let mut out = quote!(#[allow(dead_code)]);
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

/// `<name>_grad`, and if `keep_text`, the hidden constant holding its text.
fn generate(
    attr: &TokenStream,
    item: TokenStream,
    options: &Options,
) -> Result<TokenStream, Error> {
    let item: ItemFn = parse_item(item)?;
    // The file is read only if the function names a constant it does not define itself.
    let consts = match &options.source_file {
        Some(path) => consts::FileConsts::of_file(path),
        None => consts::FileConsts::default(),
    };
    let mut gradient = differentiate_in(attr, &item, &consts)?.gradient_tokens();
    if options.keep_text {
        let text = emitted_const(&item, &gradient);
        gradient.extend(text);
    }
    Ok(gradient)
}

/// The hidden constant that `#[grad]` adds beside `<name>_grad`: the text of the emitted
/// tokens, which `gradgen::emitted!(name)` formats for a snapshot in the user's own tests.
///
/// It holds the emitted code itself rather than the function's source, so a snapshot shows
/// exactly what the compiler was given (re-running the pipeline on printed source could
/// differ for functions written by `macro_rules!`, whose invisible groups print without
/// their grouping). It is emitted only under the `inspect` feature, which users enable for
/// their tests, so other builds do not even compile it; and an unused constant is not in the
/// compiled program, so nothing pays for it at run time. It has the function's visibility
/// and `#[cfg]`s, so it can be named wherever the function can, and a function defined twice
/// under exclusive `#[cfg]`s gets one constant.
///
/// In an `impl` block it is an associated constant (`Circle::__gradgen_emitted_area`). In a
/// trait impl it is not a member of the trait, an error, like `<name>_grad` itself there.
pub fn emitted_const(item: &ItemFn, gradient: &TokenStream) -> TokenStream {
    let name = emitted_const_name(&item.sig.ident);
    let vis = &item.vis;
    let cfgs = item.attrs.iter().filter(|a| a.path().is_ident("cfg"));
    let text = gradient.to_string();
    quote! {
        #[doc(hidden)]
        #[allow(dead_code, non_upper_case_globals)]
        #(#cfgs)*
        #vis const #name: &str = #text;
    }
}

/// `__gradgen_emitted_<name>`: no user item is expected to start with `__gradgen_`. It is
/// spanned on the function's name, so that it resolves wherever the name does.
fn emitted_const_name(function: &syn::Ident) -> syn::Ident {
    let mut name = format_ident!("__gradgen_emitted_{}", function.unraw());
    name.set_span(function.span());
    name
}

/// The path of the hidden constant of the `#[grad]` function at `path`: `geometry::area`
/// gives `geometry::__gradgen_emitted_area`. It is what `gradgen::emitted!` reads.
pub fn emitted_const_path(path: TokenStream) -> Result<TokenStream, Error> {
    let mut path: syn::ExprPath = syn::parse2(path)?;
    let Some(last) = path.path.segments.last_mut() else {
        return Err(Error::new(
            Span::call_site(),
            "expected the path of a function",
        ));
    };
    if !last.arguments.is_none() {
        let msg = "name the function without generic arguments: `#[grad]` functions have none";
        return Err(Error::new(error::Place::of(&last.arguments), msg));
    }
    last.ident = emitted_const_name(&last.ident);
    Ok(path.into_token_stream())
}

/// Formats the text of emitted tokens (one or more items) with prettyplease.
pub fn format_code(tokens: &str) -> Result<String, Error> {
    let file = syn::parse_file(tokens)?;
    Ok(prettyplease::unparse(&file))
}

/// How deeply brackets may nest in a function given to gradgen. syn parses nested brackets by
/// recursion, so a much deeper function would overflow the compiler's stack before gradgen
/// could say anything; past this depth it is refused with a message instead. The expressions of
/// a body are limited further, by [`lower::MAX_NESTING`].
pub const MAX_TOKEN_NESTING: usize = 512;

/// Parses a function, after checking, without recursion, that it does not nest deeper than
/// [`MAX_TOKEN_NESTING`].
fn parse_item(tokens: TokenStream) -> Result<ItemFn, Error> {
    let mut stack = vec![tokens.clone().into_iter()];
    while let Some(top) = stack.last_mut() {
        match top.next() {
            Some(proc_macro2::TokenTree::Group(g)) => {
                if stack.len() >= MAX_TOKEN_NESTING {
                    let msg = format!(
                        "brackets nested deeper than {MAX_TOKEN_NESTING} levels; split the \
                         expression with `let` bindings"
                    );
                    return Err(Error::new(g.span(), msg));
                }
                stack.push(g.stream().into_iter());
            }
            Some(_) => {}
            None => {
                stack.pop();
            }
        }
    }
    Ok(syn::parse2(tokens)?)
}

/// Parses a function from source text; a `#[grad]` attribute on it, if any, is taken off and
/// its arguments returned.
pub fn parse_function(source: &str) -> Result<(TokenStream, ItemFn), Error> {
    let tokens: TokenStream = syn::parse_str(source)?;
    let mut item: ItemFn = parse_item(tokens)?;
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
    differentiate(&attr, &item)?.emitted_code()
}

/// An SSA-style text dump of the differentiated IR of a function given as source text; see
/// [`dump`].
pub fn ir_dump(source: &str) -> Result<String, Error> {
    let (attr, item) = parse_function(source)?;
    Ok(differentiate(&attr, &item)?.ir_dump())
}

/// The scalar operation counts of a function given as source text and of its emitted
/// gradient; see [`OpCounts`].
pub fn op_counts(source: &str) -> Result<OpCounts, Error> {
    let (attr, item) = parse_function(source)?;
    Ok(differentiate(&attr, &item)?.op_counts())
}

/// The live DAG of a function given as source text and of its gradient, in Graphviz DOT; see
/// [`mod@dot`].
pub fn dot(source: &str) -> Result<String, Error> {
    let (attr, item) = parse_function(source)?;
    Ok(differentiate(&attr, &item)?.dot())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(source: &str) -> String {
        let (attr, item) = parse_function(source).unwrap_or_else(|e| panic!("{e}"));
        expand_inspectable(attr, item.into_token_stream()).to_string()
    }

    #[test]
    fn expansion_keeps_the_emitted_text_beside_the_gradient() {
        let out = expanded("#[cfg(test)] pub fn f(x: f64) -> f64 { x.sin() }");
        let constant = "# [cfg (test)] pub const __gradgen_emitted_f : & str = \"";
        assert!(out.contains(constant), "{out}");
        let text = out.split(constant).nth(1).unwrap_or_default();
        assert!(text.contains("pub fn f_grad (x : f64)"), "{out}");
    }

    /// The text kept in the constant formats as the tokens themselves do.
    #[test]
    fn the_emitted_text_formats_as_the_tokens() {
        let source = "fn f(x: [f64; 2], y: f64) -> f64 { (x[0] * y).exp() - x[1] }";
        let (attr, item) = parse_function(source).unwrap_or_else(|e| panic!("{e}"));
        let tokens = try_expand(attr, item.into_token_stream()).unwrap_or_else(|e| panic!("{e}"));
        let formatted = format_code(&tokens.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(formatted, prettyplease::unparse(&file));
    }

    #[test]
    fn no_constant_without_inspect() {
        let (attr, item) =
            parse_function("fn f(x: f64) -> f64 { x }").unwrap_or_else(|e| panic!("{e}"));
        let out = expand(attr, item.into_token_stream()).to_string();
        assert!(!out.contains("__gradgen_emitted_f"), "{out}");
    }

    #[test]
    fn no_constant_for_a_rejected_function() {
        let out = expanded("fn f(x: f64) -> f64 { loop {} }");
        assert!(!out.contains("__gradgen_emitted_f"), "{out}");
    }

    #[test]
    fn constant_path_renames_the_last_segment() {
        let path =
            |s: &str| emitted_const_path(s.parse().unwrap_or_default()).map(|p| p.to_string());
        let ok = |s: &str| path(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok("f"), "__gradgen_emitted_f");
        assert_eq!(ok("a::b::f"), "a :: b :: __gradgen_emitted_f");
        assert_eq!(
            ok("Circle::<f64>::area"),
            "Circle :: < f64 > :: __gradgen_emitted_area"
        );
        assert_eq!(ok("r#match"), "__gradgen_emitted_match");
        assert!(path("f::<f64>").is_err());
        assert!(path("1 + 2").is_err());
    }
}
