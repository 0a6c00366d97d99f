//! The only code that touches argv, stdin, stdout and files.
//!
//! Every binary's `main` is `cli::main("prog", run)`, or `cli::tool` for
//! one parsed by clap alone. This module opens
//! inputs (`-` and no FILE mean stdin), gives a buffered stdout, prints each
//! error once as `prog: cause: cause` (one line, control characters escaped)
//! and maps errors to the exit codes of `mailpipe(7)` by walking the error
//! chain in [`exit_code`]. `EPIPE` on stdout (the reader went away, as with
//! `| head`) is a quiet success, as for any Unix filter.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

use crate::codec;
use crate::io::strip_os_error;
use crate::limits::IO_BUF;

/// Exit codes, as the binaries name them.
pub use crate::exit as code;

static PROG: OnceLock<&'static str> = OnceLock::new();

/// The program name given to [`main`], for messages.
pub fn prog() -> &'static str {
    PROG.get().copied().unwrap_or("mailpipe")
}

/// Runs a tool: calls `run`, prints its error (if any) once, and returns the
/// exit code. `--help`/`--version` print to stdout and exit 0.
pub fn main(prog: &'static str, run: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    let _ = PROG.set(prog);
    match run() {
        Ok(code) => code,
        Err(err) => ExitCode::from(report(&err, exit_code(&err))),
    }
}

/// Runs a tool whose command line is `A` through [`main`]: parses argv
/// (errors are mapped by [`main`]), prints the completion script when
/// `shell` finds the `--completions SHELL` flag every tool has, else hands
/// the arguments to `run`.
pub fn tool<A: clap::Parser>(
    prog: &'static str,
    shell: impl FnOnce(&A) -> Option<clap_complete::Shell>,
    run: impl FnOnce(A) -> anyhow::Result<ExitCode>,
) -> ExitCode {
    main(prog, || {
        let args = A::try_parse()?;
        match shell(&args) {
            Some(shell) => completions::<A>(shell),
            None => run(args),
        }
    })
}

/// Writes the `shell` completion script of `T`'s command line to stdout:
/// the `--completions SHELL` flag of every tool. Generated from the same clap
/// definition that parses the arguments, so the two cannot drift apart.
pub fn completions<T: clap::CommandFactory>(
    shell: clap_complete::Shell,
) -> anyhow::Result<ExitCode> {
    let mut cmd = T::command();
    let name = cmd.get_name().to_owned();
    // Into memory first: clap_complete panics on a write error, and a
    // closed stdout must stay a quiet EPIPE like everywhere else.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    let mut out = stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Options of the tools people come from (msmtp, swaks, mpack…) that have
/// an equivalent here: a parse error for one of them says what to type
/// (`smtp-send: no --host option: use -S host:port`, issue 13) instead of
/// clap's "unexpected argument". Each entry is `(flag, what to use)`;
/// `--flag=value` matches `--flag`. Other errors pass unchanged.
pub fn foreign_flag(err: clap::Error, hints: &[(&str, &str)]) -> anyhow::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if err.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg)
    {
        let flag = arg.split('=').next().unwrap_or(arg);
        if let Some((_, hint)) = hints.iter().find(|(f, _)| *f == flag) {
            return usage(format!("no {flag} option: {hint}"));
        }
    }
    err.into()
}

crate::exit::message_error! {
    /// A usage error found after argument parsing (exit 64).
    #[derive(Debug)]
    pub struct UsageError(pub String) => USAGE;
}

/// Builds a usage error (exit 64) from a message.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// An input that could not be opened (exit 66).
#[derive(Debug)]
pub struct OpenError(io::Error);

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for OpenError {}

/// A buffered input: stdin or a file.
pub type Input = Box<dyn BufRead>;

