//! smtp-send: deliver a message to an SMTP server (RFC 5321), verified TLS,
//! AUTH; sendmail-compatible, so `ln -s smtp-send sendmail` works.

use std::fmt;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser};
use mailpipe::cli;
use mailpipe::send::{self, notice::Notices, options::Options, sendmail};

/// The examples `-h` and `--help` both end with (a macro: clap's
/// attributes take literals, and `concat!` joins only literals).
macro_rules! examples {
    () => {
        "EXAMPLES:\n  \
  smtp-send -S smtps://mail.example.org --user me -t < msg.eml\n  \
  mime-build -f me@example.org -t you@example.org -s hi report.pdf | smtp-send -S mx.example.org -t\n  \
  smtp-send --pipe 'ssh relay smtp-recv --stdio --maildir Mail' -t < msg.eml\n  \
  smtp-send -S smtp.example.org --probe             capabilities, TLS, certificate\n  \
  smtp-send --dry-run -f me@example.org you@example.org < msg.eml\n  \
  smtp-send -S mx.example.org --each outbox/*.eml   many messages, one connection\n  \
  smtp-send -S smtp.example.org --queue ~/.mail-queue -t < msg.eml   queued if down\n  \
  smtp-send -S smtp.example.org --flush ~/.mail-queue   from cron: retry the queue\n  \
  smtp-send --mx -t < msg.eml                       to each domain's own mail hosts"
    };
}

/// Send a message by SMTP: reads an RFC 5322 message (LF or CRLF line ends)
/// on standard input and delivers it to a server; quiet on success.
///
/// Exit status (the worst recipient's, for several): 0 delivered to every
/// recipient, or queued with --queue; 75 NOT SENT to some or all, try again
/// later (4xx, connection refused or timed out, DNS not answering); 69
/// refused for good (5xx at MAIL, DATA or after the message); 67 a recipient
/// refused (with --partial, --lmtp or --mx the others may have it; without,
/// nothing was sent); 68 host name unknown; 77 AUTH or TLS verification
/// failed; 65 the message cannot be sent as it is; 76 the server broke the
/// protocol; 78 configuration (no server, no password, bad config file); 64
/// usage; 66 a FILE is missing; 74 reading the message failed.
#[derive(Parser)]
#[command(
    name = "smtp-send",
    version,
    // sendmail callers repeat flags (cronie: `-i ... -oi`): the last wins.
    args_override_self = true,
    after_help = examples!(),
    after_long_help = concat!("SENDMAIL COMPATIBILITY (ln -s smtp-send /usr/sbin/sendmail):\n  \
  -i, -oi      a line with a single \".\" does not end the message (only matters\n               \
  when invoked as \"sendmail\"; smtp-send always reads to the end)\n  \
  -r ADDR      same as -f;  -F NAME  full name for an added From:;  -v  as -v\n  \
  -bs          SMTP on standard input and output, each message relayed (--bs)\n  \
  -N WHEN      DSN notify (--notify);  -R full|hdrs  DSN return (--ret)\n  \
  -V ENVID     DSN envelope id (--envid; a lone -V is --version)\n  \
  -q, -qf      run the configured queue once (--flush of the config's queue)\n  \
  -bp, mailq   list the configured queue (--list);  newaliases: nothing to do\n  \
  no-ops (accepted and ignored): -odi -odb -oem -oep -em -ep -bm -B 7BIT|8BITMIME\n\n\
", examples!())
)]
struct Cli {
    #[command(flatten)]
    opts: Options,
    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

/// msmtp's and swaks's options, and what to use instead (issue 13).
const FOREIGN: &[(&str, &str)] = &[
    (
        "--host",
        "use -S host:port (or smtps://host for implicit TLS)",
    ),
    ("--port", "use -S host:port"),
    (
        "--tls",
        "TLS is the server URL's scheme: -S smtp+starttls://host:587 or -S smtps://host",
    ),
    (
        "--tls-starttls",
        "use -S smtp+starttls://host:587 (STARTTLS required) or -S smtps://host",
    ),
    ("--tls-on-connect", "use -S smtps://host (implicit TLS)"),
    ("--file", "use --config FILE"),
    ("-C", "use --config FILE"),
    ("--serverinfo", "use --probe"),
    ("--quit-after", "use --probe (stops after EHLO and TLS)"),
    (
        "--read-envelope-from",
        "the sender is taken from the message by default (Sender:, else From:); -f sets it",
    ),
    (
        "--password",
        "passwords never go on the command line: SMTP_PASSWORD, --password-file or --password-cmd",
    ),
    (
        "--auth-password",
        "use SMTP_PASSWORD, --password-file or --password-cmd",
    ),
    ("--auth-user", "use --user USER"),
    (
        "--to",
        "recipients are operands: smtp-send you@example.org (or -t)",
    ),
    (
        "--data",
        "the message comes on standard input: smtp-send … < msg.eml",
    ),
];

fn main() -> ExitCode {
    cli::main("smtp-send", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let argv: Vec<_> = std::env::args_os().collect();
    if argv
        .first()
        .is_some_and(|a| sendmail::invoked_as_newaliases(a))
    {
        cli::say("newaliases: nothing to do: mailpipe keeps no alias database");
        return Ok(ExitCode::SUCCESS);
    }
    let sendmail = argv
        .first()
        .is_some_and(|a| sendmail::invoked_as_sendmail(a));
    let cli = Cli::try_parse_from(sendmail::sendmail_args(argv, &Cli::command()))
        .map_err(|e| cli::foreign_flag(e, FOREIGN))?;
    if let Some(shell) = cli.completions {
        return cli::completions::<Cli>(shell);
    }
    let mut opts = cli.opts;
    opts.sendmail = sendmail;
    // stdin as a File: a regular file is read in place instead of spooled.
    let stdin = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut out = cli::stdout();
    match send::run::run(opts, stdin, &mut out, Arc::new(Stderr)) {
        Ok(code) => {
            out.flush()?;
            Ok(ExitCode::from(code))
        }
        Err(e) => {
            // The error is the line to print; output written before it
            // still goes out (a failure there was the error's own).
            let _ = out.flush();
            Err(e.into())
        }
    }
}

/// smtp-send's notices on stderr, each as it comes: `smtp-send: ...` lines
/// through `cli`, the `-v` transcript as it is, the progress bar when
/// stderr is a terminal.
#[derive(Debug)]
struct Stderr;

impl Notices for Stderr {
    fn say(&self, text: &dyn fmt::Display) {
        cli::say(text);
    }

    fn warn(&self, text: &dyn fmt::Display) {
        cli::warn(text);
    }

    fn trace(&self, bytes: &[u8]) {
        let _ = std::io::stderr().write_all(bytes);
    }

    fn progress(&self) -> Option<indicatif::ProgressDrawTarget> {
        std::io::stderr()
            .is_terminal()
            .then(indicatif::ProgressDrawTarget::stderr)
    }
}
