//! mime-unpack: list, extract or print the parts of a MIME message.
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use mailpipe::cli;
use mailpipe::message::multipart::{self as mp, extract, list, partial};

/// List, extract or print the parts of a MIME message.
///
/// Reads one message (FILE, or standard input) in one pass with constant
/// memory. Parts are numbered as IMAP does (RFC 3501): 1, 2, 2.1, …;
/// a message/rfc822 part is walked into. Damaged messages are read as far
/// as they make sense, with one warning per kind of damage; nesting deeper
/// than 64 levels or more than 10,000 parts is an error (65), and then
/// nothing is extracted.
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "Examples:
  mime-unpack msg.eml                       list the parts
  smtp-recv -n 1 | mime-unpack -x -C inbox/ save the attachments
  mime-unpack -p 1 msg.eml | less           read the text, in UTF-8
  mime-unpack --json msg.eml | jq '.[].filename'
  mime-unpack --reassemble part.1 part.2 part.3 > whole.eml"
)]
struct Args {
    /// List the parts, one a line: number, type, charset, transfer
    /// encoding, decoded size, disposition, file name (the default).
    #[arg(short, long, group = "mode")]
    list: bool,
    /// Extract the attachments into DIR (see -C), decoded; print each path.
    #[arg(short = 'x', long, group = "mode")]
    extract: bool,
    /// With -x: extract every leaf part, not only attachments.
    #[arg(short, long, requires = "extract")]
    all: bool,
    /// Write part PART (a number such as 1.2) to standard output, decoded;
    /// text is converted to UTF-8.
    #[arg(short, long, value_name = "PART", group = "mode")]
    part: Option<String>,
    /// With -p: do not convert text to UTF-8.
    #[arg(long, requires = "part")]
    raw: bool,
    /// With -x: the directory to write into (default: the current one).
    #[arg(short = 'C', long, value_name = "DIR", requires = "extract")]
    directory: Option<PathBuf>,
    /// List as JSON (an array of objects) for scripts.
    #[arg(long, conflicts_with_all = ["extract", "part"])]
    json: bool,
    /// Join the message/partial pieces given as FILEs into the original
    /// message; write it to standard output, or list, extract or print
    /// from it with -l, -x or -p.
    #[arg(long)]
    reassemble: bool,
    /// The message; none or `-` reads standard input. With --reassemble,
    /// the pieces, in any order.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    cli::main("mime-unpack", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let args = cli::parse::<Args>()?;
    let (name, input): (String, Box<dyn BufRead>) = if args.reassemble {
        if args.files.is_empty() {
            return Err(cli::usage("--reassemble needs the pieces as FILE operands"));
        }
        let mut pieces = Vec::new();
        for f in &args.files {
            let mut input =
                cli::open(f).map_err(|e| anyhow::Error::from(e).context(cli::display_name(f)))?;
            match partial::Piece::read(&mut input) {
                Ok(p) => pieces.push((p, input)),
                Err(e) => return fail(&cli::display_name(f), e),
            }
        }
        let joined = match partial::join(pieces) {
            Ok(j) => j,
            Err(e) => return fail("--reassemble", e),
        };
        let mode = args.extract || args.part.is_some() || args.list || args.json;
        if !mode {
            let mut out = cli::stdout();
            mp::decode::copy(joined, &mut out)?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        ("reassembled message".to_owned(), Box::new(joined))
    } else {
        if args.files.len() > 1 {
            return Err(cli::usage(
                "one message at a time (several FILEs only with --reassemble)",
            ));
        }
        let path = args.files.first().map_or(Path::new("-"), |p| p.as_path());
        let name = cli::display_name(path);
        let input = cli::open(path).map_err(|e| anyhow::Error::from(e).context(name.clone()))?;
        (name, input)
    };
    unpack(&args, &name, input)
}

fn unpack(args: &Args, name: &str, input: impl Read) -> anyhow::Result<ExitCode> {
    let mut out = cli::stdout();
    let result = if args.extract {
        let dir = args.directory.as_deref().unwrap_or(Path::new(""));
        extract::extract(input, dir, args.all, &mut out).map(|r| (true, r))
    } else if let Some(part) = &args.part {
        list::print(input, part, args.raw, &mut out)
    } else {
        list::list(input, &mut out, args.json).map(|r| (true, r))
    };
    let (found, report) = match result {
        Ok(r) => r,
        Err(e) => return fail(name, e),
    };
    out.flush()?;
    for line in report.lines() {
        cli::warn(format_args!("{name}: {line}"));
    }
    Ok(if found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(cli::code::NO)
    })
}

/// Maps a walk's error: I/O and header errors through `cli`; the walk's
/// own data errors (nesting, part count, an incomplete set) are exit 65.
fn fail(name: &str, e: mp::Error) -> anyhow::Result<ExitCode> {
    let err = match e {
        mp::Error::Io(e) => anyhow::Error::from(e),
        mp::Error::Parse(e) => anyhow::Error::from(e),
        e => {
            // cli::exit_code does not know this type yet (see the report).
            let _ = writeln!(io::stderr(), "{}: {name}: {e}", cli::prog());
            return Ok(ExitCode::from(cli::code::DATAERR));
        }
    };
    Err(err.context(name.to_owned()))
}
