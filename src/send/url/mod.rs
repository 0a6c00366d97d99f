//! Where to send: the `-S/--server` value (or `SMTP_SERVER`), the connection
//! to it, and the byte stream the client speaks SMTP over.
//!
//! # Server specs
//!
//! | spec | security | default port |
//! | --- | --- | --- |
//! | `host`, `host:port`, `[v6]`, `[v6]:port` | STARTTLS when offered | 25 |
//! | `smtp://host[:port]` | STARTTLS when offered | 25 |
//! | `smtp+starttls://host[:port]` | STARTTLS required | 25 |
//! | `smtps://host[:port]` | implicit TLS (RFC 8314 §3) | 465 |
//! | `smtp+plain://host[:port]` | no TLS, explicitly | 25 |
//!
//! The default port is 25 (RFC 5321 §4.5.4's relay port, and what msmtp
//! uses), not 587: a bare host name most often names a local MTA or a
//! smarthost that relays for us. Submission users write `:587`. Schemes are
//! case-insensitive; a trailing `/` is allowed, any other path, query or
//! fragment is refused. Credentials in the URL (`smtp://user:pass@host`)
//! are refused: argv is visible to every local user through `ps`, so the
//! password must come from elsewhere ([`crate::send::credentials`]).
//!
//! # Connecting
//!
//! [`connect`] resolves the host with the system resolver (getaddrinfo, so
//! `/etc/hosts`, the system's address order and IPv6 preferences apply) and
//! tries every address in turn, each bounded by the connect timeout. The
//! socket gets `TCP_NODELAY`: the client already batches its writes (a
//! pipelined command group, 64 KiB+ of DATA), so Nagle's algorithm can only
//! delay the last small segment, such as the final `.` line, until the
//! peer's delayed ACK (the 40+ ms stall measured for msmtp in BASELINE.md).
//!
//! Every failure here is temporary ([`ConnectError::is_temporary`]; exit 75,
//! "not sent, try again") except a host name the resolver says does not
//! exist ([`ConnectError::is_unknown_host`]: getaddrinfo's EAI_NONAME or
//! EAI_NODATA, or no addresses at all), which is exit 68, EX_NOHOST, as
//! sendmail and msmtp have it: a typo in `-S` should not be retried
//! forever by a caller that trusts 75. A resolver that cannot answer now
//! (EAI_AGAIN, "Temporary failure in name resolution": DNS down, a VPN not
//! up yet) stays temporary. std does not expose getaddrinfo's code, only
//! its text (`gai_strerror`), so the texts of glibc, musl and the BSDs are
//! matched.
//!
//! # Transports
//!
//! [`Transport`] is what the client reads and writes: plain TCP, TLS over
//! TCP, or a child process's stdin/stdout ([`pipe`], `--pipe CMD`). A write
//! that fails with `EPIPE` is reported as `ConnectionReset`, so that the
//! CLI's "reader went away: exit quietly 0" rule for stdout never turns a
//! lost SMTP connection into success. Every transport bounds each read and
//! write by the timeout of [`Transport::set_io_timeout`], a pipe included
//! (see [`ChildIo`]); the client sets it to the time left before each call
//! (issue 17). Under TLS one call may take many socket reads (a record
//! dripped a byte at a time), so there the time becomes a deadline on the
//! socket below the TLS stream ([`Deadline`]).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::io::deadline::Deadline;
use crate::smtp::tls::{self, HandshakeError};

/// The port for `host`, `smtp://`, `smtp+starttls://` and `smtp+plain://`
/// without one (RFC 5321 §4.5.4; see the module doc for why not 587).
pub const DEFAULT_PORT: u16 = 25;

/// The port for `smtps://` without one: submissions over implicit TLS
/// (RFC 8314 §7.3).
pub const SMTPS_PORT: u16 = 465;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://` or a bare host: STARTTLS (RFC 3207) when the server offers
    /// it, plain text otherwise.
    StartTlsIfOffered,
    /// `smtp+starttls://`: STARTTLS, and fail if the server does not offer
    /// it (no downgrade by a man in the middle stripping the capability).
    StartTlsRequired,
    /// `smtps://`: TLS from the first byte (RFC 8314 §3.3).
    Implicit,
    /// `smtp+plain://`: never TLS, even when offered.
    None,
}

