//! Delivery straight to the recipients' mail hosts (`smtp-send --mx`):
//! no relay, RFC 5321 §5.1.
//!
//! # What happens
//!
//! 1. The recipients are grouped by domain ([`group`]; domains compared
//!    case-insensitively, RFC 5321 §2.4); each group gets one transaction
//!    of its own, so each mail host sees only its own recipients.
//! 2. Each domain's MX records are looked up ([`Dns::route`]):
//!    - MX records: the hosts in order of preference, equal preferences in
//!      random order ([`order`], RFC 5321 §5.1: "randomize them to spread
//!      the load"); at most [`MAX_ADDRESSES`] addresses are tried in all;
//!      a host's IPv6 and IPv4 addresses alternate, starting with the
//!      family the resolver gave first (RFC 8305 §4).
//!      An MX name that is an IP address is skipped (§5.1: the exchange
//!      "MUST be a domain name"), and so is a `.` among other records.
//!    - a single MX `.` (null MX, RFC 7505): the domain takes no mail: its
//!      recipients are refused at once (`556 5.1.10`, exit 67), no
//!      connection made.
//!    - no MX records (NODATA): the domain itself is the mail host, its
//!      A/AAAA addresses (the "implicit MX" of §5.1).
//!    - NXDOMAIN: the domain does not exist: refused for good (`550
//!      5.1.2`, exit 67: the *recipient address* is bad, mailpipe(7)'s
//!      EX_NOUSER; 68, EX_NOHOST, stays for a `-S` server we cannot find).
//!    - SERVFAIL, REFUSED, a timeout, garbage: temporary (`451 4.4.3`,
//!      exit 75: try later).
//!
//!    Time: MX host names are looked up until [`MAX_ADDRESSES`] addresses
//!    (a failed lookup counts as one) or [`MAX_DNS_FAILURES`] temporary
//!    failures; each query waits [`DNS_TIMEOUT`] (or `--connect-timeout`)
//!    twice. After [`DOMAIN_DEADLINE`] a domain gets no new lookup or
//!    connection (its recipients are deferred); a transaction under way
//!    keeps its own RFC 5321 §4.5.3.2 timeouts.
//!
//!    An address literal (`user@[192.0.2.1]`, `user@[IPv6:2001:db8::1]`)
//!    needs no DNS: the message goes to that address.
//! 3. Each address is tried in turn until one takes the transaction; a
//!    connection that fails, a refused greeting or EHLO, or a temporary
//!    refusal before any recipient has the message (a 4xx to MAIL, to
//!    every RCPT, to DATA or to the end of data; a connection lost before
//!    the end of data) moves on to the next (§4.5.4.1 and §5.1). A
//!    permanent refusal (5xx) from a host that answered is final for its
//!    recipients. Once the end of data is sent, a failure that is not a
//!    reply (the connection closed or timed out, a garbled reply) is
//!    never retried elsewhere: the host may have the message (§4.1.1.4,
//!    §6.1, RFC 1047), so its recipients are deferred (75).
//!
//! 4. An address of no host (`0.0.0.0`, `::`, multicast, broadcast) is
//!    never connected to, nor a loopback address at port 25 (RFC 5321
//!    §5.1: the MX leads back to this host); if that leaves no address,
//!    the recipients are refused (`554 5.4.6`, mail loop, exit 69).
//!    Loopback at another `--mx-port` is allowed (test setups).
//!
//! # TLS toward mail hosts ([`MxTls`])
//!
//! Opportunistic (RFC 3207, RFC 7435): STARTTLS when the host offers it,
//! with the certificate verified against the MX host name (the name in the
//! MX record, not the recipient domain: that is all DNS without DNSSEC
//! gives us). What happens when verification fails is the mode's choice:
//!
//! - `may` (default): the message still goes over TLS, unverified, and a
//!   warning says so. Like Postfix's `may` level and RFC 7435 §1 ("some
//!   protection most of the time"): unauthenticated encryption still stops
//!   passive eavesdropping, while falling back to cleartext would protect
//!   against nothing, and refusing would make most of the Internet's MX
//!   hosts unreachable (their certificates are often self-signed or for
//!   another name). A TLS handshake that fails outright (no common
//!   protocol), or a STARTTLS the host refuses (`454`, RFC 3207 §4: the
//!   client may go on without TLS), is retried once in cleartext on a new
//!   connection, with a warning, as Postfix does at this level.
//! - `verify`: STARTTLS is required and the certificate must verify; else
//!   the host is a temporary failure and the next one is tried (RFC 3207
//!   §4.1: the client decides whether to go on).
//! - `none`: never STARTTLS.
//!
//! # Resolver
//!
//! [`crate::io::dns::Resolver`] asks (`--dns ADDR:PORT` points it at one
//! server; the default is `/etc/resolv.conf`); [`Dns`] reads its answers
//! as RFC 5321 §5.1 says.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::proto::rr::Name;

