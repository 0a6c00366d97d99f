//! smtp-recv: a tiny one-shot SMTP receiver (RFC 5321) that stores what it
//! accepts durably; for scripts, test suites and developers catching mail.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgAction, Parser, ValueEnum};
use mailpipe::cli;
use mailpipe::io::dns::{self, Resolver};
use mailpipe::limits;
use mailpipe::recv::store::{self, Store, Target};
use mailpipe::recv::{self, Options, Seconds};
use mailpipe::smtp::server::driver::{Level, Log, TimeLimits};
use mailpipe::smtp::server::{self, Config, Extensions};
use mailpipe::smtp::{auth, dot};

/// Receive mail over SMTP, store it safely, and exit.
///
/// Listens (default 127.0.0.1:2525; port 0 picks a free port), prints each
/// bound address on stderr ("smtp-recv: listening on ADDR"), accepts COUNT
/// messages from any number of clients, stores each one (fsync'd, and renamed
/// into place for --maildir/--dir) before answering 250, and exits 0.
/// Every stored message starts with Return-Path: and Received: fields.
#[derive(Parser)]
#[command(
    name = "smtp-recv",
    version,
    after_help = "EXAMPLES:\n  \
  smtp-recv -n 1 -o msg.eml --ready-file ready &    catch one message in a test\n  \
  smtp-recv -l 127.0.0.1:0 --ready-file ready -n 0 --maildir Mail   until SIGTERM\n  \
  smtp-recv --exec 'cat > \"$(mktemp msg.XXXX)\"'     run a command per message\n  \
  smtp-recv --reply rcpt:bad@*=550 --reply-once dot=451 -o m.eml   failure injection\n  \
  smtp-recv --tls-self-signed --auth-any -o m.eml   STARTTLS and AUTH for a client test\n  \
  smtp-recv --dkim-verify --dns 127.0.0.1:5353 -o m.eml   check DKIM signatures\n  \
  ssh host smtp-recv --stdio --maildir Mail         one session on stdin/stdout\n\n\
EXIT STATUS: 0 COUNT messages stored (or the reader of stdout left); 64 bad usage; 74 storage cannot be \
opened; 75 interrupted before COUNT; 78 unusable TLS or auth file, or resolv.conf."
)]
struct Args {
    /// Listen on ADDR:PORT (repeatable; IPv6 as [::1]:2525; port 0: a free port); a bare PORT
    /// is on 127.0.0.1, NAME:PORT on every address of NAME.
    #[arg(
        short,
        long,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:2525",
        value_parser = recv::listen_spec
    )]
    listen: Vec<Vec<SocketAddr>>,
    /// Exit after COUNT stored messages; 0: until SIGINT or SIGTERM [default: 1; with --stdio 0].
    #[arg(short = 'n', long, value_name = "COUNT")]
    count: Option<u64>,
    /// One session on stdin/stdout instead of listening (inetd, ssh).
    #[arg(long, conflicts_with_all = ["listen", "ready_file", "max_clients", "stress_idle_timeout"])]
    stdio: bool,
    /// Once listening, write the bound addresses there (atomically, one per line).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,

    /// Append messages to FILE (mbox-separated when COUNT is not 1; /dev/null: a fast sink).
    #[arg(short, long, value_name = "FILE", group = "target")]
    output: Option<PathBuf>,
    /// Store each message in a Maildir (tmp/ then new/, created as needed).
    #[arg(long, value_name = "DIR", group = "target")]
    maildir: Option<PathBuf>,
    /// Append messages to an mbox FILE (From_ lines, >From quoting, fcntl lock).
    #[arg(long, value_name = "FILE", group = "target")]
    mbox: Option<PathBuf>,
    /// Store each message as its own DIR/QUEUEID.eml file.
    #[arg(long, value_name = "DIR", group = "target")]
    dir: Option<PathBuf>,
    /// Run CMD (with sh -c) per message, the message on its stdin and the envelope in
    /// SMTP_MAIL_FROM, SMTP_RCPT_TO (space-separated; quoted local parts keep their quotes),
    /// SMTP_RCPT_COUNT, SMTP_HELO, SMTP_CLIENT_ADDR, SMTP_QUEUE_ID; exit 0 accepts,
    /// 75 is a temporary failure (451), others permanent (554).
    #[arg(long, value_name = "CMD", group = "target")]
    exec: Option<String>,
    /// Write one JSON object per stored message to FILE (appended) or - (stdout).
    #[arg(long, value_name = "FILE")]
    envelope_json: Option<PathBuf>,
    /// No per-message line (nor TLS handshake warnings) on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// Host name for the greeting, EHLO and Received: [default: the system's].
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Largest message in bytes (at least 1), advertised as SIZE.
    #[arg(long, value_name = "BYTES", default_value_t = limits::SMTP_MAX_MESSAGE_SIZE,
          value_parser = at_least(1u64))]
    max_size: u64,
    /// Recipients per message (452 beyond); RFC 5321 asks for at least 100, lower is for tests.
    #[arg(long, value_name = "N", default_value_t = limits::SMTP_MAX_RCPTS,
          value_parser = at_least(1usize))]
    max_rcpts: usize,
    /// Longest message line in bytes, CRLF included, at least 1000 (RFC 5321 §4.5.3.1.6;
    /// longer: 500 after the data).
    #[arg(long, value_name = "BYTES", default_value_t = limits::SMTP_MAX_TEXT_LINE,
          value_parser = at_least(limits::SMTP_MAX_TEXT_LINE))]
    max_line: usize,
    /// Errors per session before 421 and close (at least 1).
    #[arg(long, value_name = "N", default_value_t = limits::SMTP_MAX_ERRORS,
          value_parser = at_least(1u32))]
    max_errors: u32,
    /// Sessions at once (at least 1); a connection beyond them waits for a slot (stress mode),
    /// else gets 421.
    #[arg(long, value_name = "N", default_value_t = limits::SMTP_MAX_CLIENTS,
          value_parser = at_least(1usize))]
    max_clients: usize,
    /// Stress mode: while all sessions are busy, close those idle this long outside a
    /// transaction (421) to serve a waiting connection.
    #[arg(long, value_name = "SECS",
          default_value_t = Seconds::from_secs(limits::SMTP_STRESS_IDLE_TIMEOUT_SECS))]
    stress_idle_timeout: Seconds,
    /// Seconds to wait for a client before 421 (fractions allowed).
    #[arg(long, value_name = "SECS",
          default_value_t = Seconds::from_secs(limits::SMTP_IDLE_TIMEOUT_SECS))]
    idle_timeout: Seconds,
    /// Seconds a whole session may last.
    #[arg(long, value_name = "SECS",
          default_value_t = Seconds::from_secs(limits::SMTP_SESSION_DEADLINE_SECS))]
    session_timeout: Seconds,
    /// Slowest average DATA rate in bytes/s after a grace period (0: none).
    #[arg(long, value_name = "BYTES", default_value_t = limits::SMTP_MIN_DATA_RATE)]
    min_data_rate: u64,
    /// Bare CR or LF in message data: refuse the message (550) or store it as CRLF.
    #[arg(long, value_name = "HOW", value_enum, default_value = "reject")]
    bare_lf: BareLf,

    /// Do not advertise PIPELINING (RFC 2920).
    #[arg(long)]
    no_pipelining: bool,
    /// Do not advertise SIZE (RFC 1870).
    #[arg(long)]
    no_size: bool,
    /// Do not advertise 8BITMIME (RFC 6152).
    #[arg(long)]
    no_8bitmime: bool,
    /// Do not advertise SMTPUTF8 (RFC 6531).
    #[arg(long)]
    no_smtputf8: bool,
    /// Do not advertise ENHANCEDSTATUSCODES (RFC 2034) nor send enhanced codes.
    #[arg(long)]
    no_enhancedstatuscodes: bool,
    /// Do not advertise DSN (RFC 3461).
    #[arg(long)]
    no_dsn: bool,
    /// Do not advertise CHUNKING (BDAT, RFC 3030).
    #[arg(long)]
    no_chunking: bool,

    /// PEM certificate chain for STARTTLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make a throwaway self-signed certificate at start; its SHA-256
    /// fingerprint is printed on stderr, for clients to pin.
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// TLS with STARTTLS (default) or from the first byte (SMTPS, port 465 style).
    #[arg(long, value_name = "MODE", value_enum)]
    tls: Option<TlsMode>,

    /// Offer AUTH PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER against FILE's
    /// user:password lines (the password is the token for the OAuth two).
    #[arg(long, value_name = "FILE")]
    auth_file: Option<PathBuf>,
    /// Offer AUTH and accept any user and password.
    #[arg(long, conflicts_with = "auth_file")]
    auth_any: bool,
    /// Allow AUTH without TLS.
    #[arg(long)]
    auth_insecure: bool,

    /// Check each message's DKIM signatures (RFC 6376) before storing it: an
    /// Authentication-Results field (RFC 8601) on top, and "dkim" in --envelope-json.
    #[arg(long)]
    dkim_verify: bool,
    /// With --dkim-verify: ask this DNS server (ADDR:PORT) for the keys instead of
    /// /etc/resolv.conf's.
    #[arg(long, value_name = "ADDR", requires = "dkim_verify", value_parser = dns::parse_server)]
    dns: Option<SocketAddr>,

    /// Inject a reply: [N:]STAGE[:ADDR-PATTERN]=CODE [TEXT]; stages connect, helo,
    /// mail, rcpt, data, dot, rset, quit (e.g. rcpt:bad@*=550, "dot=451 try later");
    /// N: only the first N times.
    #[arg(long, value_name = "SPEC", action = ArgAction::Append)]
    reply: Vec<String>,
    /// Like --reply for the first N attempts (default 1, counted across connections),
    /// then accept: [N:]STAGE[:ADDR-PATTERN]=CODE [TEXT].
    #[arg(long, value_name = "SPEC", action = ArgAction::Append)]
    reply_once: Vec<String>,
    /// Close the connection without a reply: [N:]STAGE[:ADDR-PATTERN].
    #[arg(long, value_name = "STAGE", action = ArgAction::Append)]
    disconnect: Vec<String>,
    /// Wait before replying: [N:]STAGE[:ADDR-PATTERN]=SECONDS.
    #[arg(long, value_name = "SPEC", action = ArgAction::Append)]
    delay: Vec<String>,

    /// Print a completion script for SHELL to standard output and exit.
    #[arg(long, value_name = "SHELL", value_enum, exclusive = true)]
    completions: Option<clap_complete::Shell>,
}

