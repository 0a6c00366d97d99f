//! One run of `smtp-recv`: the state its sessions share (the one-shot
//! count, the envelope JSON output, the log) and the [`Host`] through which
//! each session's messages go into the [`Store`]; and the `--stdio` run, one
//! session on stdin/stdout.
//!
//! **One-shot** (`count`): a shared counter decides at commit time whether a
//! message may still be stored. Once `count` messages are stored, no other
//! message is (other sessions get `421` at their final dot), the session that
//! stored the last one may still say QUIT, and the run ends.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::options::Options;
use super::store::{self, Pending, Store};
use crate::io::dns::Resolver;
use crate::io::spool::{SPOOL_MEM, Spool};
use crate::message::dkim::{
    self,
    verify::{self, LookupError, Outcome, Verdict},
};
use crate::smtp::envelope::{ClientAddr, Envelope};
use crate::smtp::reply::Reply;
use crate::smtp::server::driver::{self, Begin, Duplex, Host, Level, Log};
use crate::smtp::server::{Commit, Config};

/// Why [`serve`](super::serve) or [`stdio`] failed (per-connection problems are not errors:
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

impl RecvError {
    /// The I/O failure every variant is.
    fn io(&self) -> &io::Error {
        match self {
            RecvError::ReadyFile(_, e)
            | RecvError::EnvelopeJson(e)
            | RecvError::OutputClosed(e) => e,
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.io())
    }
}

/// The code of the I/O error it is: a reader of stdout that left is a quiet
/// 0, as for any filter; otherwise 74.
impl crate::exit::Status for RecvError {
    fn exit_code(&self) -> u8 {
        crate::io::exit_code(self.io())
    }

    fn io_error(&self) -> Option<&io::Error> {
        Some(self.io())
    }
}

/// State shared by the sessions of one run.
pub(super) struct Shared {
    pub(super) config: Arc<Config>,
    store: Arc<Store>,
    /// How each session runs (time limits, TLS, quiet).
    pub(super) session: driver::Options,
    count: u64,
    pub(super) max_clients: usize,
    /// Stress mode's idle timeout (see [`Options::stress_idle`]).
    pub(super) stress_idle: Duration,
    json: Option<Mutex<Box<dyn Write + Send>>>,
    state: Mutex<State>,
    /// Signalled when the count is reached, a reservation ends while a
    /// commit waits, an envelope JSON write fails, or a session ends while
    /// stopping: whatever `serve` or a waiting commit looks at.
    pub(super) changed: Condvar,
    pub(super) log: Arc<Log>,
    /// `--dkim-verify`'s resolver.
    dkim: Option<Arc<Resolver>>,
}

#[derive(Default)]
pub(super) struct State {
    /// Messages stored and acknowledged.
    pub(super) stored: u64,
    /// Messages being committed right now (they may still fail).
    reserved: u64,
    /// Sessions running.
    pub(super) active: usize,
    /// `serve` is ending: no new sessions.
    pub(super) stopping: bool,
    pub(super) json_error: Option<io::Error>,
    /// The storage's reader went away (stdout, EPIPE): stop serving.
    pub(super) output_closed: bool,
    pub(super) slots: Vec<Arc<Slot>>,
    /// Commits waiting for another one's outcome.
    waiting: usize,
    /// Connections waiting for a slot (stress mode): a session that ends
    /// signals `changed`.
    pub(super) waiting_for_slot: usize,
}

