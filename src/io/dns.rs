//! A DNS stub resolver for the tools that look things up: MX and address
//! records for `smtp-send --mx`, TXT records for DKIM keys (`mime-dkim
//! verify`, `smtp-recv --dkim-verify`). Lookups only; what the records
//! mean (RFC 5321 §5.1 routing, RFC 6376 key records) is the caller's.
//!
//! hickory-resolver: a well-kept pure-Rust stub resolver (UDP, TCP on
//! truncation, EDNS, bounds-checked parsing: truncated, huge and
//! compression-loop answers are its job, not ours). It is async-only, so a
//! tokio current-thread runtime lives in [`Resolver`] and nowhere else.
//! `--dns ADDR:PORT` ([`parse_server`]) points it at one server; the
//! default is `/etc/resolv.conf`.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// How long one query attempt waits unless told
/// ([`limits::DNS_TIMEOUT_SECS`](crate::limits::DNS_TIMEOUT_SECS)).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(crate::limits::DNS_TIMEOUT_SECS);

/// Why a name has no answer: definitive (`NXDOMAIN`, no records of the
/// type) or not (try later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no record of the type asked (NODATA).
    NoData,
    /// No answer now (SERVFAIL, REFUSED, a timeout, garbage), or the name
    /// cannot be looked up (the reason, in words).
    Temporary(String),
}

/// The resolver could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// The runtime could not start (exit 74).
    Io(io::Error),
    /// `/etc/resolv.conf` is unusable (exit 78).
    Config(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Io(e) => write!(f, "DNS resolver: {e}"),
            SetupError::Config(why) => write!(f, "DNS resolver: {why}"),
        }
    }
}

crate::io::io_transparent_error!(SetupError { SetupError::Config(_) => crate::exit::CONFIG });

/// Parses `--dns`: `ADDR:PORT`, `[V6]:PORT`, or an address alone (port 53).
pub fn parse_server(spec: &str) -> Result<SocketAddr, String> {
    let spec = spec.trim();
    if let Ok(a) = spec.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = spec.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, 53)),
        Err(_) => Err(format!(
            "--dns {spec:?}: want an IP address and port (ADDR:PORT, [V6]:PORT)"
        )),
    }
}

/// Classifies a resolver error (hickory-net's [`NetError`]).
fn classify(e: &NetError) -> Failure {
    use hickory_resolver::net::DnsError;
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => Failure::NxDomain,
            ResponseCode::NoError => Failure::NoData,
            code => Failure::Temporary(format!("DNS error {code}")),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => {
            Failure::Temporary(format!("the DNS server answered {code}"))
        }
        NetError::Timeout => Failure::Temporary("no answer from DNS (timed out)".to_owned()),
        e => Failure::Temporary(format!("DNS: {e}")),
    }
}

/// `domain` as an absolute DNS name (no search list), IDNA applied.
pub fn fqdn(domain: &str) -> Result<Name, String> {
    let d = domain.trim_end_matches('.');
    Name::from_utf8(format!("{d}."))
        .map_err(|e| format!("{domain:?}: not a domain name that DNS can look up: {e}"))
}

/// A name as text without the final dot (`.` for the root).
fn as_text(n: &Name) -> String {
    if n.is_root() {
        return ".".to_owned();
    }
    n.to_ascii().trim_end_matches('.').to_owned()
}

/// The resolver and the runtime it runs on (hickory is async-only: a
/// current-thread tokio runtime, used by this type alone).
pub struct Resolver {
    rt: tokio::runtime::Runtime,
    resolver: TokioResolver,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver(..)")
    }
}

impl Resolver {
    /// A resolver asking `server`, or the servers of `/etc/resolv.conf`;
    /// each query attempt waits at most `timeout`.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Resolver, SetupError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let resolver = {
            let _guard = rt.enter();
            let mut builder = match server {
                Some(addr) => {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                    hickory_resolver::Resolver::builder_with_config(
                        ResolverConfig::from_name_servers(vec![ns]),
                        TokioRuntimeProvider::default(),
                    )
                }
                None => TokioResolver::builder_tokio()
                    .map_err(|e| SetupError::Config(format!("/etc/resolv.conf: {e}")))?,
            };
            let opts: &mut ResolverOpts = builder.options_mut();
            opts.timeout = timeout;
            opts.attempts = 2;
            opts.cache_size = 64;
            opts.edns0 = true;
            if server.is_some() {
                // A chosen server answers alone: no /etc/hosts.
                opts.use_hosts_file = ResolveHosts::Never;
            }
            builder
                .build()
                .map_err(|e| SetupError::Config(e.to_string()))?
        };
        Ok(Resolver { rt, resolver })
    }

    /// The MX records of `name` as `(preference, exchange)`, the exchange
    /// without its final dot (`.` for a null MX, RFC 7505), at most `max`.
    /// Only other types (a CNAME) is [`Failure::NoData`].
    pub fn mx(&self, name: &Name, max: usize) -> Result<Vec<(u16, String)>, Failure> {
        let lookup = self
            .rt
            .block_on(self.resolver.lookup(name.clone(), RecordType::MX))
            .map_err(|e| classify(&e))?;
        let mx: Vec<(u16, String)> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, as_text(&mx.exchange))),
                _ => None,
            })
            .take(max)
            .collect();
        if mx.is_empty() {
            return Err(Failure::NoData);
        }
        Ok(mx)
    }

    /// The TXT records of `name`, each one's character-strings joined (as
    /// RFC 6376 §3.6.2.2 reads a DKIM key record); none is
    /// [`Failure::NoData`].
    pub fn txt(&self, name: &str) -> Result<Vec<Vec<u8>>, Failure> {
        // A name DNS cannot carry has no record.
        let name = fqdn(name).map_err(|_| Failure::NxDomain)?;
        let lookup = self
            .rt
            .block_on(self.resolver.lookup(name, RecordType::TXT))
            .map_err(|e| classify(&e))?;
        let records: Vec<Vec<u8>> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.txt_data.concat()),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Err(Failure::NoData);
        }
        Ok(records)
    }

    /// The A and AAAA addresses of `name`, in the resolver's order.
    pub fn addrs(&self, name: &Name) -> Result<Vec<IpAddr>, Failure> {
        let lookup = self
            .rt
            .block_on(self.resolver.lookup_ip(name.clone()))
            .map_err(|e| classify(&e))?;
        let addrs: Vec<IpAddr> = lookup.iter().collect();
        if addrs.is_empty() {
            return Err(Failure::NoData);
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dns_server_is_an_address_with_or_without_a_port() {
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("[::1]:53").unwrap().to_string(), "[::1]:53");
        assert_eq!(parse_server("192.0.2.1").unwrap().port(), 53);
        assert_eq!(parse_server("::1").unwrap().port(), 53);
        assert!(parse_server("dns.example:53").is_err());
    }

    #[test]
    fn names_are_absolute_and_idna_applied() {
        assert_eq!(fqdn("example.org").unwrap().to_ascii(), "example.org.");
        assert_eq!(fqdn("example.org.").unwrap().to_ascii(), "example.org.");
        assert_eq!(
            fqdn("bücher.example").unwrap().to_ascii(),
            "xn--bcher-kva.example."
        );
        assert_eq!(as_text(&Name::root()), ".");
        assert!(fqdn(&"a".repeat(64)).is_err());
    }
}
