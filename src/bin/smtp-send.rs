//! smtp-send: deliver a message to an SMTP server (RFC 5321), verified TLS,
//! AUTH; sendmail-compatible, so `ln -s smtp-send sendmail` works.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use mailpipe::cli;
use mailpipe::smtp::submit::{self, Options};

/// Send a message by SMTP: reads an RFC 5322 message (LF or CRLF line ends)
/// on standard input and delivers it to a server; quiet on success.
///
/// Exit status: 0 delivered to every recipient; 75 NOT SENT, try again later
/// (4xx, connection refused or timed out); 69 refused for good (5xx); 67 a
/// recipient refused (nothing sent); 68 host name unknown; 77 AUTH or TLS verification failed; 65
/// the message cannot be sent as it is; 76 the server broke the protocol; 78
/// configuration (no server, no password); 64 usage; 66 a FILE is missing;
/// 74 reading the message failed.
#[derive(Parser)]
#[command(
    name = "smtp-send",
    version,
    about,
    after_help = "SENDMAIL COMPATIBILITY (ln -s smtp-send /usr/sbin/sendmail):\n  \
  -i, -oi      a line with a single \".\" does not end the message (only matters\n               \
  when invoked as \"sendmail\"; smtp-send always reads to the end)\n  \
  -r ADDR      same as -f;  -F NAME  full name for an added From:;  -v  as -v\n  \
  no-ops (accepted and ignored): -odi -odb -oem -oep -em -ep -bm -B 7BIT|8BITMIME\n\n\
EXAMPLES:\n  \
  smtp-send -S smtps://mail.example.org --user me -t < msg.eml\n  \
  mime-build -f me@example.org -t you@example.org -s hi report.pdf | smtp-send -S mx.example.org -t\n  \
  smtp-send --pipe 'ssh relay smtp-recv --stdio --maildir Mail' -t < msg.eml\n  \
  smtp-send -S smtp.example.org --probe             capabilities, TLS, certificate\n  \
  smtp-send --dry-run -f me@example.org you@example.org < msg.eml\n  \
  smtp-send -S mx.example.org --each outbox/*.eml   many messages, one connection"
)]
struct Args {
    /// Server: host[:port], [IPv6]:port, smtp://host[:port] (STARTTLS if offered),
    /// smtp+starttls:// (STARTTLS required), smtps:// (implicit TLS, port 465),
    /// smtp+plain:// (never TLS). Default: $SMTP_SERVER.
    #[arg(short = 'S', long, value_name = "SERVER")]
    server: Option<String>,
    /// Speak SMTP over CMD's stdin and stdout (run with sh -c) instead of connecting.
    #[arg(long, value_name = "CMD", conflicts_with = "server")]
    pipe: Option<String>,
    /// Envelope sender (MAIL FROM); '' or '<>' is the null sender
    /// [default: the message's Sender:, else From:].
    #[arg(short = 'f', long = "from", short_alias = 'r', value_name = "ADDR")]
    from: Option<String>,
    /// Also send to the addresses in To:, Cc: and Bcc: (or the first Resent-* block).
    #[arg(short = 't')]
    extract: bool,
    /// Full name for a From: field added to a message that has none.
    #[arg(short = 'F', long = "full-name", value_name = "NAME")]
    full_name: Option<String>,
    /// A line with a single "." does not end the message (sendmail -i, -oi).
    #[arg(short = 'i')]
    no_dot: bool,
    /// sendmail's body type: ignored (8-bit text is found by reading the message).
    #[arg(short = 'B', hide = true, value_parser = ["7BIT", "8BITMIME"])]
    _body: Option<String>,
    /// The operands are FILEs, each one message (with -t semantics), all sent
    /// over one connection.
    #[arg(long)]
    each: bool,
    /// User name for AUTH [default: $SMTP_USER].
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Read the password from the first line of FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "password_cmd")]
    password_file: Option<PathBuf>,
    /// Run CMD (sh -c) and use the first line it prints as the password or token.
    #[arg(long, value_name = "CMD")]
    password_cmd: Option<String>,
    /// Use this SASL mechanism: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2,
    /// OAUTHBEARER [default: the strongest offered].
    #[arg(long, value_name = "MECH")]
    auth: Option<String>,
    /// Allow AUTH on a connection without TLS, or over --pipe (the password can be read on the
    /// way unless the pipe's transport, e.g. ssh, is encrypted).
    #[arg(long)]
    insecure_auth: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "SHA256:HEX")]
    tls_fingerprint: Option<String>,
    /// Do not verify the server's certificate at all (DANGEROUS: anyone on the way can read everything).
    #[arg(long)]
    tls_insecure: bool,
    /// Present this PEM client certificate.
    #[arg(long, value_name = "FILE", requires = "tls_client_key")]
    tls_client_cert: Option<PathBuf>,
    /// The private key of --tls-client-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_client_cert")]
    tls_client_key: Option<PathBuf>,
    /// Send and verify this TLS server name instead of the host's.
    #[arg(long, value_name = "NAME")]
    tls_sni: Option<String>,
    /// Wait at most SECONDS for each server reply, at every stage (also over --pipe)
    /// [default: RFC 5321 §4.5.3.2: 5 min, 2 min for DATA, 10 min after the message].
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Give up connecting after SECONDS (per address).
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    connect_timeout: f64,
    /// Name to greet the server with (EHLO) [default: this host's name].
    #[arg(long, value_name = "NAME")]
    helo: Option<String>,
    /// Send the header exactly as given: add no Date:, Message-ID: or From:, remove no Bcc:.
    #[arg(long, conflicts_with_all = ["extract", "each"])]
    verbatim: bool,
    /// Show the SMTP conversation on stderr (C: and S: lines; secrets hidden).
    #[arg(short, long)]
    verbose: bool,
    /// Print the envelope and the exact bytes that would be sent; connect nowhere.
    #[arg(long, conflicts_with = "probe")]
    dry_run: bool,
    /// Connect, say EHLO and print the server's capabilities, TLS and certificate; send nothing.
    #[arg(long)]
    probe: bool,
    /// Recipients (one address or a comma-separated list each); FILEs with --each.
    #[arg(value_name = "RECIPIENT")]
    operands: Vec<String>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    cli::main("smtp-send", run)
}