/// Opens `path` for reading; `-` is stdin.
pub fn open(path: &Path) -> Result<Input, OpenError> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(
            IO_BUF,
            io::stdin().lock(),
        )));
    }
    let file = File::open(path).map_err(OpenError)?;
    // A directory opens fine on Linux and fails on the first read; say so now.
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(OpenError(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    Ok(Box::new(BufReader::with_capacity(IO_BUF, file)))
}

/// How an input is named in messages: `-` is `stdin`.
pub fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Runs `f` on each input in order (no FILE means stdin).
///
/// An error on one input is printed as `prog: name: cause` and the rest still
/// run. Returns the worst exit code seen (0 when all succeeded). A closed
/// stdout (EPIPE) stops at once, quietly.
pub fn each_input(
    files: &[PathBuf],
    mut f: impl FnMut(&Path, &mut dyn BufRead) -> anyhow::Result<()>,
) -> u8 {
    let stdin = [PathBuf::from("-")];
    let files = if files.is_empty() { &stdin[..] } else { files };
    let mut worst = code::OK;
    for path in files {
        let result = open(path)
            .map_err(anyhow::Error::from)
            .and_then(|mut input| f(path, &mut input));
        if let Err(err) = result {
            let code = exit_code(&err);
            if output_error(&err).is_some() {
                // Output failed: no later input can be written either, and
                // the cause is stdout, not this input.
                return worst.max(report(&err, code));
            }
            let err = err.context(display_name(path));
            worst = worst.max(report(&err, code));
        }
    }
    worst
}

/// Buffered standard output that fails loudly and only once.
///
/// The first write error is reported by
/// [`each_input`] or [`main`] as `prog: standard output: cause`; every later
/// write or flush fails with an error marked as already reported, so the
/// tool stops reading its inputs and nothing is printed twice. Flush it
/// explicitly (a `BufWriter` drop hides errors).
pub struct Stdout(BufWriter<io::StdoutLock<'static>>);

/// The kind of the first error writing stdout, once there was one.
static OUTPUT_FAILED: OnceLock<io::ErrorKind> = OnceLock::new();

/// A failure writing standard output.
#[derive(Debug)]
enum OutputError {
    /// The first failure, not yet reported.
    Failed(io::Error),
    /// A later failure; the first was reported already.
    Reported,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Failed(e) => write!(f, "standard output: {e}"),
            OutputError::Reported => f.write_str("standard output failed"),
        }
    }
}

impl std::error::Error for OutputError {}

impl Stdout {
    fn fail(e: io::Error) -> io::Error {
        let kind = e.kind();
        if OUTPUT_FAILED.set(kind).is_ok() {
            io::Error::new(kind, OutputError::Failed(e))
        } else {
            io::Error::new(kind, OutputError::Reported)
        }
    }

    fn inner(&mut self) -> io::Result<&mut BufWriter<io::StdoutLock<'static>>> {
        match OUTPUT_FAILED.get() {
            Some(&kind) => Err(io::Error::new(kind, OutputError::Reported)),
            None => Ok(&mut self.0),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner()?.write(buf).map_err(Self::fail)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner()?.write_all(buf).map_err(Self::fail)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner()?.flush().map_err(Self::fail)
    }
}

/// Buffered stdout (see [`Stdout`]).
///
/// (A closed fd 1 cannot be told apart from `/dev/null`: the Rust runtime
/// opens `/dev/null` on closed standard descriptors before `main`.)
pub fn stdout() -> Stdout {
    Stdout(BufWriter::with_capacity(IO_BUF, io::stdout().lock()))
}

/// Prints `prog: msg` on stderr as one line (control characters escaped):
/// for tools that report as they go (a receiver's per-message lines, one
/// line per failed file of `smtp-send --each`).
pub fn say(msg: impl fmt::Display) {
    let line = escape_controls(&format!("{}: {msg}", prog()));
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Prints `prog: warning: msg` on stderr.
pub fn warn(msg: impl fmt::Display) {
    let line = escape_controls(&format!("{}: warning: {msg}", prog()));
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Maps an error chain to an exit code: the outermost cause we know decides.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<clap::Error>() {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    code::OK
                }
                _ => code::USAGE,
            };
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return code::Status::exit_code(e);
        }
        if cause.is::<OpenError>() {
            return code::NOINPUT;
        }
        if let Some(e) = crate::status_of(cause) {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            return crate::io::exit_code(e);
        }
    }
    code::SOFTWARE
}