use crate::io::dns::{Failure, Resolver, fqdn};
use crate::send::error::Error;
use crate::send::outcome::{self, RcptResult, Status};
use crate::send::prepare::Prepared;
use crate::send::session::{Session, SessionOptions, Target};
use crate::send::url;
use crate::smtp::client::Stage;
use crate::smtp::envelope::Mailbox;
use crate::smtp::reply::Reply;
use crate::smtp::tls;

/// [`limits::MX_MAX_ADDRESSES`](crate::limits::MX_MAX_ADDRESSES).
pub const MAX_ADDRESSES: usize = crate::limits::MX_MAX_ADDRESSES;

/// [`limits::MX_MAX_RECORDS`](crate::limits::MX_MAX_RECORDS).
pub const MAX_MX_RECORDS: usize = crate::limits::MX_MAX_RECORDS;

/// [`io::dns::DEFAULT_TIMEOUT`](crate::io::dns::DEFAULT_TIMEOUT).
pub const DNS_TIMEOUT: Duration = crate::io::dns::DEFAULT_TIMEOUT;

/// After this many temporary failures looking up MX host names, a domain
/// looks up no more (private limit): a zone whose name servers do not
/// answer would otherwise cost every MX name's timeouts.
pub const MAX_DNS_FAILURES: usize = 3;

/// The time one domain may take before no more DNS lookups are made and
/// no more addresses tried (private limit; its recipients are then
/// deferred). A transaction under way is bounded by its own RFC 5321
/// §4.5.3.2 timeouts, not cut.
pub const DOMAIN_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// `--mx-tls`: what STARTTLS toward mail hosts requires (see the module
/// docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MxTls {
    /// STARTTLS when offered; an unverifiable certificate is used anyway
    /// (with a warning).
    #[default]
    May,
    /// STARTTLS with a certificate valid for the MX host name, else the
    /// host is a temporary failure (the next one is tried).
    Verify,
    /// Never STARTTLS.
    None,
}

/// How to deliver with `--mx`.
#[derive(Debug, Clone)]
pub struct MxOptions {
    /// `--dns`: the resolver to ask (`None`: the system's).
    pub dns: Option<SocketAddr>,
    /// `--mx-port`: the mail hosts' port (25).
    pub port: u16,
    /// `--mx-tls`.
    pub tls: MxTls,
}

// ---------------------------------------------------------------------------
// Grouping and ordering (no I/O)

/// Where a group of recipients goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A domain (lower case) whose MX records decide.
    Domain(String),
    /// An address literal: that address.
    Literal(IpAddr),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Domain(d) => f.write_str(d),
            Destination::Literal(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// The destination of a recipient's domain; `None` for one we cannot route
/// (an empty domain, `<Postmaster>`, a literal that is not an address).
pub fn destination(domain: &str) -> Option<Destination> {
    if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        // RFC 5321 §4.1.3: IPv4-address-literal, "IPv6:" IPv6-addr.
        let ip = match inner.get(..5) {
            Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..]
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(IpAddr::V6),
            _ => inner.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
        };
        return ip.map(Destination::Literal);
    }
    let d = domain.trim_end_matches('.');
    if d.is_empty() {
        return None;
    }
    // An IDN is one domain however it is spelt: its A-label (RFC 5890
    // §2.3.2.1), what DNS is asked. One that IDNA refuses stays as it is
    // (its lookup fails with the reason).
    let ascii = match Name::from_utf8(d) {
        Ok(n) if !d.is_ascii() => n.to_ascii().trim_end_matches('.').to_owned(),
        _ => d.to_owned(),
    };
    Some(Destination::Domain(ascii.to_lowercase()))
}

/// `rcpts` as sent to `dest`'s hosts: with an ASCII local part, the
/// domain as its A-label, so that SMTPUTF8 is not needed (RFC 6531 §3.2:
/// a non-ASCII domain alone can be sent as A-labels; RFC 5890).
fn as_sent(dest: &Destination, rcpts: &[Mailbox]) -> Vec<Mailbox> {
    rcpts
        .iter()
        .map(|m| match dest {
            Destination::Domain(d) if m.local.is_ascii() && !m.domain.is_ascii() => Mailbox {
                local: m.local.clone(),
                domain: d.clone(),
            },
            _ => m.clone(),
        })
        .collect()
}

