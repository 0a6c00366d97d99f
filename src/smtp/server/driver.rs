//! Runs a server [`Session`] over a byte stream: the I/O half of a
//! receiving session, shared by `smtp-recv` (sockets, `--stdio`) and
//! `smtp-send -bs` ([`relay_stdio`]). What becomes of each message, and
//! what the run around the session decides (how many messages it takes,
//! when to stop), is the caller's [`Host`]; what the operator should read
//! goes to the caller's [`Log`].
//!
//! - **Lines**: command lines are read with a bound ([`command::MAX_LINE`],
//!   the AUTH limit of RFC 4954 §4); a longer line is discarded up to its
//!   end and answered `500` by the session, which also applies each verb's
//!   own limit (RFC 5321 §4.5.3.1.4). A command line may end in CRLF or, leniently
//!   (as Postfix and OpenSMTPD do), in a bare LF; DATA is stricter (see
//!   [`dot`]).
//! - **PIPELINING** (RFC 2920 §3.1): replies are queued and written only when
//!   the server would otherwise wait for input, so a pipelined group gets its
//!   replies in order in one write, and a client that sends MAIL, RCPT, DATA
//!   and the message in one write cannot deadlock against us.
//! - **STARTTLS** (RFC 3207 §4.2): after the `220`, anything the client sent
//!   before the handshake is discarded, the handshake runs on the raw stream,
//!   and the session forgets everything learned before it. `implicit_tls`
//!   (RFC 8314 §3.3) runs the handshake before the greeting.
//! - **DATA and BDAT**: the message streams from the connection through
//!   [`dot::read_data`] / [`dot::Bdat::read_chunk`] into the host's
//!   message; the reply is sent only once [`Host::commit`] returned.
//! - **Time** ([`TimeLimits`]): an idle timeout per read (RFC 5321 §4.5.3.2.7),
//!   within which each command line, and the TLS handshake, must also
//!   arrive whole (issue 17: a client dripping a byte per read held a slot
//!   until the session deadline), a whole-session deadline, and a minimum average data rate
//!   during DATA, so that a slow-drip client cannot hold a slot forever;
//!   each ends the session with `421`. The host learns when the session
//!   waits for a command outside a transaction ([`Host::idle`]), so that a
//!   busy server may end it sooner (smtp-recv's stress mode).

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::{Action, ClientAddr, Commit, Config, Session, Step, StoreError, Stored};
use crate::io::lines::{TooLong, read_line, trim_eol};
use crate::limits;
use crate::smtp::envelope::Envelope;
use crate::smtp::reply::Reply;
use crate::smtp::{command, dot, tls};

/// Size of each connection's input buffer. Large reads keep a 100 MB DATA
/// phase to a few hundred syscalls; 16 clients × 128 KiB stays small.
const INPUT_BUF: usize = limits::IO_BUF;

/// Queued replies are written at this size even if more input is buffered.
const OUTPUT_HIGH_WATER: usize = limits::SMTP_OUTPUT_HIGH_WATER;

/// The minimum data rate is enforced only after DATA has lasted this long
/// (or the idle timeout, if shorter), so a slow start is not punished.
const DATA_RATE_GRACE: Duration = Duration::from_secs(30);

/// After the last message a one-shot run accepts (or after a stop request),
/// the client gets this long to send its QUIT before the session is closed.
const FINAL_LINGER: Duration = Duration::from_secs(5);

/// Writes may go on this long past the session deadline: the `421` that
/// ends the session there must still go out.
const LAST_WORDS: Duration = Duration::from_secs(5);

/// After the last reply, unread input is drained this long (at most
/// [`DRAIN_MAX`] bytes) before closing, so the kernel does not answer the
/// client with a reset that could destroy our last reply in flight.
const DRAIN_TIME: Duration = Duration::from_millis(500);
const DRAIN_MAX: usize = limits::SMTP_DRAIN_MAX;

/// The time limits of one session.
#[derive(Debug, Clone, Copy)]
pub struct TimeLimits {
    /// Longest wait for the client to send anything (RFC 5321 §4.5.3.2.7).
    pub idle: Duration,
    /// Longest a whole session may last.
    pub session: Duration,
    /// Slowest average DATA/BDAT rate in bytes per second (0: no minimum),
    /// enforced once the data phase has lasted 30 s or the idle timeout,
    /// whichever is shorter.
    pub min_rate: u64,
}

impl Default for TimeLimits {
    fn default() -> Self {
        TimeLimits {
            idle: Duration::from_secs(limits::SMTP_IDLE_TIMEOUT_SECS),
            session: Duration::from_secs(limits::SMTP_SESSION_DEADLINE_SECS),
            min_rate: limits::SMTP_MIN_DATA_RATE,
        }
    }
}

