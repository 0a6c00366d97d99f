//! mime-word: RFC 2047 encoded-words in header text, both ways.

use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mailpipe::cli;
use mailpipe::codec::charset::Target;
use mailpipe::codec::encoded_word::{self as word, DecodeOptions, Method};
use mailpipe::codec::{DecodeErrorKind, Error};

/// Encode header text as RFC 2047 encoded-words, or decode them (-d).
///
/// Encoding: only the words that need it (non-ASCII, or looking like an
/// encoded-word) are encoded, at most 75 characters each; the value is
/// printed on one line, or with --field as a folded header field.
/// Decoding: each logical (unfolded) line is printed as UTF-8; words in
/// unknown charsets or malformed are kept as they are, with one warning;
/// control characters become U+FFFD. TEXT operands are joined with
/// spaces; without them, each line of standard input is a value.
#[derive(Parser)]
#[command(
    name = "mime-word",
    version,
    after_help = "EXAMPLES:
  mime-word -e Q 'Grüße aus Köln'   # =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?Q?K=C3=B6ln?=
  mime-word -f Subject -c iso-2022-jp '会議の議事録'
  mime-word -d '=?ISO-8859-1?Q?Andr=E9?= Pirard'
  sed '/^$/q' msg.eml | mime-word -d   # a whole header, unfolded and decoded"
)]
struct Args {
    /// Decode encoded-words instead of encoding.
    #[arg(short, long)]
    decode: bool,
    /// Charset to encode into: any charset label that can be encoded to,
    /// e.g. iso-8859-1, windows-1252, shift_jis, iso-2022-jp.
    #[arg(short, long, value_name = "CS", default_value = "UTF-8")]
    #[arg(conflicts_with = "decode")]
    charset: Target,
    /// Encoding of encoded-words: auto (the shorter of Q and B), B or Q.
    #[arg(short, long, value_name = "ENC", default_value = "auto")]
    #[arg(conflicts_with = "decode")]
    encoding: Method,
    /// Print a complete header field 'NAME: value', folded at 78 columns.
    #[arg(short, long, value_name = "NAME", value_parser = word::field_name)]
    #[arg(conflicts_with = "decode")]
    field: Option<String>,
    /// With -d: write the text in charset CS instead of UTF-8.
    #[arg(short, long, value_name = "CS", requires = "decode")]
    to_charset: Option<Target>,
    /// With -d: fail (exit 65) at the first word that cannot be decoded.
    #[arg(short, long, requires = "decode")]
    strict: bool,
    /// Text (a header value); none: each line of standard input.
    #[arg(value_name = "TEXT")]
    text: Vec<std::ffi::OsString>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-word", |a: &Args| a.completions, run)
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text: Vec<Vec<u8>> = args.text.into_iter().map(OsStringExt::into_vec).collect();
    let name = if text.is_empty() { "stdin" } else { "TEXT" };
    let mut input = cli::open(Path::new("-"))?;
    let mut out = cli::stdout();
    if args.decode {
        let opts = DecodeOptions {
            to: args.to_charset,
            strict: args.strict,
        };
        let summary = word::decode_text(&text, &mut input, &mut out, &opts).context(name)?;
        if summary.defects > 0 {
            cli::warn(format_args!("{name}: {summary}"));
        }
    } else {
        let (cs, field) = (&args.charset, args.field.as_deref());
        // "cannot encode in CS" only for what CS lacks, not for bad input
        // or a read error.
        let context = |e| match e {
            Error::Decode(e) if matches!(e.kind, DecodeErrorKind::Unmappable(_)) => {
                anyhow::Error::new(e).context(format!("cannot encode in {}", cs.name()))
            }
            e => anyhow::Error::new(e),
        };
        word::encode_text(&text, &mut input, &mut out, cs, args.encoding, field)
            .map_err(context)
            .context(name)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