/// Gives `results` (for the recipients `sent`) back their recipients as
/// given (`rcpts`, in the same order as `sent`).
fn as_given(mut results: Vec<RcptResult>, sent: &[Mailbox], rcpts: &[Mailbox]) -> Vec<RcptResult> {
    let mut used = vec![false; sent.len()];
    for r in &mut results {
        if let Some(j) = (0..sent.len()).find(|&j| !used[j] && sent[j] == r.rcpt) {
            used[j] = true;
            r.rcpt = rcpts[j].clone();
        }
    }
    results
}

/// Groups recipients by destination, in the order each destination first
/// appears, recipients in their own order. Recipients that cannot be
/// routed come back in the second list.
pub fn group(rcpts: &[Mailbox]) -> (Vec<(Destination, Vec<Mailbox>)>, Vec<Mailbox>) {
    let mut groups: Vec<(Destination, Vec<Mailbox>)> = Vec::new();
    let mut bad = Vec::new();
    for m in rcpts {
        match destination(&m.domain) {
            Some(d) => match groups.iter_mut().find(|(g, _)| *g == d) {
                Some((_, list)) => list.push(m.clone()),
                None => groups.push((d, vec![m.clone()])),
            },
            None => bad.push(m.clone()),
        }
    }
    (groups, bad)
}

/// MX records `(preference, host)` in the order to try them: lowest
/// preference first, equal preferences shuffled with `pick(n)` (a number
/// below `n`), RFC 5321 §5.1. Duplicate hosts are kept once (at their best
/// preference).
pub fn order(mut mx: Vec<(u16, String)>, mut pick: impl FnMut(usize) -> usize) -> Vec<String> {
    mx.sort_by_key(|(p, _)| *p);
    let mut out: Vec<String> = Vec::with_capacity(mx.len());
    let mut i = 0;
    while i < mx.len() {
        let j = i + mx[i..].iter().take_while(|(p, _)| *p == mx[i].0).count();
        let run = &mut mx[i..j];
        // Fisher–Yates over the run of equal preferences.
        for k in (1..run.len()).rev() {
            let r = pick(k + 1).min(k);
            run.swap(k, r);
        }
        for (_, h) in run.iter() {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(h)) {
                out.push(h.clone());
            }
        }
        i = j;
    }
    out
}

/// A random number below `n` (ring's system RNG; 0 if it fails, which
/// only loses the spreading of load).
fn random_below(n: usize) -> usize {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    if n == 0 || ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0;
    }
    (u64::from_ne_bytes(b) % n as u64) as usize
}

// ---------------------------------------------------------------------------
// DNS

/// Where a domain's mail goes, as DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Mail hosts in the order to try (MX hosts, or the domain itself).
    Hosts(Vec<Host>),
    /// Null MX (RFC 7505): the domain accepts no mail.
    NullMx,
    /// The domain does not exist (NXDOMAIN), or has neither MX nor address.
    NoDomain(String),
    /// DNS could not answer now (SERVFAIL, timeout, ...): try later.
    Temporary(String),
}

/// One mail host and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its name (the certificate is verified against it); an address
    /// literal's address as text.
    pub name: String,
    /// Its addresses, in the resolver's order.
    pub addrs: Vec<IpAddr>,
}

/// The resolver, reading what it says as RFC 5321 §5.1 asks.
#[derive(Debug)]
pub struct Dns(Resolver);

impl Dns {
    /// A resolver asking `server`, or the servers of `/etc/resolv.conf`;
    /// each query attempt waits at most `timeout`.
    ///
    /// Errors: the runtime cannot start (74), `/etc/resolv.conf` unusable
    /// (78).
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Dns, Error> {
        Resolver::new(server, timeout)
            .map(Dns)
            .map_err(|e| match e {
                crate::io::dns::SetupError::Io(e) => Error::Output(e),
                e => Error::Config(e.to_string()),
            })
    }

    /// The addresses of `name`, families interleaved ([`interleave`]).
    fn addrs(&self, name: &Name) -> Result<Vec<IpAddr>, Failure> {
        Ok(interleave(self.0.addrs(name)?.into_iter(), MAX_ADDRESSES))
    }