impl Security {
    /// The URL scheme that selects this mode.
    pub fn scheme(self) -> &'static str {
        match self {
            Security::StartTlsIfOffered => "smtp",
            Security::StartTlsRequired => "smtp+starttls",
            Security::Implicit => "smtps",
            Security::None => "smtp+plain",
        }
    }
}

/// A parsed `-S/--server` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP address; an IPv6 address without its brackets. This
    /// is also the name the TLS certificate is checked against (unless
    /// `--tls-sni` says otherwise).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS mode.
    pub security: Security,
    /// `--lmtp`: the server speaks LMTP (RFC 2033), and says so where it is
    /// named (`lmtp://host:port` in errors, results and `--json`).
    pub lmtp: bool,
}

impl Server {
    /// `host:port`, with brackets around an IPv6 address (`[::1]:25`).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Server {
    /// The URL form, `smtps://[::1]:465`, for transcripts and errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.security.scheme();
        match scheme.strip_prefix("smtp").filter(|_| self.lmtp) {
            Some(rest) => write!(f, "lmtp{rest}://{}", self.authority()),
            None => write!(f, "{scheme}://{}", self.authority()),
        }
    }
}

crate::exit::message_error! {
    /// A server spec that cannot be used (a usage/configuration error). The
    /// message quotes the spec only when it holds no credentials.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct UrlError(String) => CONFIG;
}

fn bad(spec: &str, why: impl fmt::Display) -> UrlError {
    UrlError(format!("bad server {:?}: {why}", spec))
}

/// Parses a server spec; see the module doc for the forms accepted.
///
/// Errors: empty spec or host, a port that is not 1–65535, an unknown
/// scheme, a path/query/fragment, credentials (`user@`), characters that
/// cannot be in a host name, an IPv6 address without brackets.
pub fn parse(spec: &str) -> Result<Server, UrlError> {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return Err(UrlError("empty server name".to_owned()));
    }
    let (scheme, rest) = match trimmed.find("://") {
        Some(i) => (Some(trimmed[..i].to_ascii_lowercase()), &trimmed[i + 3..]),
        None => (None, trimmed),
    };
    // Credentials: refuse without echoing the spec (it holds a password),
    // before anything else can quote it (an unknown scheme too).
    if let Some(at) = rest.find('@')
        && rest[..at].find(['/', '?', '#']).is_none()
    {
        return Err(UrlError(
            "credentials in the server address are not accepted (command lines are visible \
             to other users): use --user, and SMTP_PASSWORD, --password-file, \
             --password-cmd or ~/.netrc for the password"
                .to_owned(),
        ));
    }
    let is_url = scheme.is_some();
    let security = match scheme.as_deref() {
        None | Some("smtp") => Security::StartTlsIfOffered,
        Some("smtp+starttls") => Security::StartTlsRequired,
        Some("smtps") => Security::Implicit,
        Some("smtp+plain") => Security::None,
        Some(other) => {
            return Err(bad(
                trimmed,
                format!("unknown scheme {other:?} (use smtp, smtps, smtp+starttls or smtp+plain)"),
            ));
        }
    };
    let authority = if is_url {
        match rest.find(['/', '?', '#']) {
            Some(i) if &rest[i..] == "/" => &rest[..i],
            Some(_) => {
                return Err(bad(
                    trimmed,
                    "a server URL takes no path, query or fragment",
                ));
            }
            None => rest,
        }
    } else {
        rest
    };
    let default_port = if security == Security::Implicit {
        SMTPS_PORT
    } else {
        DEFAULT_PORT
    };
    let (host, port) = split_host_port(trimmed, authority)?;
    let port = match port {
        None => default_port,
        Some(p) => parse_port(trimmed, p)?,
    };
    // host:465 without a scheme: the submissions port is implicit TLS (RFC
    // 8314 §3.3); a STARTTLS client would wait there for a greeting that
    // never comes (issue 13).
    let security = if !is_url && port == SMTPS_PORT {
        Security::Implicit
    } else {
        security
    };
    Ok(Server {
        host,
        port,
        security,
        lmtp: false,
    })
}

