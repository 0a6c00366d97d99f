//! Verifying (RFC 6376 §6): every DKIM-Signature field of a message
//! checked, each giving a result as RFC 8601 §2.7.1 names them.
//!
//! The header block is read within [`crate::limits::MAX_HEADER_BYTES`];
//! the body streams once through one hash per signature (constant
//! memory). Key records come from the `lookup` function the caller passes
//! (DNS, or a record given on the command line): this layer does no I/O
//! but reading the message.
//!
//! Results: a signature that cannot be parsed or used (a missing or
//! duplicated tag, bad base64, `rsa-sha1` (RFC 8301 §3.1), an RSA key
//! under 1024 bits (RFC 8301 §3.2), `l=` longer than the body, no key
//! record) is `permerror`; a DNS failure that may pass is `temperror`; a
//! body or signature that does not match is `fail`, or `neutral` when the
//! key is in testing mode (§3.6.1 `t=y`: not to be treated differently
//! from unsigned mail); a match is `pass`.

use std::fmt;
use std::io::BufRead;

use super::canon::{self, Body, Canon, FIELD, hash_body, signed_fields};
use super::key::{self, Algorithm, PublicKey};
use super::tags::{self, Tag};
use crate::codec::base64;
use crate::limits::DKIM_MAX_SIGNATURES;
use crate::message::header::read_block;

/// A result of RFC 8601 §2.7.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The signature verified.
    Pass,
    /// The signature or the body hash did not match.
    Fail,
    /// It did not match, but the key is only being tested (`t=y`).
    Neutral,
    /// The key could not be fetched for now: try later.
    TempError,
    /// The signature or its key cannot be used.
    PermError,
}

impl Outcome {
    /// The word of RFC 8601.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Neutral => "neutral",
            Outcome::TempError => "temperror",
            Outcome::PermError => "permerror",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `d=` as written (empty when absent).
    pub domain: String,
    /// `s=` as written (empty when absent).
    pub selector: String,
    /// `a=` as written (empty when absent).
    pub algorithm: String,
    /// The result.
    pub outcome: Outcome,
    /// Why, in words (empty for a pass).
    pub reason: String,
}

impl Verdict {
    /// The result as an RFC 8601 §2.2 `resinfo`: `dkim=pass
    /// header.d=example.org header.s=sel header.a=rsa-sha256`, then
    /// `reason="..."` when there is one. Every value comes from the
    /// message (a hostile signature's `d=`): one that is not a plain token
    /// is quoted, with control and non-ASCII characters replaced by `?`
    /// and its length bounded, so the text can go in a header field.
    pub fn resinfo(&self) -> String {
        let mut s = format!(
            "dkim={} header.d={} header.s={} header.a={}",
            self.outcome,
            pvalue(&self.domain),
            pvalue(&self.selector),
            pvalue(&self.algorithm)
        );
        if !self.reason.is_empty() {
            s.push_str(" reason=");
            s.push_str(&quoted(&self.reason));
        }
        s
    }

    /// The result as a JSON object: domain, selector, algorithm, result,
    /// reason.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.domain,
            "selector": self.selector,
            "algorithm": self.algorithm,
            "result": self.outcome.name(),
            "reason": self.reason,
        })
    }
}

/// Longest value written into a result (the rest is cut): a domain name
/// is at most 253 octets.
const MAX_PVALUE: usize = 255;

/// `value` as an RFC 8601 `pvalue`: as it is when it is a non-empty token
/// of RFC 2045 §5.1 (dots and hyphens are token characters), else a
/// quoted-string.
fn pvalue(value: &str) -> String {
    let tspecial = |c: char| "()<>@,;:\\\"/[]?= ".contains(c);
    if !value.is_empty()
        && value.len() <= MAX_PVALUE
        && value.chars().all(|c| c.is_ascii_graphic() && !tspecial(c))
    {
        value.to_owned()
    } else {
        quoted(value)
    }
}