/// The I/O errors in a chain, including those wrapped by our error types.
fn io_errors(err: &anyhow::Error) -> impl Iterator<Item = &io::Error> {
    err.chain().filter_map(|c| {
        c.downcast_ref::<io::Error>()
            .or_else(|| crate::status_of(c).and_then(|s| s.io_error()))
    })
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    io_errors(err).any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// The stdout failure in a chain, if the error came from writing stdout.
fn output_error(err: &anyhow::Error) -> Option<&OutputError> {
    io_errors(err).find_map(|e| e.get_ref().and_then(|i| i.downcast_ref::<OutputError>()))
}

/// Prints the error once: help and version as clap renders them (stdout),
/// everything else as one line `prog: cause: cause` on stderr.
fn report(err: &anyhow::Error, code: u8) -> u8 {
    if let Some(e) = err.downcast_ref::<clap::Error>() {
        if code == code::OK {
            if let Err(e) = e.print()
                && e.kind() != io::ErrorKind::BrokenPipe
            {
                let msg = strip_os_error(&e);
                let _ = writeln!(io::stderr().lock(), "{}: standard output: {msg}", prog());
                return code::IOERR;
            }
            return code;
        }
        let _ = writeln!(
            io::stderr().lock(),
            "{}: {} (try '{} --help')",
            prog(),
            escape_controls(&usage_summary(&e.render().to_string())),
            prog()
        );
        return code;
    }
    if is_broken_pipe(err) {
        return code;
    }
    match output_error(err) {
        Some(OutputError::Reported) => return code,
        Some(e) => {
            let line = escape_controls(&format!("{}: {}", prog(), strip_os_error(&e)));
            let _ = writeln!(io::stderr().lock(), "{line}");
            return code;
        }
        None => {}
    }
    let causes: Vec<String> = err.chain().map(strip_os_error).collect();
    let line = escape_controls(&format!("{}: {}", prog(), causes.join(": ")));
    let _ = writeln!(io::stderr().lock(), "{line}");
    code
}

/// clap's message up to its usage block, on one line: the first paragraph
/// can span lines (`the following required arguments were not provided:`
/// then the arguments), and all of it is needed to say what is wrong.
fn usage_summary(rendered: &str) -> String {
    let para: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let text = para.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    if text.is_empty() {
        "invalid usage".to_owned()
    } else {
        text.to_owned()
    }
}

/// Keeps an error on one line: control characters (from file names or
/// decoded data) are shown escaped, never raw.
fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            // Also the bidi overrides and line separators decoded text
            // never shows raw (they could disguise the rest of the line).
            if c.is_control() || codec::encoded_word::is_bad_control(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_outermost_known_cause() {
        let decode = codec::Error::Decode(codec::DecodeError {
            kind: codec::DecodeErrorKind::BadEscape,
            offset: 3,
        });
        assert_eq!(exit_code(&anyhow::Error::from(decode).context("x")), 65);
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(exit_code(&anyhow::Error::from(pipe)), 0);
        let eio = codec::Error::Io(io::Error::other("disk"));
        assert_eq!(exit_code(&anyhow::Error::from(eio)), 74);
        let long = io::Error::new(
            io::ErrorKind::InvalidData,
            crate::io::lines::TooLong { limit: 1 },
        );
        assert_eq!(exit_code(&anyhow::Error::from(long)), 65);
        assert_eq!(exit_code(&usage("bad")), 64);
        let open = OpenError(io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(exit_code(&anyhow::Error::from(open).context("f")), 66);
        assert_eq!(exit_code(&anyhow::anyhow!("bug")), 70);
        let closed = crate::recv::RecvError::OutputClosed(io::ErrorKind::BrokenPipe.into());
        assert_eq!(exit_code(&anyhow::Error::from(closed)), 0);
        let ready = crate::recv::RecvError::ReadyFile("r".into(), io::Error::other("disk"));
        assert_eq!(exit_code(&anyhow::Error::from(ready)), 74);
    }

    #[test]
    fn usage_errors_keep_the_whole_first_paragraph() {
        let clap = "error: the following required arguments were not provided:\n  --to <ADDR>\n\nUsage: x --to <ADDR>\n";
        assert_eq!(
            usage_summary(clap),
            "the following required arguments were not provided: --to <ADDR>"
        );
        assert_eq!(
            usage_summary("error: unexpected argument '--x' found\n\n  tip: ...\n"),
            "unexpected argument '--x' found"
        );
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(strip_os_error("No such file (os error 2)"), "No such file");
        assert_eq!(escape_controls("a\nb\r\u{0}"), "a\\nb\\r\\u{0}");
        assert_eq!(
            escape_controls("x\u{202e}y\u{2028}"),
            "x\\u{202e}y\\u{2028}"
        );
    }
}