    /// Where mail for `domain` goes (see the module docs).
    /// Host names are looked up until [`MAX_ADDRESSES`] addresses (a
    /// failed lookup counts as one) or [`MAX_DNS_FAILURES`] temporary
    /// failures, and not after `deadline`.
    pub fn route(&self, domain: &str, deadline: Instant, note: &mut dyn FnMut(&str)) -> Route {
        let name = match fqdn(domain) {
            Ok(n) => n,
            Err(why) => return Route::NoDomain(why),
        };
        match self.0.mx(&name, MAX_MX_RECORDS) {
            Ok(mx) => {
                if mx.len() == 1 && mx[0].1 == "." {
                    return Route::NullMx;
                }
                let hosts = order(mx, random_below);
                self.hosts(domain, &hosts, deadline, note)
            }
            Err(Failure::NoData) => {
                note(&format!(
                    "{domain}: no MX records: its own addresses (implicit MX)"
                ));
                match self.addrs(&name) {
                    Ok(addrs) => Route::Hosts(vec![Host {
                        name: domain.to_owned(),
                        addrs,
                    }]),
                    Err(Failure::Temporary(why)) => Route::Temporary(format!("{domain}: {why}")),
                    Err(_) => Route::NoDomain(format!(
                        "{domain}: no mail host (neither MX nor address records)"
                    )),
                }
            }
            Err(Failure::NxDomain) => {
                Route::NoDomain(format!("{domain}: no such domain (NXDOMAIN)"))
            }
            Err(Failure::Temporary(why)) => {
                Route::Temporary(format!("{domain}: MX lookup failed: {why}"))
            }
        }
    }

    /// The addresses of the MX hosts `names`, in order; hosts that do not
    /// resolve are left out (a note says why).
    fn hosts(
        &self,
        domain: &str,
        names: &[String],
        deadline: Instant,
        note: &mut dyn FnMut(&str),
    ) -> Route {
        let mut hosts = Vec::new();
        let mut temporary = None;
        let mut failures = 0;
        let mut total = 0;
        for n in names {
            if total >= MAX_ADDRESSES {
                break;
            }
            if failures >= MAX_DNS_FAILURES || Instant::now() >= deadline {
                note(&format!(
                    "{domain}: no more MX host lookups ({failures} temporary DNS failures, \
                     or the time limit)"
                ));
                break;
            }
            if n == "." {
                note(&format!(
                    "{domain}: ignoring an MX \".\" among other MX records"
                ));
                continue;
            }
            if n.parse::<IpAddr>().is_ok() {
                // RFC 5321 §5.1: "MUST be a domain name"; Postfix also
                // refuses such records.
                note(&format!(
                    "{domain}: skipping MX {n}: an IP address, not a host name"
                ));
                continue;
            }
            let Ok(name) = fqdn(n) else {
                note(&format!("{domain}: skipping MX {n:?}: not a host name"));
                continue;
            };
            match self.addrs(&name) {
                Ok(mut addrs) => {
                    addrs.truncate(MAX_ADDRESSES - total);
                    total += addrs.len();
                    hosts.push(Host {
                        name: n.clone(),
                        addrs,
                    });
                }
                Err(f) => {
                    // A failed lookup costs as much as an address.
                    total += 1;
                    let why = match f {
                        Failure::NxDomain => "no such host".to_owned(),
                        Failure::NoData => "no addresses".to_owned(),
                        Failure::Temporary(why) => {
                            failures += 1;
                            temporary = Some(why.clone());
                            why
                        }
                    };
                    note(&format!("{domain}: skipping MX {n}: {why}"));
                }
            }
        }
        if !hosts.is_empty() {
            return Route::Hosts(hosts);
        }
        match temporary {
            Some(why) => Route::Temporary(format!("{domain}: no MX host resolves now: {why}")),
            None => Route::NoDomain(format!("{domain}: none of its MX hosts has an address")),
        }
    }
}