/// A quoted-string (RFC 5322 §3.2.4) of `text`, at most [`MAX_PVALUE`]
/// characters of it: `"` and `\` escaped, anything but printable ASCII
/// and space replaced by `?`.
fn quoted(text: &str) -> String {
    let mut q = String::from("\"");
    for c in text.chars().take(MAX_PVALUE) {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            ' ' => q.push(' '),
            c if c.is_ascii_graphic() => q.push(c),
            _ => q.push('?'),
        }
    }
    q.push('"');
    q
}

/// Why a key record could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// There is no such record (NXDOMAIN or no TXT): permanent (§6.1.2).
    NotFound,
    /// The lookup failed for now (a timeout, SERVFAIL).
    Temporary(String),
}

/// A DNS answer as §6.1.2 reads it: no record is permanent, anything
/// else may pass.
impl From<crate::io::dns::Failure> for LookupError {
    fn from(f: crate::io::dns::Failure) -> Self {
        use crate::io::dns::Failure;
        match f {
            Failure::NxDomain | Failure::NoData => LookupError::NotFound,
            Failure::Temporary(why) => LookupError::Temporary(why),
        }
    }
}

/// Gives the TXT records of a name, each as one byte string (its
/// character-strings joined, RFC 6376 §3.6.2.2).
pub type Lookup<'a> = dyn FnMut(&str) -> Result<Vec<Vec<u8>>, LookupError> + 'a;

/// A signature parsed and found usable (§6.1.1).
struct Sig {
    algorithm: Algorithm,
    b: Vec<u8>,
    bh: Vec<u8>,
    header: Canon,
    body: Canon,
    domain: String,
    selector: String,
    names: Vec<String>,
    identity: Option<String>,
    length: Option<u64>,
}