/// How a session runs, beyond its [`Config`].
#[derive(Default)]
pub struct Options {
    /// Idle, whole-session and data-rate limits.
    pub time: TimeLimits,
    /// TLS configuration for STARTTLS or implicit TLS.
    pub tls: Option<Arc<ServerConfig>>,
    /// TLS from the first byte (SMTPS, RFC 8314 §3.3) instead of STARTTLS.
    pub implicit_tls: bool,
    /// No TLS handshake warnings.
    pub quiet: bool,
}

/// What a line for the operator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Progress and per-message reports (`smtp-recv: stored ...`).
    Info,
    /// Something the operator should look at (`smtp-recv: warning: ...`).
    Warning,
}

/// Where a run's lines for the operator go: the library never prints, the
/// binary does (`smtp-recv` prefixes its name, `warning: ` for
/// [`Level::Warning`]). Called from every session's thread.
pub type Log = dyn Fn(Level, fmt::Arguments<'_>) + Send + Sync;

/// A [`Log`] that drops every line.
pub fn no_log(_: Level, _: fmt::Arguments<'_>) {}

/// How [`Host::begin`] went.
#[derive(Debug)]
pub enum Begin {
    /// The message is open: its bytes go to [`Host::message`].
    Started,
    /// The run already has the messages it wanted: this one is read and
    /// dropped, and refused at its end ([`Commit::Refused`]).
    Full,
    /// It cannot be kept (answered `451` at its end).
    Failed(io::Error),
}

/// Where a session's messages go, and what the run around it decides. One
/// message at a time is open: [`Host::begin`], bytes written to
/// [`Host::message`], then [`Host::commit`] or [`Host::abort`].
pub trait Host {
    /// Opens a message for the current transaction (discarding what an
    /// unfinished earlier one left).
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> Begin;
    /// Where the open message's bytes go (LF line ends, unstuffed).
    fn message(&mut self) -> &mut dyn Write;
    /// Keeps the complete message (`size` octets as received): how it went,
    /// and a reply that replaces the session's own (a relay's answer), if
    /// any. A `Commit::Failed` without a reply is logged (`QUEUEID: not
    /// stored: why`) unless [`Host::output_closed`].
    fn commit(&mut self, env: &Envelope, queue_id: &str, size: u64) -> (Commit, Option<Reply>);
    /// Drops the open message, if any.
    fn abort(&mut self);
    /// A message starts being received; false if the session must stop
    /// instead (it is answered `421`).
    fn enter_data(&mut self) -> bool {
        true
    }
    /// The message is over (kept, refused or lost); true if the session
    /// should now only linger for its QUIT (the run has what it wanted, or
    /// was asked to stop).
    fn leave_data(&mut self) -> bool {
        false
    }
    /// Whether the run asked this session to stop.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Whether the output the messages go to was closed by its reader (a
    /// failure there is not worth a log line).
    fn output_closed(&self) -> bool {
        false
    }
    /// The session starts waiting for a command outside a transaction
    /// (`Some`: since when), or stops (`None`: a command came, or it waits
    /// inside a transaction). A busy run may end the reads of a session
    /// idle too long outside a transaction; [`Host::evicted`] then says so.
    fn idle(&mut self, _since: Option<Instant>) {}
    /// Whether the run ended this session's reads because it sat idle
    /// outside a transaction while the server was busy (answered `421
    /// 4.4.2`).
    fn evicted(&self) -> bool {
        false
    }
}

/// Which limit ended a read: carried inside an `io::Error` of kind
/// `TimedOut` (never `WouldBlock`, which rustls would retry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The whole-session deadline passed.
    Deadline,
    /// DATA arrived slower than the minimum rate.
    SlowData,
}

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expired::Idle => "idle timeout",
            Expired::Deadline => "session time limit",
            Expired::SlowData => "data rate too low",
        })
    }
}

impl std::error::Error for Expired {}

fn expired(why: Expired) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why)
}

fn expired_kind(e: &io::Error) -> Option<Expired> {
    e.get_ref()?.downcast_ref::<Expired>().copied()
}

