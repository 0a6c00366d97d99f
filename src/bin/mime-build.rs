//! mime-build: one RFC 5322 + MIME message from files, on stdout.
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mailpipe::cli;
use mailpipe::message::build::{self, Item, Leaf, Source, Spec};
use mailpipe::message::multipart;

/// Build a MIME message from files and write it to standard output.
#[derive(Parser)]
#[command(
    name = "mime-build",
    version,
    about,
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
    /// Text body from FILE (- is stdin). Default: stdin when nothing else is given.
    #[arg(long, value_name = "FILE")]
    text: Option<OsString>,
    /// HTML body from FILE (with --text: multipart/alternative).
    #[arg(long, value_name = "FILE")]
    html: Option<OsString>,
    /// File the HTML shows inline (FILE;cid=ID sets the Content-ID); repeatable.
    #[arg(long, value_name = "FILE")]
    inline: Vec<OsString>,
    /// Ready MIME entity (header block and body) to insert as a part; repeatable.
    #[arg(long, value_name = "FILE")]
    part: Vec<OsString>,
    /// Charset of text input that is not UTF-8.
    #[arg(long, value_name = "CS")]
    charset: Option<String>,
    /// Convert the UTF-8 text and HTML bodies to charset CS.
    #[arg(long, value_name = "CS")]
    to_charset: Option<String>,
    /// Send 8-bit text as 8bit (the transport has 8BITMIME).
    #[arg(long = "8bit")]
    eight_bit: bool,
    /// Base64 for every part except message/*.
    #[arg(long)]
    binary_safe: bool,
    /// Write CRLF line ends (the wire form).
    #[arg(long)]
    crlf: bool,
    /// Write only a MIME entity (no message header fields), for --part.
    #[arg(long)]
    entity: bool,
    /// Put the attachments (.eml files) in a multipart/digest.
    #[arg(long)]
    digest: bool,
    /// Write message/partial pieces of at most BYTES each to PREFIX.01, …
    #[arg(long, value_name = "BYTES", requires = "output", conflicts_with_all = ["entity", "eight_bit"])]
    split: Option<u64>,
    /// File name prefix of the --split pieces (printed as written).
    #[arg(short, long, value_name = "PREFIX")]
    output: Option<PathBuf>,
    /// Files to attach, each with optional overrides: FILE;type=T;name=N;disposition=inline;charset=CS.
    attachments: Vec<OsString>,
}

fn main() -> ExitCode {
    cli::main("mime-build", run)
}

fn fail(e: build::Error) -> anyhow::Error {
    match e {
        build::Error::Usage(m) => cli::usage(m),
        build::Error::Data(what, d) => anyhow::Error::from(d).context(what),
        // cli maps multipart's data errors to 65.
        build::Error::Invalid(m) => multipart::Error::Data(m).into(),
        build::Error::Io(e) => e.into(),
    }
}

/// Opens an operand (checking it can be read: exit 66) as a leaf.
fn leaf(arg: &OsString) -> anyhow::Result<Leaf> {
    let op = build::parse_operand(arg, |p| p.exists()).map_err(fail)?;
    let source = if op.path.as_os_str() == "-" {
        Source::spool(io::stdin().lock()).context("stdin")?
    } else {
        let path = PathBuf::from(&op.path);
        let input = cli::open(&path).with_context(|| cli::display_name(&path))?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Source::reopen(Some(m.len()), move || {
                cli::open(&path).map_err(io::Error::other)
            }),
            // A pipe, FIFO or device is read once: spooled.
            _ => Source::spool(input).with_context(|| cli::display_name(&path))?,
        }
    };
    let label = cli::display_name(&op.path);
    Ok(Leaf::new(source, label, build::basename(&op.path)).with_overrides(&op))
}

fn run() -> anyhow::Result<ExitCode> {
    let mut a = cli::parse::<Args>()?;
    let inputs = a.text.iter().chain(&a.html).chain(&a.inline).chain(&a.part);
    let stdin_uses = inputs
        .chain(&a.attachments)
        .filter(|p| p.as_bytes().split(|&b| b == b';').next() == Some(b"-"));
    if stdin_uses.count() > 1 {
        return Err(cli::usage("standard input (-) can be used only once"));
    }
    let nothing = a.html.is_none() && a.attachments.is_empty() && a.part.is_empty();
    if a.text.is_none() && nothing {
        a.text = Some("-".into());
    }
    let mut parts: Vec<Item> = a
        .attachments
        .iter()
        .map(|f| leaf(f).map(Item::Leaf))
        .collect::<Result<_, _>>()?;
    for f in &a.part {
        parts.push(Item::Entity(leaf(f)?));
    }
    let spec = Spec {
        from: a.from,
        to: a.to,
        cc: a.cc,
        bcc: a.bcc,
        reply_to: a.reply_to,
        subject: a.subject,
        fields: a.fields,
        text: a.text.as_ref().map(leaf).transpose()?,
        html: a.html.as_ref().map(leaf).transpose()?,
        inline: a.inline.iter().map(leaf).collect::<Result<_, _>>()?,
        parts,
        digest: a.digest,
        entity: a.entity,
        options: build::Options {
            crlf: a.crlf,
            eight_bit: a.eight_bit,
            binary_safe: a.binary_safe,
            charset: a.charset,
            to_charset: a.to_charset,
            boundaries: Vec::new(),
        },
    };
    let mut msg = build::prepare(spec).map_err(fail)?;
    for (label, id) in msg.content_ids() {
        let _ = writeln!(io::stderr(), "mime-build: {label}: Content-ID <{id}>");
    }
    let mut out = cli::stdout();
    if let (Some(max), Some(prefix)) = (a.split, &a.output) {
        for name in msg.split_to_files(max, prefix).map_err(fail)? {
            out.write_all(name.as_os_str().as_bytes())?;
            out.write_all(b"\n")?;
        }
    } else {
        let tty = io::stderr().is_terminal();
        let mut progress =
            build::Progress::new(msg.total(), Box::new(io::stderr())).filter(|_| tty);
        msg.write(&mut out, progress.as_mut())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