fn split_host_port<'a>(
    spec: &str,
    authority: &'a str,
) -> Result<(String, Option<&'a str>), UrlError> {
    if authority.is_empty() {
        return Err(bad(spec, "no host name"));
    }
    if let Some(inner) = authority.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(bad(spec, "missing ']' after the IPv6 address"));
        };
        let addr = &inner[..close];
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(bad(spec, format!("{addr:?} is not an IPv6 address")));
        }
        let after = &inner[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad(spec, "unexpected text after ']'")),
        };
        return Ok((addr.to_ascii_lowercase(), port));
    }
    // An IPv6 address without brackets is refused even when it parses:
    // `fe80::1:25` is a valid address, and also what someone meaning port
    // 25 would write.
    if authority.matches(':').count() > 1 {
        return Err(bad(
            spec,
            "write an IPv6 address in brackets, with the port after them: [::1]:25",
        ));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    check_host(spec, host)?;
    Ok((host.to_owned(), port))
}

/// A host name: letters, digits, `-`, `_`, `.` (RFC 1123 §2.1 plus the
/// underscores real DNS has); non-ASCII names (IDN) are passed through for
/// the resolver to judge, but nothing that would confuse a URL or a log
/// line is accepted.
fn check_host(spec: &str, host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(bad(spec, "no host name"));
    }
    // Non-ASCII is let in for IDN, but not the C1 and bidi controls and
    // line separators, which would come out in the URL the tools print.
    if let Some(c) = host.chars().find(|&c| {
        (c.is_ascii() && !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
            || crate::codec::encoded_word::is_bad_control(c)
    }) {
        return Err(bad(spec, format!("{c:?} cannot be in a host name")));
    }
    if host.chars().any(char::is_whitespace) {
        return Err(bad(spec, "a host name has no spaces"));
    }
    Ok(())
}

fn parse_port(spec: &str, port: &str) -> Result<u16, UrlError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(spec, format!("port {port:?} is not a number")));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(bad(spec, format!("port {port} is out of range (1-65535)"))),
    }
}

/// A connection that could not be made: temporary (exit 75) unless the host
/// name is unknown (exit 68); see the module doc.
#[derive(Debug)]
pub struct ConnectError {
    host: String,
    port: u16,
    kind: ConnectErrorKind,
}

/// What went wrong in [`connect`].
#[derive(Debug)]
pub enum ConnectErrorKind {
    /// The resolver failed (no such host, DNS unreachable, ...). The text
    /// is getaddrinfo's.
    Resolve(io::Error),
    /// The name resolved to no addresses.
    NoAddresses,
    /// Every address failed; each with its error, in the order tried.
    Connect(Vec<(SocketAddr, io::Error)>),
}

impl ConnectError {
    /// What went wrong.
    pub fn kind(&self) -> &ConnectErrorKind {
        &self.kind
    }

    /// Whether trying again later may work: everything but
    /// [`ConnectError::is_unknown_host`] (see the module doc).
    pub fn is_temporary(&self) -> bool {
        !self.is_unknown_host()
    }

    /// Whether the resolver said the host name does not exist (or has no
    /// addresses): exit 68, EX_NOHOST.
    pub fn is_unknown_host(&self) -> bool {
        match &self.kind {
            ConnectErrorKind::Resolve(e) => is_no_such_host(e),
            ConnectErrorKind::NoAddresses => true,
            ConnectErrorKind::Connect(_) => false,
        }
    }

    /// Whether every address timed out (or the last did).
    pub fn is_timeout(&self) -> bool {
        match &self.kind {
            ConnectErrorKind::Connect(tries) => tries
                .last()
                .is_some_and(|(_, e)| e.kind() == io::ErrorKind::TimedOut),
            _ => false,
        }
    }
}

