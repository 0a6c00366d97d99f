//! mime-b64: MIME base64 (RFC 2045 §6.8) encoder and decoder filter.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mailpipe::cli;
use mailpipe::codec::base64::{self, EncodeOptions, Garbage};

/// Encode or decode base64 with MIME line wrapping (RFC 2045 §6.8).
///
/// Encoding writes lines of 76 characters, byte-identical to `base64 -w 76`.
/// Decoding ignores line ends, spaces and tabs, and accepts missing padding;
/// any other stray byte is an error naming its offset (exit 65), unless -i.
#[derive(Parser)]
#[command(
    name = "mime-b64",
    version,
    after_help = "EXAMPLES:\n  \
        mime-b64 photo.jpg > photo.b64          encode, 76 columns, LF\n  \
        mime-b64 --crlf -w 76 < doc.pdf         encode for the wire (CRLF)\n  \
        mime-b64 -d < part.b64 > part.bin       decode\n  \
        printf 'dGVzdA==dGVzdA==' | mime-b64 -d -i   skip garbage, join quanta"
)]
struct Args {
    /// Decode instead of encode.
    #[arg(short, long)]
    decode: bool,

    /// Wrap encoded lines after COLS characters (0: no wrapping, no final line end).
    #[arg(short, long, value_name = "COLS", default_value_t = base64::WRAP_DEFAULT,
          conflicts_with = "decode")]
    wrap: usize,

    /// End encoded lines with CRLF instead of LF.
    #[arg(long, conflicts_with = "decode")]
    crlf: bool,

    /// With -d: skip bytes outside the base64 alphabet; data after
    /// padding starts a new quantum instead of being an error.
    #[arg(short, long, requires = "decode")]
    ignore_garbage: bool,

    /// Input files, processed in order into standard output (encoded as
    /// one stream, their concatenation); none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-b64", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = EncodeOptions {
        wrap: args.wrap,
        crlf: args.crlf,
    };
    let garbage = if args.ignore_garbage {
        Garbage::Skip
    } else {
        Garbage::Reject
    };
    let mut out = cli::stdout();
    // Several inputs are encoded as one stream (their concatenation, as
    // `cat FILE... | base64`); each is decoded on its own.
    let mut encoder = base64::Encoder::new(opts);
    let code = cli::each_input(&args.files, |_, input| {
        if args.decode {
            base64::decode(input, &mut out, garbage)?;
        } else {
            encoder.feed(input, &mut out)?;
        }
        Ok(())
    });
    if !args.decode {
        encoder.finish(&mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::from(code))
}
