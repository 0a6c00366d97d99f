//! The client session ([`Session`]): connect (or start `--pipe`'s
//! command), greeting, EHLO, STARTTLS (RFC 3207), EHLO again, AUTH (RFC
//! 4954), then one transaction per message (RSET between messages), QUIT;
//! also what `--probe` shows ([`Session::describe`]) and [`dry_run`]. The
//! [`Connection`] trait lets the unit tests script a server.

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::io::strip_os_error;
use crate::message::dkim::sign::Signer;
use crate::send::credentials;
use crate::send::error::Error;
use crate::send::notice::{self, Trace};
use crate::send::outcome::{self, RcptResult};
use crate::send::prepare::Prepared;
use crate::send::url::{self, Transport};
use crate::smtp::client::{self, Client, SendEnvelope};
use crate::smtp::command::Command;
use crate::smtp::dot;
use crate::smtp::envelope::{self, Mailbox};
use crate::smtp::reply::Reply;
use crate::smtp::sasl::{self, Mechanism, Secret};
use crate::smtp::tls;

/// Where to send: a server, a command that speaks SMTP on its stdin and
/// stdout (`--pipe`), or each recipient domain's mail hosts (`--mx`).
#[derive(Debug, Clone)]
pub enum Target {
    /// A server from `-S` or `SMTP_SERVER`.
    Server(url::Server),
    /// `--pipe CMD`.
    Pipe(String),
    /// `--mx`: no server of its own; `send::mx` makes a
    /// [`Target::Server`] of each mail host it tries.
    Mx,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Server(s) => s.fmt(f),
            Target::Pipe(cmd) => write!(f, "pipe {cmd:?}"),
            Target::Mx => f.write_str("MX hosts"),
        }
    }
}

/// How to reach the server and who to be there.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The server or command.
    pub target: Target,
    /// The EHLO name (`None`: this host's name when it is a domain, else the
    /// address literal of our end of the connection).
    pub helo: Option<String>,
    /// TLS verification and client certificate.
    pub tls: tls::ClientTls,
    /// AUTH user (`None`: no AUTH).
    pub user: Option<String>,
    /// Where the password comes from.
    pub credentials: credentials::Sources,
    /// `--auth`: the mechanism to use instead of the strongest offered.
    pub auth: Option<Mechanism>,
    /// `--insecure-auth`: AUTH allowed without TLS.
    pub insecure_auth: bool,
    /// `--timeout`: the limit of every wait (each whole reply, each write)
    /// instead of RFC 5321 §4.5.3.2's.
    pub timeout: Option<Duration>,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `-v`: the transcript goes to `Notices::trace`.
    pub verbose: bool,
    /// Where warnings, the transcript and the progress bar go.
    pub notices: notice::Shared,
    /// How each message is handed over: LMTP, `--partial`, DSN, CHUNKING.
    pub delivery: Delivery,
    /// With [`url::Security::StartTlsIfOffered`]: a STARTTLS the server
    /// refuses with a reply (454, 5xx; not 421, which closes) leaves the
    /// session in cleartext on the same connection, with a warning (RFC
    /// 3207 §4: the client may go on; `--mx-tls may`). `false` (a
    /// configured server, `smtp://`): the refusal is the session's error.
    pub cleartext_after_starttls_refused: bool,
}

/// How messages are handed over in a session (issue 6's protocol options).
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// `--lmtp`: LHLO, one reply per recipient after the message (RFC 2033).
    pub lmtp: bool,
    /// `--partial`: send to the accepted recipients when some are refused.
    pub partial: bool,
    /// `--notify`, `--ret`, `--envid` (and ORCPT with any of them): RFC 3461.
    pub dsn: client::Dsn,
    /// `--no-chunking`: DATA even when the server offers CHUNKING.
    pub no_chunking: bool,
    /// `--dkim-key`: each message is signed before each transaction, after
    /// every change made to it ([`Prepared::sign`]).
    pub dkim: Option<Arc<Signer>>,
}

