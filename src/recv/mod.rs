//! Drives [`server::Session`]s over sockets or stdin/stdout: the I/O half of
//! `smtp-recv`.
//!
//! The session itself has no I/O; this module owns everything around it:
//!
//! - **Listening** ([`listen`], [`serve`]): one accepting thread per address,
//!   one thread per connection, at most `max_clients` at once (more get
//!   `421 4.3.2` and are closed). `TCP_NODELAY` on every connection: replies
//!   are small and a Nagle/delayed-ACK stall costs ~40 ms per reply on
//!   loopback (BASELINE.md, msmtp).
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
//!   [`dot::read_data`] / [`dot::read_chunk`] into a [`store::Pending`]; the
//!   `250` is sent only after [`store::Pending::commit`] made it durable.
//! - **One-shot** (`count`): a shared counter decides at commit time whether a
//!   message may still be stored. Once `count` messages are stored, no other
//!   message is (other sessions get `421` at their final dot), the session that
//!   stored the last one may still say QUIT, and [`serve`] returns.
//! - **Time** ([`TimeLimits`]): an idle timeout per read (RFC 5321 §4.5.3.2.7),
//!   a whole-session deadline, and a minimum average data rate during DATA,
//!   so that a slow-drip client cannot hold a slot forever; each ends the
//!   session with `421`.
//! - **Stopping**: a flag (set by SIGINT/SIGTERM through [`stop_on_signals`])
//!   ends [`serve`]: idle sessions get `421 4.3.0` at once, a message being
//!   received is finished (stored and acknowledged) first.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::io::lines::{TooLong, read_line, trim_eol};
use crate::io::strip_os_error;
use crate::limits;
use crate::smtp::envelope::Envelope;
use crate::smtp::reply::Reply;
use crate::smtp::server::{self, Action, ClientAddr, Commit, Session, Step};
use crate::smtp::{command, dot, tls};

pub mod store;
use store::{Pending, Store, StoreError};

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

/// How [`serve`] and [`stdio`] run, beyond the session's own [`server::Config`].
pub struct Options {
    /// Stop after this many stored messages; 0: until stopped.
    pub count: u64,
    /// Sessions served at once; more connections get `421 4.3.2`.
    pub max_clients: usize,
    /// Idle, whole-session and data-rate limits.
    pub time: TimeLimits,
    /// TLS configuration for STARTTLS or implicit TLS.
    pub tls: Option<Arc<ServerConfig>>,
    /// TLS from the first byte (SMTPS, RFC 8314 §3.3) instead of STARTTLS.
    pub implicit_tls: bool,
    /// No per-message line (nor TLS handshake warnings) on stderr.
    pub quiet: bool,
    /// Where to write the bound addresses, one per line, once listening.
    pub ready_file: Option<PathBuf>,
    /// Where to write one JSON object per stored message (`--envelope-json`).
    pub envelope_json: Option<Box<dyn Write + Send>>,
    /// Set (by a signal handler) to stop serving: see [`stop_on_signals`].
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            count: 1,
            max_clients: limits::SMTP_MAX_CLIENTS,
            time: TimeLimits::default(),
            tls: None,
            implicit_tls: false,
            quiet: false,
            ready_file: None,
            envelope_json: None,
            stop: None,
        }
    }
}

/// Why [`serve`] or [`stdio`] failed (per-connection problems are not errors:
/// they end that session only).
#[derive(Debug)]
pub enum RecvError {
    /// The ready file could not be written.
    ReadyFile(PathBuf, io::Error),
    /// An `--envelope-json` line could not be written (the message itself
    /// was stored and acknowledged).
    EnvelopeJson(io::Error),
    /// The reader of standard output (the storage) went away: serving
    /// stopped. The error is `BrokenPipe`, which the CLI turns into a quiet
    /// exit 0, as for any filter whose reader left on purpose; the message
    /// that met it was answered 451, so nothing acknowledged was lost.
    OutputClosed(io::Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::ReadyFile(p, _) => write!(f, "ready file {}", p.display()),
            RecvError::EnvelopeJson(_) => f.write_str("envelope JSON output"),
            RecvError::OutputClosed(_) => f.write_str("standard output"),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::ReadyFile(_, e)
            | RecvError::EnvelopeJson(e)
            | RecvError::OutputClosed(e) => Some(e),
        }
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
    fn close_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn drains(&self) -> bool {
        true
    }
}

/// A connection's socket, shared with [`serve`] (which may end its reads
/// to stop the session) without duplicating the descriptor.
pub struct SharedSocket(pub Arc<TcpStream>);

