//! mime-qp: quoted-printable encoder and decoder (RFC 2045 §6.7).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mailpipe::cli;
use mailpipe::codec::qp::{self, DecodeOptions, EncodeOptions};

/// Encode or decode quoted-printable (RFC 2045 §6.7).
///
/// Encodes each FILE (or standard input) to standard output: lines of at
/// most 76 characters, '=' and bytes outside printable ASCII as =XX, and
/// spaces before a line end as =20. Line ends (LF or CRLF) stay line ends,
/// written as LF unless --crlf. With -d, decodes leniently: a malformed '='
/// escape is kept as it is, with one warning per input.
#[derive(Parser)]
#[command(
    name = "mime-qp",
    version,
    after_help = "EXAMPLES:
  mime-qp < letter.txt > letter.qp
  mime-qp --crlf --safe < letter.txt    # ready for SMTP DATA or an mbox
  mime-qp --binary < logo.png | mime-qp -d | cmp - logo.png
  mime-qp -d --strict body.qp || echo 'bad quoted-printable'"
)]
struct Args {
    /// Decode instead of encoding.
    #[arg(short, long)]
    decode: bool,
    /// Write line ends as CRLF instead of LF (soft breaks too when encoding).
    #[arg(long)]
    crlf: bool,
    /// Encode CR and LF too (=0D, =0A): for data that is not text.
    #[arg(long, conflicts_with = "decode")]
    binary: bool,
    /// Also encode a '.' or the 'F' of "From " at the start of a line, so
    /// the output passes SMTP and mbox files unchanged.
    #[arg(long, conflicts_with = "decode")]
    safe: bool,
    /// With -d: fail (exit 65) on a malformed '=' escape instead of keeping it.
    #[arg(long)]
    strict: bool,
    /// Input files; none or '-' reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-qp", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.strict && !args.decode {
        return Err(cli::usage("--strict applies to decoding only (add -d)"));
    }
    let encode = EncodeOptions {
        binary: args.binary,
        crlf: args.crlf,
        safe: args.safe,
    };
    let decode = DecodeOptions {
        strict: args.strict,
        crlf: args.crlf,
    };
    let mut out = cli::stdout();
    // Several inputs are encoded as one stream (their concatenation), so a
    // line one leaves unfinished goes on with the next; each is decoded on
    // its own.
    let mut encoder = qp::Encoder::new(&encode);
    let code = cli::each_input(&args.files, |path, input| {
        if !args.decode {
            encoder.feed(input, &mut out)?;
            return Ok(());
        }
        let report = qp::decode(input, &mut out, &decode)?;
        if let Some(first) = report.first_defect {
            cli::warn(format_args!(
                "{}: {first} (kept literally; {} in all)",
                cli::display_name(path),
                report.defects
            ));
        }
        Ok(())
    });
    if !args.decode {
        encoder.finish(&mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::from(code))
}
