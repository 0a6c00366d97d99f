//! Listening: `smtp-recv`'s sockets. One accepting thread per address,
//! one worker thread per connection (reused), at most `max_clients`
//! sessions at once. `TCP_NODELAY` on every connection: replies are small
//! and a Nagle/delayed-ACK stall costs ~40 ms per reply on loopback
//! (BASELINE.md, msmtp).
//!
//! **Stress mode** (issue 17; Postfix's, postconf(5): `smtpd_timeout =
//! ${stress?{10}:{300}}`): a connection that finds every slot busy waits
//! for one ([`wait_for_slot`]). Meanwhile sessions waiting for a command
//! outside a transaction for `stress_idle` (10 s) or longer are ended:
//! their blocked read cannot see a shorter timeout, so the accepting thread
//! ends their reads (`shutdown(Read)` on the shared socket) and they answer
//! `421 4.4.2 ... Idle too long (server busy)` (RFC 5321 §4.5.3.2.7 lets a
//! server close an idle session). Sessions in a transaction or receiving a
//! message are never cut. If no slot frees within `stress_idle` (and a
//! second for the evicted to close), the connection gets `421 4.3.2`.
//!
//! **Stopping**: a flag (set by SIGINT/SIGTERM through [`stop_on_signals`])
//! ends [`serve`]: idle sessions get `421 4.3.0` at once, a message being
//! received is finished (stored and acknowledged) first.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::options::Options;
use super::run::{Eviction, RecvError, Shared, Slot, SlotFlags, State, Stores};
use super::store::Store;
use crate::io::strip_os_error;
use crate::smtp::reply::Reply;
use crate::smtp::server::driver::{self, Level, Log, Transport};
use crate::smtp::server::{Action, ClientAddr, Config, Session};

/// A connection's socket, shared with [`serve`] (which may end its reads
/// to stop the session) without duplicating the descriptor.
struct SharedSocket(Arc<TcpStream>);

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
    fn set_write_timeout(&mut self, limit: Duration) -> io::Result<()> {
        self.0
            .set_write_timeout(Some(limit.max(Duration::from_millis(1))))
    }
    fn close_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
    fn drains(&self) -> bool {
        true
    }
}

/// A `--listen` value as addresses: `ADDR:PORT` (`[::1]:2525`), a bare
/// `PORT` on loopback (receivers bind loopback unless told: issue 13,
/// `-l 2525`), or `NAME:PORT`, every address the name resolves to
/// (`localhost:2525`: 127.0.0.1 and ::1).
pub fn listen_spec(spec: &str) -> Result<Vec<SocketAddr>, String> {
    if let Ok(port) = spec.parse::<u16>() {
        return Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]);
    }
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if !spec.contains(':') {
        return Err(format!(
            "{spec:?}: want PORT, ADDR:PORT or NAME:PORT ([::1]:2525 for IPv6)"
        ));
    }
    let mut addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(spec)
        .map_err(|e| format!("{spec:?}: {}", strip_os_error(&e)))?
        .collect();
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("{spec:?}: the name has no address"));
    }
    Ok(addrs)
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
    let mut file = crate::io::temp::Replacement::create(path)?;
    file.write_all(text.as_bytes())?;
    file.commit()
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
/// Logs `listening on ADDR` for each listener and writes the ready file
/// first.
pub fn serve(
    listeners: Vec<TcpListener>,
    config: Arc<Config>,
    store: Arc<Store>,
    mut opts: Options,
    log: Arc<Log>,
) -> Result<u64, RecvError> {
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    for a in &addrs {
        log(Level::Info, format_args!("listening on {a}"));
    }
    if let Some(p) = opts.ready_file.take() {
        write_ready_file(&p, &addrs).map_err(|e| RecvError::ReadyFile(p, e))?;
    }
    let stop = opts.stop.take();
    let shared = Arc::new(Server {
        run: Shared::new(config, store, opts, log),
        jobs: Mutex::new(Jobs::default()),
        job_ready: Condvar::new(),
    });
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

/// A listening run: the state its sessions share, and its worker pool.
struct Server {
    run: Shared,
    /// Connections waiting for a worker thread.
    jobs: Mutex<Jobs>,
    job_ready: Condvar,
}

impl Server {
    fn jobs(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A server is its run, plus the pool: `shared.lock()` as in [`super::stdio`].
impl std::ops::Deref for Server {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.run
    }
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

/// Counts a session as running; uncounts it however the thread ends.
struct Running {
    shared: Arc<Server>,
    slot: Arc<Slot>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.active -= 1;
        st.slots.retain(|s| !Arc::ptr_eq(s, &self.slot));
        if st.stopping || st.waiting_for_slot > 0 {
            self.shared.changed.notify_all();
        }
    }
}

fn accept_loop(shared: &Arc<Server>, listener: TcpListener) {
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
        // Also for `refuse`'s 421; a session's writes get their own.
        let _ = sock.set_write_timeout(Some(shared.session.time.idle));
        let mut st = shared.lock();
        if st.active >= shared.max_clients && !st.stopping {
            st = wait_for_slot(shared, st);
        }
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
            peer,
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

/// How long a connection waits for a slot beyond the stress idle timeout:
/// time for the sessions ended at that timeout to say 421 and close.
const EVICTED_CLOSE: Duration = Duration::from_secs(1);

/// Stress mode (see the module docs): every slot is busy; ends the
/// sessions idle outside a transaction for `stress_idle`, as they reach
/// it, until a slot frees, `stress_idle` (and [`EVICTED_CLOSE`]) passed,
/// or the run stops. Returns the state locked again: the caller looks.
fn wait_for_slot<'a>(shared: &'a Server, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    let limit = shared.stress_idle;
    let give_up = Instant::now() + limit + EVICTED_CLOSE;
    st.waiting_for_slot += 1;
    loop {
        let now = Instant::now();
        if st.stopping || st.active < shared.max_clients || now >= give_up {
            break;
        }
        let mut wake = give_up;
        for slot in &st.slots {
            match slot.evict_if_idle(now, limit) {
                Eviction::Evicted if !shared.session.quiet => (shared.log)(
                    Level::Info,
                    format_args!(
                        "{}: idle {} s with all {} sessions busy: closed (421 4.4.2)",
                        slot.peer,
                        limit.as_secs_f64(),
                        shared.max_clients
                    ),
                ),
                Eviction::Due(at) => wake = wake.min(at),
                Eviction::Evicted | Eviction::Busy => {}
            }
        }
        st = shared
            .changed
            .wait_timeout(st, wake.saturating_duration_since(now))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    st.waiting_for_slot -= 1;
    st
}

/// Hands a connection to an idle worker, or starts one.
fn dispatch(shared: &Arc<Server>, job: Job) {
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
fn worker(shared: &Server) {
    let mut buf = driver::input_buffer();
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
        let mut host = Stores::new(shared, Some(&running.slot));
        let res = driver::run_session(
            &shared.config,
            &shared.session,
            &*shared.log,
            &mut host,
            SharedSocket(sock),
            ClientAddr::Tcp(peer),
            &mut buf,
        );
        drop(res);
        drop(running);
    }
}

/// Answers a connection we will not serve with `421` and closes it.
fn refuse(shared: &Server, mut sock: TcpStream, peer: SocketAddr, stopping: bool) {
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
