//! mime-build: one RFC 5322 + MIME message from files, on stdout.
use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mailpipe::cli;
use mailpipe::io::temp::Replacement;
use mailpipe::message::build::{self, Files, Options, Source, Spec};

/// Build a MIME message from files and write it to standard output.
#[derive(Parser)]
#[command(
    name = "mime-build",
    version,
    after_help = "EXAMPLES:
  mime-build -f me@example.org -t a@example.org -s Report report.pdf | smtp-send -t
  echo 'See attached.' | mime-build -t a@example.org -s Photos --text - a.jpg b.jpg
  mime-build --text note.txt --html note.html --inline 'logo.png;cid=logo' -t a@example.org"
)]
struct Args {
    /// From address.
    #[arg(short, long, value_name = "FROM")]
    from: Option<String>,
    /// To address (or comma-separated list); repeatable.
    #[arg(short, long, value_name = "TO")]
    to: Vec<String>,
    /// Cc address or list; repeatable.
    #[arg(short, long, value_name = "CC")]
    cc: Vec<String>,
    /// Bcc address or list; repeatable (written for `smtp-send -t` to strip).
    #[arg(short, long, value_name = "BCC")]
    bcc: Vec<String>,
    /// Reply-To address or list.
    #[arg(short, long, value_name = "REPLY-TO")]
    reply_to: Vec<String>,
    /// Subject (non-ASCII is RFC 2047-encoded).
    #[arg(short, long)]
    subject: Option<String>,
    /// Extra header field 'Name: value'; repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    fields: Vec<String>,
    /// List-Unsubscribe URI (mailto:, https:); repeatable.
    #[arg(long, value_name = "URI", conflicts_with = "entity")]
    list_unsubscribe: Vec<String>,
    /// One-click unsubscription (RFC 8058): adds List-Unsubscribe-Post; needs an https URI.
    #[arg(long, requires = "list_unsubscribe")]
    one_click: bool,
    #[command(flatten)]
    files: Files,
    #[command(flatten)]
    options: Options,
    /// Write only a MIME entity (no message header fields), for --part.
    #[arg(long)]
    entity: bool,
    /// Put the attachments (.eml files) in a multipart/digest.
    #[arg(long)]
    digest: bool,
    /// Write message/partial pieces of at most BYTES each to PREFIX.01, …
    #[arg(long, value_name = "BYTES", requires = "output", conflicts_with_all = ["entity", "eight_bit"])]
    split: Option<u64>,
    /// Write the message to FILE (replaced whole) instead of standard output; with --split,
    /// the file name prefix of the pieces (printed as written).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::tool("mime-build", |a: &Args| a.completions, run)
}

fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut spec = Spec {
        from: a.from,
        to: a.to,
        cc: a.cc,
        bcc: a.bcc,
        reply_to: a.reply_to,
        subject: a.subject,
        fields: a.fields,
        list_unsubscribe: a.list_unsubscribe,
        one_click: a.one_click,
        digest: a.digest,
        entity: a.entity,
        options: a.options,
        ..Spec::default()
    };
    let open = |p: &Path| {
        Source::file(p, |p| {
            cli::open(p)
                .map_err(|e| mpack_recipient(p).unwrap_or(e.into()))
                .context(cli::display_name(p))
        })
    };
    a.files.open_into(&mut spec, open)?;
    let mut msg = build::prepare(spec).map_err(build::Error::into_anyhow)?;
    for (label, id) in msg.content_ids() {
        cli::say(format!("{label}: Content-ID <{id}>")); // escaped: labels are file names
    }
    let mut out = cli::stdout();
    if let (Some(max), Some(prefix)) = (a.split, &a.output) {
        let names = msg.split_to_files(max, prefix);
        for name in names.map_err(build::Error::into_anyhow)? {
            out.write_all(&[name.as_os_str().as_bytes(), b"\n"].concat())?;
        }
    } else {
        // Progress on standard error when someone watches it.
        let mut progress = build::Progress::new(msg.total(), cli::prog(), Box::new(io::stderr()))
            .filter(|_| io::stderr().is_terminal());
        match &a.output {
            // -o FILE: the message replaces FILE whole, as mpack -o does
            // (issue 13: -o was ignored without --split).
            Some(path) => {
                let name = cli::display_name(path);
                let mut file = Replacement::create(path).with_context(|| name.clone())?;
                msg.write(&mut file, progress.as_mut())?;
                file.commit().with_context(|| name)?;
            }
            None => {
                msg.write(&mut out, progress.as_mut())?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// mpack's `-s SUBJECT FILE ADDRESS…`: an "attachment" that is a missing
/// file named like an address is a recipient in mpack's place (issue 13).
fn mpack_recipient(p: &Path) -> Option<anyhow::Error> {
    let name = p.to_str()?;
    (name.contains('@') && !p.exists()).then(|| {
        cli::usage(
            "not a file but an address? recipients are -t ADDR (mpack takes them after the \
             file; mime-build … | smtp-send -t sends)",
        )
    })
}
