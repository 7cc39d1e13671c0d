//! The `#[grad]` attribute. All the work is in `gradgen-core`; this crate only crosses the
//! `proc_macro` boundary.

use proc_macro::TokenStream;

/// Differentiates a function of `f64`s and adds `<name>_grad`, which returns
/// `(value, gradient)`. See the `gradgen` crate for the supported language.
#[proc_macro_attribute]
pub fn grad(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = gradgen_core::Options {
        // Under gradgen's `inspect` feature (users' tests), also the text that
        // `gradgen::emitted!` reads; other builds do not carry it.
        keep_text: cfg!(feature = "inspect"),
        // The file, for the integer constants it defines (`[f64; N]`).
        source_file: proc_macro::Span::call_site().local_file(),
    };
    gradgen_core::expand_with(attr.into(), item.into(), &options).into()
}

/// The path of the hidden constant holding the code `#[grad]` emitted for the function at the
/// given path. Not for direct use: `gradgen::emitted!` reads it.
#[doc(hidden)]
#[proc_macro]
pub fn __emitted_const(path: TokenStream) -> TokenStream {
    match gradgen_core::emitted_const_path(path.into()) {
        Ok(path) => path.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
