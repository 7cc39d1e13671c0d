//! `gradgen`: what `#[grad]` emits for the functions of a Rust source file, without writing
//! a test. Install it with `cargo install --locked --path gradgen-core`; `gradgen --help`
//! says the rest.
//!
//! The program only reads: it parses the file with syn, finds the functions that carry
//! `#[grad]` (see [`gradgen_core::file`]) and runs the macro's own pipeline on each, so its
//! output and its error messages are the macro's.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use gradgen_core::file::{self, FileFunction};
use gradgen_core::{Error, OpCounts};
use proc_macro2::TokenStream;

const USAGE: &str = "\
Usage: gradgen FILE [OPTIONS]

Prints what #[grad] emits for each #[grad] function of the Rust source file FILE
(`-` reads standard input), by default the <name>_grad function.

Options:
  -f, --function NAME  only the function NAME: its name, or its path such as
                       `Circle::area` (may be given more than once)
      --code           the emitted <name>_grad (the default when no view is chosen)
      --ir             the SSA-style dump of the IR: forward pass, adjoint code, roots
      --counts         scalar operations: of the function, of the gradient alone, of
                       the emitted value and gradient, and the ratio emitted / function
      --dot            the DAG in Graphviz DOT, the adjoint code in orange; render it
                       with `gradgen FILE -f NAME --dot | dot -Tpng -o NAME.png`
  -h, --help           print this text
  -V, --version        print the version

Views combine: each function's are shown in the order above, one function after another.

Functions are found in modules, impl blocks and traits of FILE, but not inside the
macros that write them (`macro_rules!`): the file is read as written, not expanded.

Errors name file:line:column and say what #[grad] says at compile time. Exit status:
0 on success, 2 on bad input (options, an unreadable file, a file that is not Rust, a
function that is not there, a function #[grad] rejects), 1 if the output cannot be written.
";

/// Why a function the user sees may not be found.
const MACROS_UNSEEN: &str = "the file is read as written: functions that a macro writes, \
    such as those inside `macro_rules!`, are not seen";

/// The exit status for bad input: options, file or functions.
const BAD_INPUT: u8 = 2;

/// What to print for each function.
#[derive(Default)]
struct Views {
    code: bool,
    ir: bool,
    counts: bool,
    dot: bool,
}

struct Options {
    file: OsString,
    /// The functions asked for by `--function`; all `#[grad]` functions when empty.
    functions: Vec<String>,
    views: Views,
}

enum Command {
    Run(Options),
    Help,
    Version,
}

/// A problem already shown on standard error.
struct Reported;

/// The stack of the thread that does the work. syn and the pipeline recurse once per level
/// of nesting of an expression; the 8 MiB of the main thread end at a few thousand levels in a
/// debug build, which a generated file can reach. Reserved, not used: pages are committed as
/// the recursion reaches them.
const STACK_BYTES: usize = 1 << 30;

fn main() -> ExitCode {
    let worker = std::thread::Builder::new().stack_size(STACK_BYTES);
    match worker.spawn(work).map(|handle| handle.join()) {
        Ok(Ok(status)) => status,
        // The thread could not start, or it panicked (a bug, reported by the panic hook).
        Ok(Err(_)) | Err(_) => ExitCode::FAILURE,
    }
}

fn work() -> ExitCode {
    match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(options)) => run(&options),
        Ok(Command::Help) => print(USAGE, ExitCode::SUCCESS),
        Ok(Command::Version) => {
            let version = format!("gradgen {}\n", env!("CARGO_PKG_VERSION"));
            print(&version, ExitCode::SUCCESS)
        }
        Err(message) => {
            report(&format!("error: {message}\n\n{USAGE}"));
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let (mut file, mut functions, mut views) = (None, Vec::new(), Views::default());
    let mut options_ended = false;
    while let Some(arg) = args.next() {
        // An argument that is not UTF-8 can only be a file name.
        let option = arg.to_str().filter(|_| !options_ended);
        match option {
            Some("-h" | "--help") => return Ok(Command::Help),
            Some("-V" | "--version") => return Ok(Command::Version),
            Some("--code") => views.code = true,
            Some("--ir") => views.ir = true,
            Some("--counts") => views.counts = true,
            Some("--dot") => views.dot = true,
            Some("-f" | "--function") => functions.push(function_name(args.next())?),
            Some(o) if o.starts_with("--function=") => {
                let name = o.split_once('=').map_or("", |(_, name)| name);
                functions.push(function_name(Some(name.into()))?);
            }
            Some("--") => options_ended = true,
            Some(o) if o.starts_with('-') && o != "-" => {
                return Err(format!("unknown option `{o}`"));
            }
            _ if file.is_some() => return Err("one FILE at a time".into()),
            _ => file = Some(arg),
        }
    }
    let file = file.ok_or("no FILE given")?;
    views.code |= !(views.ir || views.counts || views.dot);
    Ok(Command::Run(Options {
        file,
        functions,
        views,
    }))
}

fn function_name(arg: Option<OsString>) -> Result<String, String> {
    let name = arg.and_then(|a| a.into_string().ok()).unwrap_or_default();
    if name.is_empty() {
        Err("`--function` needs the NAME of a function".into())
    } else {
        Ok(name)
    }
}

fn run(options: &Options) -> ExitCode {
    let path = display_name(&options.file);
    let text = match read(&options.file) {
        Ok(text) => text,
        Err(why) => {
            report(&format!("error: cannot read {path}: {why}\n"));
            return ExitCode::from(BAD_INPUT);
        }
    };
    let (out, status) = match show(options, &path, &text) {
        Ok(shown) => shown,
        Err(Reported) => return ExitCode::from(BAD_INPUT),
    };
    print(&out, status)
}

/// The views of the selected functions, and the exit status: a function that `#[grad]`
/// rejects is reported and makes the status 2, but the others are still shown, as the
/// compiler reports each function.
fn show(options: &Options, path: &str, text: &str) -> Result<(String, ExitCode), Reported> {
    let file = file::parse(text).map_err(|e| report_error(&e, path, text, None))?;
    let functions = file::functions(&file);
    let selected = select(&functions, &options.functions, path, text)?;
    let consts = gradgen_core::consts::FileConsts::of_source(text);
    let mut blocks = Vec::new();
    let mut status = ExitCode::SUCCESS;
    for (f, grad) in selected {
        let fallback = Some(f.item.sig.ident.span());
        match views(f, grad, &consts, &options.views) {
            Ok(shown) => blocks.extend(shown),
            Err(e) => {
                report_error(&e, path, text, fallback);
                status = ExitCode::from(BAD_INPUT);
            }
        }
    }
    // A blank line between blocks, except between the one-line counts of several functions.
    let only_counts = !(options.views.code || options.views.ir || options.views.dot);
    Ok((blocks.join(if only_counts { "" } else { "\n" }), status))
}

/// A `#[grad]` function with the arguments of its `#[grad]`.
type Graded<'a> = (&'a FileFunction, &'a Result<TokenStream, Error>);

/// The `#[grad]` functions asked for.
fn select<'a>(
    functions: &'a [FileFunction],
    names: &[String],
    path: &str,
    text: &str,
) -> Result<Vec<Graded<'a>>, Reported> {
    let graded = || {
        functions
            .iter()
            .filter_map(|f| f.grad.as_ref().map(|g| (f, g)))
    };
    if graded().next().is_none() {
        report(&format!(
            "error: no function of {path} has #[grad]\n  = note: {MACROS_UNSEEN}\n"
        ));
        return Err(Reported);
    }
    for name in names {
        if !graded().any(|(f, _)| f.is_named(name)) {
            return Err(not_there(functions, name, path, text));
        }
    }
    let asked = |f: &FileFunction| names.is_empty() || names.iter().any(|n| f.is_named(n));
    Ok(graded().filter(|(f, _)| asked(f)).collect())
}

