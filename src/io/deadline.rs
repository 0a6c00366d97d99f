//! Deadlines on a blocking stream: every read and write must finish by a
//! point in time, not merely make progress within a timeout.
//!
//! A socket timeout (`SO_RCVTIMEO`) bounds one `read()`: a peer that sends
//! a byte just inside it restarts the clock each time and holds the reader
//! for as long as it likes. [`Deadline`] gives each call only the time left
//! before its deadline (through a `set_timeout` function: for a socket, its
//! read and write timeouts) and fails with `TimedOut` once none is left.
//! Under TLS it must sit below the TLS stream, on the socket: one TLS read
//! may take many socket reads (a record dripped a byte at a time).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sets the stream's own timeout for its next blocking call.
pub type SetTimeout<S> = Box<dyn FnMut(&mut S, Duration) -> io::Result<()> + Send>;

/// A stream whose reads and writes end by a deadline (see the module docs).
pub struct Deadline<S> {
    inner: S,
    set_timeout: Option<SetTimeout<S>>,
    /// Every call ends by then.
    until: Option<Instant>,
    /// Each call ends within this long of its start.
    each: Option<Duration>,
}

impl<S> std::fmt::Debug for Deadline<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("until", &self.until)
            .field("each", &self.each)
            .finish_non_exhaustive()
    }
}

/// The error of a call that had no time left (`TimedOut`, never
/// `WouldBlock`, which rustls would retry).
pub fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// A socket's `WouldBlock` (its timeout passed) as `TimedOut`.
fn timeout_kind(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        timed_out()
    } else {
        e
    }
}

impl Deadline<TcpStream> {
    /// A socket whose read and write timeouts are set before each call.
    pub fn socket(tcp: TcpStream, until: Option<Instant>) -> Deadline<TcpStream> {
        let mut d = Deadline::new(tcp);
        d.set_timeout = Some(Box::new(|s: &mut TcpStream, left| {
            s.set_read_timeout(Some(left))?;
            s.set_write_timeout(Some(left))
        }));
        d.until = until;
        d
    }
}

impl<S> Deadline<S> {
    /// `inner` without a deadline; a stream that cannot bound a blocking
    /// call (no [`Deadline::set_timeout`]) is still checked before each.
    pub fn new(inner: S) -> Deadline<S> {
        Deadline {
            inner,
            set_timeout: None,
            until: None,
            each: None,
        }
    }

    /// How the stream's own timeout is set before each call.
    pub fn set_timeout(&mut self, f: SetTimeout<S>) {
        self.set_timeout = Some(f);
    }

    /// From now on every call ends by `until`, and within `each` of its
    /// start (`None`: no such limit).
    pub fn limit(&mut self, until: Option<Instant>, each: Option<Duration>) {
        self.until = until;
        self.each = each;
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream (calls on it directly are not bounded).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The stream, without the deadline.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Gives the next call the time left, or fails when there is none.
    fn arm(&mut self) -> io::Result<()> {
        let now = Instant::now();
        let end = match (self.until, self.each.map(|e| now + e)) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(end) => end,
                None => return Ok(()),
            },
        };
        let left = end.saturating_duration_since(now);
        if left.is_zero() {
            return Err(timed_out());
        }
        match &mut self.set_timeout {
            Some(set) => set(&mut self.inner, left),
            None => Ok(()),
        }
    }
}

impl<S: Read> Read for Deadline<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.inner.read(buf).map_err(timeout_kind)
    }
}

impl<S: Write> Write for Deadline<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.inner.write(buf).map_err(timeout_kind)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.arm()?;
        self.inner.write_vectored(bufs).map_err(timeout_kind)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        self.inner.flush().map_err(timeout_kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread;

    /// The bug a per-read timeout has: a peer dripping a byte every 20 ms
    /// never trips a 200 ms `SO_RCVTIMEO`, but a 200 ms deadline ends the
    /// line it never finishes.
    #[test]
    fn a_drip_ends_at_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            for _ in 0..500 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
        });
        let tcp = TcpStream::connect(addr).unwrap();
        let until = Instant::now() + Duration::from_millis(200);
        let mut r = BufReader::new(Deadline::socket(tcp, Some(until)));
        let mut line = Vec::new();
        let e = r.read_until(b'\n', &mut line).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(!line.is_empty() && line.len() < 500, "{}", line.len());
        drop(r);
        server.join().unwrap();
    }

    #[test]
    fn each_call_gets_its_own_limit_within_the_deadline() {
        let mut d = Deadline::new(io::Cursor::new(b"abc".to_vec()));
        d.limit(None, Some(Duration::from_secs(60)));
        let mut b = [0; 1];
        assert_eq!(d.read(&mut b).unwrap(), 1);
        d.limit(Some(Instant::now()), Some(Duration::from_secs(60)));
        assert_eq!(d.read(&mut b).unwrap_err().kind(), io::ErrorKind::TimedOut);
        d.limit(None, None);
        assert_eq!(d.read(&mut b).unwrap(), 1);
    }
}