/// At most `max` of `addrs`, families alternating, starting with the
/// family of the first (RFC 8305 §4; Postfix's
/// `smtp_balance_inet_protocols`): many addresses of one family, or a
/// family without a route here, cannot use up the address budget before
/// the other is tried. Within a family the resolver's order is kept.
fn interleave(addrs: impl Iterator<Item = IpAddr>, max: usize) -> Vec<IpAddr> {
    let (mut first, mut other) = (Vec::new(), Vec::new());
    let mut first_v6 = None;
    for a in addrs {
        let v6 = a.is_ipv6();
        let list = if *first_v6.get_or_insert(v6) == v6 {
            &mut first
        } else {
            &mut other
        };
        if list.len() < max {
            list.push(a);
        }
    }
    let mut out = Vec::with_capacity(max.min(first.len() + other.len()));
    let (mut f, mut o) = (first.into_iter(), other.into_iter());
    while out.len() < max {
        match (f.next(), o.next()) {
            (None, None) => break,
            (a, b) => out.extend(a.into_iter().chain(b).take(max - out.len())),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Delivery

/// Synthetic replies for what DNS decided (RFC 7505 §4.2 for null MX,
/// RFC 3463 for the enhanced codes), so that `--json` and the exit code
/// treat them like a server's refusal at RCPT.
fn dns_results(rcpts: &[Mailbox], route: &Route) -> Vec<RcptResult> {
    let (reply, stage) = match route {
        Route::NullMx => (
            Reply::new(
                556,
                Some((5, 1, 10)),
                "recipient domain does not accept mail (null MX, RFC 7505)",
            ),
            Stage::Rcpt,
        ),
        Route::NoDomain(why) => (Reply::new(550, Some((5, 1, 2)), why.clone()), Stage::Rcpt),
        Route::Temporary(why) => (
            Reply::new(451, Some((4, 4, 3)), why.clone()),
            Stage::Connect,
        ),
        Route::Hosts(_) => unreachable!("only called for DNS failures"),
    };
    rcpts
        .iter()
        .map(|m| RcptResult::from_reply(m.clone(), stage, reply.clone(), ""))
        .collect()
}

/// What a failure in a transaction (after the session started) means for
/// the other mail hosts of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Nothing was delivered and the host is the problem (a 4xx reply, a
    /// lost connection before the end of data): the next host may be
    /// tried (RFC 5321 §4.5.4.1, §5.1).
    NextHost,
    /// Final for the recipients: a 5xx reply to MAIL, RCPT, DATA or the
    /// end of data, results after an earlier transaction delivered, or the
    /// message cannot be read.
    Final,
    /// The end of data was sent and no reply came (the connection closed
    /// or timed out, the reply was garbled): the host may have the
    /// message (RFC 5321 §4.1.1.4, §6.1: "the message may be delivered
    /// more than once"; RFC 1047). Not sent anywhere else: deferred.
    Uncertain,
    /// This host cannot take the message as it is (it lacks SMTPUTF8 or
    /// 8BITMIME, its SIZE is too small): another host may.
    Unsendable,
}

/// The [`Verdict`] on `e`, an error in a transaction. Failures before the
/// transaction (connection, greeting, EHLO, TLS) always move on to the
/// next host, a 5xx greeting too (RFC 5321 §3.1: "554 No SMTP service
/// here"; Postfix's `smtp_skip_5xx_greeting`).
fn verdict(e: &Error) -> Verdict {
    use crate::smtp::client::ErrorKind;
    match e {
        Error::Partial { .. } | Error::Input(_) => Verdict::Final,
        Error::Message(_) => Verdict::Unsendable,
        Error::Smtp { err, .. } => match err.kind() {
            ErrorKind::Input(_) => Verdict::Final,
            ErrorKind::Unsendable(_) => Verdict::Unsendable,
            ErrorKind::Reply(_) | ErrorKind::Rejected(_) if err.is_permanent() => Verdict::Final,
            ErrorKind::Reply(_) | ErrorKind::Rejected(_) => Verdict::NextHost,
            _ if err.stage() == Stage::Dot => Verdict::Uncertain,
            _ => Verdict::NextHost,
        },
        _ => Verdict::NextHost,
    }
}

/// The results when the end of data went unanswered ([`Verdict::Uncertain`]).
fn uncertain(rcpts: &[Mailbox], e: &Error, label: &str) -> Vec<RcptResult> {
    outcome::all(
        rcpts,
        true,
        Stage::Dot,
        None,
        &format!(
            "{e}; the message may have arrived: not sent to another mail host \
             (RFC 5321 §6.1)"
        ),
        label,
    )
}

/// How one address is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// As `--mx-tls` says.
    AsConfigured,
    /// `may`: again, TLS without verification (the certificate failed).
    Unverified,
    /// `may`: again, in cleartext (the TLS handshake failed).
    Cleartext,
}

/// Delivers `msg` to every recipient by MX (see the module docs); one
/// result per recipient, in the envelope's order. With `sopts.verbose`,
/// what is decided and tried goes to the transcript (`=== ` lines); `warn`
/// gets what the user must know (TLS used unverified, cleartext after a
/// failed handshake).
pub fn deliver(
    msg: &mut Prepared,
    sopts: &SessionOptions,
    mx: &MxOptions,
    dns: &Dns,
    progress: bool,
    warn: &mut dyn FnMut(&str),
) -> Vec<RcptResult> {
    let all_rcpts = msg.envelope.rcpts.clone();
    let (groups, bad) = group(&all_rcpts);
    let mut results: Vec<RcptResult> = bad
        .iter()
        .map(|m| {
            RcptResult::from_reply(
                m.clone(),
                Stage::Rcpt,
                Reply::new(
                    550,
                    Some((5, 1, 2)),
                    "no domain to deliver to (an address literal must be an IP address)",
                ),
                "",
            )
        })
        .collect();
    let verbose = sopts.verbose;
    let mut note = |s: &str| {
        if verbose {
            sopts.notices.trace(format!("=== {s}\n").as_bytes());
        }
    };
    let sender_utf8 = msg.envelope.from.mailbox().is_some_and(|m| !m.is_ascii());
    for (dest, rcpts) in groups {
        let deadline = Instant::now() + DOMAIN_DEADLINE;
        let route = match &dest {
            Destination::Literal(ip) => Route::Hosts(vec![Host {
                name: ip.to_string(),
                addrs: vec![*ip],
            }]),
            Destination::Domain(d) => dns.route(d, deadline, &mut note),
        };
        let Route::Hosts(hosts) = &route else {
            note(&match &route {
                Route::NullMx => format!("{dest}: null MX (RFC 7505): takes no mail"),
                Route::NoDomain(why) | Route::Temporary(why) => why.clone(),
                Route::Hosts(_) => String::new(),
            });
            results.extend(dns_results(&rcpts, &route));
            continue;
        };
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        note(&format!(
            "{dest}: mail hosts in order: {}",
            names.join(", ")
        ));
        let sent = as_sent(&dest, &rcpts);
        msg.envelope.rcpts = sent.clone();
        msg.envelope.smtputf8 = sender_utf8 || sent.iter().any(|m| !m.is_ascii());
        let got = deliver_to_hosts(
            msg, &sent, hosts, deadline, sopts, mx, progress, &mut note, warn,
        );
        results.extend(as_given(got, &sent, &rcpts));
    }
    msg.envelope.rcpts = all_rcpts.clone();
    // The envelope's order, whatever the grouping.
    let mut ordered = Vec::with_capacity(results.len());
    for m in &all_rcpts {
        if let Some(i) = results.iter().position(|r| &r.rcpt == m) {
            ordered.push(results.swap_remove(i));
        }
    }
    ordered.extend(results);
    ordered
}

/// Tries the addresses of `hosts` in order until one takes the message
/// for `rcpts` (already in `msg.envelope.rcpts`).
#[allow(clippy::too_many_arguments)]
fn deliver_to_hosts(
    msg: &mut Prepared,
    rcpts: &[Mailbox],
    hosts: &[Host],
    deadline: Instant,
    sopts: &SessionOptions,
    mx: &MxOptions,
    progress: bool,
    note: &mut dyn FnMut(&str),
    warn: &mut dyn FnMut(&str),
) -> Vec<RcptResult> {
    // What the last host tried said (never final: another host, or this
    // one, may work later).
    let mut last: Option<Vec<RcptResult>> = None;
    // Addresses skipped as this host or no host (RFC 5321 §5.1).
    let mut skipped = None;
    // A host that cannot take the message as it is: if no other host
    // takes it, that is the answer (65), not "try later".
    let mut unsendable: Option<Vec<RcptResult>> = None;
    for (host, &addr) in hosts
        .iter()
        .flat_map(|h| h.addrs.iter().map(move |a| (h, a)))
        .take(MAX_ADDRESSES)
    {
        if Instant::now() >= deadline {
            let why = format!(
                "the time limit for a domain ({} s) is over: not tried",
                DOMAIN_DEADLINE.as_secs()
            );
            note(&why);
            if last.is_none() {
                last = Some(outcome::all(rcpts, true, Stage::Connect, None, &why, ""));
            }
            break;
        }
        if let Some(why) = not_a_mail_host(addr, mx.port) {
            let label = server_label(host, addr, mx.port);
            note(&format!("{label}: skipped: {why}"));
            skipped = Some((label, why));
            continue;
        }
        let mut attempt = Attempt::AsConfigured;
        loop {
            let (server, opts, security) = attempt_options(host, addr, sopts, mx, attempt);
            let label = server_label(host, addr, mx.port);
            note(&format!(
                "{label}: trying{}",
                match attempt {
                    Attempt::AsConfigured => "",
                    Attempt::Unverified => " again, TLS without certificate verification",
                    Attempt::Cleartext => " again, in cleartext",
                }
            ));
            if let Err(e) = msg.rewind() {
                return outcome::all(rcpts, true, Stage::Data, None, &e.to_string(), &label);
            }
            match try_address(msg, &server, &host.name, &opts, security, progress) {
                Ok(results) if !all_refused_for_now(&results) => return results,
                Ok(results) => {
                    // A 4xx to the end of data (or to every recipient):
                    // the host took nothing, the next one may.
                    note(&format!("{label}: every recipient deferred"));
                    last = Some(results);
                    break;
                }
                Err(failure) => {
                    let (e, in_transaction) = *failure;
                    let next = match (&e, mx.tls, attempt) {
                        (Error::Tls { err, .. }, MxTls::May, Attempt::AsConfigured) => {
                            match err.kind() {
                                tls::HandshakeErrorKind::Verify => Some(Attempt::Unverified),
                                tls::HandshakeErrorKind::Protocol => Some(Attempt::Cleartext),
                                _ => None,
                            }
                        }
                        // STARTTLS refused (454, or any reply but 220):
                        // RFC 3207 §4 leaves the client free to go on
                        // without TLS. Session::start goes on over the
                        // same connection itself; what reaches here is a
                        // 421 (the host closed it): a new one, in cleartext.
                        (Error::Smtp { err, .. }, MxTls::May, Attempt::AsConfigured)
                            if err.stage() == Stage::StartTls && err.reply().is_some() =>
                        {
                            Some(Attempt::Cleartext)
                        }
                        _ => None,
                    };
                    match next {
                        Some(a) => {
                            warn(&format!(
                                "{label}: {e}; {}",
                                if a == Attempt::Unverified {
                                    "sending over TLS WITHOUT certificate verification \
                                     (--mx-tls verify refuses instead)"
                                } else {
                                    "trying again in cleartext (--mx-tls verify refuses instead)"
                                }
                            ));
                            attempt = a;
                            continue;
                        }
                        None => {
                            note(&format!("{label}: {e}"));
                            if in_transaction {
                                match verdict(&e) {
                                    Verdict::Final => {
                                        return outcome::from_error(rcpts, &e, &label);
                                    }
                                    Verdict::Uncertain => return uncertain(rcpts, &e, &label),
                                    Verdict::Unsendable => {
                                        unsendable = Some(not_sendable(rcpts, &e, &label));
                                    }
                                    Verdict::NextHost => {}
                                }
                            }
                            last = Some(outcome::from_error(rcpts, &e, &label));
                            break;
                        }
                    }
                }
            }
        }
    }
    if let Some(r) = unsendable {
        return r;
    }
    match (last, skipped) {
        (Some(mut r), _) => {
            for x in &mut r {
                x.status = Status::Deferred;
            }
            r
        }
        (None, Some((label, why))) => {
            // Postfix's "mail for ... loops back to myself": 5.4.6 (RFC
            // 3463 §3.5, routing loop), for good.
            let reply = Reply::new(
                554,
                Some((5, 4, 6)),
                format!("mail for this domain loops back to this host: {label} is {why}"),
            );
            outcome::all(
                rcpts,
                false,
                Stage::Connect,
                Some(&reply),
                &reply.lines[0],
                "",
            )
        }
        (None, None) => outcome::all(rcpts, true, Stage::Connect, None, "no address to try", ""),
    }
}

/// Why `addr` is no mail host to connect to, if it is not: an address of
/// no host (`0.0.0.0` and `::` reach this host on Linux), multicast or
/// broadcast, or a loopback address at the SMTP port (RFC 5321 §5.1: the
/// MX list leads back to this host, a mail loop). At another `--mx-port`
/// loopback is allowed: a test setup, not the Internet's port 25.
fn not_a_mail_host(addr: IpAddr, port: u16) -> Option<&'static str> {
    let addr = addr.to_canonical();
    if addr.is_unspecified() {
        return Some("the unspecified address (this host)");
    }
    if addr.is_multicast() || matches!(addr, IpAddr::V4(v4) if v4.is_broadcast()) {
        return Some("a multicast or broadcast address");
    }
    if addr.is_loopback() && port == url::DEFAULT_PORT {
        return Some("a loopback address (this host)");
    }
    None
}

