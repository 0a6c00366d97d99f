//! `smtp-recv`'s run options, and the command-line values only it reads
//! (`--hostname`, seconds).

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rustls::ServerConfig;

use crate::io::dns::Resolver;
use crate::limits;
use crate::smtp::server::driver::TimeLimits;

/// How [`serve`](super::serve) and [`stdio`](super::stdio) run, beyond the
/// session's own [`Config`](crate::smtp::server::Config).
pub struct Options {
    /// Stop after this many stored messages; 0: until stopped.
    pub count: u64,
    /// Sessions served at once; a connection beyond them waits for a slot
    /// (see `stress_idle`), else gets `421 4.3.2`.
    pub max_clients: usize,
    /// Stress mode: while every slot is busy, sessions idle this long
    /// outside a transaction are closed (`421 4.4.2`) to free a slot for a
    /// waiting connection, which waits at most this long (and a second).
    pub stress_idle: Duration,
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
    /// Set (by a signal handler) to stop serving: see [`stop_on_signals`](super::stop_on_signals).
    pub stop: Option<Arc<AtomicBool>>,
    /// `--dkim-verify`: check each message's DKIM signatures (RFC 6376),
    /// their keys looked up with this resolver, before it is stored.
    pub dkim_verify: Option<Arc<Resolver>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            count: 1,
            max_clients: limits::SMTP_MAX_CLIENTS,
            stress_idle: Duration::from_secs(limits::SMTP_STRESS_IDLE_TIMEOUT_SECS),
            time: TimeLimits::default(),
            tls: None,
            implicit_tls: false,
            quiet: false,
            ready_file: None,
            envelope_json: None,
            stop: None,
            dkim_verify: None,
        }
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
