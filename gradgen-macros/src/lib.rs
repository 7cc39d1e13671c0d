//! The `#[grad]` attribute. All the work is in `gradgen-core`; this crate only crosses the
//! `proc_macro` boundary.

use proc_macro::TokenStream;

/// Differentiates a function of `f64`s and adds `<name>_grad`, which returns
/// `(value, gradient)`. See the `gradgen` crate for the supported language.
#[proc_macro_attribute]
pub fn grad(attr: TokenStream, item: TokenStream) -> TokenStream {
    gradgen_core::expand(attr.into(), item.into()).into()
}
