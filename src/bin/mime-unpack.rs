//! mime-unpack: list, extract or print the parts of MIME messages.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mailpipe::cli;
use mailpipe::message::multipart::{decode, extract, list, partial, show};

/// List, extract or print the parts of MIME messages.
///
/// Reads each message in one pass with constant memory. Parts are numbered
/// as IMAP does (RFC 3501): 1, 2, 2.1, …; message/rfc822 parts are walked
/// into (-x saves an attached one whole). Damage is read as far as it makes sense, with one warning per
/// kind; nesting deeper than 64 levels or more than 10,000 parts is an
/// error (65), and then nothing of that message is extracted.
#[derive(Parser)]
#[command(
    name = "mime-unpack",
    version,
    after_help = "Examples:
  mime-unpack msg.eml                       list the parts
  mime-unpack -s msg.eml | less             read it: header, text, other parts
  mime-unpack -s --html-cmd 'lynx -dump -stdin' msg.eml
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
    /// An attached message is saved whole (.eml).
    #[arg(short = 'x', long, group = "mode")]
    extract: bool,
    /// With -x: extract every leaf part, not only attachments (attached
    /// messages are walked into, not saved whole).
    #[arg(short, long, requires = "extract", conflicts_with = "part")]
    all: bool,
    /// Write part PART (a number such as 1.2, or TEXT) to standard output,
    /// decoded; text is converted to UTF-8. With -x: save that part alone
    /// (whatever it is) into a file. Exit 1 if there is no such part.
    #[arg(short, long, value_name = "PART", conflicts_with_all = ["list", "show"])]
    part: Option<String>,
    /// Show the message for reading, as mshow does: From, To, Cc, Date,
    /// Subject and Reply-To decoded, each text part decoded to UTF-8
    /// (text/plain preferred in an alternative), then the other parts,
    /// numbered as -l numbers them (mime-unpack -p N prints one). Control
    /// and bidi characters become U+FFFD. Not the default on a terminal:
    /// the output of a command does not change with where it goes.
    #[arg(short, long, group = "mode")]
    show: bool,
    /// With --show: turn an HTML part that is the text into text with the
    /// shell command CMD (HTML on its standard input, text on its standard
    /// output; at most 30 s, 16 MiB), e.g. 'lynx -dump -stdin' or
    /// 'w3m -T text/html -dump'. Without it, HTML is listed, not shown.
    #[arg(long, value_name = "CMD", requires = "show")]
    html_cmd: Option<String>,
    /// With -p: do not convert text to UTF-8.
    #[arg(long, requires = "part", conflicts_with = "extract")]
    raw: bool,
    /// With -x: the directory to write into, created when missing (default:
    /// the current one).
    #[arg(short = 'C', long, value_name = "DIR")]
    directory: Option<PathBuf>,
    /// List as JSON (an array of objects) for scripts.
    #[arg(long, conflicts_with_all = ["extract", "part", "show"])]
    json: bool,
    /// Join the message/partial pieces given as FILEs into the original
    /// message; write it to standard output, or list, extract or print
    /// from it with -l, -x or -p.
    #[arg(long, requires = "files")]
    reassemble: bool,
    /// Messages, processed in order; none or `-` reads standard input.
    /// With --reassemble, the pieces of one message, in any order.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-unpack", |a: &Args| a.completions, run)
}

fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    // munpack's `-C DIR MSG` extracts; here listing is the default, so -C
    // alone would do nothing: say what to type (issue 13).
    if args.directory.is_some() && !args.extract {
        return Err(cli::usage(
            "-C DIR goes with -x (extract): mime-unpack -x -C DIR MSG (munpack extracts by \
             default; mime-unpack lists)",
        ));
    }
    if let Some(p) = &args.part {
        let number = list::part_number(p)
            .ok_or_else(|| cli::usage(format!("bad part number '{p}': want numbers like 1.2")))?;
        args.part = Some(number);
    }
    if let (true, Some(dir)) = (args.extract, &args.directory) {
        // Like `unzip -d`: the place to extract into is made when missing.
        std::fs::create_dir_all(dir)
            .with_context(|| format!("-C {}: cannot create the directory", dir.display()))?;
    }
    let mut out = cli::stdout();
    let mut worst = cli::code::OK;
    if args.reassemble {
        let mut pieces = Vec::new();
        for f in &args.files {
            let name = cli::display_name(f);
            let mut input =
                cli::open(f).map_err(|e| anyhow::Error::from(e).context(name.clone()))?;
            let piece = partial::Piece::read(&mut input).context(name)?;
            pieces.push((piece, input));
        }
        let joined = partial::join(pieces).context("--reassemble")?;
        if args.extract || args.part.is_some() || args.list || args.json || args.show {
            let name = "reassembled message";
            worst = unpack(&args, name, None, joined, &mut out).context(name)?;
        } else {
            decode::copy(joined, &mut out)?;
        }
    } else {
        let several = args.files.len() > 1;
        worst = cli::each_input(&args.files, |path, input| {
            let name = cli::display_name(path);
            let code = unpack(&args, &name, several.then_some(&name), input, &mut out)?;
            worst = worst.max(code);
            Ok(())
        })
        .max(worst);
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}

/// Lists, extracts or prints one message; returns its exit code.
fn unpack(
    args: &Args,
    name: &str,
    prefix: Option<&str>,
    input: impl Read,
    out: &mut impl Write,
) -> anyhow::Result<u8> {
    let result = if args.extract {
        let dir = args.directory.as_deref().unwrap_or(Path::new(""));
        extract::extract(input, dir, args.all, args.part.as_deref(), out)
    } else if let Some(part) = &args.part {
        list::print(input, part, args.raw, out)
    } else if args.show {
        let opts = show::Options {
            html_cmd: args.html_cmd.clone(),
        };
        show::show(input, out, &opts).map(|s| {
            for w in s.warnings {
                cli::warn(format_args!("{name}: {w}"));
            }
            (true, s.report)
        })
    } else {
        list::list(input, out, args.json, prefix).map(|r| (true, r))
    };
    let (found, report) = result?;
    for line in report.lines() {
        cli::warn(format_args!("{name}: {line}"));
    }
    Ok(if found { cli::code::OK } else { cli::code::NO })
}
