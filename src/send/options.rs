//! The command line of `smtp-send` ([`Options`]), declared once: the
//! binary flattens it into its parser, a configuration file's account is
//! merged into it (`send::config`), and `send::run`
//! checks and converts it.

use std::path::PathBuf;

use crate::send::queue;

/// The command line of `smtp-send`, declared once: the binary flattens it
/// into its parser (the doc comments are the `--help` text) and hands it to
/// `send::run`, which checks and converts it.
// The field docs are clap's --help text, where `[:port]` and `[IPv6]` are
// usage syntax, not links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Options {
    /// Server: host[:port] or a URL (smtp://, smtp+starttls://, smtps://, smtp+plain://).
    ///
    /// host[:port], [IPv6]:port, smtp://host[:port] (STARTTLS if offered; without a
    /// password, --ca-file or pin, also to an unverifiable certificate), smtp+starttls://
    /// (STARTTLS required), smtps:// (implicit TLS, port 465; also host:465), smtp+plain://
    /// (never TLS). Default: $SMTP_SERVER.
    #[arg(short = 'S', long, value_name = "SERVER")]
    pub server: Option<String>,
    /// Speak SMTP over CMD's stdin and stdout (run with sh -c) instead of connecting.
    #[arg(
        long,
        value_name = "CMD",
        conflicts_with = "server",
        hide_short_help = true
    )]
    pub pipe: Option<String>,
    /// Envelope sender (MAIL FROM); '' or '<>' is the null sender
    /// [default: the message's Sender:, else From:].
    #[arg(short = 'f', long = "from", short_alias = 'r', value_name = "ADDR")]
    pub from: Option<String>,
    /// Also send to the addresses in To:, Cc: and Bcc: (or the first Resent-* block).
    #[arg(short = 't')]
    pub extract: bool,
    /// Full name for a From: field added to a message that has none.
    #[arg(
        short = 'F',
        long = "full-name",
        value_name = "NAME",
        hide_short_help = true
    )]
    pub full_name: Option<String>,
    /// A line with a single "." does not end the message (sendmail -i, -oi).
    #[arg(short = 'i', hide_short_help = true)]
    pub no_dot: bool,
    /// sendmail's body type: ignored (8-bit text is found by reading the message).
    #[arg(short = 'B', hide = true, value_parser = ["7BIT", "8BITMIME"])]
    pub body_type: Option<String>,
    /// Invoked as `sendmail` (set by the binary from argv[0], not a flag):
    /// without `-i`, a line with a single "." ends the input.
    #[arg(skip)]
    pub sendmail: bool,
    /// The operands are FILEs, each one message (with -t semantics), all sent
    /// over one connection.
    #[arg(long)]
    pub each: bool,
    /// User name for AUTH [default: $SMTP_USER].
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from the first line of FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "password_cmd")]
    pub password_file: Option<PathBuf>,
    /// Run CMD (sh -c) and use the first line it prints as the password or token.
    #[arg(long, value_name = "CMD")]
    pub password_cmd: Option<String>,
    /// Give --password-cmd at most SECONDS, then kill it [default: 120].
    #[arg(long, value_name = "SECONDS", hide_short_help = true)]
    pub password_cmd_timeout: Option<f64>,
    /// The configuration's `oauth = "NAME"`: the password is the access
    /// token of smtp-oauth's account NAME, fetched (and refreshed) through
    /// the library. No flag: on the command line,
    /// `--password-cmd 'smtp-oauth token NAME'` says the same.
    #[arg(skip)]
    pub oauth: Option<String>,
    /// Use this SASL mechanism: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2,
    /// OAUTHBEARER [default: the strongest offered].
    #[arg(long, value_name = "MECH", hide_short_help = true)]
    pub auth: Option<String>,
    /// Allow AUTH on a connection without TLS, or over --pipe (the password can be read on the
    /// way unless the pipe's transport, e.g. ssh, is encrypted).
    #[arg(long, hide_short_help = true)]
    pub insecure_auth: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    ///
    /// A server's own
    /// self-signed certificate in it is trusted as it is (its names still checked).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Accept exactly the server certificate with this SHA-256 fingerprint.
    #[arg(long, value_name = "SHA256:HEX")]
    pub tls_fingerprint: Option<String>,
    /// Do not verify the server's certificate at all (DANGEROUS: anyone on the way can read everything).
    #[arg(long, hide_short_help = true)]
    pub tls_insecure: bool,
    /// Present this PEM client certificate.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_client_key",
        hide_short_help = true
    )]
    pub tls_client_cert: Option<PathBuf>,
    /// The private key of --tls-client-cert (PEM).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_client_cert",
        hide_short_help = true
    )]
    pub tls_client_key: Option<PathBuf>,
    /// Send and verify this TLS server name instead of the host's.
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub tls_sni: Option<String>,
    /// Wait at most SECONDS for each server reply.
    ///
    /// Wait at most SECONDS for each server reply, at every stage (also over --pipe)
    /// [default: RFC 5321 §4.5.3.2: 5 min, 2 min for DATA, 10 min after the message].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Give up connecting after SECONDS (per address) [default: 30].
    #[arg(long, value_name = "SECONDS", hide_short_help = true)]
    pub connect_timeout: Option<f64>,
    /// Name to greet the server with (EHLO) [default: this host's name when it has a dot,
    /// else our address literal, e.g. [192.0.2.1]].
    #[arg(long, value_name = "NAME", hide_short_help = true)]
    pub helo: Option<String>,
    /// Send the header exactly as given: add no Date:, Message-ID: or From:, remove no Bcc:.
    #[arg(long, conflicts_with_all = ["extract", "each"], hide_short_help = true)]
    pub verbatim: bool,
    /// Send an empty input (0 bytes) as a message of added header fields only; without it,
    /// empty input is refused (exit 65).
    #[arg(long, hide_short_help = true)]
    pub allow_empty: bool,
    /// Show the SMTP conversation on stderr (C: and S: lines; secrets hidden).
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the envelope and the exact bytes that would be sent; connect nowhere.
    #[arg(long, conflicts_with = "probe")]
    pub dry_run: bool,
    /// Connect, say EHLO and print the server's capabilities, TLS and certificate; send nothing.
    #[arg(long)]
    pub probe: bool,
    /// Print the outcome as JSON on standard output.
    ///
    /// Print the outcome as JSON on standard output, one object per line: one
    /// per recipient when sending, one per message when flushing a queue.
    #[arg(long)]
    pub json: bool,

    // ---- protocol (issue 6): LMTP, DSN, CHUNKING, --partial --------------
    /// Speak LMTP (RFC 2033) to a local delivery agent such as Dovecot's lmtp: LHLO, and
    /// one reply per recipient after the message (use --pipe for a unix socket).
    #[arg(long, help_heading = "Protocol", hide_short_help = true)]
    pub lmtp: bool,
    /// Deliver to the recipients the server accepts even when it refuses others
    /// (still exit 67, naming the refused ones).
    #[arg(long, help_heading = "Protocol", hide_short_help = true)]
    pub partial: bool,
    /// DSN (RFC 3461): when the sender is notified: never, or a comma-separated list of
    /// success, failure, delay (sendmail -N). Sent only if the server offers DSN.
    #[arg(
        short = 'N',
        long,
        value_name = "WHEN",
        help_heading = "Protocol",
        hide_short_help = true
    )]
    pub notify: Option<String>,
    /// DSN: what a notice returns of the message: full or hdrs (sendmail -R).
    #[arg(
        short = 'R',
        long,
        value_name = "full|hdrs",
        help_heading = "Protocol",
        hide_short_help = true
    )]
    pub ret: Option<String>,
    /// DSN: an envelope id the notices quote (sendmail -V; up to 100 printable ASCII).
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Protocol",
        hide_short_help = true
    )]
    pub envid: Option<String>,
    /// Send with DATA even when the server offers CHUNKING (BDAT, RFC 3030).
    #[arg(long, help_heading = "Protocol", hide_short_help = true)]
    pub no_chunking: bool,

    // ---- -bs: an SMTP session on stdin/stdout, relayed onward ------------
    /// Speak SMTP on standard input and output (sendmail -bs, as symfony/mailer
    /// uses it): each message is relayed to the server (or by MX with --mx) before its
    /// DATA is answered (250 only after the server's 250).
    #[arg(long = "bs", help_heading = "SMTP session on stdin/stdout",
          conflicts_with_all = ["extract", "each", "verbatim", "dry_run", "probe", "json",
                                "from", "full_name", "operands", "flush", "list", "drop"], hide_short_help = true)]
    pub bs: bool,
    /// sendmail -q (and -qf): run the configured queue once, as --flush does with the
    /// `queue` directory of the configuration.
    #[arg(long = "queue-run", hide = true,
          conflicts_with_all = ["bs", "each", "dry_run", "probe", "operands", "flush", "list", "drop"])]
    pub queue_run: bool,
    /// sendmail -bp, mailq: list the configured queue, as --list does with the `queue`
    /// directory of the configuration.
    #[arg(long = "queue-list", hide = true,
          conflicts_with_all = ["bs", "each", "dry_run", "probe", "operands", "flush", "list", "drop", "queue_run"])]
    pub queue_list: bool,

    // ---- --downgrade: 8-bit to quoted-printable --------------------------
    /// Re-encode 8-bit parts and long lines for a server without 8BITMIME.
    ///
    /// When the server lacks 8BITMIME, re-encode 8-bit parts to 7-bit (text:
    /// quoted-printable, other: base64) instead of refusing the message; also
    /// re-encode parts with lines over 998 octets instead of refusing them.
    #[arg(long, help_heading = "Downgrade")]
    pub downgrade: bool,

    // ---- queue and retry: --queue, --flush, --list, --drop, --max-age ------
    /// On a failure a retry or a fix may get past, store the message in DIR and exit 0.
    ///
    /// On any failure but a refusal of the message (4xx, no connection, AUTH refused, a
    /// certificate that does not verify, a failing --password-cmd), store the message in
    /// DIR with the reason and exit 0 (78 for a configuration error); retry with --flush
    /// DIR. A 5xx to MAIL, RCPT, DATA or the end of data is never queued.
    #[arg(
        long,
        value_name = "DIR",
        help_heading = "Queue and retry",
        conflicts_with_all = ["dry_run", "probe"]
    )]
    pub queue: Option<PathBuf>,
    /// Retry every due message queued in DIR.
    ///
    /// Retry every due message queued in DIR, over as few connections as possible; exit 0
    /// when the queue is empty, 75 when messages still wait.
    #[arg(long, value_name = "DIR", help_heading = "Queue and retry",
          conflicts_with_all = ["queue", "list", "each", "dry_run", "probe"])]
    pub flush: Option<PathBuf>,
    /// With --flush: try every message now, due or not.
    #[arg(
        long,
        requires = "flush",
        help_heading = "Queue and retry",
        hide_short_help = true
    )]
    pub force: bool,
    /// Show the messages queued in DIR.
    ///
    /// Show the messages queued in DIR (and in DIR/failed): id, age, attempts, envelope,
    /// last reply.
    #[arg(long, value_name = "DIR", help_heading = "Queue and retry",
          conflicts_with_all = ["queue", "each", "dry_run", "probe"])]
    pub list: Option<PathBuf>,
    /// Remove the queued (or failed) message ID from the queue DIR: --drop ID DIR, or with
    /// --queue DIR.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Queue and retry",
        hide_short_help = true
    )]
    pub drop: Option<String>,
    /// With --flush: give up on messages older than AGE (seconds, or with s, m, h, d, w),
    /// moving them to DIR/failed.
    #[arg(
        long,
        value_name = "AGE",
        default_value = "5d",
        value_parser = queue::parse_duration,
        requires = "flush",
        help_heading = "Queue and retry", hide_short_help = true)]
    pub max_age: u64,

    // ---- the log: --log, --log-time-format ---------------------------------
    /// Log every attempt and every message's fate to FILE, or to syslog.
    ///
    /// One key=value line per delivery attempt and per message (id, from=, each rcpt= with
    /// its reply code and status, server=, size=, the server's reply, exit=): appended to
    /// FILE, or sent to syslog (`syslog`: facility mail; `syslog:FACILITY`: user, daemon,
    /// local0-local7). A log that cannot be written is a warning, never an error.
    #[arg(
        long,
        value_name = "FILE|syslog",
        help_heading = "Log",
        hide_short_help = true
    )]
    pub log: Option<String>,
    /// The time format (strftime) of --log FILE's lines [default: "%b %d %H:%M:%S"].
    #[arg(long, value_name = "FMT", help_heading = "Log", hide_short_help = true)]
    pub log_time_format: Option<String>,

    // ---- DKIM: --dkim-key, --dkim-selector, --dkim-domain -----------------
    /// Sign every message with DKIM (RFC 6376) with the private key in FILE.
    ///
    /// Sign every message with DKIM (RFC 6376) with the private key in FILE (PEM: PKCS#1
    /// or PKCS#8, RSA of 2048 to 4096 bits or Ed25519; mime-dkim keygen makes one):
    /// relaxed/relaxed, From over-signed, t= the time of sending. The signature is made
    /// after every change smtp-send makes to the message, once per transaction, in every
    /// mode. Needs --dkim-selector and --dkim-domain.
    #[arg(long, value_name = "FILE", help_heading = "DKIM", hide_short_help = true,
          requires_all = ["dkim_selector", "dkim_domain"])]
    pub dkim_key: Option<PathBuf>,
    /// The DKIM selector (s=): the key's record is SELECTOR._domainkey.DOMAIN.
    #[arg(
        long,
        value_name = "SELECTOR",
        help_heading = "DKIM",
        hide_short_help = true,
        requires = "dkim_key"
    )]
    pub dkim_selector: Option<String>,
    /// The DKIM signing domain (d=), usually the domain of From.
    #[arg(
        long,
        value_name = "DOMAIN",
        help_heading = "DKIM",
        hide_short_help = true,
        requires = "dkim_key"
    )]
    pub dkim_domain: Option<String>,

    // ---- MX delivery: --mx, --dns ----------------------------------------
    /// Deliver to each recipient domain's own mail hosts (DNS MX records, RFC 5321 §5.1)
    /// instead of through a server; one transaction per domain.
    #[arg(long, help_heading = "MX delivery", conflicts_with_all = ["server", "pipe", "user", "auth", "probe", "lmtp",
                              // One server's certificate: --mx talks to many hosts.
                              "tls_sni", "tls_fingerprint"])]
    pub mx: bool,
    /// The DNS server for --mx: ADDR:PORT, [V6]:PORT or ADDR (port 53)
    /// [default: the servers of /etc/resolv.conf].
    #[arg(
        long,
        value_name = "ADDR:PORT",
        requires = "mx",
        help_heading = "MX delivery",
        hide_short_help = true
    )]
    pub dns: Option<String>,
    /// The mail hosts' port for --mx [default: 25] (other ports: tests, closed networks).
    #[arg(
        long,
        value_name = "PORT",
        requires = "mx",
        help_heading = "MX delivery",
        hide_short_help = true
    )]
    pub mx_port: Option<u16>,
    /// STARTTLS toward mail hosts: may (when offered; a certificate that does not verify
    /// is used anyway, with a warning), verify (a certificate valid for the MX host name is
    /// required, else the next host is tried), none.
    #[arg(
        long,
        value_name = "MODE",
        value_enum,
        default_value_t,
        help_heading = "MX delivery",
        hide_short_help = true
    )]
    pub mx_tls: crate::send::mx::MxTls,

    // ---- accounts and configuration: --config, -a, --print-config --------
    /// Read settings from FILE instead of the default configuration.
    ///
    /// Read settings from FILE (TOML; msmtp's format when named *msmtprc) instead of
    /// $XDG_CONFIG_HOME/mailpipe/config.toml or ~/.msmtprc; FILE must exist.
    #[arg(long, value_name = "FILE", help_heading = "Configuration")]
    pub config: Option<PathBuf>,
    /// Use the settings of account NAME of the configuration file.
    ///
    /// Use the settings of account NAME ([accounts.NAME]) of the configuration file
    /// [default: the account whose match_from matches the sender, else [default]].
    #[arg(short = 'a', long, value_name = "NAME", help_heading = "Configuration")]
    pub account: Option<String>,
    /// Print the effective settings and where each came from (secrets hidden); send nothing.
    #[arg(long, help_heading = "Configuration", hide_short_help = true)]
    pub print_config: bool,
    /// Write bare local names (root, cron) in From:, To:, Cc:, Sender:, Reply-To: (and
    /// Resent-*) and in the envelope as NAME@DOMAIN (the cron case).
    #[arg(
        long,
        value_name = "DOMAIN",
        help_heading = "Configuration",
        hide_short_help = true
    )]
    pub qualify_domain: Option<String>,
    /// Replace recipients without @ (root) by the addresses FILE gives them.
    ///
    /// Replace envelope recipients without @ (root, from cron) by the addresses FILE gives
    /// them (msmtp's aliases file: `name: address, ...`, `default: address`), before they
    /// are qualified; the header is not changed.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Configuration",
        hide_short_help = true
    )]
    pub aliases: Option<PathBuf>,
    /// Recipients (one address or a comma-separated list each); FILEs with --each.
    #[arg(value_name = "RECIPIENT")]
    pub operands: Vec<String>,
}

/// `--connect-timeout`'s default, in seconds.
pub const DEFAULT_CONNECT_TIMEOUT: f64 = 30.0;