/// The results when a host cannot take the message as it is
/// ([`Verdict::Unsendable`]): refused, with the reply a server gives for
/// it (RFC 3463 §3.7: `5.6.0`; RFC 6531 §3.7.5: `553 5.6.7` for an
/// address that needs SMTPUTF8), which [`RcptResult::exit_code`] makes 65.
fn not_sendable(rcpts: &[Mailbox], e: &Error, label: &str) -> Vec<RcptResult> {
    let detail = e.to_string();
    let reply = if detail.contains("SMTPUTF8") {
        Reply::new(553, Some((5, 6, 7)), detail.clone())
    } else {
        Reply::new(554, Some((5, 6, 0)), detail.clone())
    };
    outcome::all(rcpts, false, Stage::Mail, Some(&reply), &detail, label)
}

/// Whether a host's results are all temporary refusals it replied with
/// (nothing delivered, nothing refused for good, no uncertain end of
/// data): then the next host may be tried.
fn all_refused_for_now(results: &[RcptResult]) -> bool {
    !results.is_empty()
        && results.iter().all(|r| {
            r.status == Status::Deferred && r.reply.as_ref().is_some_and(|x| x.code / 100 == 4)
        })
}

/// `mx.example[192.0.2.1]:25`: the host and the address it was reached at.
fn server_label(host: &Host, addr: IpAddr, port: u16) -> String {
    let a = match addr {
        IpAddr::V6(v6) => format!("IPv6:{v6}"),
        v4 => v4.to_string(),
    };
    if host.name == addr.to_string() {
        // An address literal: no name to show.
        return format!("[{a}]:{port}");
    }
    format!("{}[{a}]:{port}", host.name)
}

