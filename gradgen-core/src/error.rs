//! The one error type of the pipeline: every problem found in a function, each under the
//! user's tokens.

use proc_macro2::{Span, TokenStream};

/// One problem, with the span of the tokens it is about.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub span: Span,
    pub message: String,
}

/// Everything wrong with a function, in the order it was found (source order within each
/// pass), so one compile reports all of it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", self.summary())]
pub struct Error {
    diagnostics: Vec<Diagnostic>,
}

impl Error {
    /// An error with a single diagnostic.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Error { diagnostics: vec![Diagnostic { span, message: message.into() }] }
    }

    /// The diagnostics, in the order found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// One `compile_error!` per diagnostic, each under its tokens.
    pub fn to_compile_error(&self) -> TokenStream {
        self.diagnostics
            .iter()
            .map(|d| syn::Error::new(d.span, &d.message).to_compile_error())
            .collect()
    }

    fn summary(&self) -> String {
        let messages: Vec<&str> = self.diagnostics.iter().map(|d| d.message.as_str()).collect();
        messages.join("\n")
    }
}

impl From<syn::Error> for Error {
    fn from(e: syn::Error) -> Self {
        let diagnostics =
            e.into_iter().map(|e| Diagnostic { span: e.span(), message: e.to_string() }).collect();
        Error { diagnostics }
    }
}

/// The sink the passes report into. It never stops a pass: a pass reports and goes on, so
/// that a body with three problems gets three messages in one compile.
#[derive(Default)]
pub struct Diagnostics {
    found: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a problem under `span`.
    pub fn report(&mut self, span: Span, message: impl Into<String>) {
        self.found.push(Diagnostic { span, message: message.into() });
    }

    /// Whether anything was reported.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `Ok(())` if nothing was reported, else all of it as one error.
    pub fn finish(self) -> Result<(), Error> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(Error { diagnostics: self.found })
        }
    }
}
