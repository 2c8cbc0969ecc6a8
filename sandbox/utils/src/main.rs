//! The utilities the sandbox could not take from a maintained crate that builds for
//! `wasm32-wasip2` (uutils' findutils needs a C regex library; there is no uutils
//! grep), kept small on purpose, plus two helpers the shell uses so that it never
//! touches the filesystem itself: `__glob` and `__isdir` run here, inside the sandbox.
//!
//! One WASI command; `argv[0]` picks the utility (a multicall binary).

mod find;
mod fnmatch;
mod glob;
mod grep;

use std::io::Write;

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    if args.is_empty() {
        args.push(String::new());
    }
    let name = args[0].rsplit('/').next().unwrap_or_default().to_string();
    let rest = &args[1..];
    let code = match name.as_str() {
        "grep" => grep::main(rest, false),
        "egrep" => grep::main(rest, true),
        "find" => find::main(rest),
        "__glob" => glob::main(rest),
        "__isdir" => i32::from(!rest.first().is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.is_dir()))),
        other => {
            eprintln!("hermes-sandbox-utils: unknown utility {other:?}");
            2
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Prints `name: message` on stderr, the way the GNU tools report a problem.
pub(crate) fn complain(name: &str, message: impl std::fmt::Display) {
    eprintln!("{name}: {message}");
}