/// Reports that no `#[grad]` function is called `name`: under the function if there is one
/// without `#[grad]`, else with the list of those there are.
fn not_there(functions: &[FileFunction], name: &str, path: &str, text: &str) -> Reported {
    if let Some(f) = functions.iter().find(|f| f.is_named(name)) {
        let message = format!("`{}` has no #[grad] attribute", f.path);
        let span = f.item.sig.ident.span();
        return report_error(&Error::new(span, message), path, text, None);
    }
    let graded: Vec<String> = functions
        .iter()
        .filter(|f| f.grad.is_some())
        .map(|f| format!("`{}`", f.path))
        .collect();
    report(&format!(
        "error: no function `{name}` in {path}\n  = note: its #[grad] functions are {}\n",
        graded.join(", ")
    ));
    Reported
}

/// The chosen views of one function, in the order of the options' help.
fn views(
    f: &FileFunction,
    grad: &Result<TokenStream, Error>,
    consts: &gradgen_core::consts::FileConsts,
    views: &Views,
) -> Result<Vec<String>, Error> {
    let attr = grad.as_ref().map_err(Clone::clone)?;
    // The file's integer constants, as the macro reads them, for `[f64; N]` and `0..N`.
    let d = gradgen_core::differentiate_in(attr, &f.item, consts)?;
    let mut shown = Vec::new();
    if views.code {
        shown.push(d.emitted_code()?);
    }
    if views.ir {
        shown.push(d.ir_dump());
    }
    if views.counts {
        shown.push(counts(&f.path, &d.op_counts()));
    }
    if views.dot {
        shown.push(d.dot());
    }
    Ok(shown)
}

fn counts(path: &str, c: &OpCounts) -> String {
    format!(
        "{path}: function {}, gradient {}, emitted {}, ratio {:.2}\n",
        c.function,
        c.gradient,
        c.emitted,
        c.ratio()
    )
}

/// The file's text; `-` is standard input.
fn read(file: &OsString) -> Result<String, String> {
    let mut text = String::new();
    let read = if file == "-" {
        io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map(|_| text).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => "it is not UTF-8 text, so not Rust source".into(),
        _ => e.to_string(),
    })
}

fn display_name(file: &OsString) -> String {
    if file == "-" {
        "<stdin>".into()
    } else {
        Path::new(file).display().to_string()
    }
}

fn report_error(
    error: &Error,
    path: &str,
    text: &str,
    fallback: Option<proc_macro2::Span>,
) -> Reported {
    report(&file::render_error(error, path, text, fallback));
    Reported
}

/// Writes to standard error. If that fails there is nowhere left to say so.
fn report(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Writes `text` to standard output and ends with `status`. A reader that stops early
/// (`gradgen f.rs | head`) is not an error; any other failure to write is status 1.
fn print(text: &str, status: ExitCode) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            report(&format!("error: cannot write the output: {e}\n"));
            ExitCode::FAILURE
        }
    }
}