/// Whether a resolver error is getaddrinfo's EAI_NONAME or EAI_NODATA, by
/// its `gai_strerror` text (glibc, musl, the BSDs and macOS); EAI_AGAIN
/// ("Temporary failure in name resolution") and the rest are not.
fn is_no_such_host(e: &io::Error) -> bool {
    const TEXTS: [&str; 4] = [
        "Name or service not known",           // glibc EAI_NONAME
        "No address associated with hostname", // glibc EAI_NODATA
        "Name does not resolve",               // musl EAI_NONAME
        "nor servname provided, or not known", // BSD, macOS EAI_NONAME
    ];
    let text = e.to_string();
    TEXTS.iter().any(|t| text.contains(t))
}

/// How many failed addresses a [`ConnectError`] message lists.
const MAX_LISTED_FAILURES: usize = 4;

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        match &self.kind {
            ConnectErrorKind::Resolve(e) if is_no_such_host(e) => {
                write!(f, "host name unknown: {host:?} ({e})")
            }
            ConnectErrorKind::Resolve(e) => write!(f, "cannot resolve host {host:?}: {e}"),
            ConnectErrorKind::NoAddresses => write!(f, "host {host:?} has no addresses"),
            ConnectErrorKind::Connect(tries) => {
                write!(f, "cannot connect to {host:?} port {}: ", self.port)?;
                // The last failure first: it is the one the brief asks to
                // name; earlier ones follow for multi-homed hosts.
                let mut first = true;
                for (addr, e) in tries.iter().rev().take(MAX_LISTED_FAILURES) {
                    if !first {
                        f.write_str("; ")?;
                    }
                    first = false;
                    if tries.len() > 1 || addr.ip().to_string() != *host {
                        write!(f, "{addr}: ")?;
                    }
                    f.write_str(&describe_io(e))?;
                }
                if tries.len() > MAX_LISTED_FAILURES {
                    write!(
                        f,
                        "; {} more addresses failed",
                        tries.len() - MAX_LISTED_FAILURES
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConnectError {}

impl crate::exit::Status for ConnectError {
    fn exit_code(&self) -> u8 {
        // A host name that does not exist is EX_NOHOST, as for sendmail.
        if self.is_temporary() {
            crate::exit::TEMPFAIL
        } else {
            crate::exit::NOHOST
        }
    }
}

/// std's text for a connect error ("Connection refused (os error 111)")
/// without the errno, and a plain word for a timeout.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_owned(),
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => crate::io::strip_os_error(e),
    }
}

/// Resolves `server.host` and connects to its addresses in turn, each
/// bounded by `connect_timeout`; the first that accepts wins. The socket
/// gets `TCP_NODELAY` and `io_timeout` as its read and write timeout (the
/// client may change it per stage: [`Transport::set_io_timeout`]).
/// Returns the stream and the address it reached (for `-v`).
pub fn connect(
    server: &Server,
    connect_timeout: Duration,
    io_timeout: Duration,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let error = |kind| ConnectError {
        host: server.host.clone(),
        port: server.port,
        kind,
    };
    // An IP literal needs no resolver (and must not fail when DNS is down).
    let addrs: Vec<SocketAddr> = match server.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, server.port)],
        Err(_) => (server.host.as_str(), server.port)
            .to_socket_addrs()
            .map_err(|e| error(ConnectErrorKind::Resolve(e)))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(error(ConnectErrorKind::NoAddresses));
    }
    let (stream, addr) =
        connect_addrs(&addrs, connect_timeout).map_err(|t| error(ConnectErrorKind::Connect(t)))?;
    let setup = stream
        .set_nodelay(true)
        .and_then(|()| set_timeouts(&stream, io_timeout));
    match setup {
        Ok(()) => Ok((stream, addr)),
        Err(e) => Err(error(ConnectErrorKind::Connect(vec![(addr, e)]))),
    }
}

/// Tries `addrs` in order; the first connection wins, else every failure.
fn connect_addrs(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), Vec<(SocketAddr, io::Error)>> {
    let mut failures = Vec::new();
    for &addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok((s, addr)),
            Err(e) => failures.push((addr, e)),
        }
    }
    Err(failures)
}

fn set_timeouts(stream: &TcpStream, timeout: Duration) -> io::Result<()> {
    // A zero duration is an error for set_read_timeout; treat it as "none".
    let t = (!timeout.is_zero()).then_some(timeout);
    stream.set_read_timeout(t)?;
    stream.set_write_timeout(t)
}