/// What a session needs from its connection besides reading and writing:
/// starting TLS on it, what TLS it has, and its timeouts. [`Transport`] is
/// the real one; the unit tests use a scripted in-memory stream.
pub trait Connection: Read + Write + Sized + Send + 'static {
    /// Runs the TLS handshake (after STARTTLS's 220, or at once for
    /// `smtps://`) and returns the protected connection.
    fn start_tls(
        self,
        config: &Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, tls::HandshakeError>;
    /// The TLS version and cipher and the server's certificate, when the
    /// connection has TLS.
    fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)>;
    /// The time the next reads and writes have from now: the client sets
    /// it to the time left before every call (see `smtp::client`'s
    /// timeouts), so a connection whose one call may take many socket
    /// reads (TLS) must make it a deadline for all of them.
    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl Connection for Transport {
    fn start_tls(
        self,
        config: &Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> Result<Self, tls::HandshakeError> {
        Transport::start_tls(self, config, server_name)
    }

    fn tls_info(&self) -> Option<(String, Option<tls::CertInfo>)> {
        self.tls()
            .map(|conn| (tls::describe(conn), tls::peer_certificate_info(conn)))
    }

    fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        Transport::set_io_timeout(self, timeout)
    }
}

/// An open, greeted, EHLO'd (and, as asked, TLS-protected and
/// authenticated) session.
pub struct Session<C: Connection = Transport> {
    client: Client<C>,
    target: Target,
    greeting: Reply,
    tls: Option<(String, Option<tls::CertInfo>)>,
    /// Why the server's certificate was not verified, when the session
    /// has TLS without it (`smtp://` without credentials, RFC 7435;
    /// `--tls-insecure`).
    unverified: Option<String>,
    /// Why the session has no TLS, for `--probe`.
    no_tls: &'static str,
    delivery: Delivery,
    /// The missing-DSN warning was given (once a session).
    dsn_warned: bool,
    /// A message was sent (or tried): the next one gets its own
    /// [`SESSION_LIMIT`].
    sent_one: bool,
    notices: notice::Shared,
}

impl<C: Connection> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target.to_string())
            .finish()
    }
}

