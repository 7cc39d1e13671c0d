//! Integer `const` items of the crate a function is in, for array lengths and loop bounds
//! such as `[f64; N]` and `0..N`.
//!
//! A procedural macro sees only its own function, so `#[grad]` reads the rest of the file (the
//! macro crate passes its path) and takes every `const NAME: <integer type> = <literal>;` it
//! finds there, at any depth of inline modules. A name the file does not define is looked up in
//! the other `.rs` files of the crate's directory: `src/` and below when the file is under a
//! package's `src/`, else the file's own directory and below (an example or a test with its
//! modules). A name defined twice with different values is left out, as ambiguous, and so is
//! one whose value is not a literal; [`FileConsts::why_not`] says which, for the error under
//! its use. Because the files are read as text, not resolved as Rust, the emitted code asserts
//! at compile time that each constant it used has the value it was read with: a `N` that
//! resolves elsewhere is a compile error, never a silently different function.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// At most this many files of a crate are read for its constants, to bound the cost of a
/// lookup in a very large directory.
const MAX_CRATE_FILES: usize = 2_000;

use syn::{Expr, Item, Lit, Type};

/// The integer constants of a file, by name, read the first time one is asked for.
#[derive(Clone, Debug, Default)]
pub struct FileConsts {
    path: Option<PathBuf>,
    values: OnceCell<BTreeMap<String, Found>>,
    /// The constants of the crate's other files, read only for a name the file lacks.
    others: OnceCell<BTreeMap<String, Found>>,
}

/// What the file defines under a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Value(i64),
    /// An integer constant whose value is not a literal (`2 * M`).
    NotLiteral,
    /// Two or more integer constants with different values (in different modules, say).
    Several,
}

impl FileConsts {
    /// The constants of the Rust file at `path`, read when first needed; none if it cannot be
    /// read or parsed.
    pub fn of_file(path: &Path) -> FileConsts {
        FileConsts {
            path: Some(path.to_path_buf()),
            ..FileConsts::default()
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
        match self.found(name)? {
            Found::Value(v) => Some(v),
            Found::NotLiteral | Found::Several => None,
        }
    }

    /// Why the file's constant `name` has no value for `#[grad]`, if it defines one.
    pub fn why_not(&self, name: &str) -> Option<String> {
        match self.found(name)? {
            Found::Value(_) => None,
            Found::NotLiteral => Some(format!(
                "the constant `{name}` is not an integer literal; `#[grad]` reads its file as \
                 text and cannot compute it: write its value as a literal"
            )),
            Found::Several => Some(format!(
                "this crate defines `{name}` more than once with different values, and \
                 `#[grad]`, which reads its files as text, cannot tell which is in scope: give \
                 them different names"
            )),
        }
    }

    fn found(&self, name: &str) -> Option<Found> {
        let name = crate::check::unraw_str(name);
        let values = self.values.get_or_init(|| {
            let mut found = Collector::default();
            if let Some(path) = &self.path {
                found.read(path);
            }
            found.values
        });
        if let Some(&own) = values.get(name) {
            return Some(own);
        }
        let others = self.others.get_or_init(|| {
            let mut found = Collector::default();
            if let Some(path) = &self.path {
                for file in crate_files(path) {
                    found.read(&file);
                }
            }
            found.values
        });
        others.get(name).copied()
    }
}

fn parse(text: &str) -> BTreeMap<String, Found> {
    let mut found = Collector::default();
    found.parse(text);
    found.values
}

/// The other `.rs` files of the crate of `file`, in a fixed order; see the module docs.
fn crate_files(file: &Path) -> Vec<PathBuf> {
    let package_src = file.ancestors().skip(1).find(|dir| {
        dir.file_name().is_some_and(|n| n == "src")
            && dir.parent().is_some_and(|p| p.join("Cargo.toml").is_file())
    });
    let Some(root) = package_src.or_else(|| file.parent()) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        entries.sort();
        for path in entries.into_iter().rev() {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.') || n == "target");
            if hidden {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != file {
                files.push(path);
            }
        }
        if files.len() >= MAX_CRATE_FILES {
            break;
        }
    }
    files.truncate(MAX_CRATE_FILES);
    files
}

#[derive(Default)]
struct Collector {
    values: BTreeMap<String, Found>,
}

impl Collector {
    /// Adds the constants of the file at `path`; nothing if it cannot be read or parsed.
    fn read(&mut self, path: &Path) {
        if let Ok(text) = std::fs::read_to_string(path) {
            self.parse(&text);
        }
    }

    fn parse(&mut self, text: &str) {
        if let Ok(file) = syn::parse_file(text) {
            self.collect(&file.items);
        }
    }

    fn collect(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Const(c) if is_integer(&c.ty) => {
                    let value = integer_literal(&c.expr).map_or(Found::NotLiteral, Found::Value);
                    let name = syn::ext::IdentExt::unraw(&c.ident).to_string();
                    let merged = match self.values.get(&name) {
                        Some(&old) if old != value => Found::Several,
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
        assert!(consts
            .why_not("N")
            .is_some_and(|m| m.contains("more than once")));
        assert_eq!(consts.get("M"), Some(2));
        assert_eq!(consts.why_not("M"), None);
    }

    #[test]
    fn a_constant_computed_from_others_is_not_read() {
        let consts = FileConsts::of_source("const M: usize = 3; const N: usize = 2 * M;");
        assert_eq!(consts.get("N"), None);
        assert!(consts
            .why_not("N")
            .is_some_and(|m| m.contains("not an integer literal")));
        assert_eq!(consts.why_not("K"), None, "not a constant of the file");
    }

    #[test]
    fn a_name_the_file_lacks_is_read_from_the_other_files_of_its_crate() {
        let root = std::env::temp_dir().join(format!("gradgen-consts-{}", std::process::id()));
        let src = root.join("src");
        std::fs::create_dir_all(src.join("model")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[package]").unwrap();
        std::fs::write(
            src.join("config.rs"),
            "pub const N: usize = 6; const M: usize = 1;",
        )
        .unwrap();
        std::fs::write(
            src.join("other.rs"),
            "const M: usize = 2; const K: usize = 9;",
        )
        .unwrap();
        let file = src.join("model").join("layer.rs");
        std::fs::write(&file, "const K: usize = 3;").unwrap();
        let consts = FileConsts::of_file(&file);
        let found = (consts.get("N"), consts.get("K"), consts.get("M"));
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(found.0, Some(6), "from src/config.rs");
        assert_eq!(found.1, Some(3), "the file's own definition comes first");
        assert_eq!(found.2, None, "two files disagree");
        assert!(consts
            .why_not("M")
            .is_some_and(|m| m.contains("more than once")));
    }

    #[test]
    fn a_file_that_does_not_parse_has_none() {
        assert_eq!(FileConsts::of_source("fn (").get("N"), None);
    }
}