/// The byte stream the SMTP client speaks over.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP (before STARTTLS, or `smtp+plain://`).
    Tcp(TcpStream),
    /// TLS over TCP (after STARTTLS, or `smtps://`), every socket call
    /// bounded by the deadline [`Transport::set_io_timeout`] sets.
    Tls(Box<StreamOwned<ClientConnection, Deadline<TcpStream>>>),
    /// A child process's stdin/stdout (`--pipe CMD`).
    Pipe(ChildIo),
}

impl Transport {
    /// Starts TLS on a `Tcp` transport (implicit TLS right after
    /// [`connect`], or after `220` to STARTTLS): see [`tls::wrap`] for the
    /// checks. `server_name` is the host (or `--tls-sni`). The handshake
    /// must end within the time last given to [`Transport::set_io_timeout`]
    /// (or [`connect`]). TLS over a pipe or twice is refused.
    pub fn start_tls(
        self,
        config: &Arc<ClientConfig>,
        server_name: &str,
    ) -> Result<Transport, HandshakeError> {
        match self {
            Transport::Tcp(tcp) => {
                // getsockopt cannot fail on a connected socket; if it did,
                // the socket's own timeouts still bound each read.
                let until = tcp
                    .read_timeout()
                    .ok()
                    .flatten()
                    .map(|t| Instant::now() + t);
                let sock = Deadline::socket(tcp, until);
                Ok(Transport::Tls(Box::new(tls::wrap(
                    config,
                    server_name,
                    sock,
                )?)))
            }
            Transport::Tls(_) => Err(HandshakeError::usage("TLS is already active")),
            Transport::Pipe(_) => Err(HandshakeError::usage(
                "STARTTLS over --pipe is not supported (the command's own transport, e.g. ssh, is the protection)",
            )),
        }
    }

    /// The TLS session, when there is one (for [`tls::describe`]
    /// and [`tls::peer_certificate_info`]).
    pub fn tls(&self) -> Option<&ClientConnection> {
        match self {
            Transport::Tls(s) => Some(&s.conn),
            _ => None,
        }
    }

    /// Whether the stream is encrypted. A pipe counts as plain.
    #[cfg(test)]
    fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// Sets the time the next reads and writes have, from now; zero means
    /// no limit. TCP: the socket's timeouts, which bound each call. TLS: a
    /// deadline for every socket call below the TLS stream. A pipe bounds
    /// each read and write the same way ([`ChildIo`]).
    pub fn set_io_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => set_timeouts(s, timeout),
            Transport::Tls(s) => {
                let until = (!timeout.is_zero()).then(|| Instant::now() + timeout);
                s.sock.limit(until, None);
                Ok(())
            }
            Transport::Pipe(p) => {
                p.timeout = (!timeout.is_zero()).then_some(timeout);
                Ok(())
            }
        }
    }
}

/// EPIPE from the peer is a lost connection, not "the reader went away".
fn no_epipe(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection closed by the server",
        )
    } else {
        e
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
            Transport::Pipe(p) => p.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
            Transport::Pipe(p) => p.write(buf),
        }
        .map_err(no_epipe)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Tcp(s) => s.write_vectored(bufs),
            Transport::Tls(s) => s.write_vectored(bufs),
            Transport::Pipe(p) => p.write_vectored(bufs),
        }
        .map_err(no_epipe)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Tcp(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
            // Each write is done when it returns: nothing to flush.
            Transport::Pipe(_) => Ok(()),
        }
        .map_err(no_epipe)
    }
}

/// How long a `--pipe` command gets to exit by itself after its stdin is
/// closed, before it is killed (when the transport is dropped). After QUIT
/// a well-behaved server exits at once; ssh needs a round trip. Also how
/// long one that closed its output before its greeting is given to exit,
/// so that its status can say why.
const PIPE_EXIT_GRACE: Duration = Duration::from_secs(2);

/// Bytes the `--pipe` reader thread reads at a time (SMTP replies are
/// small; a bound on the memory held ahead of the client).
const PIPE_READ: usize = 16 * 1024;