/// A byte stream a session runs over (below TLS): a socket, or stdin/stdout.
pub trait Transport: Read + Write {
    /// Bounds the next blocking read; streams that cannot (stdio) ignore it.
    fn set_read_timeout(&mut self, limit: Duration) -> io::Result<()>;
    /// Bounds the next blocking write, the same way.
    fn set_write_timeout(&mut self, _limit: Duration) -> io::Result<()> {
        Ok(())
    }
    /// Ends our half of the connection after the last reply.
    fn close_write(&mut self) {}
    /// Whether unread input should be drained before closing (sockets: a
    /// close with unread input sends a reset).
    fn drains(&self) -> bool {
        false
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, limit: Duration) -> io::Result<()> {
        TcpStream::set_read_timeout(self, Some(limit.max(Duration::from_millis(1))))
    }
    fn set_write_timeout(&mut self, limit: Duration) -> io::Result<()> {
        TcpStream::set_write_timeout(self, Some(limit.max(Duration::from_millis(1))))
    }
    fn close_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn drains(&self) -> bool {
        true
    }
}

/// A session over two one-way streams: `--stdio` (inetd, `ssh host
/// smtp-recv --stdio`), and in-memory tests. Time limits other than the
/// session deadline and data rate checks between reads cannot interrupt a
/// blocked read here.
pub struct Duplex<R, W> {
    /// Where the client's bytes come from.
    pub input: R,
    /// Where replies go.
    pub output: W,
}

impl<R: Read, W> Read for Duplex<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl<R, W: Write> Write for Duplex<R, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }
}

impl<R: Read, W: Write> Transport for Duplex<R, W> {
    fn set_read_timeout(&mut self, _: Duration) -> io::Result<()> {
        Ok(())
    }
}

/// The transport with the session's clocks applied to every read.
struct Guarded<T> {
    inner: T,
    time: TimeLimits,
    /// Idle limit in force (shorter than `time.idle` while lingering).
    idle: Duration,
    deadline: Instant,
    /// When the command line being read is due whole (RFC 5321
    /// §4.5.3.2.7: the server waits `idle` for the next command).
    line: Option<Instant>,
    /// Read timeout currently set on the transport.
    set: Option<Duration>,
    /// Write timeout currently set on the transport.
    set_write: Option<Duration>,
    /// Start and byte count of the current DATA/BDAT phase.
    data: Option<(Instant, u64)>,
}

impl<T: Transport> Guarded<T> {
    fn new(inner: T, time: TimeLimits) -> Self {
        Guarded {
            inner,
            time,
            idle: time.idle,
            deadline: Instant::now() + time.session,
            line: None,
            set: None,
            set_write: None,
            data: None,
        }
    }

    fn start_data(&mut self) {
        self.data = Some((Instant::now(), 0));
    }

    fn end_data(&mut self) {
        self.data = None;
    }

    /// Which limit applies to the next read, and how long it leaves.
    ///
    /// The data rate is checked by the clock at each read rather than put in
    /// the socket timeout: that keeps the timeout unchanged (one setsockopt
    /// per connection) and still cuts a slow-drip client at its next packet.
    fn next_limit(&self, now: Instant) -> Result<(Duration, Expired), Expired> {
        if let Some((start, bytes)) = self.data
            && self.time.min_rate > 0
        {
            let grace = DATA_RATE_GRACE.min(self.time.idle);
            let elapsed = now.saturating_duration_since(start);
            if elapsed > grace && (bytes as f64) < self.time.min_rate as f64 * elapsed.as_secs_f64()
            {
                return Err(Expired::SlowData);
            }
        }
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(Expired::Deadline);
        }
        let idle = match self.line {
            Some(due) => match due.saturating_duration_since(now) {
                l if l.is_zero() => return Err(Expired::Idle),
                l => l.min(self.idle),
            },
            None => self.idle,
        };
        Ok(if left < idle {
            (left, Expired::Deadline)
        } else {
            (idle, Expired::Idle)
        })
    }
}

impl<T: Transport> Read for Guarded<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (limit, why) = self.next_limit(Instant::now()).map_err(expired)?;
        if self.set != Some(limit) {
            self.inner.set_read_timeout(limit)?;
            self.set = Some(limit);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                if let Some((_, bytes)) = &mut self.data {
                    *bytes += n as u64;
                }
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(expired(why))
            }
            Err(e) => Err(e),
        }
    }
}