/// The connection and session options for one attempt.
fn attempt_options(
    host: &Host,
    addr: IpAddr,
    sopts: &SessionOptions,
    mx: &MxOptions,
    attempt: Attempt,
) -> (url::Server, SessionOptions, url::Security) {
    let security = match (mx.tls, attempt) {
        (MxTls::None, _) | (_, Attempt::Cleartext) => url::Security::None,
        (MxTls::Verify, _) => url::Security::StartTlsRequired,
        (MxTls::May, _) => url::Security::StartTlsIfOffered,
    };
    let mut opts = sopts.clone();
    // Never a password to a mail host found in DNS.
    opts.user = None;
    opts.auth = None;
    // SNI and verification use each MX host's name; a pinned fingerprint
    // names one server's certificate (the flags conflict with --mx; this
    // drops what a config account set for its own server).
    opts.tls.sni = None;
    opts.tls.fingerprint = None;
    // `may`: a refused STARTTLS goes on in cleartext on the same
    // connection (RFC 3207 §4, RFC 7435).
    opts.cleartext_after_starttls_refused = mx.tls == MxTls::May;
    if attempt == Attempt::Unverified {
        opts.tls.insecure = true;
    }
    opts.target = Target::Server(url::Server {
        host: host.name.clone(),
        port: mx.port,
        security,
        lmtp: false,
    });
    let server = url::Server {
        host: addr.to_string(),
        port: mx.port,
        security,
        lmtp: false,
    };
    (server, opts, security)
}

/// One connection to `server` (an address) for the MX host `name`: the
/// session (certificate checked against `name`) and one transaction. An
/// error says whether it happened in the transaction (`true`) or before.
fn try_address(
    msg: &mut Prepared,
    server: &url::Server,
    name: &str,
    opts: &SessionOptions,
    security: url::Security,
    progress: bool,
) -> Result<Vec<RcptResult>, Box<(Error, bool)>> {
    let io_timeout = opts
        .timeout
        .unwrap_or(crate::smtp::client::TIMEOUT_GREETING);
    let (tcp, _) = url::connect(server, opts.connect_timeout, io_timeout)
        .map_err(|e| Box::new((Error::Connect(e), false)))?;
    let local = tcp.local_addr().ok();
    let mut session = Session::start(url::Transport::Tcp(tcp), opts, security, name, local)
        .map_err(|e| Box::new((e, false)))?;
    match session.send(msg, progress) {
        Ok(results) => {
            let _ = session.quit();
            Ok(results)
        }
        Err(e) => {
            session.abort();
            Err(Box::new((e, true)))
        }
    }
}

#[cfg(test)]
mod tests;