/// A `--pipe` child process: SMTP goes to its stdin and comes from its
/// stdout; its stderr is ours (so ssh's and the server's messages show).
///
/// Timeouts: std cannot poll a pipe (and rustix's `event` feature is not
/// among our dependencies), so each direction has a thread that does the
/// blocking call, and [`Read`]/[`Write`] wait for it with the timeout of
/// [`Transport::set_io_timeout`]. A read that times out is `TimedOut` (the
/// bytes still come, in order, to a later read, as with a socket); a write
/// that times out leaves the writer stuck, so every later write fails. This
/// holds whatever the command does: killing it would not help when a
/// grandchild (`sh -c 'a; b'`) holds the pipe open.
///
/// Dropping it closes the child's stdin, waits up to a short grace period
/// for it to exit, then kills it; either way it is reaped (no zombie).
#[derive(Debug)]
pub struct ChildIo {
    child: Child,
    /// Blocks for the writer thread; `None` once stdin is closed.
    to_writer: Option<SyncSender<Vec<u8>>>,
    /// The writer thread's answer for each block (the block back, for reuse).
    written: Receiver<io::Result<Vec<u8>>>,
    /// What the reader thread read; an empty block is the end of input.
    from_reader: Receiver<io::Result<Vec<u8>>>,
    /// The block being read, and how far.
    pending: Vec<u8>,
    pos: usize,
    eof: bool,
    /// A write did not finish within the timeout.
    stuck: bool,
    /// A read or write timed out: the command is not answering, so it is
    /// killed at once when dropped.
    timed_out: bool,
    /// The command has written something (its greeting, as a rule).
    greeted: bool,
    spare: Vec<u8>,
    timeout: Option<Duration>,
}

/// Waits for the next message of `rx`, at most `timeout` (`None`: forever).
fn recv_within<T>(rx: &Receiver<T>, timeout: Option<Duration>) -> Result<T, RecvTimeoutError> {
    match timeout {
        Some(t) => rx.recv_timeout(t),
        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
    }
}

/// The `--pipe` command ended before its greeting: the I/O error's inner
/// error, so that the session can tell a command that cannot run (a
/// configuration error no retry fixes) from a server that went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandExited(pub std::process::ExitStatus);

impl CommandExited {
    /// The `CommandExited` inside `e`, if it is one.
    pub fn in_io(e: &io::Error) -> Option<CommandExited> {
        e.get_ref()?.downcast_ref::<CommandExited>().copied()
    }
}

impl fmt::Display for CommandExited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::unix::process::ExitStatusExt as _;
        match (self.0.code(), self.0.signal()) {
            // POSIX sh: 127 command not found, 126 found but not runnable
            // (XCU 2.8.2).
            (Some(127), _) => f.write_str(
                "the command exited with status 127 before the SMTP greeting: command not found",
            ),
            (Some(126), _) => f.write_str(
                "the command exited with status 126 before the SMTP greeting: not executable",
            ),
            (Some(c), _) => write!(
                f,
                "the command exited with status {c} before the SMTP greeting"
            ),
            (None, Some(sig)) => write!(
                f,
                "the command was killed by signal {sig} before the SMTP greeting"
            ),
            (None, None) => f.write_str("the command ended before the SMTP greeting"),
        }
    }
}

impl std::error::Error for CommandExited {}

impl crate::exit::Status for CommandExited {
    /// 78 for a command the shell could not run (126, 127): retrying will
    /// not help until the configuration changes. 75 when the command
    /// itself said "try again later" (EX_TEMPFAIL). Anything else: 69,
    /// the service is not there.
    fn exit_code(&self) -> u8 {
        match self.0.code() {
            Some(126 | 127) => crate::exit::CONFIG,
            Some(c) if u8::try_from(c) == Ok(crate::exit::TEMPFAIL) => crate::exit::TEMPFAIL,
            _ => crate::exit::UNAVAILABLE,
        }
    }
}

fn pipe_closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "pipe closed")
}

fn pipe_timed_out(t: Option<Duration>) -> io::Error {
    let t = t.map_or(0.0, |t| t.as_secs_f64());
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the --pipe command did not answer within {t} s"),
    )
}

