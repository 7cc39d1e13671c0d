//! Integer `const` items of the file a function is in, for array lengths and loop bounds such
//! as `[f64; N]` and `0..N`.
//!
//! A procedural macro sees only its own function, so `#[grad]` reads the rest of the file (the
//! macro crate passes its path) and takes every `const NAME: <integer type> = <literal>;` it
//! finds there, at any depth of inline modules. A name defined twice with different values is
//! left out, as ambiguous. Because the file is read as text, not resolved as Rust, the emitted
//! code asserts at compile time that each constant it used has the value it was read with: a
//! `N` that resolves elsewhere is a compile error, never a silently different function.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syn::{Expr, Item, Lit, Type};

/// The integer constants of a file, by name, read the first time one is asked for.
#[derive(Clone, Debug, Default)]
pub struct FileConsts {
    path: Option<PathBuf>,
    values: OnceCell<BTreeMap<String, Option<i64>>>,
}

impl FileConsts {
    /// The constants of the Rust file at `path`, read when first needed; none if it cannot be
    /// read or parsed.
    pub fn of_file(path: &Path) -> FileConsts {
        FileConsts {
            path: Some(path.to_path_buf()),
            values: OnceCell::new(),
        }
    }

    /// The constants of Rust source text.
    pub fn of_source(text: &str) -> FileConsts {
        let found = FileConsts::default();
        let _ = found.values.set(parse(text));
        found
    }

    /// The value of the constant `name`, if the file defines it once (or always alike).
    pub fn get(&self, name: &str) -> Option<i64> {
        let values = self.values.get_or_init(|| {
            let text = self
                .path
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok());
            parse(&text.unwrap_or_default())
        });
        values.get(name).copied().flatten()
    }
}

fn parse(text: &str) -> BTreeMap<String, Option<i64>> {
    let mut found = Collector::default();
    if let Ok(file) = syn::parse_file(text) {
        found.collect(&file.items);
    }
    found.values
}

#[derive(Default)]
struct Collector {
    values: BTreeMap<String, Option<i64>>,
}

impl Collector {
    fn collect(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Const(c) if is_integer(&c.ty) => {
                    let value = integer_literal(&c.expr);
                    let name = c.ident.to_string();
                    let merged = match self.values.get(&name) {
                        Some(old) if *old != value => None,
                        _ => value,
                    };
                    self.values.insert(name, merged);
                }
                Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        self.collect(items);
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_integer(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    p.path
        .get_ident()
        .is_some_and(|i| crate::check::is_integer_type(&i.to_string()))
}

fn integer_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
        Expr::Paren(p) => integer_literal(&p.expr),
        Expr::Group(g) => integer_literal(&g.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_at_any_depth_of_inline_modules() {
        let consts = FileConsts::of_source(
            "const N: usize = 4;
             pub const M: u32 = 10;
             const F: f64 = 1.0;
             mod inner { pub(crate) const K: usize = 3; }",
        );
        assert_eq!(
            (consts.get("N"), consts.get("M"), consts.get("K")),
            (Some(4), Some(10), Some(3))
        );
        assert_eq!(consts.get("F"), None, "not an integer");
    }

    #[test]
    fn a_name_with_two_values_is_ambiguous() {
        let consts = FileConsts::of_source(
            "const N: usize = 4; mod a { const N: usize = 5; } mod b { const M: usize = 2; const M: usize = 2; }",
        );
        assert_eq!(consts.get("N"), None);
        assert_eq!(consts.get("M"), Some(2));
    }

    #[test]
    fn a_file_that_does_not_parse_has_none() {
        assert_eq!(FileConsts::of_source("fn (").get("N"), None);
    }
}