/// This host's name as `gethostname` gives it (lossily UTF-8).
pub fn local_hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The EHLO name: `name` if it is a fully qualified domain (RFC 5321
/// §4.1.1.1: "the fully-qualified domain name of the SMTP client"; a
/// single label such as `vm` is not one, and MX hosts often refuse it),
/// else the address literal of `local` (`[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`, §2.3.5).
fn helo_name(name: &str, local: Option<SocketAddr>) -> String {
    if envelope::is_domain(name, false) && name.trim_end_matches('.').contains('.') {
        return name.to_owned();
    }
    match local.map(|a| a.ip()) {
        Some(IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "localhost".to_owned(),
    }
}

/// The longest wait for the reply to a QUIT sent after a failure: the
/// outcome is decided already, so the server's answer only closes cleanly.
const QUIT_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// How long a connection may be used for its setup and first message, and
/// for each further message from the moment it starts (issue 17: the
/// stage limits bound each wait, not how many waits a hostile server can
/// chain, nor a server that takes message text at a trickle).
const SESSION_LIMIT: Duration = Duration::from_secs(crate::limits::SMTP_SEND_SESSION_SECS);

/// [`Session::abort`] for a client not yet in a session; returns `err`.
fn give_up<C: Connection>(client: Client<C>, err: Error) -> Error {
    client.quit_within(QUIT_AFTER_FAILURE);
    err
}

/// An `oauth = "NAME"` failure as smtp-send reports it: an expired or
/// revoked sign-in, or a refusal, is an authentication failure (77, kept
/// by `--queue`: signing in again and flushing sends it); a token
/// endpoint that does not answer now (a timeout, a 5xx, no connection) is
/// temporary (75, as `smtp-oauth token` says); anything else is
/// configuration (78).
fn oauth_error(name: &str, e: crate::send::oauth::error::Error) -> Error {
    use crate::send::oauth::error::Error as OAuth;
    match e {
        // Its text names the account: `oauth NAME: sign in again: ...`.
        OAuth::SignIn(_) => Error::Security(format!("oauth {e}")),
        OAuth::Denied(_) => Error::Security(format!("oauth {name}: {e}")),
        OAuth::Temporary(_) => Error::Unavailable(format!("oauth {name}: {e}")),
        e => Error::Config(format!("oauth {name}: {e}")),
    }
}

fn smtp_err(target: &Target) -> impl Fn(client::Error) -> Error + '_ {
    move |err| Error::Smtp {
        server: target.to_string(),
        err,
    }
}

impl Session<Transport> {
    /// Connects to the target of `opts` (or starts its `--pipe` command),
    /// then [`Session::start`].
    pub fn open(opts: &SessionOptions) -> Result<Session, Error> {
        // A --password-cmd runs before connecting (issue 17): a slow
        // `pass` or pinentry must not hold a server's connection open
        // (and its time limit is then the command's alone).
        let password = match (&opts.user, &opts.target, &opts.credentials.password_cmd) {
            (Some(user), Target::Server(server), Some(_)) => {
                Some(password_of(opts, user, &server.host)?)
            }
            (Some(user), Target::Pipe(_), Some(_)) => Some(password_of(opts, user, "localhost")?),
            _ => None,
        };
        let io_timeout = opts.timeout.unwrap_or(client::TIMEOUT_GREETING);
        let (transport, local, security, host) = match &opts.target {
            Target::Server(server) => {
                let (tcp, addr) = url::connect(server, opts.connect_timeout, io_timeout)
                    .map_err(Error::Connect)?;
                if opts.verbose {
                    opts.notices
                        .trace(format!("=== connected to {addr}\n").as_bytes());
                }
                let connected = Instant::now();
                let local = tcp.local_addr().ok();
                if server.security != url::Security::Implicit {
                    wait_for_greeting(&tcp, server, io_timeout, &*opts.notices);
                }
                (
                    (Transport::Tcp(tcp), connected),
                    local,
                    server.security,
                    server.host.clone(),
                )
            }
            Target::Pipe(cmd) => {
                let t = url::pipe(cmd, io_timeout).map_err(|e| {
                    Error::Config(format!("--pipe {cmd:?}: {}", strip_os_error(&e)))
                })?;
                (
                    (t, Instant::now()),
                    None,
                    url::Security::None,
                    "localhost".to_owned(),
                )
            }
            Target::Mx => {
                return Err(Error::Usage(
                    "--mx: each mail host is connected to on its own, not as one server".to_owned(),
                ));
            }
        };
        Session::start_with(transport, opts, security, &host, local, password)
    }
}

/// The password for `user` at `host` from the sources of `opts` (not an
/// `oauth =` account: [`Session::authenticate`] fetches and refreshes its
/// token); none found is a configuration error.
fn password_of(opts: &SessionOptions, user: &str, host: &str) -> Result<credentials::Found, Error> {
    credentials::password(user, host, &opts.credentials)
        .map_err(|e| Error::Config(e.to_string()))?
        .ok_or_else(|| {
            Error::Config(format!(
                "no password for {user} at {host}: set SMTP_PASSWORD, --password-file, \
                 --password-cmd or a ~/.netrc entry"
            ))
        })
}

/// How long a server may be silent before smtp-send says it waits.
const GREETING_NOTICE: Duration = Duration::from_secs(10);

/// Waits (without reading) for the server's first byte; after
/// [`GREETING_NOTICE`] of silence says so on stderr, once, and goes on
/// waiting: an implicit-TLS port says nothing until it hears a TLS
/// ClientHello (RFC 8314 §3.3), and nobody should stare at a silent
/// terminal for the five minutes RFC 5321 §4.5.3.2 allows a greeting.
/// The read timeout is the caller's again afterwards. This wait is part of
/// the greeting's (the client counts it from the connection:
/// [`Client::greet_since`]), not a wait of its own.
fn wait_for_greeting(
    tcp: &std::net::TcpStream,
    server: &url::Server,
    timeout: Duration,
    notices: &dyn notice::Notices,
) {
    if timeout <= GREETING_NOTICE || tcp.set_read_timeout(Some(GREETING_NOTICE)).is_err() {
        return;
    }
    if let Err(e) = tcp.peek(&mut [0])
        && matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    {
        notices.warn(&format_args!(
            "no greeting from {} after {} s: an implicit-TLS port? use smtps://",
            server.authority(),
            GREETING_NOTICE.as_secs()
        ));
    }
    let _ = tcp.set_read_timeout(Some(timeout));
}

impl<C: Connection> Session<C> {
    /// Over an open connection to `host`: reads the greeting, says EHLO,
    /// starts TLS as `security` asks (RFC 3207: a fresh EHLO after it, the
    /// earlier capabilities forgotten), and authenticates when a user is
    /// given (RFC 4954). `local` is our end, for the default EHLO name.
    pub fn start(
        conn: C,
        opts: &SessionOptions,
        security: url::Security,
        host: &str,
        local: Option<SocketAddr>,
    ) -> Result<Session<C>, Error> {
        Session::start_with((conn, Instant::now()), opts, security, host, local, None)
    }

    /// [`Session::start`] with the password already found (`password`:
    /// [`Session::open`] runs a `--password-cmd` before connecting), over a
    /// connection made at the instant it comes with: the greeting's time
    /// and the session's count from then.
    fn start_with(
        (conn, connected): (C, Instant),
        opts: &SessionOptions,
        security: url::Security,
        host: &str,
        local: Option<SocketAddr>,
        password: Option<credentials::Found>,
    ) -> Result<Session<C>, Error> {
        let transcript = || -> client::Transcript {
            opts.verbose
                .then(|| Box::new(Trace(Arc::clone(&opts.notices))) as Box<dyn Write + Send>)
        };
        let target = opts.target.clone();
        let server_name = opts.tls.server_name(host).to_owned();
        // smtp:// without credentials (ClientTls::opportunistic): an
        // unverifiable certificate still encrypts, and says why.
        let opportunistic = opts.tls.opportunistic && security == url::Security::StartTlsIfOffered;
        let mut config = None;
        let mut noted = tls::Unverified::default();
        let mut tls_config = || -> Result<Arc<rustls::ClientConfig>, Error> {
            if config.is_none() {
                let built = if opportunistic {
                    tls::opportunistic_config(&opts.tls).map(|(c, n)| {
                        noted = n;
                        c
                    })
                } else {
                    tls::client_config(&opts.tls)
                };
                config = Some(built.map_err(|e| Error::Config(e.to_string()))?);
            }
            Ok(Arc::clone(config.as_ref().expect("set above")))
        };
        let tls_err = |err: tls::HandshakeError| Error::Tls {
            server: target.to_string(),
            err,
        };
        let hook = |s: &mut C, t: Duration| s.set_io_timeout(t);
        let deadline = Some(connected + SESSION_LIMIT);

        let mut transport = conn;
        let mut tls = None;
        let mut unverified = opts.tls.insecure.then(|| "--tls-insecure".to_owned());
        if security == url::Security::Implicit {
            // The handshake within the greeting's time (url::connect set
            // it as the socket's timeout).
            transport = transport
                .start_tls(&tls_config()?, &server_name)
                .map_err(tls_err)?;
            tls = transport.tls_info();
        }
        let mut client = Client::new(transport, transcript());
        client.set_lmtp(opts.delivery.lmtp);
        client.set_timeout_hook(hook);
        client.set_reply_timeout(opts.timeout);
        client.set_deadline(deadline);
        if let Some((desc, _)) = &tls {
            client.note(&format!("TLS: {desc}"));
        }
        let helo = opts
            .helo
            .clone()
            .unwrap_or_else(|| helo_name(&local_hostname(), local));
        // RFC 5321 §4.1.1.10: a connection still in good order is closed
        // with QUIT, also after a refusal.
        let greeting = match client.greet_since(connected) {
            Ok(g) => g,
            Err(e) => {
                let err = match (&target, e.kind()) {
                    (Target::Pipe(cmd), client::ErrorKind::Io(io))
                        if let Some(exited) = url::CommandExited::in_io(io) =>
                    {
                        Error::Command {
                            cmd: cmd.clone(),
                            exited,
                        }
                    }
                    _ => tls_rejection(e, &target),
                };
                return Err(give_up(client, err));
            }
        };
        if let Err(e) = client.ehlo(&helo) {
            return Err(give_up(client, smtp_err(&target)(e)));
        }
        let mut no_tls = "";
        if security == url::Security::None {
            no_tls = if matches!(target, Target::Pipe(_)) {
                "none (--pipe: the command's own transport, if any, protects the session)"
            } else {
                "none (smtp+plain://)"
            };
        } else if !client.capabilities().starttls && security != url::Security::Implicit {
            if security == url::Security::StartTlsRequired {
                return Err(give_up(
                    client,
                    Error::Security(format!(
                        "{target}: the server does not offer STARTTLS, which smtp+starttls:// requires \
                     (not sent in plain text)"
                    )),
                ));
            }
            no_tls = "none (the server does not offer STARTTLS)";
        } else if security != url::Security::Implicit
            && let Err(e) = client.starttls()
        {
            // RFC 3207 §4: after a refusal the session is still in its
            // EHLO state; opportunistic TLS goes on there in cleartext,
            // rather than over a new connection.
            let go_on = opts.cleartext_after_starttls_refused
                && security == url::Security::StartTlsIfOffered
                && e.stage() == client::Stage::StartTls
                && matches!(e.kind(), client::ErrorKind::Reply(r) if r.code != 421);
            if !go_on {
                return Err(give_up(client, smtp_err(&target)(e)));
            }
            opts.notices.warn(&format_args!(
                "{}; going on in cleartext (--mx-tls verify refuses instead)",
                smtp_err(&target)(e)
            ));
            no_tls = "none (STARTTLS refused: going on in cleartext)";
        } else if security != url::Security::Implicit {
            // STARTTLS accepted (220): the handshake, then EHLO again.
            let (mut transport, transcript) = client.into_parts();
            let config = tls_config()?;
            // The handshake is a wait like a reply's (RFC 5321 §4.5.3.2
            // names none: the time of the other commands), within the
            // session's end.
            let left = (connected + SESSION_LIMIT).saturating_duration_since(Instant::now());
            let handshake = opts.timeout.unwrap_or(client::TIMEOUT_OTHER).min(left);
            // Setting a connected socket's timeout does not fail; if it
            // did, the timeout of the STARTTLS reply would still bound
            // each read of the handshake.
            let _ = transport.set_io_timeout(handshake.max(Duration::from_millis(1)));
            let transport = transport
                .start_tls(&config, &server_name)
                .map_err(tls_err)?;
            tls = transport.tls_info();
            client = Client::new(transport, transcript);
            client.set_lmtp(opts.delivery.lmtp);
            client.set_timeout_hook(hook);
            client.set_reply_timeout(opts.timeout);
            client.set_deadline(deadline);
            if let Some((desc, _)) = &tls {
                client.note(&format!("TLS: {desc}"));
            }
            if let Some(why) = noted.why() {
                client.note(&format!(
                    "TLS certificate NOT verified ({why}): encrypted, not authenticated, \
                     as smtp:// allows without credentials (RFC 7435)"
                ));
                unverified = Some(why);
            }
            if let Err(e) = client.ehlo(&helo) {
                return Err(give_up(client, tls_rejection(e, &target)));
            }
        }
        let mut session = Session {
            client,
            target,
            greeting,
            unverified: unverified.filter(|_| tls.is_some()),
            tls,
            no_tls,
            delivery: opts.delivery.clone(),
            dsn_warned: false,
            sent_one: false,
            notices: Arc::clone(&opts.notices),
        };
        if let Some(user) = &opts.user
            && let Err(e) = session.authenticate(opts, user, host, password)
        {
            session.abort();
            return Err(e);
        }
        Ok(session)
    }

    /// Ends the session after a failure: QUIT, best effort, when the
    /// connection is still in good order (RFC 5321 §4.1.1.10), with a short
    /// wait (`QUIT_AFTER_FAILURE`).
    pub fn abort(self) {
        self.client.quit_within(QUIT_AFTER_FAILURE);
    }

    fn authenticate(
        &mut self,
        opts: &SessionOptions,
        user: &str,
        host: &str,
        password: Option<credentials::Found>,
    ) -> Result<(), Error> {
        let target = self.target.to_string();
        // Over --pipe too: the command's transport (ssh) may well be
        // encrypted, but nothing here can know it, so saying so is the
        // user's job (--insecure-auth).
        if self.tls.is_none() && !opts.insecure_auth {
            return Err(Error::Security(match self.target {
                Target::Pipe(_) => format!(
                    "{target}: not sending a password over --pipe without --insecure-auth \
                     (give it if the command's transport, e.g. ssh, is encrypted)"
                ),
                Target::Server(_) | Target::Mx => format!(
                    "{target}: not sending a password over a connection without TLS \
                     (use smtps:// or a server with STARTTLS, or --insecure-auth)"
                ),
            }));
        }
        let offered = &self.client.capabilities().auth;
        if offered.is_empty() {
            return Err(Error::Security(format!(
                "{target}: the server does not offer AUTH (no user needed? then leave out --user and SMTP_USER)"
            )));
        }
        let mech = match opts.auth {
            Some(m) if offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())) => m,
            Some(m) => {
                return Err(Error::Security(format!(
                    "{target}: the server does not offer AUTH {m} (it offers {})",
                    offered.join(" ")
                )));
            }
            None => Mechanism::choose(offered).ok_or_else(|| {
                Error::Security(format!(
                    "{target}: no AUTH mechanism we know is offered ({}); try --auth",
                    offered.join(" ")
                ))
            })?,
        };
        let found = match (&opts.credentials.oauth, password) {
            (Some(name), _) => {
                credentials::oauth_token(name, None).map_err(|e| oauth_error(name, e))?
            }
            (None, Some(found)) => found,
            (None, None) => password_of(opts, user, host)?,
        };
        if let Some(w) = &found.warning {
            self.notices.warn(w);
        }
        self.client.note(&format!("password from {}", found.source));
        let secret = Secret::from(found.password.into_string());
        let mut exchange = sasl::start(mech, user, &secret, host);
        let result = self.client.auth_with(mech, &mut *exchange);
        drop(exchange);
        match (&opts.credentials.oauth, result) {
            // A refused token may have expired or been revoked between the
            // fetch and its use: refresh it once and try again on the same
            // connection (RFC 4954 §4 allows another AUTH after a failed
            // one; RFC 7628 §3.2.2's error challenge ends in 535).
            (Some(name), Err(e)) if e.reply().is_some_and(|r| r.code == 535) => {
                self.client.note("token refused: refreshing it once");
                let refused = std::str::from_utf8(secret.as_bytes()).ok();
                let found =
                    credentials::oauth_token(name, refused).map_err(|e| oauth_error(name, e))?;
                let secret = Secret::from(found.password.into_string());
                let mut exchange = sasl::start(mech, user, &secret, host);
                self.client
                    .auth_with(mech, &mut *exchange)
                    .map_err(smtp_err(&self.target))
            }
            (_, result) => result.map_err(smtp_err(&self.target)),
        }
    }

    /// Sends one prepared message; a progress bar (`Notices::progress`) when `progress`
    /// and the message is over [`PROGRESS_MIN`] bytes. When the server
    /// takes fewer recipients per transaction than the message has (`452`,
    /// RFC 5321 §4.5.3.1.10), the message goes to those it took, then
    /// again in a new transaction to the rest, until all have it.
    ///
    /// Returns one result per envelope recipient, in envelope order: the
    /// server's refusals (of a recipient, of MAIL, DATA or the message; in
    /// LMTP each recipient's own reply) are results, not errors. `Err` only
    /// when the message reached no one and the session cannot go on (lost
    /// connection, 421, protocol error), or the message cannot be sent or
    /// read at all (65, 74); [`outcome::from_error`] turns it into results.
    /// A failure after an earlier transaction delivered gives results too
    /// (check [`Session::is_usable`] before sending more).
    pub fn send(&mut self, msg: &mut Prepared, progress: bool) -> Result<Vec<RcptResult>, Error> {
        // The first message shares the setup's time; each later one has
        // its own from now (the caller may have read it from a slow input
        // meanwhile).
        if std::mem::replace(&mut self.sent_one, true) {
            self.client
                .set_deadline(Some(Instant::now() + SESSION_LIMIT));
        }
        let all = msg.envelope.rcpts.clone();
        let mut rcpts = all.clone();
        let server = self.target.to_string();
        let mut results = Vec::with_capacity(all.len());
        loop {
            match self.send_once(msg, rcpts.clone(), progress) {
                Ok(sent) => {
                    for (m, r) in sent.refused {
                        results.push(RcptResult::from_reply(m, client::Stage::Rcpt, r, &server));
                    }
                    for (m, r) in sent.replies {
                        results.push(RcptResult::from_reply(m, client::Stage::Dot, r, &server));
                    }
                    if sent.deferred.is_empty() {
                        break;
                    }
                    self.client.note(&format!(
                        "{} of {} recipients deferred (452): a new transaction for them",
                        sent.deferred.len(),
                        rcpts.len()
                    ));
                    rcpts = sent.deferred;
                    msg.rewind().map_err(Error::Input)?;
                }
                Err(e) => {
                    let refusal = matches!(&e, Error::Smtp { err, .. } if matches!(
                        err.kind(),
                        client::ErrorKind::Reply(_) | client::ErrorKind::Rejected(_)
                    ));
                    if results.is_empty() && !(refusal && self.client.is_usable()) {
                        return Err(e);
                    }
                    let mut failed = outcome::from_error(&rcpts, &e, &server);
                    // --partial: those refused at RCPT keep their own reply.
                    for r in &mut failed {
                        if let Some((m, reply)) = self
                            .client
                            .refused_at_rcpt()
                            .iter()
                            .find(|(m, _)| *m == r.rcpt)
                        {
                            *r = RcptResult::from_reply(
                                m.clone(),
                                client::Stage::Rcpt,
                                reply.clone(),
                                &server,
                            );
                        }
                    }
                    results.extend(failed);
                    break;
                }
            }
        }
        results.sort_by_key(|r| all.iter().position(|m| *m == r.rcpt));
        let protection = self.protection();
        for r in &mut results {
            r.tls = Some(protection.clone());
        }
        Ok(results)
    }

    /// How this session is protected.
    pub fn protection(&self) -> outcome::Protection {
        match (&self.tls, &self.unverified) {
            (None, _) => outcome::Protection::None,
            (Some(_), None) => outcome::Protection::Verified,
            (Some(_), Some(why)) => outcome::Protection::Unverified(why.clone()),
        }
    }

    fn send_once(
        &mut self,
        msg: &mut Prepared,
        rcpts: Vec<Mailbox>,
        progress: bool,
    ) -> Result<client::Sent, Error> {
        // --downgrade: 7-bit for a server without 8BITMIME (a no-op after
        // the first transaction).
        msg.fit(self.client.capabilities())?;
        // DKIM last: what is signed is what goes (RFC 6376 §5).
        if let Some(signer) = &self.delivery.dkim {
            msg.sign(signer)?;
        }
        let env = SendEnvelope {
            from: msg.envelope.from.clone(),
            rcpts,
            size: Some(msg.envelope.size),
            eight_bit: msg.envelope.eight_bit,
            smtputf8: msg.envelope.smtputf8,
            partial: self.delivery.partial,
            dsn: self.delivery.dsn.clone(),
            chunking: !self.delivery.no_chunking,
            binary: msg.envelope.binary,
        };
        // Binary MIME with a NUL octet has no text form (RFC 6152 §3):
        // only BODY=BINARYMIME carries it (issue 17).
        if msg.envelope.nul && !env.sends_binary(self.client.capabilities()) {
            return Err(Error::Message(
                "NUL octet in binary MIME: the server does not offer BINARYMIME and CHUNKING: \
                 not sent"
                    .to_owned(),
            ));
        }
        if env.dsn.is_requested() && !self.client.capabilities().dsn && !self.dsn_warned {
            // RFC 3461 §5.2 has a relay without DSN send the notices
            // itself; a client can only say that its request was dropped.
            self.dsn_warned = true;
            self.notices.warn(&format_args!(
                "{}: the server does not offer DSN (RFC 3461): --notify, --ret and --envid not sent",
                self.target
            ));
        }
        let len = msg.len();
        let target = (progress && len > PROGRESS_MIN)
            .then(|| self.notices.progress())
            .flatten();
        let result = if let Some(target) = target {
            let bar = indicatif::ProgressBar::with_draw_target(Some(len), target);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bytes}/{total_bytes} [{wide_bar}] {binary_bytes_per_sec} {eta}",
            ) {
                bar.set_style(style);
            }
            let mut reader = bar.wrap_read(msg.reader());
            let r = self.client.send(&env, &mut reader);
            bar.finish_and_clear();
            r
        } else {
            self.client.send(&env, &mut msg.reader())
        };
        result.map_err(smtp_err(&self.target))
    }

    /// Whether another message can be sent on this connection.
    pub fn is_usable(&self) -> bool {
        self.client.is_usable()
    }

    /// Says QUIT. A failure here does not undo what was delivered.
    pub fn quit(self) -> Result<(), Error> {
        let target = self.target;
        self.client.quit().map_err(smtp_err(&target))
    }

    /// Writes what `--probe` shows: server, greeting, TLS, certificate,
    /// capabilities (after STARTTLS: the ones that count).
    pub fn describe(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "server: {}", self.target)?;
        writeln!(out, "greeting: {}", one_line(&self.greeting))?;
        match &self.tls {
            Some((desc, cert)) => {
                writeln!(out, "tls: {desc}")?;
                match &self.unverified {
                    None => writeln!(out, "certificate verified: yes")?,
                    Some(why) => writeln!(
                        out,
                        "certificate verified: NO ({why}): encrypted, not authenticated"
                    )?,
                }
                if let Some(c) = cert {
                    writeln!(out, "certificate subject: {}", c.subject)?;
                    writeln!(out, "certificate issuer: {}", c.issuer)?;
                    if !c.names.is_empty() {
                        writeln!(out, "certificate names: {}", c.names.join(", "))?;
                    }
                    let left = c.not_after_unix.map(|t| {
                        let now = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs() as i64);
                        let days = (t - now).div_euclid(86_400);
                        if days < 0 {
                            " (EXPIRED)".to_owned()
                        } else {
                            format!(" (expires in {days} days)")
                        }
                    });
                    writeln!(
                        out,
                        "certificate valid: {} to {}{}",
                        c.not_before,
                        c.not_after,
                        left.unwrap_or_default()
                    )?;
                    writeln!(out, "certificate fingerprint: {}", c.sha256)?;
                }
            }
            None => writeln!(out, "tls: {}", self.no_tls)?,
        }
        writeln!(out, "capabilities:")?;
        for line in &self.client.capabilities().lines {
            writeln!(out, "  {line}")?;
        }
        Ok(())
    }
}

