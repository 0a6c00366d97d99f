//! mime-hdr: print header fields of messages, unfolded and decoded to UTF-8.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mailpipe::cli;
use mailpipe::message::header::{Block, Select, Show};

/// Print header fields of messages, unfolded and decoded to UTF-8.
///
/// Reads only the header block of each message (up to the first empty
/// line); an mbox "From " first line is skipped. Values are unfolded and
/// RFC 2047 encoded-words decoded; control characters are printed as
/// U+FFFD. What cannot be shown exactly (an unknown charset, a broken
/// address list) gets one warning per message. Exits 1 when no asked
/// field exists.
#[derive(Parser)]
#[command(
    name = "mime-hdr",
    version,
    after_help = "Examples:
  subject=$(mime-hdr -n subject < msg.eml)
  mime-hdr -n from:to:cc ~/Maildir/cur/*
  mime-hdr -A -n to:cc msg.eml | sort -u"
)]
struct Args {
    /// Print only the fields NAME (case-insensitive; a colon-separated
    /// list, repeatable), in the order asked, every occurrence of each.
    #[arg(short = 'n', long = "name", value_name = "NAME[:NAME...]")]
    names: Vec<String>,
    /// Print the mailboxes of the fields (default From, To, Cc), one per
    /// line: `Name <addr>`, or `addr` without a display name.
    #[arg(short = 'a', long, conflicts_with = "addr_spec")]
    addresses: bool,
    /// Print the bare addresses (addr@domain) of the fields, one per line.
    #[arg(short = 'A', long)]
    addr_spec: bool,
    /// Print `Name: ` before values even when one field name is asked, and
    /// before addresses.
    #[arg(short = 'H', long)]
    with_names: bool,
    /// Messages to read; none or `-` reads standard input. With several,
    /// each line starts with the file name and `:`.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-hdr", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let show = match (args.addresses, args.addr_spec) {
        (true, _) => Show::Mailboxes,
        (_, true) => Show::Addresses,
        _ => Show::Value,
    };
    let mut select =
        Select::new(&args.names, show, args.with_names).map_err(|e| cli::usage(e.to_string()))?;
    let prefixed = args.files.len() > 1;
    let mut out = cli::stdout();
    let mut block = Block::default();
    let mut printed = false;
    let worst = cli::each_input(&args.files, |path, input| {
        block.read_from(input)?;
        let prefix = prefixed.then(|| path.to_string_lossy());
        let report = select.print(&block, prefix.as_deref(), &mut out)?;
        printed |= report.any;
        if let Some(first) = report.first {
            let name = cli::display_name(path);
            cli::warn(format_args!("{name}: {first} ({} in all)", report.defects));
        }
        Ok(())
    });
    out.flush()?;
    Ok(ExitCode::from(match worst {
        0 if !printed => cli::code::NO,
        code => code,
    }))
}