fn text(value: Option<&[u8]>) -> String {
    value
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn number(tags: &[Tag<'_>], name: &str) -> Result<Option<u64>, String> {
    match tags::get(tags, name) {
        None => Ok(None),
        Some(v) => std::str::from_utf8(v)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name}= is not a number")),
    }
}

fn decode(tags: &[Tag<'_>], name: &str) -> Result<Vec<u8>, String> {
    let value = tags::get(tags, name).ok_or_else(|| format!("no {name}= tag"))?;
    base64::decode_to_vec(&tags::without_fws(value))
        .map_err(|e| format!("{name}= is not base64: {e}"))
}

/// Checks the tags of a signature (§6.1.1).
fn parse_sig(tags: &[Tag<'_>], now: u64) -> Result<Sig, String> {
    for required in ["v", "a", "b", "bh", "d", "h", "s"] {
        if tags::get(tags, required).is_none() {
            return Err(format!("no {required}= tag"));
        }
    }
    if tags::get(tags, "v") != Some(b"1") {
        return Err("v= is not 1".to_owned());
    }
    let a = text(tags::get(tags, "a"));
    let algorithm = match Algorithm::from_name(&a) {
        Some(alg) if a.contains('-') => alg,
        _ if a.eq_ignore_ascii_case("rsa-sha1") => {
            return Err("rsa-sha1 is not accepted (RFC 8301)".to_owned());
        }
        _ => return Err(format!("unknown algorithm {a:?}")),
    };
    let c = text(tags::get(tags, "c"));
    let (h, b) = c.split_once('/').unwrap_or((&c, "simple"));
    let canon = |s: &str| {
        if s.is_empty() {
            Some(Canon::Simple)
        } else {
            Canon::from_name(s)
        }
    };
    let (Some(header), Some(body)) = (canon(h), canon(b)) else {
        return Err(format!("unknown canonicalization {c:?}"));
    };
    let domain = text(tags::get(tags, "d"));
    let selector = text(tags::get(tags, "s"));
    if domain.is_empty() || selector.is_empty() {
        return Err("empty d= or s=".to_owned());
    }
    let names: Vec<String> = text(tags::get(tags, "h"))
        .split(':')
        .map(|n| n.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned())
        .collect();
    if !names.iter().any(|n| n.eq_ignore_ascii_case("from")) {
        return Err("h= does not sign From (RFC 6376 §5.4)".to_owned());
    }
    let identity = tags::get(tags, "i").map(|v| text(Some(v)));
    if let Some(i) = &identity {
        let host = i
            .rsplit_once('@')
            .map_or("", |(_, h)| h)
            .to_ascii_lowercase();
        let d = domain.to_ascii_lowercase();
        if host != d && !host.ends_with(&format!(".{d}")) {
            return Err("i= is not within d= (RFC 6376 §6.1.1)".to_owned());
        }
    }
    if let Some(q) = tags::get(tags, "q")
        && !text(Some(q))
            .split(':')
            .any(|m| m.trim().eq_ignore_ascii_case("dns/txt"))
    {
        return Err("q= has no dns/txt".to_owned());
    }
    let t = number(tags, "t")?;
    if let Some(x) = number(tags, "x")? {
        if t.is_some_and(|t| x < t) {
            return Err("x= is before t=".to_owned());
        }
        if x < now {
            return Err("signature expired (x=)".to_owned());
        }
    }
    Ok(Sig {
        algorithm,
        b: decode(tags, "b")?,
        bh: decode(tags, "bh")?,
        header,
        body,
        domain,
        selector,
        names,
        identity,
        length: number(tags, "l")?,
    })
}

/// The key of a record (§3.6.1), and whether it is in testing mode.
fn parse_record(record: &[u8], sig: &Sig) -> Result<(PublicKey, bool), String> {
    let tags = tags::parse(record).map_err(|e| format!("key record: {e}"))?;
    if let Some(v) = tags::get(&tags, "v")
        && (v != b"DKIM1" || tags[0].name != "v")
    {
        return Err("key record: v= is not DKIM1 first".to_owned());
    }
    if let Some(h) = tags::get(&tags, "h")
        && !text(Some(h))
            .split(':')
            .any(|a| a.trim().eq_ignore_ascii_case("sha256"))
    {
        return Err("key record does not allow sha256 (h=)".to_owned());
    }
    let k = tags::get(&tags, "k").map_or("rsa".to_owned(), |k| text(Some(k)));
    if !k.eq_ignore_ascii_case(sig.algorithm.key_type()) {
        return Err(format!(
            "key is k={k}, signature is {}",
            sig.algorithm.name()
        ));
    }
    if let Some(s) = tags::get(&tags, "s") {
        let s = text(Some(s));
        if !s.split(':').any(|s| matches!(s.trim(), "*" | "email")) {
            return Err("key is not for email (s=)".to_owned());
        }
    }
    let flags = text(tags::get(&tags, "t"));
    let flags: Vec<&str> = flags.split(':').map(str::trim).collect();
    if flags.contains(&"s") {
        let host = sig
            .identity
            .as_deref()
            .and_then(|i| i.rsplit_once('@'))
            .map(|(_, h)| h);
        if host.is_some_and(|h| !h.eq_ignore_ascii_case(&sig.domain)) {
            return Err("key forbids subdomains in i= (t=s)".to_owned());
        }
    }
    let p = tags::get(&tags, "p").ok_or("key record has no p=")?;
    let p = tags::without_fws(p);
    if p.is_empty() {
        return Err("key revoked (empty p=)".to_owned());
    }
    let der = base64::decode_to_vec(&p).map_err(|e| format!("key p= is not base64: {e}"))?;
    Ok((
        key::parse_public(sig.algorithm, &der)?,
        flags.contains(&"y"),
    ))
}

/// One signature field found in the header, before the body is read.
struct Pending {
    verdict: Verdict,
    /// The usable signature, its body hash, and the data it signs.
    check: Option<(Sig, Body, Vec<u8>)>,
}

/// Verifies every signature of the message read from `input`; `now` is
/// the time (seconds since the epoch) for `x=`, `lookup` gives the TXT
/// records (each as one byte string) of a `SELECTOR._domainkey.DOMAIN`
/// name. No signature gives an empty list. Only reading fails.
pub fn verify(
    mut input: impl BufRead,
    now: u64,
    lookup: &mut Lookup<'_>,
) -> Result<Vec<Verdict>, crate::message::Error> {
    let block = read_block(&mut input)?;
    let mut pending = Vec::new();
    for field in block.get_all(FIELD.as_bytes()) {
        let parsed = tags::parse(field.value);
        let tag = |name| match &parsed {
            Ok(tags) => text(tags::get(tags, name)),
            Err(_) => String::new(),
        };
        let mut verdict = Verdict {
            domain: tag("d"),
            selector: tag("s"),
            algorithm: tag("a"),
            outcome: Outcome::PermError,
            reason: String::new(),
        };
        if pending.len() >= DKIM_MAX_SIGNATURES {
            verdict.reason = format!("more than {DKIM_MAX_SIGNATURES} signatures");
            pending.push(Pending {
                verdict,
                check: None,
            });
            continue;
        }
        let sig = parsed
            .map_err(|e| e.to_string())
            .and_then(|tags| parse_sig(&tags, now).map(|sig| (sig, tags)));
        let check = match sig {
            Err(why) => {
                verdict.reason = why;
                None
            }
            Ok((sig, tags)) => {
                // §3.7: the signed fields, then this field with the value
                // of b= (and the white space before it) removed, no CRLF.
                let mut data = Vec::new();
                signed_fields(&block, &sig.names, sig.header, &mut data);
                let b = tags
                    .iter()
                    .find(|t| t.name == "b")
                    .map_or(0..0, |t| t.range.clone());
                let eq = field.value[..b.start]
                    .iter()
                    .rposition(|&c| c == b'=')
                    .map_or(b.start, |i| i + 1);
                let mut value = field.value[..eq].to_vec();
                value.extend_from_slice(&field.value[b.end..]);
                canon::header(sig.header, field.name, &value, &mut data);
                data.truncate(data.len() - 2);
                let body = Body::new(sig.body, sig.length);
                Some((sig, body, data))
            }
        };
        pending.push(Pending { verdict, check });
    }
    if pending.iter().all(|p| p.check.is_none()) {
        return Ok(pending.into_iter().map(|p| p.verdict).collect());
    }
    // One body hash per usable signature, all in one pass over the body.
    let mut bodies = Vec::new();
    let mut checks = Vec::new();
    for p in &mut pending {
        checks.push(p.check.take().map(|(sig, body, data)| {
            bodies.push(body);
            (sig, data, bodies.len() - 1)
        }));
    }
    hash_body(&mut input, &block, &mut bodies)?;
    let hashes: Vec<_> = bodies.into_iter().map(Body::finish).collect();
    let mut out = Vec::new();
    for (p, check) in pending.into_iter().zip(checks) {
        let mut verdict = p.verdict;
        if let Some((sig, data, i)) = check {
            (verdict.outcome, verdict.reason) = judge(&sig, &hashes[i], &data, lookup);
        }
        out.push(verdict);
    }
    Ok(out)
}

/// The result of a parsed signature (§6.1.2, §6.1.3).
fn judge(
    sig: &Sig,
    hash: &canon::BodyHash,
    data: &[u8],
    lookup: &mut Lookup<'_>,
) -> (Outcome, String) {
    if sig.length.is_some_and(|l| l > hash.length) {
        // §6.1.3 leaves this to the verifier; a body shorter than l= says
        // the message was cut, and nothing honest signs past the end.
        return (Outcome::PermError, "l= is longer than the body".to_owned());
    }
    let name = format!("{}._domainkey.{}", sig.selector, sig.domain);
    let records = match lookup(&name) {
        Ok(records) => records,
        Err(LookupError::NotFound) => {
            return (Outcome::PermError, format!("no key record at {name}"));
        }
        Err(LookupError::Temporary(why)) => return (Outcome::TempError, why),
    };
    let Some(record) = records.first() else {
        return (Outcome::PermError, format!("no key record at {name}"));
    };
    let (key, testing) = match parse_record(record, sig) {
        Ok(k) => k,
        Err(why) => return (Outcome::PermError, why),
    };
    let failed = if testing {
        Outcome::Neutral
    } else {
        Outcome::Fail
    };
    if hash.digest != sig.bh {
        return (failed, "body hash did not verify".to_owned());
    }
    if !key.verify(data, &sig.b) {
        return (failed, "signature did not verify".to_owned());
    }
    (Outcome::Pass, String::new())
}
