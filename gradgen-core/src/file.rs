//! The functions of a whole Rust source file, for tools that read files rather than one
//! function's tokens (the `gradgen` program), and errors shown against the file's text.
//!
//! Functions are found at any depth of inline `mod` blocks, in `impl` blocks, as provided
//! methods of traits, and as items at the top level of another function's body. A `mod m;`
//! that names another file is not followed: the program reads one file.
//!
//! With proc-macro2's `span-locations` (on in this crate), the spans of a file parsed here
//! know their line and column, which [`render_error`] shows as rustc does:
//!
//! ```text
//! error: `while` loops are not supported; ...
//!  --> src/model.rs:4:5
//!   |
//! 4 |     while x > 1.0 {
//!   |     ^^^^^
//! ```

use std::fmt::Write;

use proc_macro2::{LineColumn, Span, TokenStream, TokenTree};
use syn::{Attribute, ImplItem, Item, ItemFn, Meta, Stmt, TraitItem};

use crate::error::Error;

/// A function of a file.
pub struct FileFunction {
    /// Its name with the modules, type or trait it is in: `shapes::Circle::area`.
    pub path: String,
    /// The function, without its `#[grad]` attribute.
    pub item: ItemFn,
    /// The arguments of its `#[grad]` (empty for a bare `#[grad]`), or why they cannot be
    /// arguments of `#[grad]`; `None` for a function without `#[grad]`.
    pub grad: Option<Result<TokenStream, Error>>,
}

impl FileFunction {
    /// The function's name.
    pub fn name(&self) -> String {
        self.item.sig.ident.to_string()
    }

    /// Whether `name` names this function: its name, its whole path, or the end of its path
    /// (`Circle::area`).
    pub fn is_named(&self, name: &str) -> bool {
        self.path == name || self.path.ends_with(&format!("::{name}"))
    }
}

/// Every function of `file` in source order, a function before those nested in its body.
pub fn functions(file: &syn::File) -> Vec<FileFunction> {
    let mut found = Vec::new();
    items(&file.items, &mut Vec::new(), &mut found);
    found
}

fn items(list: &[Item], scope: &mut Vec<String>, found: &mut Vec<FileFunction>) {
    for item in list {
        match item {
            Item::Fn(f) => function(f.clone(), scope, found),
            Item::Mod(m) => {
                if let Some((_, content)) = &m.content {
                    within(scope, m.ident.to_string(), |scope| {
                        items(content, scope, found)
                    });
                }
            }
            Item::Impl(i) => within(scope, type_name(&i.self_ty), |scope| {
                for f in i.items.iter().filter_map(impl_fn) {
                    function(f, scope, found);
                }
            }),
            Item::Trait(t) => within(scope, t.ident.to_string(), |scope| {
                for f in t.items.iter().filter_map(provided_fn) {
                    function(f, scope, found);
                }
            }),
            _ => {}
        }
    }
}

/// Runs `f` with `name` pushed on the scope.
fn within(scope: &mut Vec<String>, name: String, f: impl FnOnce(&mut Vec<String>)) {
    scope.push(name);
    f(scope);
    scope.pop();
}