/// Writes get the idle timeout each, within the session deadline (and
/// [`LAST_WORDS`] for the `421` it ends with): a client that reads our
/// replies a byte at a time cannot hold the session past its end (issue
/// 17).
impl<T: Transport> Write for Guarded<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.deadline + LAST_WORDS;
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(expired(Expired::Deadline));
        }
        let (limit, why) = if left < self.time.idle {
            (left, Expired::Deadline)
        } else {
            (self.time.idle, Expired::Idle)
        };
        if self.set_write != Some(limit) {
            self.inner.set_write_timeout(limit)?;
            self.set_write = Some(limit);
        }
        self.inner.write(buf).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => expired(why),
            _ => e,
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The stream above the clocks: plain, or TLS after STARTTLS / implicit TLS.
enum Conn<T: Transport> {
    Plain(Guarded<T>),
    Tls(Box<StreamOwned<ServerConnection, Guarded<T>>>),
    /// Only while the handshake moves the stream from plain to TLS.
    Gone,
}

impl<T: Transport> Conn<T> {
    fn guard(&mut self) -> Option<&mut Guarded<T>> {
        match self {
            Conn::Plain(g) => Some(g),
            Conn::Tls(s) => Some(&mut s.sock),
            Conn::Gone => None,
        }
    }

    /// Runs the server side of a TLS handshake over a plain stream.
    fn start_tls(self, config: &Arc<ServerConfig>) -> io::Result<Conn<T>> {
        let Conn::Plain(mut sock) = self else {
            return Err(io::Error::other("TLS is already active"));
        };
        // The whole handshake within the idle timeout, as a command line:
        // a client dripping it would hold the slot.
        sock.line = Some(Instant::now() + sock.idle);
        let mut tls = tls::handshake(config, sock)?;
        tls.sock.line = None;
        Ok(Conn::Tls(Box::new(tls)))
    }
}

impl<T: Transport> Read for Conn<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(g) => g.read(buf),
            Conn::Tls(s) => s.read(buf),
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl<T: Transport> Write for Conn<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(g) => g.write(buf),
            Conn::Tls(s) => s.write(buf),
            Conn::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(g) => g.flush(),
            Conn::Tls(s) => s.flush(),
            Conn::Gone => Ok(()),
        }
    }
}

/// A connection's input buffer and queued replies.
///
/// Replies are queued and written only when a read would have to wait for
/// the client (the input buffer is empty), or when the queue is large: this
/// is what makes PIPELINING (RFC 2920 §3.1) work in both directions, with
/// every reply of a pipelined group in one write and no deadlock whatever the
/// client sends ahead.
struct Wire<S> {
    stream: S,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    out: Vec<u8>,
}

impl<S: Read + Write> Wire<S> {
    /// A wire over `stream` with `buf` (any size; reused across
    /// connections by a worker, so it is not zeroed again each time).
    fn with_buffer(stream: S, buf: Box<[u8]>) -> Self {
        // An empty buffer would read as end of input.
        let buf = if buf.is_empty() { input_buffer() } else { buf };
        Wire {
            stream,
            buf,
            pos: 0,
            end: 0,
            out: Vec::new(),
        }
    }

    /// Queues `bytes` to be written before the next wait for input.
    fn queue(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= OUTPUT_HIGH_WATER {
            self.flush_out()?;
        }
        Ok(())
    }

    /// Writes the queued replies now.
    fn flush_out(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let res = self.stream.write_all(&self.out);
            self.out.clear();
            res?;
            self.stream.flush()?;
        }
        Ok(())
    }

    /// Whether input is buffered (the client sent ahead: pipelining).
    fn has_input(&self) -> bool {
        self.pos < self.end
    }

    /// Forgets buffered input (RFC 3207 §4.2: nothing the client sent
    /// before the TLS handshake may be used after it).
    fn discard_input(&mut self) {
        self.pos = 0;
        self.end = 0;
    }

    /// Skips the rest of a line that was too long, up to and including its LF.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let chunk = self.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.consume(n);
                }
            }
        }
    }
}

impl<S: Read + Write> Read for Wire<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::io::lines::read_buffered(self, out)
    }
}

impl<S: Read + Write> BufRead for Wire<S> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.end {
            // About to wait for the client: it may be waiting for us.
            self.flush_out()?;
            let n = loop {
                match self.stream.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            self.pos = 0;
            self.end = n;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.end);
    }
}

/// storing them (`smtp-send -bs` relays them onward). For each message,
/// [`Relay::begin`] is called once the client has its `354` (or sent its
/// first BDAT chunk), the message is written to the relay as received (LF
/// line ends, unstuffed, as the store gets it), and if it arrives whole and
/// within the limits, [`Relay::finish`] decides the reply to its DATA (or
/// BDAT LAST). A message that ends badly (the client leaves mid-DATA, bare
/// LF, too big) never reaches `finish`: the next `begin` discards it.
pub trait Relay: Write {
    /// Starts a new message for the current transaction, discarding what
    /// an unfinished earlier one left. An error is answered `451`.
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> io::Result<()>;
    /// Hands the complete message (`size` octets as received) onward. `Ok`
    /// carries the `250` to send; `Err` the refusal (4xx or 5xx). It must
    /// return `Ok` only once the message is delivered or durably queued.
    fn finish(&mut self, env: &Envelope, queue_id: &str, size: u64) -> Result<Reply, Reply>;
}