impl ChildIo {
    fn new(child: Child, stdin: ChildStdin, mut stdout: ChildStdout) -> ChildIo {
        let (to_writer, blocks) = mpsc::sync_channel::<Vec<u8>>(1);
        let (done, written) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let mut stdin = stdin;
            for block in blocks {
                let r = stdin.write_all(&block).map(|()| block);
                let failed = r.is_err();
                if done.send(r).is_err() || failed {
                    break;
                }
            }
            // Dropping stdin here is the child's end of input.
        });
        let (tx, from_reader) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            loop {
                let mut buf = vec![0; PIPE_READ];
                let r = match stdout.read(&mut buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(buf)
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let last = !matches!(&r, Ok(b) if !b.is_empty());
                if tx.send(r).is_err() || last {
                    break;
                }
            }
        });
        ChildIo {
            child,
            to_writer: Some(to_writer),
            written,
            from_reader,
            pending: Vec::new(),
            pos: 0,
            eof: false,
            stuck: false,
            timed_out: false,
            greeted: false,
            spare: Vec::new(),
            timeout: None,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.pending.len() {
            if self.eof {
                return Ok(0);
            }
            match recv_within(&self.from_reader, self.timeout) {
                Ok(Ok(block)) if !block.is_empty() => {
                    self.greeted = true;
                    self.pending = block;
                    self.pos = 0;
                }
                Ok(Ok(_)) | Err(RecvTimeoutError::Disconnected) => {
                    self.eof = true;
                    if !self.greeted
                        && let Some(status) = self.wait_exit(PIPE_EXIT_GRACE)
                    {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            CommandExited(status),
                        ));
                    }
                    return Ok(0);
                }
                Ok(Err(e)) => {
                    self.eof = true;
                    return Err(e);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.timed_out = true;
                    return Err(pipe_timed_out(self.timeout));
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    /// Hands all of `bufs` to the writer thread in one block and waits
    /// until it is written (so a write that returns is done, as on a
    /// socket).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        if self.stuck {
            return Err(pipe_timed_out(self.timeout));
        }
        let to_writer = self.to_writer.as_ref().ok_or_else(pipe_closed)?;
        let mut block = std::mem::take(&mut self.spare);
        block.clear();
        for b in bufs {
            block.extend_from_slice(b);
        }
        let n = block.len();
        if n == 0 {
            return Ok(0);
        }
        to_writer.send(block).map_err(|_| pipe_closed())?;
        match recv_within(&self.written, self.timeout) {
            Ok(Ok(block)) => {
                self.spare = block;
                Ok(n)
            }
            Ok(Err(e)) => {
                self.to_writer = None;
                Err(e)
            }
            Err(RecvTimeoutError::Timeout) => {
                self.stuck = true;
                self.timed_out = true;
                Err(pipe_timed_out(self.timeout))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.to_writer = None;
                Err(pipe_closed())
            }
        }
    }

    /// The child's exit status if it has exited (to say why the
    /// connection ended: `ssh` exiting 255).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The child's exit status once it has exited, waiting at most
    /// `grace`: it closed its output, so it is most likely on its way out.
    fn wait_exit(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + grace;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The child's process id (for `-v`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildIo {
    fn drop(&mut self) {
        // The writer thread ends with its current block and closes stdin.
        drop(self.to_writer.take());
        let grace = if self.timed_out {
            Duration::ZERO
        } else {
            PIPE_EXIT_GRACE
        };
        let deadline = Instant::now() + grace;
        let mut pause = Duration::from_millis(1);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                _ => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sh -c CMD` and returns a transport over its stdin and stdout
/// (`--pipe`). The child's stderr is inherited. Reads and writes wait at
/// most `io_timeout` (zero: no limit) until [`Transport::set_io_timeout`]
/// changes it. Errors: sh cannot be started.
pub fn pipe(cmd: &str, io_timeout: Duration) -> io::Result<Transport> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(io::Error::other("no pipe to the child"));
    };
    let mut t = Transport::Pipe(ChildIo::new(child, stdin, stdout));
    t.set_io_timeout(io_timeout)?;
    Ok(t)
}

#[cfg(test)]
mod tests;