/// A handshake that completed can still end in a refusal of our client
/// certificate, seen at the first read after it (TLS 1.3): exit 77, not 75.
fn tls_rejection(e: client::Error, target: &Target) -> Error {
    if let client::ErrorKind::Io(io) = e.kind()
        && let Some(err) = tls::HandshakeError::from_stream_error(io)
    {
        return Error::Tls {
            server: target.to_string(),
            err,
        };
    }
    smtp_err(target)(e)
}

/// A reply on one line (`250 2.0.0 Ok`; the lines of a multiline reply
/// joined with ` / `).
pub(crate) fn one_line(r: &Reply) -> String {
    r.to_string().replace('\n', " / ")
}

/// Messages over this many bytes get a progress bar (when the user watches a
/// terminal): below it one finishes before a bar would show.
pub const PROGRESS_MIN: u64 = 4 * 1024 * 1024;

/// `--dry-run`: writes what would go on the wire for the transaction (to a
/// server that offers SIZE, 8BITMIME, SMTPUTF8 and PIPELINING): the MAIL and
/// RCPT commands, DATA, the message as sent (CRLF line ends, dot-stuffed)
/// and the end-of-data line; signed first with `dkim`.
pub fn dry_run(
    msg: &mut Prepared,
    dkim: Option<&Signer>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if let Some(signer) = dkim {
        msg.sign(signer)?;
    }
    let env = SendEnvelope {
        from: msg.envelope.from.clone(),
        rcpts: msg.envelope.rcpts.clone(),
        size: Some(msg.envelope.size),
        eight_bit: msg.envelope.eight_bit,
        smtputf8: msg.envelope.smtputf8,
        ..SendEnvelope::default()
    };
    let caps = client::Capabilities {
        esmtp: true,
        size: Some(0),
        pipelining: true,
        eightbitmime: true,
        smtputf8: true,
        ..client::Capabilities::default()
    };
    let target = Target::Pipe("--dry-run".to_owned());
    let commands = client::envelope_commands(&env, &caps).map_err(smtp_err(&target))?;
    let write_err = |e: io::Error| Error::Output(e);
    for c in commands.iter().chain([&Command::Data]) {
        let wire = c
            .to_wire()
            .map_err(|e| Error::Message(format!("cannot send {c}: {e}")))?;
        out.write_all(&wire).map_err(write_err)?;
    }
    let opts = dot::StuffOptions {
        eight_bit: true,
        ..dot::StuffOptions::default()
    };
    dot::write_data(&mut msg.reader(), &mut &mut *out, &opts).map_err(|e| match e {
        dot::StuffError::Read(e) => Error::Input(e),
        dot::StuffError::Write(e) => Error::Output(e),
        e => Error::Message(e.to_string()),
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------

#[cfg(test)]
pub(crate) mod tests;