/// The [`Host`] of [`relay_stdio`]: every message goes to the relay.
struct Relaying<'a> {
    relay: &'a mut dyn Relay,
    relayed: u64,
}

impl Host for Relaying<'_> {
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> Begin {
        match self.relay.begin(env, queue_id) {
            Ok(()) => Begin::Started,
            Err(e) => Begin::Failed(e),
        }
    }

    fn message(&mut self) -> &mut dyn Write {
        &mut *self.relay
    }

    /// The relay's outcome is the reply, so the client learns what the
    /// relay said.
    fn commit(&mut self, env: &Envelope, queue_id: &str, size: u64) -> (Commit, Option<Reply>) {
        match self.relay.finish(env, queue_id, size) {
            Ok(reply) => {
                self.relayed += 1;
                let stored = Stored {
                    location: "relay".to_owned(),
                };
                (Commit::Stored(stored), Some(reply))
            }
            Err(reply) => {
                let failed = StoreError {
                    temporary: reply.is_transient(),
                    message: reply.text(),
                };
                (Commit::Failed(failed), Some(reply))
            }
        }
    }

    /// Nothing to drop: the next [`Relay::begin`] discards what is left.
    fn abort(&mut self) {}
}

/// Runs one session over `input` and `output` (as `smtp-recv --stdio`
/// does), handing each accepted message to `relay`; the relay's outcome is
/// the reply to the message. Returns the number of messages the relay
/// accepted.
pub fn relay_stdio<R: Read, W: Write>(
    input: R,
    output: W,
    config: Arc<Config>,
    relay: &mut dyn Relay,
    opts: &Options,
    log: &Log,
) -> u64 {
    let mut host = Relaying { relay, relayed: 0 };
    let duplex = Duplex { input, output };
    let _ = run_session(
        &config,
        opts,
        log,
        &mut host,
        duplex,
        ClientAddr::Stdio,
        &mut input_buffer(),
    );
    host.relayed
}

/// Runs one session over `t` with `host` to its end; `buf` is the input
/// buffer (kept by the caller across connections). Errors are the
/// connection's (reset, timeout on write, failed TLS handshake): they end
/// this session only.
pub fn run_session<T: Transport>(
    config: &Arc<Config>,
    opts: &Options,
    log: &Log,
    host: &mut dyn Host,
    t: T,
    client: ClientAddr,
    buf: &mut Box<[u8]>,
) -> io::Result<()> {
    let mut conn = Conn::Plain(Guarded::new(t, opts.time));
    if opts.implicit_tls {
        let Some(cfg) = &opts.tls else {
            return Err(io::Error::other("implicit TLS without a TLS configuration"));
        };
        conn = conn.start_tls(cfg).inspect_err(|e| {
            if !opts.quiet {
                log(
                    Level::Warning,
                    format_args!("{client}: TLS handshake failed: {e}"),
                );
            }
        })?;
    }
    let session = Session::new(Arc::clone(config), client, opts.implicit_tls);
    let mut d = Driver {
        config,
        opts,
        log,
        host,
        session,
        wire: Wire::with_buffer(conn, std::mem::take(buf)),
        line: Vec::new(),
        lingering: false,
        bdat: None,
    };
    let greeting = d.session.greeting();
    let res = d.run(greeting);
    *buf = std::mem::take(&mut d.wire.buf);
    res
}

/// A connection's input buffer.
pub fn input_buffer() -> Box<[u8]> {
    vec![0; INPUT_BUF].into_boxed_slice()
}

/// Where a message goes while it is received: the host's message, or
/// nowhere when it cannot be kept (the data is still read, to stay in step).
enum Sink {
    /// The host's open message.
    Open,
    /// The run already has its messages.
    Full,
    /// The host could not start this message.
    Failed(io::Error),
    /// The transaction already failed (a later BDAT chunk).
    Discard,
}

/// One session's driver: the session, its connection, and where the
/// current message goes.
struct Driver<'a, T: Transport> {
    config: &'a Arc<Config>,
    opts: &'a Options,
    log: &'a Log,
    /// Where messages go.
    host: &'a mut dyn Host,
    session: Session,
    wire: Wire<Conn<T>>,
    line: Vec<u8>,
    /// The run has what it wanted (its last message was stored here), or a stop was requested
    /// after a message: the next command may only end the session.
    lingering: bool,
    /// A BDAT transaction in progress (RFC 3030 §2): where it goes, and the
    /// reader state carried across chunks.
    bdat: Option<(Sink, dot::Bdat)>,
}