impl Read for SharedSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for SharedSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for SharedSocket {
    fn set_read_timeout(&mut self, limit: Duration) -> io::Result<()> {
        self.0
            .set_read_timeout(Some(limit.max(Duration::from_millis(1))))
    }
    fn close_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
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
    /// Read timeout currently set on the transport.
    set: Option<Duration>,
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
            set: None,
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
        Ok(if left < self.idle {
            (left, Expired::Deadline)
        } else {
            (self.idle, Expired::Idle)
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

impl<T: Write> Write for Guarded<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
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
        let Conn::Plain(sock) = self else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = tls::handshake(config, sock)?;
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

/// Binds each address (port 0 picks a free port).
pub fn listen(addrs: &[SocketAddr]) -> io::Result<Vec<TcpListener>> {
    addrs
        .iter()
        .map(|a| {
            TcpListener::bind(a).map_err(|e| {
                let why = strip_os_error(&e);
                let hint = if e.kind() == io::ErrorKind::AddrInUse {
                    " (another program has that port: stop it or choose another; port 0 picks a free one)"
                } else {
                    ""
                };
                io::Error::new(e.kind(), format!("cannot listen on {a}: {why}{hint}"))
            })
        })
        .collect()
}

/// Writes the bound addresses, one per line, to `path` atomically (a
/// temporary file in the same directory, then rename), so a script that
/// sees the file can read it whole.
pub fn write_ready_file(path: &Path, addrs: &[SocketAddr]) -> io::Result<()> {
    let mut text = String::new();
    for a in addrs {
        text.push_str(&a.to_string());
        text.push('\n');
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let res = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Registers SIGINT and SIGTERM: the first sets the returned flag (give it
/// to [`Options::stop`]); a second one, while stopping hangs on a client,
/// exits at once with status 75.
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(
            sig,
            i32::from(crate::exit::TEMPFAIL),
            Arc::clone(&flag),
        )?;
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    Ok(flag)
}

/// Serves connections on `listeners` until `opts.count` messages were
/// stored (0: until `opts.stop` is set), then lets the sessions in flight
/// finish and returns the number of messages stored.
///
/// Prints `prog: listening on ADDR` on stderr for each listener and writes
/// the ready file first.
pub fn serve(
    listeners: Vec<TcpListener>,
    config: Arc<server::Config>,
    store: Arc<Store>,
    mut opts: Options,
) -> Result<u64, RecvError> {
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for a in &addrs {
        crate::cli::say(format_args!("listening on {a}"));
    }
    if let Some(p) = opts.ready_file.take() {
        write_ready_file(&p, &addrs).map_err(|e| RecvError::ReadyFile(p, e))?;
    }
    let stop = opts.stop.take();
    let shared = Arc::new(Shared::new(config, store, opts));
    let mut acceptors = Vec::new();
    for listener in listeners {
        let s = Arc::clone(&shared);
        acceptors.push(thread::spawn(move || accept_loop(&s, listener)));
    }

    let mut st = shared.lock();
    loop {
        let stopped = stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst));
        if shared.is_full(&st) || st.json_error.is_some() || st.output_closed || stopped {
            break;
        }
        st = match &stop {
            // Signal handlers only set a flag: look at it now and then.
            Some(_) => {
                let r = shared.changed.wait_timeout(st, Duration::from_millis(100));
                r.unwrap_or_else(|e| e.into_inner()).0
            }
            None => shared.wait(st),
        };
    }
    st.stopping = true;
    for slot in &st.slots {
        slot.request_stop();
    }
    drop(st);

    // Wake each accepting thread with a connection of our own; it sees
    // `stopping` and returns, closing the listener.
    let mut all_woken = true;
    for a in &addrs {
        all_woken &= wake(*a);
    }
    if all_woken {
        for a in acceptors {
            let _ = a.join();
        }
    }

    let mut st = shared.lock();
    while st.active > 0 {
        st = shared.wait(st);
    }
    let (stored, json_error, closed) = (st.stored, st.json_error.take(), st.output_closed);
    drop(st);
    shared.jobs().closed = true;
    shared.job_ready.notify_all();
    match json_error {
        Some(e) => Err(RecvError::EnvelopeJson(e)),
        None if closed => Err(RecvError::OutputClosed(io::ErrorKind::BrokenPipe.into())),
        None => Ok(stored),
    }
}

/// Runs one session over `input` and `output` (`--stdio`: inetd, `ssh host
/// smtp-recv --stdio`, `sendmail -bs` style) with the same session code as
/// the socket path. Returns the number of messages stored.
pub fn stdio<R: Read, W: Write>(
    input: R,
    output: W,
    config: Arc<server::Config>,
    store: Arc<Store>,
    opts: Options,
) -> Result<u64, RecvError> {
    let shared = Shared::new(config, store, opts);
    stdio_session(&shared, input, output, None);
    let mut st = shared.lock();
    if let Some(e) = st.json_error.take() {
        return Err(RecvError::EnvelopeJson(e));
    }
    Ok(st.stored)
}

/// Where [`relay_stdio`] hands the messages of its session instead of
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

/// Runs one session over `input` and `output`, as [`stdio`] does, handing
/// each accepted message to `relay` instead of storing it; the relay's
/// outcome is the reply to the message. Returns the number of messages the
/// relay accepted.
pub fn relay_stdio<R: Read, W: Write>(
    input: R,
    output: W,
    config: Arc<server::Config>,
    relay: &mut dyn Relay,
    opts: Options,
) -> Result<u64, RecvError> {
    // The store is never used: every message goes to the relay. (It cannot
    // fail to open: /dev/null is the null store, nothing is opened.)
    let null = Store::open(store::Target::File(PathBuf::from("/dev/null")), 0)
        .map_err(RecvError::OutputClosed)?;
    let opts = Options { count: 0, ..opts };
    let shared = Shared::new(config, Arc::new(null), opts);
    stdio_session(&shared, input, output, Some(relay));
    let st = shared.lock();
    Ok(st.stored)
}

/// The session of [`stdio`] and [`relay_stdio`]: the client on `input` and
/// `output`, its messages stored (`relay` `None`) or relayed. How it ended
/// is in `shared`.
fn stdio_session<'a, R: Read, W: Write>(
    shared: &'a Shared,
    input: R,
    output: W,
    relay: Option<&'a mut dyn Relay>,
) {
    let duplex = Duplex { input, output };
    let _ = run_session(
        shared,
        duplex,
        ClientAddr::Stdio,
        None,
        relay,
        &mut input_buffer(),
    );
}

fn wake(addr: SocketAddr) -> bool {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok()
}

/// State shared by the sessions of one run.
struct Shared {
    config: Arc<server::Config>,
    store: Arc<Store>,
    tls: Option<Arc<ServerConfig>>,
    implicit_tls: bool,
    time: TimeLimits,
    count: u64,
    max_clients: usize,
    quiet: bool,
    json: Option<Mutex<Box<dyn Write + Send>>>,
    state: Mutex<State>,
    /// Signalled when the count is reached, a reservation ends while a
    /// commit waits, an envelope JSON write fails, or a session ends while
    /// stopping: whatever `serve` or a waiting commit looks at.
    changed: Condvar,
    /// Connections waiting for a worker thread.
    jobs: Mutex<Jobs>,
    job_ready: Condvar,
}

/// The worker pool: threads are started as connections need them (never
/// more than `max_clients`, since each holds a counted session) and then
/// reused, so a connection costs no thread creation.
#[derive(Default)]
struct Jobs {
    queue: std::collections::VecDeque<Job>,
    /// Workers waiting for a job.
    idle: usize,
    /// `serve` is over: workers return.
    closed: bool,
}

/// An accepted connection, already counted as a running session.
struct Job {
    sock: Arc<TcpStream>,
    peer: SocketAddr,
    running: Running,
}

#[derive(Default)]
struct State {
    /// Messages stored and acknowledged.
    stored: u64,
    /// Messages being committed right now (they may still fail).
    reserved: u64,
    /// Sessions running.
    active: usize,
    /// `serve` is ending: no new sessions.
    stopping: bool,
    json_error: Option<io::Error>,
    /// The storage's reader went away (stdout, EPIPE): stop serving.
    output_closed: bool,
    slots: Vec<Arc<Slot>>,
    /// Commits waiting for another one's outcome.
    waiting: usize,
}

impl Shared {
    fn new(config: Arc<server::Config>, store: Arc<Store>, opts: Options) -> Self {
        Shared {
            config,
            store,
            tls: opts.tls,
            implicit_tls: opts.implicit_tls,
            time: opts.time,
            count: opts.count,
            max_clients: opts.max_clients.max(1),
            quiet: opts.quiet,
            json: opts.envelope_json.map(Mutex::new),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            jobs: Mutex::new(Jobs::default()),
            job_ready: Condvar::new(),
        }
    }

    fn jobs(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(st).unwrap_or_else(|e| e.into_inner())
    }

    fn is_full(&self, st: &State) -> bool {
        self.count != 0 && st.stored >= self.count
    }

    /// The one-shot contract: stores `pending` only while fewer than
    /// `count` messages are stored. A commit that might still fail holds a
    /// reservation; others wait for its outcome rather than being refused
    /// for a message that may never be stored.
    fn commit(
        &self,
        pending: Pending,
        env: &Envelope,
        queue_id: &str,
        size: u64,
        slot: Option<&Slot>,
    ) -> Commit {
        let mut st = self.lock();
        loop {
            if self.count == 0 || st.stored + st.reserved < self.count {
                st.reserved += 1;
                break;
            }
            if self.is_full(&st) {
                drop(st);
                pending.abort();
                return Commit::Refused;
            }
            st.waiting += 1;
            st = self.wait(st);
            st.waiting -= 1;
        }
        drop(st);
        let result = pending.commit();
        let mut st = self.lock();
        st.reserved -= 1;
        if result.is_ok() {
            st.stored += 1;
        } else if self.store.output_closed() && !st.output_closed {
            st.output_closed = true;
            self.changed.notify_all();
        }
        let full = self.is_full(&st);
        if full && let Some(slot) = slot {
            slot.flags().last = true;
        }
        // Wake `serve` only when it has something to do, and waiting
        // commits when there is an outcome to see: no futex per message.
        if st.waiting > 0 || full {
            self.changed.notify_all();
        }
        drop(st);
        match result {
            Ok(stored) => {
                self.report(env, queue_id, size, &stored);
                Commit::Stored(stored)
            }
            Err(e) => Commit::Failed(e),
        }
    }

    /// The per-message line on stderr and the `--envelope-json` object,
    /// both before the client sees its `250`.
    fn report(&self, env: &Envelope, queue_id: &str, size: u64, stored: &store::Stored) {
        if !self.quiet {
            let mut line = format!("stored {queue_id} from <{}> to", env.mail_from);
            for (rcpt, _) in &env.rcpt_to {
                line.push_str(&format!(" <{rcpt}>"));
            }
            line.push_str(&format!(" ({size} bytes) in {}", stored.location));
            crate::cli::say(line);
        }
        if let Some(json) = &self.json {
            let mut obj = store::envelope_json(env, size, stored, queue_id);
            obj.push('\n');
            let mut w = json.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = w.write_all(obj.as_bytes()).and_then(|()| w.flush()) {
                drop(w);
                let mut st = self.lock();
                st.json_error.get_or_insert(e);
                self.changed.notify_all();
            }
        }
    }

    fn warn(&self, msg: impl fmt::Display) {
        if !self.quiet {
            crate::cli::warn(msg);
        }
    }
}

/// What `serve` knows of a running TCP session, to stop it.
struct Slot {
    /// The session's socket, to end its reads.
    sock: Arc<TcpStream>,
    flags: Mutex<SlotFlags>,
}

#[derive(Default)]
struct SlotFlags {
    /// Receiving a message: let it finish.
    in_data: bool,
    /// `serve` asked the session to end.
    stop: bool,
    /// This session stored the run's last message: let it say QUIT.
    last: bool,
}

impl Slot {
    fn flags(&self) -> MutexGuard<'_, SlotFlags> {
        self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the session's reads unless it is receiving a message (it
    /// checks `stop` when that ends) or stored the last one (it lingers).
    /// Its blocked read then sees end of input, and it answers `421`.
    fn request_stop(&self) {
        let mut f = self.flags();
        f.stop = true;
        if !f.in_data && !f.last {
            let _ = self.sock.shutdown(Shutdown::Read);
        }
    }
}

/// Counts a session as running; uncounts it however the thread ends.
struct Running {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.active -= 1;
        st.slots.retain(|s| !Arc::ptr_eq(s, &self.slot));
        if st.stopping {
            self.shared.changed.notify_all();
        }
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: TcpListener) {
    loop {
        let (sock, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                if shared.lock().stopping {
                    return;
                }
                // EMFILE and friends: back off instead of spinning.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) {
                    thread::sleep(Duration::from_millis(50));
                }
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let _ = sock.set_write_timeout(Some(shared.time.idle));
        let mut st = shared.lock();
        if st.stopping {
            drop(st);
            refuse(shared, sock, peer, true);
            return;
        }
        if st.active >= shared.max_clients {
            drop(st);
            refuse(shared, sock, peer, false);
            continue;
        }
        let sock = Arc::new(sock);
        let slot = Arc::new(Slot {
            sock: Arc::clone(&sock),
            flags: Mutex::new(SlotFlags::default()),
        });
        st.active += 1;
        st.slots.push(Arc::clone(&slot));
        drop(st);
        let running = Running {
            shared: Arc::clone(shared),
            slot,
        };
        dispatch(
            shared,
            Job {
                sock,
                peer,
                running,
            },
        );
    }
}

/// Hands a connection to an idle worker, or starts one.
fn dispatch(shared: &Arc<Shared>, job: Job) {
    let mut jobs = shared.jobs();
    jobs.queue.push_back(job);
    if jobs.queue.len() <= jobs.idle {
        shared.job_ready.notify_one();
        return;
    }
    drop(jobs);
    let s = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("smtp-session".into())
        .spawn(move || worker(&s));
    if spawned.is_err() {
        // No thread: drop the connection (uncounting it) rather than let
        // it wait for a worker that may never come.
        let job = shared.jobs().queue.pop_back();
        drop(job);
        thread::sleep(Duration::from_millis(50));
    }
}

/// Runs sessions until `serve` closes the pool.
fn worker(shared: &Shared) {
    let mut buf = input_buffer();
    loop {
        let job = {
            let mut jobs = shared.jobs();
            loop {
                if let Some(job) = jobs.queue.pop_front() {
                    break job;
                }
                if jobs.closed {
                    return;
                }
                jobs.idle += 1;
                jobs = shared
                    .job_ready
                    .wait(jobs)
                    .unwrap_or_else(|e| e.into_inner());
                jobs.idle -= 1;
            }
        };
        let Job {
            sock,
            peer,
            running,
        } = job;
        let res = run_session(
            shared,
            SharedSocket(sock),
            ClientAddr::Tcp(peer),
            Some(&running.slot),
            None,
            &mut buf,
        );
        drop(res);
        drop(running);
    }
}

/// Answers a connection we will not serve with `421` and closes it.
fn refuse(shared: &Shared, mut sock: TcpStream, peer: SocketAddr, stopping: bool) {
    let reply = if stopping {
        let mut s = Session::new(Arc::clone(&shared.config), ClientAddr::Tcp(peer), false);
        match s.shutdown().action {
            Action::Close(r) | Action::Reply(r) => r,
            _ => return,
        }
    } else {
        Reply::new(
            421,
            Some((4, 3, 2)),
            format!(
                "{} Too many connections, try again later",
                shared.config.hostname
            ),
        )
    };
    let _ = sock.write_all(&reply.to_wire(shared.config.ext.enhanced));
    let _ = sock.shutdown(Shutdown::Write);
}

/// Runs one session over `t` to its end. Errors are the connection's
/// (reset, timeout on write, failed TLS handshake): they end this session only.
fn run_session<'a, T: Transport>(
    shared: &'a Shared,
    t: T,
    client: ClientAddr,
    slot: Option<&'a Slot>,
    relay: Option<&'a mut dyn Relay>,
    buf: &mut Box<[u8]>,
) -> io::Result<()> {
    let mut conn = Conn::Plain(Guarded::new(t, shared.time));
    if shared.implicit_tls {
        let Some(cfg) = &shared.tls else {
            return Err(io::Error::other("implicit TLS without a TLS configuration"));
        };
        conn = conn.start_tls(cfg).inspect_err(|e| {
            shared.warn(format_args!("{client}: TLS handshake failed: {e}"));
        })?;
    }
    let session = Session::new(Arc::clone(&shared.config), client, shared.implicit_tls);
    let mut d = Driver {
        shared,
        slot,
        relay,
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
fn input_buffer() -> Box<[u8]> {
    vec![0; INPUT_BUF].into_boxed_slice()
}

/// Where a message goes while it is received: storage, or nowhere when it
/// cannot be stored (the data is still read, to stay in step).
enum Sink {
    Store(Pending),
    /// The session's [`Relay`] (`smtp-send -bs`).
    Relay,
    /// The run already has its `count` messages.
    Full,
    /// Storage could not start this message.
    Failed(io::Error),
    /// The transaction already failed (a later BDAT chunk).
    Discard,
}

impl Sink {
    fn abort(self) {
        if let Sink::Store(p) = self {
            p.abort();
        }
    }
}

/// One session's driver: the session, its connection, and where the
/// current message goes.
struct Driver<'a, T: Transport> {
    shared: &'a Shared,
    slot: Option<&'a Slot>,
    /// Where messages go instead of the store ([`relay_stdio`]).
    relay: Option<&'a mut dyn Relay>,
    session: Session,
    wire: Wire<Conn<T>>,
    line: Vec<u8>,
    /// The run's last message was stored here, or a stop was requested
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
                    sink.abort();
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
        if self.lingering
            && let Some(g) = self.wire.stream.guard()
        {
            g.idle = self.shared.time.idle.min(FINAL_LINGER);
        }
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let res = read_line(&mut self.wire, &mut line, command::MAX_LINE);
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
            Err(e) if e.get_ref().is_some_and(|i| i.is::<TooLong>()) => {
                self.wire.skip_line()?;
                self.session.line_too_long()
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
        self.line = line;
        Ok(Some(step))
    }

    /// The client closed (or `serve` ended our reads): if we were asked to
    /// stop, say so (best effort: the client may be gone for real).
    fn client_gone(&mut self) {
        if self.slot.is_some_and(|s| s.flags().stop) {
            let step = self.session.shutdown();
            if let Action::Close(r) | Action::Reply(r) = step.action {
                let _ = self.send(&r);
            }
            let _ = self.close(true);
        }
    }

    fn expired(&mut self, why: Expired) -> Step {
        let _ = why;
        self.session.timeout()
    }

    /// Marks the session as receiving a message; false if it must stop
    /// instead.
    fn enter_data(&self) -> bool {
        match self.slot {
            Some(s) => {
                let mut f = s.flags();
                if f.stop {
                    return false;
                }
                f.in_data = true;
                true
            }
            None => true,
        }
    }

    /// The message is over (stored, refused or lost): linger if this run
    /// has what it wanted, or was asked to stop.
    fn leave_data(&mut self) {
        let mut stop = self.shared.is_full(&self.shared.lock());
        if let Some(s) = self.slot {
            let mut f = s.flags();
            f.in_data = false;
            stop |= f.stop || f.last;
        }
        self.lingering |= stop;
    }

    /// Messages are stored with LF line ends (local files).
    fn data_options(&self) -> dot::DataOptions {
        self.shared.config.data_options(true)
    }

    /// Starts storing (or relaying) the current transaction's message.
    fn open_sink(&mut self) -> Sink {
        if let Some(relay) = self.relay.as_deref_mut() {
            return match relay.begin(self.session.envelope(), self.session.queue_id()) {
                Ok(()) => Sink::Relay,
                Err(e) => Sink::Failed(e),
            };
        }
        if self.shared.is_full(&self.shared.lock()) {
            return Sink::Full;
        }
        let env = self.session.envelope();
        let trace = store::trace_header(
            env,
            &self.shared.config.hostname,
            self.session.queue_id(),
            SystemTime::now(),
        );
        match self
            .shared
            .store
            .begin(env, self.session.queue_id(), &trace)
        {
            Ok(p) => Sink::Store(p),
            Err(e) => Sink::Failed(e),
        }
    }

    /// Stores a complete message, or says why not. A failure is reported
    /// here, on our stderr (`QUEUEID: not stored: why`), whatever `-q`
    /// says: the client's reply is generic, since the details (paths, errno
    /// text, a command's status) are ours and not the client's business.
    fn commit(&self, sink: Sink, size: u64) -> Commit {
        let commit = self.store(sink, size);
        // A reader of stdout that left did so on purpose (`| head`): the
        // client gets its 451 and the run ends quietly, no log line.
        if let Commit::Failed(e) = &commit
            && !self.shared.store.output_closed()
        {
            crate::cli::say(format_args!(
                "{}: not stored: {}",
                self.session.queue_id(),
                e.message
            ));
        }
        commit
    }

    /// A complete message: stores it or hands it to the relay, and lets
    /// the session answer. The relay's reply replaces the session's
    /// (generic) one, so the client learns what the relay said.
    fn complete(&mut self, sink: Sink, size: u64) -> Step {
        let outcome = match (&sink, self.relay.as_deref_mut()) {
            (Sink::Relay, Some(r)) => {
                r.finish(self.session.envelope(), self.session.queue_id(), size)
            }
            _ => {
                let commit = self.commit(sink, size);
                return self.session.committed(commit, size);
            }
        };
        let (commit, mut reply) = match outcome {
            Ok(reply) => {
                self.shared.lock().stored += 1;
                let stored = store::Stored {
                    location: "relay".to_owned(),
                };
                (Commit::Stored(stored), reply)
            }
            Err(reply) => {
                let failed = store::StoreError {
                    temporary: reply.is_transient(),
                    message: reply.text(),
                };
                (Commit::Failed(failed), reply)
            }
        };
        let mut step = self.session.committed(commit, size);
        if let Action::Reply(r) = &mut step.action {
            if !self.shared.config.ext.enhanced {
                reply.enhanced = None;
            }
            *r = reply;
        }
        step
    }

    fn store(&self, sink: Sink, size: u64) -> Commit {
        match sink {
            Sink::Store(p) => self.shared.commit(
                p,
                self.session.envelope(),
                self.session.queue_id(),
                size,
                self.slot,
            ),
            Sink::Full | Sink::Discard | Sink::Relay => Commit::Refused,
            Sink::Failed(e) => Commit::Failed(StoreError {
                temporary: true,
                message: e.to_string(),
            }),
        }
    }

    /// Reads into the sink with the data-rate clock running.
    fn read_into<F>(&mut self, sink: &mut Sink, read: F) -> io::Result<dot::DataEnd>
    where
        F: FnOnce(&mut Wire<Conn<T>>, &mut dyn Write) -> io::Result<dot::DataEnd>,
    {
        if let Some(g) = self.wire.stream.guard() {
            g.start_data();
        }
        let res = match (sink, self.relay.as_deref_mut()) {
            (Sink::Store(p), _) => read(&mut self.wire, p),
            (Sink::Relay, Some(r)) => read(&mut self.wire, r),
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
        let mut sink = self.open_sink();
        let opts = self.data_options();
        let res = self.read_into(&mut sink, |w, mut out| dot::read_data(w, &mut out, &opts));
        let step = match res {
            Err(e) => {
                sink.abort();
                self.leave_data();
                return self.read_failed(e);
            }
            Ok(end) => match self.session.data_end(&end) {
                Err(step) => {
                    sink.abort();
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
        let (mut sink, mut chunks) = match current {
            Some(b) if !first => b,
            other => {
                if let Some((old, _)) = other {
                    old.abort();
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
        let stopping = self.slot.is_some_and(|s| s.flags().stop) && matches!(sink, Sink::Discard);
        let res = self.read_into(&mut sink, |w, mut out| {
            chunks.read_chunk(w, size, last, &mut out)
        });
        let end = match res {
            Ok(end) => end,
            Err(e) => {
                sink.abort();
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
                sink.abort();
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
        let Some(cfg) = &self.shared.tls else {
            return Err(io::Error::other("STARTTLS without a TLS configuration"));
        };
        let conn = std::mem::replace(&mut self.wire.stream, Conn::Gone);
        match conn.start_tls(cfg) {
            Ok(c) => self.wire.stream = c,
            Err(e) => {
                let client = &self.session.envelope().client;
                self.shared
                    .warn(format_args!("{client}: TLS handshake failed: {e}"));
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
                g.idle = DRAIN_TIME;
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

/// A TLS or AUTH file that cannot be used (the binary exits 78).
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl crate::exit::Status for ConfigError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// Reads a configuration file (certificate, key, `--auth-file`) given with
/// `option` and parses it; any failure is a [`ConfigError`] naming the
/// option and the file (`--tls-cert /x: No such file or directory`). The
/// contents never appear in the error (they may be secrets).
pub fn read_config<T, E: fmt::Display>(
    option: &str,
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, ConfigError> {
    let name = format!("{option} {}", path.display());
    let bytes =
        std::fs::read(path).map_err(|e| ConfigError(format!("{name}: {}", strip_os_error(&e))))?;
    parse(&bytes).map_err(|e| ConfigError(format!("{name}: {e}")))
}

/// The TLS configuration of `smtp-recv`: the certificate and key of
/// `files` (`--tls-cert`, `--tls-key`), else with `self_signed` a throwaway
/// certificate for `hostname` whose fingerprint is printed on stderr for
/// clients to pin (`smtp-send --tls-fingerprint`), else none. Errors name
/// the options and files.
pub fn tls_config(
    files: Option<(&Path, &Path)>,
    self_signed: bool,
    hostname: &str,
) -> Result<Option<Arc<ServerConfig>>, ConfigError> {
    if let Some((cert_path, key_path)) = files {
        let read = |b: &[u8]| Ok::<_, std::convert::Infallible>(b.to_vec());
        let cert = read_config("--tls-cert", cert_path, read)?;
        let key = read_config("--tls-key", key_path, read)?;
        return tls::server_config(&cert, &key).map(Some).map_err(|e| {
            ConfigError(format!(
                "--tls-cert {}, --tls-key {}: {e}",
                cert_path.display(),
                key_path.display()
            ))
        });
    }
    if !self_signed {
        return Ok(None);
    }
    let (cfg, fingerprint) = tls::self_signed(hostname).map_err(|e| ConfigError(e.to_string()))?;
    crate::cli::say(format_args!("self-signed certificate {fingerprint}"));
    Ok(Some(cfg))
}

/// Opens the `--envelope-json` output: `-` is stdout, a file is appended to.
pub fn open_json(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdout()));
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(Box::new(f))
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

/// Checks a `--hostname`: it goes into the greeting, EHLO and Received:
/// fields, so it must be an RFC 5321 Domain (or address literal).
pub fn check_hostname(name: &str) -> Result<(), String> {
    if crate::smtp::envelope::is_domain(name, false) {
        Ok(())
    } else {
        Err(format!("--hostname '{name}' is not a domain name"))
    }
}

/// A duration written in seconds on the command line, fractions allowed
/// (`300`, `0.5`): [`parse_seconds`] reads it, `Display` writes it back
/// (so a default can come from [`crate::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl Seconds {
    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Seconds {
        Seconds(Duration::from_secs(secs))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}", self.0.as_secs())
        } else {
            write!(f, "{}", self.0.as_secs_f64())
        }
    }
}

impl std::str::FromStr for Seconds {
    type Err = String;
    fn from_str(s: &str) -> Result<Seconds, String> {
        parse_seconds(s).map(Seconds)
    }
}

/// Parses a duration in seconds, fractions allowed (`300`, `0.5`).
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("'{s}': seconds must be above 0"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The exit status of a run: 0 when `count` messages were stored (or
/// `count` is 0 and the run was stopped), else 75 (EX_TEMPFAIL: interrupted
/// before COUNT) with a line on stderr.
pub fn exit_status(stored: u64, count: u64) -> std::process::ExitCode {
    if count == 0 || stored >= count {
        return std::process::ExitCode::SUCCESS;
    }
    crate::cli::say(format_args!(
        "interrupted: stored {stored} of {count} messages"
    ));
    std::process::ExitCode::from(crate::exit::TEMPFAIL)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scripted stream: each read returns the next chunk (then end of
    /// input); writes are logged between reads, so the test sees when
    /// replies went out relative to input.
    struct Script {
        chunks: std::collections::VecDeque<Vec<u8>>,
        log: Vec<String>,
    }

    impl Script {
        fn new(chunks: &[&[u8]]) -> Self {
            Script {
                chunks: chunks.iter().map(|c| c.to_vec()).collect(),
                log: Vec::new(),
            }
        }
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.log.push("read".into());
            let Some(mut c) = self.chunks.pop_front() else {
                return Ok(0);
            };
            let n = c.len().min(buf.len());
            buf[..n].copy_from_slice(&c[..n]);
            if n < c.len() {
                self.chunks.push_front(c.split_off(n));
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.log
                .push(format!("write {}", String::from_utf8_lossy(buf)));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines(w: &mut Wire<Script>) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let mut l = Vec::new();
            if read_line(w, &mut l, 512).unwrap() == 0 {
                return out;
            }
            out.push(l);
        }
    }

    /// RFC 2920 §3.1: replies to a pipelined group leave in one write, when
    /// the server runs out of input, and before it waits for more.
    #[test]
    fn replies_are_flushed_only_when_input_runs_out() {
        let mut w = Wire::with_buffer(
            Script::new(&[b"MAIL\r\nRCPT\r\nDATA\r\n", b"QUIT\r\n"]),
            Box::default(),
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut l = Vec::new();
            read_line(&mut w, &mut l, 512).unwrap();
            got.push(l);
            w.queue(b"250 ok\r\n").unwrap();
        }
        assert!(!w.has_input());
        let rest = lines(&mut w);
        assert_eq!(rest, [b"QUIT\r\n".to_vec()]);
        assert_eq!(
            w.stream.log,
            [
                "read",
                "write 250 ok\r\n250 ok\r\n250 ok\r\n",
                "read",
                "read"
            ]
        );
    }

    #[test]
    fn a_large_reply_queue_is_written_without_waiting_for_input() {
        let mut w = Wire::with_buffer(Script::new(&[]), Box::default());
        for _ in 0..OUTPUT_HIGH_WATER / 8 {
            w.queue(b"250 ok\r\n").unwrap();
        }
        assert_eq!(w.stream.log.len(), 1);
        assert!(w.out.is_empty());
    }

    #[test]
    fn discarded_input_is_never_read_as_commands() {
        let mut w = Wire::with_buffer(
            Script::new(&[b"STARTTLS\r\nMAIL FROM:<evil@x>\r\n", b"EHLO y\r\n"]),
            Box::default(),
        );
        let mut l = Vec::new();
        read_line(&mut w, &mut l, 512).unwrap();
        assert_eq!(l, b"STARTTLS\r\n");
        w.discard_input();
        assert_eq!(lines(&mut w), [b"EHLO y\r\n".to_vec()]);
    }

    #[test]
    fn skip_line_stops_after_the_line_feed() {
        let mut w = Wire::with_buffer(Script::new(&[b"xxxx", b"xxxx\r\nNOOP\r\n"]), Box::default());
        let mut l = Vec::new();
        assert!(read_line(&mut w, &mut l, 3).is_err());
        w.skip_line().unwrap();
        assert_eq!(lines(&mut w), [b"NOOP\r\n".to_vec()]);
    }

    #[test]
    fn seconds_parse_with_fractions() {
        assert_eq!(parse_seconds("300"), Ok(Duration::from_secs(300)));
        for s in ["300", "0.5", "3600"] {
            assert_eq!(s.parse::<Seconds>().unwrap().to_string(), s);
        }
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "x", "", "inf", "NaN", "1e300"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    fn guarded(time: TimeLimits) -> Guarded<Duplex<&'static [u8], Vec<u8>>> {
        Guarded::new(
            Duplex {
                input: &b""[..],
                output: Vec::new(),
            },
            time,
        )
    }

    #[test]
    fn the_nearest_limit_applies() {
        let t = TimeLimits {
            idle: Duration::from_secs(300),
            session: Duration::from_secs(3600),
            min_rate: 1024,
        };
        let g = guarded(t);
        let now = Instant::now();
        assert_eq!(
            g.next_limit(now),
            Ok((Duration::from_secs(300), Expired::Idle))
        );
        let late = g.deadline - Duration::from_secs(10);
        assert_eq!(
            g.next_limit(late),
            Ok((Duration::from_secs(10), Expired::Deadline))
        );
        assert_eq!(g.next_limit(g.deadline), Err(Expired::Deadline));
    }

    #[test]
    fn slow_data_is_cut_after_the_grace_period() {
        let t = TimeLimits {
            idle: Duration::from_secs(300),
            session: Duration::from_secs(3600),
            min_rate: 1000,
        };
        let mut g = guarded(t);
        g.start_data();
        let start = g.data.unwrap().0;
        // Within the 30 s grace: fine whatever the rate.
        assert!(g.next_limit(start + Duration::from_secs(29)).is_ok());
        // After it: 1000 bytes/s on average or more is fine, less is not.
        g.data = Some((start, 40_000));
        assert!(g.next_limit(start + Duration::from_secs(40)).is_ok());
        assert_eq!(
            g.next_limit(start + Duration::from_secs(41)),
            Err(Expired::SlowData)
        );
        g.end_data();
        assert!(g.next_limit(start + Duration::from_secs(41)).is_ok());
        // The grace is never longer than the idle timeout.
        let mut g = guarded(TimeLimits {
            idle: Duration::from_secs(1),
            ..t
        });
        g.start_data();
        let start = g.data.unwrap().0;
        assert_eq!(
            g.next_limit(start + Duration::from_secs(2)),
            Err(Expired::SlowData)
        );
    }

    #[test]
    fn expired_reads_say_which_limit() {
        let e = expired(Expired::SlowData);
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(expired_kind(&e), Some(Expired::SlowData));
        assert_eq!(expired_kind(&io::Error::other("x")), None);
    }

    #[test]
    fn ready_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ready");
        let addrs: Vec<SocketAddr> = vec![
            "127.0.0.1:2525".parse().unwrap(),
            "[::1]:25".parse().unwrap(),
        ];
        write_ready_file(&p, &addrs).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "127.0.0.1:2525\n[::1]:25\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bad = dir.path().join("no/such/dir/ready");
        assert!(write_ready_file(&bad, &addrs).is_err());
    }

    /// A JSON sink the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Run {
        stored: u64,
        replies: String,
        files: Vec<Vec<u8>>,
        json: String,
    }

    /// One in-memory session (the `--stdio` path) storing into a `--dir`.
    fn session(input: &[u8], count: u64, config: server::Config) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(store::Target::Dir(dir.path().into()), count).unwrap();
        let json = Shared::default();
        let opts = Options {
            count,
            quiet: true,
            envelope_json: Some(Box::new(json.clone())),
            ..Options::default()
        };
        let mut out = Vec::new();
        let stored = stdio(input, &mut out, Arc::new(config), Arc::new(store), opts).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        files.sort();
        let json = String::from_utf8(json.0.lock().unwrap().clone()).unwrap();
        Run {
            stored,
            replies: String::from_utf8(out).unwrap(),
            files,
            json,
        }
    }

    fn config() -> server::Config {
        server::Config::new("mx.test")
    }

    /// The final reply lines' codes.
    pub(crate) fn codes(replies: &str) -> Vec<u16> {
        replies
            .lines()
            .filter(|l| l.as_bytes().get(3) != Some(&b'-'))
            .map(|l| l[..3].parse().unwrap())
            .collect()
    }

    /// The stored message without our Return-Path and (folded) Received.
    fn body(stored: &[u8]) -> &[u8] {
        let mut rest = stored;
        while rest.starts_with(b"Return-Path:")
            || rest.starts_with(b"Received:")
            || rest.starts_with(b"\t")
        {
            let i = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            rest = &rest[i..];
        }
        rest
    }

    const TX: &[u8] = b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n";

    #[test]
    fn a_pipelined_session_in_one_buffer() {
        let mut input = b"EHLO c.test\r\n".to_vec();
        input.extend_from_slice(TX);
        input.extend_from_slice(b"Subject: s\r\n\r\n..x\r\n.\r\nQUIT\r\n");
        let r = session(&input, 1, config());
        assert_eq!(r.stored, 1);
        assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 221]);
        assert_eq!(r.files.len(), 1);
        assert_eq!(body(&r.files[0]), b"Subject: s\n\n.x\n");
        let v: serde_json::Value = serde_json::from_str(r.json.trim()).unwrap();
        assert_eq!(v["client"], "stdio");
        assert_eq!(v["rcpt_to"][0], "b@y.test");
    }

    #[test]
    fn after_the_last_message_only_quit_rset_noop_are_served() {
        let mut input = b"EHLO c.test\r\n".to_vec();
        input.extend_from_slice(TX);
        input.extend_from_slice(b"one\r\n.\r\nNOOP\r\nRSET\r\nQUIT\r\n");
        let r = session(&input, 1, config());
        assert_eq!(
            codes(&r.replies),
            [220, 250, 250, 250, 354, 250, 250, 250, 221]
        );
        let mut input = b"EHLO c.test\r\n".to_vec();
        input.extend_from_slice(TX);
        input.extend_from_slice(b"one\r\n.\r\n");
        input.extend_from_slice(TX);
        input.extend_from_slice(b"two\r\n.\r\nQUIT\r\n");
        let r = session(&input, 1, config());
        assert_eq!(r.stored, 1);
        assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354, 250, 421]);
        assert!(r.replies.ends_with(
            "421 4.3.0 mx.test Service shutting down, closing transmission channel\r\n"
        ));
        assert_eq!(r.files.len(), 1);
    }

    #[test]
    fn count_zero_takes_every_message_of_the_session() {
        let mut input = b"EHLO c.test\r\n".to_vec();
        for _ in 0..3 {
            input.extend_from_slice(TX);
            input.extend_from_slice(b"m\r\n.\r\n");
        }
        // No QUIT: the client just goes away.
        let r = session(&input, 0, config());
        assert_eq!(r.stored, 3);
        assert_eq!(r.files.len(), 3);
        assert_eq!(r.json.lines().count(), 3);
    }

    #[test]
    fn bdat_chunks_and_a_skipped_chunk() {
        let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 3\r\nab\nBDAT 3 LAST\r\nc\r\nBDAT 4\r\nzzzzNOOP\r\nQUIT\r\n";
        let r = session(input, 0, config());
        // "ab\n" has a bare LF: the chunk is refused (550), the LAST chunk
        // is then skipped (503) with its octets, and NOOP is still a command.
        assert_eq!(
            codes(&r.replies),
            [220, 250, 250, 250, 550, 503, 503, 250, 221]
        );
        assert_eq!(r.stored, 0);
        let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4\r\nab\r\nBDAT 3 LAST\r\nc\r\nQUIT\r\n";
        let r = session(input, 1, config());
        assert_eq!(codes(&r.replies), [220, 250, 250, 250, 250, 250, 221]);
        assert_eq!(body(&r.files[0]), b"ab\nc\n");
    }

    #[test]
    fn rset_between_bdat_chunks_drops_the_message() {
        let input = b"EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4\r\nab\r\nRSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n\
BDAT 4 LAST\r\ncd\r\nQUIT\r\n";
        let r = session(input, 1, config());
        assert_eq!(r.stored, 1);
        assert_eq!(body(&r.files[0]), b"cd\n");
    }

    #[test]
    fn an_over_long_line_is_refused_and_skipped() {
        let mut input = b"EHLO c.test\r\nNOOP ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend_from_slice(b"\r\nNOOP\r\nQUIT\r\n");
        let r = session(&input, 0, config());
        assert_eq!(codes(&r.replies), [220, 250, 500, 250, 221]);
    }

    #[test]
    fn storage_that_cannot_begin_is_451() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        let store = Store::open(store::Target::Dir(d.clone()), 1).unwrap();
        std::fs::remove_dir(&d).unwrap();
        std::fs::write(&d, b"").unwrap();
        let mut input = b"EHLO c.test\r\n".to_vec();
        input.extend_from_slice(TX);
        input.extend_from_slice(b"m\r\n.\r\nQUIT\r\n");
        let mut out = Vec::new();
        let opts = Options {
            quiet: true,
            ..Options::default()
        };
        let n = stdio(
            &input[..],
            &mut out,
            Arc::new(config()),
            Arc::new(store),
            opts,
        )
        .unwrap();
        assert_eq!(n, 0);
        assert_eq!(
            codes(&String::from_utf8(out).unwrap()),
            [220, 250, 250, 250, 354, 451, 221]
        );
    }

    #[test]
    fn a_client_that_vanishes_mid_message_stores_nothing() {
        let mut input = b"EHLO c.test\r\n".to_vec();
        input.extend_from_slice(TX);
        input.extend_from_slice(b"Subject: cut\r\n\r\nhalf\r\n.");
        let r = session(&input, 0, config());
        assert_eq!(r.stored, 0);
        assert!(r.files.is_empty());
        assert_eq!(codes(&r.replies), [220, 250, 250, 250, 354]);
    }
}