fn run() -> anyhow::Result<ExitCode> {
    let argv: Vec<_> = std::env::args_os().collect();
    let sendmail = argv.first().is_some_and(|a| submit::invoked_as_sendmail(a));
    let a = Args::try_parse_from(submit::sendmail_args(argv, &Args::command()))?;
    if let Some(shell) = a.completions {
        return cli::completions::<Args>(shell);
    }
    let opts = Options {
        server: a.server,
        pipe: a.pipe,
        from: a.from,
        extract: a.extract || a.each,
        full_name: a.full_name,
        dot_ends: sendmail && !a.no_dot,
        each: a.each,
        operands: a.operands,
        user: a.user,
        password_file: a.password_file,
        password_cmd: a.password_cmd,
        auth: a.auth,
        insecure_auth: a.insecure_auth,
        ca_file: a.ca_file,
        tls_fingerprint: a.tls_fingerprint,
        tls_insecure: a.tls_insecure,
        tls_client_cert: a.tls_client_cert,
        tls_client_key: a.tls_client_key,
        tls_sni: a.tls_sni,
        timeout: a.timeout,
        connect_timeout: a.connect_timeout,
        helo: a.helo,
        verbatim: a.verbatim,
        verbose: a.verbose,
        dry_run: a.dry_run,
        probe: a.probe,
    };
    // stdin as a File: a regular file is read in place instead of spooled.
    let stdin = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut out = cli::stdout();
    let code = submit::run(opts, stdin, &mut out);
    out.flush()?;
    Ok(ExitCode::from(code))
}
