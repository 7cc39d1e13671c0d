//! The one error type of the pipeline: every problem found in a function, each under the
//! user's tokens.

use proc_macro2::{Ident, Span, TokenStream};
use quote::ToTokens;

/// Where a problem is: the first and the last token of the offending syntax. Stable Rust
/// cannot join two spans into one, so both ends are kept and the compile error is spread
/// over them, which makes rustc underline the whole construct.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub start: Span,
    pub end: Span,
}

impl Place {
    /// The place of some syntax: from its first token to its last.
    pub fn of(tokens: &dyn ToTokens) -> Place {
        let stream = tokens.to_token_stream();
        let mut spans = stream.into_iter().map(|t| t.span());
        let start = spans.next().unwrap_or_else(Span::call_site);
        let end = spans.last().unwrap_or(start);
        Place { start, end }
    }
}

impl From<Span> for Place {
    fn from(span: Span) -> Self {
        Place {
            start: span,
            end: span,
        }
    }
}

/// One problem, with the place of the tokens it is about.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// The first token of the offending syntax.
    pub span: Span,
    /// The last token of the offending syntax.
    pub end: Span,
    pub message: String,
}

impl Diagnostic {
    fn new(place: Place, message: String) -> Self {
        Diagnostic {
            span: place.start,
            end: place.end,
            message,
        }
    }

    fn to_compile_error(&self) -> TokenStream {
        let ends = [Ident::new("start", self.span), Ident::new("end", self.end)];
        let ends: TokenStream = ends.into_iter().map(|i| i.into_token_stream()).collect();
        syn::Error::new_spanned(ends, &self.message).to_compile_error()
    }
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
    pub fn new(place: impl Into<Place>, message: impl Into<String>) -> Self {
        let diagnostic = Diagnostic::new(place.into(), message.into());
        Error {
            diagnostics: vec![diagnostic],
        }
    }

    /// The diagnostics, in the order found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// One `compile_error!` per diagnostic, each spread over its tokens.
    pub fn to_compile_error(&self) -> TokenStream {
        self.diagnostics
            .iter()
            .map(Diagnostic::to_compile_error)
            .collect()
    }

    fn summary(&self) -> String {
        let messages: Vec<&str> = self
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        messages.join("\n")
    }
}

impl From<syn::Error> for Error {
    fn from(e: syn::Error) -> Self {
        let each = e
            .into_iter()
            .map(|e| Diagnostic::new(e.span().into(), e.to_string()));
        Error {
            diagnostics: each.collect(),
        }
    }
}

/// The sink the passes report into. It never stops a pass: a pass reports and goes on, so
/// that a body with three problems gets three messages in one compile.
#[derive(Default)]
pub struct Diagnostics {
    found: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records a problem at `place`.
    pub fn report(&mut self, place: impl Into<Place>, message: impl Into<String>) {
        self.found
            .push(Diagnostic::new(place.into(), message.into()));
    }

    /// How many problems were reported.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// The message of the first problem reported, if any.
    pub fn first_message(&self) -> Option<String> {
        self.found.first().map(|d| d.message.clone())
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
            Err(Error {
                diagnostics: self.found,
            })
        }
    }
}