impl Shared {
    pub(super) fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        opts: Options,
        log: Arc<Log>,
    ) -> Self {
        Shared {
            config,
            store,
            session: driver::Options {
                time: opts.time,
                tls: opts.tls,
                implicit_tls: opts.implicit_tls,
                quiet: opts.quiet,
            },
            count: opts.count,
            max_clients: opts.max_clients.max(1),
            stress_idle: opts.stress_idle,
            json: opts.envelope_json.map(Mutex::new),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            log,
            dkim: opts.dkim_verify,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn wait<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(st).unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn is_full(&self, st: &State) -> bool {
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
        dkim: Option<&[Verdict]>,
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
                self.report(env, queue_id, size, &stored, dkim);
                Commit::Stored(stored)
            }
            Err(e) => Commit::Failed(e),
        }
    }

    /// The per-message line on stderr and the `--envelope-json` object,
    /// both before the client sees its `250`.
    fn report(
        &self,
        env: &Envelope,
        queue_id: &str,
        size: u64,
        stored: &store::Stored,
        dkim: Option<&[Verdict]>,
    ) {
        if !self.session.quiet {
            let mut line = format!("stored {queue_id} from <{}> to", env.mail_from);
            for (rcpt, _) in &env.rcpt_to {
                line.push_str(&format!(" <{rcpt}>"));
            }
            line.push_str(&format!(" ({size} bytes) in {}", stored.location));
            (self.log)(Level::Info, format_args!("{line}"));
        }
        if let Some(json) = &self.json {
            let mut obj = store::envelope_json(env, size, stored, queue_id, dkim);
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
}

/// What `serve` knows of a running TCP session, to stop it.
pub(super) struct Slot {
    /// The session's socket, to end its reads.
    pub(super) sock: Arc<std::net::TcpStream>,
    /// The client, for the log.
    pub(super) peer: SocketAddr,
    pub(super) flags: Mutex<SlotFlags>,
}

#[derive(Default)]
pub(super) struct SlotFlags {
    /// Receiving a message: let it finish.
    in_data: bool,
    /// `serve` asked the session to end.
    stop: bool,
    /// This session stored the run's last message: let it say QUIT.
    last: bool,
    /// Waiting for a command outside a transaction since then.
    idle_since: Option<Instant>,
    /// Stress mode ended its reads.
    evicted: bool,
}

impl Slot {
    fn flags(&self) -> MutexGuard<'_, SlotFlags> {
        self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the session's reads unless it is receiving a message (it
    /// checks `stop` when that ends) or stored the last one (it lingers).
    /// Its blocked read then sees end of input, and it answers `421`.
    pub(super) fn request_stop(&self) {
        let mut f = self.flags();
        f.stop = true;
        if !f.in_data && !f.last {
            let _ = self.sock.shutdown(std::net::Shutdown::Read);
        }
    }

    /// Stress mode: ends the reads of a session that has waited `limit`
    /// or longer for a command outside a transaction (its blocked read
    /// sees end of input and it answers `421 4.4.2`).
    pub(super) fn evict_if_idle(&self, now: Instant, limit: Duration) -> Eviction {
        let mut f = self.flags();
        let Some(since) = f.idle_since.filter(|_| !f.evicted && !f.stop && !f.last) else {
            return Eviction::Busy;
        };
        if now < since + limit {
            return Eviction::Due(since + limit);
        }
        f.evicted = true;
        let _ = self.sock.shutdown(std::net::Shutdown::Read);
        Eviction::Evicted
    }
}

/// What [`Slot::evict_if_idle`] did.
pub(super) enum Eviction {
    /// The session was idle too long: its reads are ended.
    Evicted,
    /// It is idle, and will be too long at this instant.
    Due(Instant),
    /// It is working (or already ending).
    Busy,
}

/// The message a session is receiving.
enum Open {
    /// Written into the store as it comes.
    Store(Pending),
    /// `--dkim-verify`: spooled until the end of data, when its signatures
    /// are checked; then the results (an Authentication-Results field
    /// above `trace`'s Received) and the message go into the store.
    Verify {
        /// The message as received.
        spool: Spool,
        /// Its trace fields.
        trace: Vec<u8>,
        /// The resolver for the keys.
        dns: Arc<Resolver>,
    },
}

/// The [`Host`] of one session: its messages go into the run's store,
/// within the run's count.
pub(super) struct Stores<'a> {
    pub(super) shared: &'a Shared,
    /// The session's slot, when `serve` runs it (to stop it).
    pub(super) slot: Option<&'a Slot>,
    pending: Option<Open>,
}

impl<'a> Stores<'a> {
    pub(super) fn new(shared: &'a Shared, slot: Option<&'a Slot>) -> Self {
        Stores {
            shared,
            slot,
            pending: None,
        }
    }
}

impl Stores<'_> {
    /// `--dkim-verify` at the end of data: checks the signatures of the
    /// spooled message (RFC 6376 §6), then opens the store with the
    /// results on top (RFC 8601 §5: a receiver prepends its field) and
    /// copies the message in, ready to commit.
    fn verified(
        &self,
        mut spool: Spool,
        mut trace: Vec<u8>,
        dns: &Resolver,
        env: &Envelope,
        queue_id: &str,
    ) -> Result<(Pending, Vec<Verdict>), store::StoreError> {
        let mut lookup = |name: &str| dns.txt(name).map_err(LookupError::from);
        let read = spool
            .read_back()
            .map_err(|e| store::temp_error("--dkim-verify: spool", &e))?;
        let verdicts = match verify::verify(read, dkim::now(), &mut lookup) {
            Ok(v) => v,
            Err(crate::message::Error::Io(e)) => {
                return Err(store::temp_error("--dkim-verify: spool", &e));
            }
            // A header DKIM cannot read (over a limit): no signature of
            // it can be checked.
            Err(e) => vec![Verdict {
                domain: String::new(),
                selector: String::new(),
                algorithm: String::new(),
                outcome: Outcome::PermError,
                reason: e.to_string(),
            }],
        };
        let results = store::authentication_results(&self.shared.config.hostname, &verdicts);
        store::add_results(&mut trace, results);
        let mut pending = self
            .shared
            .store
            .begin(env, queue_id, &trace)
            .map_err(|e| store::temp_error("storing", &e))?;
        spool
            .copy_to(&mut pending)
            .map_err(|e| store::temp_error("--dkim-verify: spool", &e))?;
        Ok((pending, verdicts))
    }
}