impl<T: Transport> Driver<'_, T> {
    fn run(&mut self, mut step: Step) -> io::Result<()> {
        loop {
            if let Some(d) = step.delay {
                self.wire.flush_out()?;
                thread::sleep(d);
            }
            match step.action {
                Action::Reply(r) | Action::AuthContinue(r) => self.send(&r)?,
                Action::Close(r) => {
                    self.send(&r)?;
                    // After QUIT's 221 a client sends nothing more: no
                    // unread input can turn our close into a reset.
                    return self.close(r.code != 221);
                }
                Action::Disconnect => return self.close(true),
                Action::StartTls(r) => {
                    self.send(&r)?;
                    self.start_tls()?;
                }
                Action::Data(r) => {
                    step = self.data(r)?;
                    continue;
                }
                Action::Bdat { size, last, first } => {
                    step = self.bdat(size, last, first)?;
                    continue;
                }
                Action::BdatSkip { size, reply } => {
                    if let Err(e) = self.skip_chunk(size) {
                        return self.read_failed(e).map(|_| ());
                    }
                    self.send(&reply)?;
                }
            }
            // RSET, HELO/EHLO or STARTTLS between BDAT chunks ended that
            // transaction: drop its message.
            if self.bdat.is_some() && self.session.envelope().rcpt_to.is_empty() {
                if let Some((sink, _)) = self.bdat.take() {
                    self.abort(sink);
                }
                self.leave_data();
            }
            match self.next_command()? {
                Some(s) => step = s,
                None => return Ok(()),
            }
        }
    }

    /// Queues a reply (the session already left out enhanced codes where
    /// they do not belong).
    fn send(&mut self, r: &Reply) -> io::Result<()> {
        self.wire.queue(&r.to_wire(true))
    }

    /// Reads the next command line and lets the session answer it; None when
    /// the client is gone.
    fn next_command(&mut self) -> io::Result<Option<Step>> {
        let now = Instant::now();
        if let Some(g) = self.wire.stream.guard() {
            if self.lingering {
                g.idle = self.opts.time.idle.min(FINAL_LINGER);
            }
            g.line = Some(now + g.idle);
        }
        if !self.session.in_transaction() {
            self.host.idle(Some(now));
        }
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let res = read_line(&mut self.wire, &mut line, command::MAX_LINE);
        self.host.idle(None);
        let step = match res {
            Ok(_) if !line.ends_with(b"\n") => {
                // End of input, perhaps mid-line: the client is gone.
                self.line = line;
                self.client_gone();
                return Ok(None);
            }
            Ok(_) => {
                let cmd = trim_eol(&line);
                if self.lingering && !ends_session(cmd) {
                    self.session.shutdown()
                } else {
                    self.session.line(cmd)
                }
            }
            // The rest of a line too long is due by the same time.
            Err(e) if e.get_ref().is_some_and(|i| i.is::<TooLong>()) => {
                match self.wire.skip_line() {
                    Ok(()) => self.session.line_too_long(),
                    Err(e) => match expired_kind(&e) {
                        Some(why) => self.expired(why),
                        None => return Err(e),
                    },
                }
            }
            Err(e) => match expired_kind(&e) {
                Some(why) => self.expired(why),
                None => {
                    self.line = line;
                    self.client_gone();
                    return Err(e);
                }
            },
        };
        if let Some(g) = self.wire.stream.guard() {
            g.line = None;
        }
        self.line = line;
        Ok(Some(step))
    }

    /// The client closed (or the run ended our reads): if we were asked to
    /// stop, say so (best effort: the client may be gone for real).
    fn client_gone(&mut self) {
        let step = if self.host.stop_requested() {
            self.session.shutdown()
        } else if self.host.evicted() {
            // RFC 5321 §4.5.3.2.7 lets a server close an idle session;
            // the 421 says why, so the client retries later.
            let mut step = self.session.timeout();
            if let Action::Close(r) = &mut step.action {
                r.lines = vec![format!(
                    "{} Idle too long (server busy)",
                    self.config.hostname
                )];
            }
            step
        } else {
            return;
        };
        if let Action::Close(r) | Action::Reply(r) = step.action {
            let _ = self.send(&r);
        }
        let _ = self.close(true);
    }

    fn expired(&mut self, why: Expired) -> Step {
        let _ = why;
        self.session.timeout()
    }

    /// Marks the session as receiving a message; false if it must stop
    /// instead.
    fn enter_data(&mut self) -> bool {
        self.host.enter_data()
    }

    /// The message is over (stored, refused or lost): linger if this run
    /// has what it wanted, or was asked to stop.
    fn leave_data(&mut self) {
        self.lingering |= self.host.leave_data();
    }

    /// Messages are stored with LF line ends (local files).
    fn data_options(&self) -> dot::DataOptions {
        self.config.data_options(true)
    }

    /// Starts keeping the current transaction's message.
    fn open_sink(&mut self) -> Sink {
        match self
            .host
            .begin(self.session.envelope(), self.session.queue_id())
        {
            Begin::Started => Sink::Open,
            Begin::Full => Sink::Full,
            Begin::Failed(e) => Sink::Failed(e),
        }
    }

    /// Drops what the sink kept so far.
    fn abort(&mut self, sink: Sink) {
        if let Sink::Open = sink {
            self.host.abort();
        }
    }

    /// A complete message: the host keeps it (or says why not), and the
    /// session answers. A reply of the host replaces the session's
    /// (generic) one, so the client learns what a relay said. A failure is
    /// logged (`QUEUEID: not stored: why`) whatever `quiet` says: the
    /// client's reply is generic, since the details (paths, errno text, a
    /// command's status) are ours and not the client's business.
    fn complete(&mut self, sink: Sink, size: u64) -> Step {
        let (commit, reply) = match sink {
            Sink::Open => self
                .host
                .commit(self.session.envelope(), self.session.queue_id(), size),
            Sink::Full | Sink::Discard => (Commit::Refused, None),
            Sink::Failed(e) => {
                let failed = StoreError {
                    temporary: true,
                    message: e.to_string(),
                };
                (Commit::Failed(failed), None)
            }
        };
        // A reader of stdout that left did so on purpose (`| head`): the
        // client gets its 451 and the run ends quietly, no log line.
        if let Commit::Failed(e) = &commit
            && reply.is_none()
            && !self.host.output_closed()
        {
            (self.log)(
                Level::Info,
                format_args!("{}: not stored: {}", self.session.queue_id(), e.message),
            );
        }
        let mut step = self.session.committed(commit, size);
        if let Some(mut reply) = reply
            && let Action::Reply(r) = &mut step.action
        {
            if !self.config.ext.enhanced {
                reply.enhanced = None;
            }
            *r = reply;
        }
        step
    }

    /// Reads into the sink with the data-rate clock running.
    fn read_into<F>(&mut self, sink: &Sink, read: F) -> io::Result<dot::DataEnd>
    where
        F: FnOnce(&mut Wire<Conn<T>>, &mut dyn Write) -> io::Result<dot::DataEnd>,
    {
        if let Some(g) = self.wire.stream.guard() {
            g.start_data();
        }
        let res = match sink {
            Sink::Open => read(&mut self.wire, self.host.message()),
            _ => read(&mut self.wire, &mut io::sink()),
        };
        if let Some(g) = self.wire.stream.guard() {
            g.end_data();
        }
        res
    }

    /// DATA (RFC 5321 §4.1.1.4): 354, the message up to `<CRLF>.<CRLF>`,
    /// then the one reply, sent only once the message is stored.
    fn data(&mut self, go_ahead: Reply) -> io::Result<Step> {
        if !self.enter_data() {
            return Ok(self.session.shutdown());
        }
        self.send(&go_ahead)?;
        if !self.wire.has_input() {
            // The client waits for the 354; storage can start meanwhile.
            self.wire.flush_out()?;
        }
        let sink = self.open_sink();
        let opts = self.data_options();
        let res = self.read_into(&sink, |w, mut out| dot::read_data(w, &mut out, &opts));
        let step = match res {
            Err(e) => {
                self.abort(sink);
                self.leave_data();
                return self.read_failed(e);
            }
            Ok(end) => match self.session.data_end(&end) {
                Err(step) => {
                    self.abort(sink);
                    step
                }
                Ok(()) => self.complete(sink, end.size),
            },
        };
        self.leave_data();
        Ok(step)
    }

    /// A read during DATA or BDAT failed: a time limit (answered 421) or
    /// the connection (nothing to answer).
    fn read_failed(&mut self, e: io::Error) -> io::Result<Step> {
        match expired_kind(&e) {
            Some(why) => Ok(self.expired(why)),
            None => {
                self.client_gone();
                Err(e)
            }
        }
    }

    /// BDAT (RFC 3030 §2): the chunk's octets follow the command at once,
    /// so they are always read, whatever happens to the transaction.
    fn bdat(&mut self, size: u64, last: bool, first: bool) -> io::Result<Step> {
        let current = self.bdat.take();
        let (sink, mut chunks) = match current {
            Some(b) if !first => b,
            other => {
                if let Some((old, _)) = other {
                    self.abort(old);
                    self.leave_data();
                }
                let chunks = dot::Bdat::new(&self.data_options());
                if self.enter_data() {
                    (self.open_sink(), chunks)
                } else {
                    (Sink::Discard, chunks)
                }
            }
        };
        let stopping = self.host.stop_requested() && matches!(sink, Sink::Discard);
        let res = self.read_into(&sink, |w, mut out| {
            chunks.read_chunk(w, size, last, &mut out)
        });
        let end = match res {
            Ok(end) => end,
            Err(e) => {
                self.abort(sink);
                self.leave_data();
                return self.read_failed(e);
            }
        };
        if stopping {
            self.leave_data();
            return Ok(self.session.shutdown());
        }
        match self.session.bdat_end(&end, last) {
            Ok(Some(step)) => {
                self.bdat = Some((sink, chunks));
                Ok(step)
            }
            Ok(None) => {
                let step = self.complete(sink, end.size);
                self.leave_data();
                Ok(step)
            }
            Err(step) => {
                // The session skips the rest of the transaction's chunks.
                self.abort(sink);
                self.leave_data();
                Ok(step)
            }
        }
    }

    /// Reads and drops a refused BDAT chunk (RFC 3030 §2).
    fn skip_chunk(&mut self, size: u64) -> io::Result<()> {
        if let Some(g) = self.wire.stream.guard() {
            g.start_data();
        }
        let res = io::copy(&mut (&mut self.wire).take(size), &mut io::sink());
        if let Some(g) = self.wire.stream.guard() {
            g.end_data();
        }
        match res {
            Ok(n) if n < size => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// STARTTLS (RFC 3207 §4.2): the 220 is out; forget what the client
    /// sent ahead, handshake, and start the session over.
    fn start_tls(&mut self) -> io::Result<()> {
        self.wire.flush_out()?;
        self.wire.discard_input();
        let Some(cfg) = &self.opts.tls else {
            return Err(io::Error::other("STARTTLS without a TLS configuration"));
        };
        let conn = std::mem::replace(&mut self.wire.stream, Conn::Gone);
        match conn.start_tls(cfg) {
            Ok(c) => self.wire.stream = c,
            Err(e) => {
                let client = &self.session.envelope().client;
                if !self.opts.quiet {
                    (self.log)(
                        Level::Warning,
                        format_args!("{client}: TLS handshake failed: {e}"),
                    );
                }
                return Err(e);
            }
        }
        self.session.tls_started();
        Ok(())
    }

    /// Sends what is queued and ends the connection cleanly (TLS
    /// close_notify, TCP FIN). With `drain`, what the client still sends is
    /// read and dropped for a moment first, so our last reply (a 421, say,
    /// while the client pipelines on) is not destroyed by a reset.
    fn close(&mut self, drain: bool) -> io::Result<()> {
        let res = self.wire.flush_out();
        if let Conn::Tls(s) = &mut self.wire.stream {
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                if s.conn.write_tls(&mut s.sock).is_err() {
                    break;
                }
            }
        }
        if let Some(g) = self.wire.stream.guard()
            && drain
        {
            g.inner.close_write();
            if g.inner.drains() {
                // DRAIN_TIME in all, not per read: a client dripping on
                // would hold the slot.
                g.idle = DRAIN_TIME;
                g.line = Some(Instant::now() + DRAIN_TIME);
                let mut buf = [0u8; 8192];
                let mut total = 0;
                while total < DRAIN_MAX {
                    match g.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n,
                    }
                }
            }
        }
        res
    }
}

/// Whether a command may be answered after the run's last message: only
/// those that end or keep the session idle (QUIT, RSET, NOOP).
fn ends_session(line: &[u8]) -> bool {
    use crate::smtp::command::Command;
    matches!(
        command::parse(line, true),
        Ok(Command::Quit | Command::Rset | Command::Noop)
    )
}

/// The system's host name, for the greeting and Received: fields
/// (`localhost` if it has none usable).
pub fn default_hostname() -> String {
    let h = gethostname::gethostname();
    match h.to_str() {
        Some(s) if crate::smtp::envelope::is_domain(s, false) => s.to_owned(),
        _ => "localhost".to_owned(),
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