fn function(mut item: ItemFn, scope: &mut Vec<String>, found: &mut Vec<FileFunction>) {
    let name = item.sig.ident.to_string();
    let path = scope
        .iter()
        .chain([&name])
        .cloned()
        .collect::<Vec<_>>()
        .join("::");
    let grad = take_grad(&mut item.attrs);
    let nested: Vec<Item> = item
        .block
        .stmts
        .iter()
        .filter_map(|s| match s {
            Stmt::Item(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    found.push(FileFunction { path, item, grad });
    within(scope, name, |scope| items(&nested, scope, found));
}

/// An associated function as a free one: the pipeline reads only its signature and body.
fn impl_fn(item: &ImplItem) -> Option<ItemFn> {
    let ImplItem::Fn(f) = item else { return None };
    Some(ItemFn {
        attrs: f.attrs.clone(),
        vis: f.vis.clone(),
        sig: f.sig.clone(),
        block: Box::new(f.block.clone()),
    })
}

/// A trait's method with a default body as a free function.
fn provided_fn(item: &TraitItem) -> Option<ItemFn> {
    let TraitItem::Fn(f) = item else { return None };
    let block = f.default.clone()?;
    Some(ItemFn {
        attrs: f.attrs.clone(),
        vis: syn::Visibility::Inherited,
        sig: f.sig.clone(),
        block: Box::new(block),
    })
}

/// `Circle` for `Circle`, `shapes::Circle<T>` or `&Circle`: the name a reader looks for.
fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => Some(type_name(&r.elem)),
        _ => None,
    }
    .unwrap_or_else(|| quote::quote!(#ty).to_string())
}

/// Takes the first `#[grad]`, `#[grad(...)]` or `#[gradgen::grad]` attribute off `attrs` and
/// returns its arguments, as the macro would receive them.
fn take_grad(attrs: &mut Vec<Attribute>) -> Option<Result<TokenStream, Error>> {
    let pos = attrs.iter().position(is_grad)?;
    let attr = attrs.remove(pos);
    Some(match attr.meta {
        Meta::Path(_) => Ok(TokenStream::new()),
        Meta::List(list) => Ok(list.tokens),
        Meta::NameValue(nv) => {
            let msg = concat!(
                "`#[grad = ...]` is not a form of `#[grad]`; ",
                "write `#[grad]` or `#[grad(wrt(...))]`"
            );
            Err(Error::new(crate::error::Place::of(&nv), msg))
        }
    })
}

/// `grad` or `gradgen::grad`, the two ways a user names the attribute.
fn is_grad(attr: &Attribute) -> bool {
    let path = &attr.path().segments;
    let names: Vec<String> = path.iter().map(|s| s.ident.to_string()).collect();
    names == ["grad"] || names == ["gradgen", "grad"]
}

/// The deepest nesting of brackets that [`parse`] accepts. syn parses nested groups by
/// recursion, so an absurdly deep file (a generated one) would exhaust the stack; the
/// pipeline itself rejects expressions nested deeper than a few hundred levels.
pub const MAX_NESTING: usize = 2_000;

/// Parses a whole file, as [`syn::parse_file`] does, saying plainly when the text is not
/// even Rust tokens (proc-macro2 says only "cannot parse string into token stream"), and
/// refusing brackets nested deeper than [`MAX_NESTING`].
pub fn parse(text: &str) -> Result<syn::File, Error> {
    if let Some(span) = text.parse().ok().and_then(too_deep) {
        let msg = format!("brackets nested deeper than {MAX_NESTING} levels");
        return Err(Error::new(span, msg));
    }
    syn::parse_file(text).map_err(|e| match text.parse::<TokenStream>() {
        Err(lex) => {
            let msg = "this is not Rust source: an unclosed delimiter, string or comment, or a \
                character that Rust does not use, at or after this point";
            Error::new(lex.span(), msg)
        }
        Ok(_) => e.into(),
    })
}

/// The first group nested deeper than [`MAX_NESTING`], found without recursion.
fn too_deep(tokens: TokenStream) -> Option<Span> {
    let mut open = vec![tokens.into_iter()];
    while let Some(group) = open.last_mut() {
        match group.next() {
            Some(TokenTree::Group(g)) if open.len() >= MAX_NESTING => return Some(g.span()),
            Some(TokenTree::Group(g)) => open.push(g.stream().into_iter()),
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
    None
}

/// Each diagnostic of `error` as rustc shows it: the message, `path:line:column`, and the
/// line of `text` with the offending tokens underlined. A diagnostic without a place in the
/// file (one about generated code, or the end of the input) is shown at `fallback`, or at
/// the end of the text. A diagnostic repeated at the same place is shown once, as rustc
/// shows the macro's `compile_error!`s.
pub fn render_error(error: &Error, path: &str, text: &str, fallback: Option<Span>) -> String {
    let mut out = String::new();
    let mut shown = Vec::new();
    for diagnostic in error.diagnostics() {
        let place = match (located(diagnostic.span), fallback) {
            (Some(start), _) => (start.start(), diagnostic.end.end()),
            (None, Some(f)) => (f.start(), f.end()),
            (None, None) => (end_of(text), end_of(text)),
        };
        let one = render_one(&diagnostic.message, path, text, place);
        if !shown.contains(&one) {
            out.push_str(&one);
            // A blank line between errors, as rustc leaves.
            out.push('\n');
            shown.push(one);
        }
    }
    out
}

/// `span` if it has a place in a parsed file. A span made by the pipeline itself or by syn
/// at the end of the input (`Span::call_site()`) is empty and at the start of the first
/// "file", which no token of a real file is.
fn located(span: Span) -> Option<Span> {
    let (start, end) = (span.start(), span.end());
    let at_origin = start.line == 1 && start.column == 0;
    (!(at_origin && start == end)).then_some(span)
}

/// The place just after the last character of `text`.
fn end_of(text: &str) -> LineColumn {
    let line = text.lines().count().max(1);
    let column = text.lines().last().map_or(0, |l| l.chars().count());
    LineColumn { line, column }
}

fn render_one(message: &str, path: &str, text: &str, place: (LineColumn, LineColumn)) -> String {
    let (from, to) = place;
    let mut out = format!("error: {message}\n");
    let Some(line) = from.line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        let _ = writeln!(out, " --> {path}:{}:{}", from.line, from.column + 1);
        return out;
    };
    let number = from.line.to_string();
    let gutter = " ".repeat(number.len());
    let _ = writeln!(out, "{gutter}--> {path}:{number}:{}", from.column + 1);
    let _ = writeln!(out, "{gutter} |");
    let _ = writeln!(out, "{number} | {line}");
    let _ = writeln!(out, "{gutter} | {}", underline(line, from, to));
    out
}

/// Carets under `line` from column `from` to `to` (or to the end of the line when the
/// tokens go on below it), with the line's own tabs kept so that the carets line up.
fn underline(line: &str, from: LineColumn, to: LineColumn) -> String {
    let chars: Vec<char> = line.chars().collect();
    let stop = if to.line == from.line {
        to.column.min(chars.len())
    } else {
        chars.len()
    };
    let indent: String = chars
        .iter()
        .take(from.column)
        .map(|&c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let carets = "^".repeat(stop.saturating_sub(from.column).max(1));
    indent + &carets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> syn::File {
        syn::parse_file(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn paths(text: &str) -> Vec<(String, bool)> {
        let file = parse(text);
        functions(&file)
            .into_iter()
            .map(|f| (f.path, f.grad.is_some()))
            .collect()
    }

    #[test]
    fn finds_functions_at_every_depth() {
        let text = "
            #[grad] fn a(x: f64) -> f64 { x }
            mod m {
                #[gradgen::grad] pub fn b(x: f64) -> f64 { x }
                struct S;
                impl S { #[grad(wrt(x))] fn c(x: f64, y: f64) -> f64 { x * y } }
            }
            trait T { #[grad] fn d(x: f64) -> f64 { x } fn e(&self); }
            fn outer() { #[grad] fn inner(x: f64) -> f64 { x } }
            #[other::grad] fn not_ours(x: f64) -> f64 { x }
        ";
        let expected = [
            ("a", true),
            ("m::b", true),
            ("m::S::c", true),
            ("T::d", true),
            ("outer", false),
            ("outer::inner", true),
            ("not_ours", false),
        ];
        let expected: Vec<(String, bool)> =
            expected.iter().map(|&(p, g)| (p.to_string(), g)).collect();
        assert_eq!(paths(text), expected);
    }

    #[test]
    fn grad_arguments_are_taken_off() {
        let file = parse("#[inline] #[grad(wrt(x))] fn c(x: f64, y: f64) -> f64 { x * y }");
        let f = &functions(&file)[0];
        let args = f
            .grad
            .as_ref()
            .map(|g| g.as_ref().map(ToString::to_string).ok());
        assert_eq!(args, Some(Some("wrt (x)".to_string())));
        assert_eq!(f.item.attrs.len(), 1);
    }

    #[test]
    fn name_value_form_is_an_error() {
        let file = parse("#[grad = 1] fn c(x: f64) -> f64 { x }");
        assert!(matches!(functions(&file)[0].grad, Some(Err(_))));
    }

    #[test]
    fn names_match_by_name_or_path_end() {
        let file = parse("mod m { struct S; impl S { fn area(x: f64) -> f64 { x } } }");
        let f = &functions(&file)[0];
        assert!(f.is_named("area") && f.is_named("S::area") && f.is_named("m::S::area"));
        assert!(!f.is_named("rea") && !f.is_named("T::area"));
    }

    #[test]
    fn error_shows_place_and_underlines_the_tokens() {
        let text = "fn f(x: f64) -> f64 {\n    x.floor2()\n}\n";
        let file = parse(text);
        let Some(Item::Fn(f)) = file.items.first() else {
            panic!("no function")
        };
        let Some(Stmt::Expr(expr, _)) = f.block.stmts.first() else {
            panic!("no expression")
        };
        let error = Error::new(crate::error::Place::of(expr), "no such method");
        let shown = render_error(&error, "f.rs", text, None);
        let expected =
            "error: no such method\n --> f.rs:2:5\n  |\n2 |     x.floor2()\n  |     ^^^^^^^^^^\n\n";
        assert_eq!(shown, expected);
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| {
            let text = format!("{}1.0{}", "(".repeat(depth), ")".repeat(depth));
            text.parse().unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(too_deep(nested(MAX_NESTING - 1)).is_none());
        assert!(too_deep(nested(MAX_NESTING)).is_some());
        // Refused before syn's recursive descent, which this test thread's stack could not
        // hold.
        let text = format!("const C: f64 = {};", nested(MAX_NESTING));
        let error = super::parse(&text).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("brackets nested deeper than 2000 levels")
        );
    }

    #[test]
    fn a_repeated_diagnostic_is_shown_once() {
        let text = "fn f(x: f64) -> f64 { x }\n";
        let file = parse(text);
        let span = functions(&file)[0].item.sig.ident.span();
        let mut diags = crate::error::Diagnostics::default();
        for message in ["twice", "twice", "other"] {
            diags.report(span, message);
        }
        let Err(error) = diags.finish() else {
            panic!("no error")
        };
        let shown = render_error(&error, "f.rs", text, None);
        assert_eq!(shown.matches("error: twice").count(), 1, "{shown}");
        assert_eq!(shown.matches("error: other").count(), 1, "{shown}");
    }

    #[test]
    fn spans_of_the_pipeline_fall_back_to_the_function() {
        let text = "\n\nfn f(x: f64) -> f64 { x }\n";
        let file = parse(text);
        let f = &functions(&file)[0];
        let error = Error::new(Span::call_site(), "internal");
        let shown = render_error(&error, "f.rs", text, Some(f.item.sig.ident.span()));
        assert!(shown.contains(" --> f.rs:3:4\n"), "{shown}");
    }
}