impl Host for Stores<'_> {
    fn begin(&mut self, env: &Envelope, queue_id: &str) -> Begin {
        self.abort();
        if self.shared.is_full(&self.shared.lock()) {
            return Begin::Full;
        }
        let trace = store::trace_header(
            env,
            &self.shared.config.hostname,
            queue_id,
            SystemTime::now(),
        );
        if let Some(dns) = &self.shared.dkim {
            self.pending = Some(Open::Verify {
                spool: Spool::new(SPOOL_MEM),
                trace,
                dns: Arc::clone(dns),
            });
            return Begin::Started;
        }
        match self.shared.store.begin(env, queue_id, &trace) {
            Ok(p) => {
                self.pending = Some(Open::Store(p));
                Begin::Started
            }
            Err(e) => Begin::Failed(e),
        }
    }

    fn message(&mut self) -> &mut dyn Write {
        match &mut self.pending {
            Some(Open::Store(p)) => p,
            Some(Open::Verify { spool, .. }) => spool,
            None => unreachable!("no message is open"),
        }
    }

    fn commit(&mut self, env: &Envelope, queue_id: &str, size: u64) -> (Commit, Option<Reply>) {
        let commit = match self.pending.take() {
            Some(Open::Store(p)) => self.shared.commit(p, env, queue_id, size, self.slot, None),
            Some(Open::Verify { spool, trace, dns }) => {
                match self.verified(spool, trace, &dns, env, queue_id) {
                    Ok((p, verdicts)) => {
                        self.shared
                            .commit(p, env, queue_id, size, self.slot, Some(&verdicts))
                    }
                    Err(e) => Commit::Failed(e),
                }
            }
            None => Commit::Refused,
        };
        (commit, None)
    }

    fn abort(&mut self) {
        if let Some(Open::Store(p)) = self.pending.take() {
            p.abort();
        }
    }

    fn enter_data(&mut self) -> bool {
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

    fn leave_data(&mut self) -> bool {
        let mut stop = self.shared.is_full(&self.shared.lock());
        if let Some(s) = self.slot {
            let mut f = s.flags();
            f.in_data = false;
            stop |= f.stop || f.last;
        }
        stop
    }

    fn stop_requested(&self) -> bool {
        self.slot.is_some_and(|s| s.flags().stop)
    }

    fn idle(&mut self, since: Option<Instant>) {
        if let Some(s) = self.slot {
            s.flags().idle_since = since;
        }
    }

    fn evicted(&self) -> bool {
        self.slot.is_some_and(|s| s.flags().evicted)
    }

    fn output_closed(&self) -> bool {
        self.shared.store.output_closed()
    }
}

/// Runs one session over `input` and `output` (`--stdio`: inetd, `ssh host
/// smtp-recv --stdio`, `sendmail -bs` style) with the same session code as
/// the socket path. Returns the number of messages stored.
pub fn stdio<R: Read, W: Write>(
    input: R,
    output: W,
    config: Arc<Config>,
    store: Arc<Store>,
    opts: Options,
    log: Arc<Log>,
) -> Result<u64, RecvError> {
    let shared = Shared::new(config, store, opts, log);
    let mut host = Stores::new(&shared, None);
    let _ = driver::run_session(
        &shared.config,
        &shared.session,
        &*shared.log,
        &mut host,
        Duplex { input, output },
        ClientAddr::Stdio,
        &mut driver::input_buffer(),
    );
    let mut st = shared.lock();
    if let Some(e) = st.json_error.take() {
        return Err(RecvError::EnvelopeJson(e));
    }
    Ok(st.stored)
}

/// The exit status of a run: 0 when `count` messages were stored (or
/// `count` is 0 and the run was stopped), else 75 (EX_TEMPFAIL: interrupted
/// before COUNT) with a line on `log`.
pub fn exit_status(stored: u64, count: u64, log: &Log) -> ExitCode {
    if count == 0 || stored >= count {
        return ExitCode::SUCCESS;
    }
    log(
        Level::Info,
        format_args!("interrupted: stored {stored} of {count} messages"),
    );
    ExitCode::from(crate::exit::TEMPFAIL)
}