#[derive(Clone, Copy, ValueEnum)]
enum BareLf {
    Reject,
    Normalize,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum TlsMode {
    Starttls,
    Implicit,
}

/// A parser for a count or size of at least `min`.
fn at_least<T>(min: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr<Err = std::num::ParseIntError> + PartialOrd + std::fmt::Display,
    T: Copy + Send + Sync + 'static,
{
    move |s| match s.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(format!("want at least {min}")),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    cli::tool("smtp-recv", |a: &Args| a.completions, run)
}

/// The library's lines for the operator, on stderr (`smtp-recv: ...`).
fn say(level: Level, msg: std::fmt::Arguments<'_>) {
    match level {
        Level::Info => cli::say(msg),
        Level::Warning => cli::warn(msg),
    }
}

fn run(a: Args) -> anyhow::Result<ExitCode> {
    let hostname = a
        .hostname
        .clone()
        .unwrap_or_else(server::driver::default_hostname);
    recv::check_hostname(&hostname).map_err(cli::usage)?;
    let target = Target::choose(
        a.output.clone(),
        a.maildir.clone(),
        a.mbox.clone(),
        a.dir.clone(),
        a.exec.clone(),
    );
    let count = a.count.unwrap_or(if a.stdio { 0 } else { 1 });
    let json_stdout = a.envelope_json.as_deref() == Some("-".as_ref());
    if (a.stdio || json_stdout) && matches!(target, Target::Stdout) {
        return Err(cli::usage(
            "storing to stdout conflicts with --stdio and --envelope-json -: give -o, --maildir, --mbox, --dir or --exec",
        ));
    }
    if a.stdio && json_stdout {
        return Err(cli::usage("--envelope-json - conflicts with --stdio"));
    }
    let cert_files = a.tls_cert.as_deref().zip(a.tls_key.as_deref());
    let tls = recv::tls_config(cert_files, a.tls_self_signed, &hostname, &say)?;
    if a.tls.is_some() && tls.is_none() {
        return Err(cli::usage(
            "--tls needs --tls-cert and --tls-key, or --tls-self-signed",
        ));
    }
    let mut inject = Vec::new();
    for (kind, specs) in [
        ("reply", &a.reply),
        ("reply-once", &a.reply_once),
        ("disconnect", &a.disconnect),
        ("delay", &a.delay),
    ] {
        for spec in specs {
            inject.push(server::parse_injection(kind, spec).map_err(cli::usage)?);
        }
    }
    let auth = match (&a.auth_file, a.auth_any) {
        (Some(path), _) => Some(recv::read_config(
            "--auth-file",
            path,
            auth::Verifier::parse_file,
        )?),
        (None, true) => Some(auth::Verifier::AnyPassword),
        (None, false) => None,
    };
    let config = Arc::new(Config {
        hostname,
        max_size: a.max_size,
        max_rcpts: a.max_rcpts,
        max_errors: a.max_errors,
        max_line: a.max_line,
        ext: Extensions {
            pipelining: !a.no_pipelining,
            size: !a.no_size,
            eightbitmime: !a.no_8bitmime,
            smtputf8: !a.no_smtputf8,
            enhanced: !a.no_enhancedstatuscodes,
            dsn: !a.no_dsn,
            chunking: !a.no_chunking,
        },
        auth,
        auth_insecure: a.auth_insecure,
        tls_available: tls.is_some(),
        implicit_tls: a.tls == Some(TlsMode::Implicit),
        bare: match a.bare_lf {
            BareLf::Reject => dot::BareNewline::Reject,
            BareLf::Normalize => dot::BareNewline::Normalize,
        },
        inject,
    });
    if let Some(w) = config.warning() {
        cli::warn(w);
    }
    // The store writes messages to our stdout and gives --exec commands our
    // stderr: handed over here, as the library never opens them itself.
    let std_streams = store::Std {
        out: std::io::stdout().as_fd().try_clone_to_owned()?.into(),
        err: std::io::stderr().as_fd().try_clone_to_owned()?,
    };
    let store = Arc::new(Store::open(target, count, std_streams).context("cannot open storage")?);
    let envelope_json = match &a.envelope_json {
        Some(_) if json_stdout => {
            Some(Box::new(std::io::stdout()) as Box<dyn std::io::Write + Send>)
        }
        Some(p) => Some(recv::open_json(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    let opts = Options {
        count,
        max_clients: a.max_clients,
        stress_idle: a.stress_idle_timeout.0,
        time: TimeLimits {
            idle: a.idle_timeout.0,
            session: a.session_timeout.0,
            min_rate: a.min_data_rate,
        },
        tls,
        implicit_tls: a.tls == Some(TlsMode::Implicit),
        quiet: a.quiet,
        ready_file: a.ready_file,
        envelope_json,
        stop: None,
        dkim_verify: if a.dkim_verify {
            Some(Arc::new(Resolver::new(a.dns, dns::DEFAULT_TIMEOUT)?))
        } else {
            None
        },
    };
    let log: Arc<Log> = Arc::new(say);
    let stored = if a.stdio {
        recv::stdio(
            std::io::stdin(),
            std::io::stdout(),
            config,
            store,
            opts,
            log,
        )?
    } else {
        let listeners = recv::listen(&a.listen.concat())?;
        let stop = recv::stop_on_signals().context("cannot handle signals")?;
        recv::serve(
            listeners,
            config,
            store,
            Options {
                stop: Some(stop),
                ..opts
            },
            log,
        )?
    };
    Ok(recv::exit_status(stored, count, &say))
}
