//! Trace fields (RFC 5321 §4.4, RFC 5322 §3.6.7), the envelope as JSON, and
//! the dates they carry.
//!
//! Dates are in UTC with the zone `+0000` (RFC 5322 §3.3 allows any zone;
//! the standard library has no time-zone database and a receiver for
//! scripts and tests is better off with one unambiguous zone).

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::message::date;
use crate::message::dkim::verify::Verdict;
use crate::smtp::envelope::{ClientAddr, Envelope, Params};

use crate::smtp::server::Stored;

/// Lines of the Received field are folded before this width (RFC 5322
/// §2.1.1 SHOULD 78) where a break between clauses allows it.
const FOLD_AT: usize = 78;

/// `Return-Path:` (RFC 5321 §4.4: the reverse-path, `<>` for the null
/// sender) and `Received:` fields for a message, each ending in LF:
///
/// ```text
/// Return-Path: <alice@example.org>
/// Received: from client.example ([192.0.2.1]) by mx.example with ESMTPS
///         id 1A2B3C for <bob@example.net>; Thu, 26 Nov 2026 19:31:32 +0000
/// ```
///
/// `from` names the HELO argument and the client's address as an address
/// literal (RFC 5321 §4.4 TCP-info; none for a session on stdin), `with` the
/// protocol from the envelope (RFC 3848), `for` the recipient only when
/// there is exactly one (RFC 5321 §7.2: do not disclose the others). Folded
/// between clauses at 78 columns (a tab counted as 8). Envelope strings were
/// validated by the command parser; any control character left (CR, LF,
/// NUL, …) is still replaced by `?` so a header line can never be split or
/// injected.
pub fn trace_header(env: &Envelope, hostname: &str, queue_id: &str, now: SystemTime) -> Vec<u8> {
    let mut out = format!(
        "Return-Path: <{}>\n",
        clean(&env.mail_from.to_string(), false)
    );
    let helo = if env.helo.is_empty() {
        "unknown"
    } else {
        env.helo.as_str()
    };
    let mut tokens = vec![format!("from {}", clean(helo, true))];
    if let ClientAddr::Tcp(addr) = env.client {
        tokens.push(format!("({})", address_literal(addr.ip())));
    }
    tokens.push(format!("by {}", clean(hostname, true)));
    tokens.push(format!("with {}", clean(env.protocol, true)));
    tokens.push(format!("id {}", clean(queue_id, true)));
    if let [(rcpt, _)] = env.rcpt_to.as_slice() {
        tokens.push(format!("for <{}>", clean(&rcpt.to_string(), false)));
    }
    if let Some(last) = tokens.last_mut() {
        last.push(';');
    }
    tokens.push(rfc5322_date(now));
    out.push_str("Received:");
    let mut col = "Received:".len();
    for (i, t) in tokens.into_iter().enumerate() {
        let width = t.chars().count();
        // Never leave the field name alone on its line.
        if i > 0 && col + 1 + width > FOLD_AT {
            out.push_str("\n\t");
            col = 8;
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(&t);
        col += width;
    }
    out.push('\n');
    out.into_bytes()
}

/// An `Authentication-Results:` field (RFC 8601) for the DKIM results of
/// a message, ending in LF, for `smtp-recv --dkim-verify`:
///
/// ```text
/// Authentication-Results: mx.example;
///         dkim=pass header.d=example.org header.s=sel header.a=rsa-sha256
/// ```
///
/// `authserv` (this host's name, §2.5) first; one `resinfo` per
/// signature ([`Verdict::resinfo`], its values made safe there), each on
/// a line of its own; `dkim=none` when there is no signature (§2.7.1).
pub fn authentication_results(authserv: &str, verdicts: &[Verdict]) -> Vec<u8> {
    let mut out = format!("Authentication-Results: {};", clean(authserv, true));
    if verdicts.is_empty() {
        out.push_str(" dkim=none");
    }
    for (i, v) in verdicts.iter().enumerate() {
        out.push_str("\n\t");
        out.push_str(&v.resinfo());
        if i + 1 < verdicts.len() {
            out.push(';');
        }
    }
    out.push('\n');
    out.into_bytes()
}

/// Puts `results` (from [`authentication_results`]) into `trace` (from
/// [`trace_header`]) where RFC 8601 §5 wants it: on top of the fields this
/// host added, after `Return-Path:` (which final delivery puts first) and
/// above our `Received:`.
pub fn add_results(trace: &mut Vec<u8>, results: Vec<u8>) {
    // trace_header's first line is Return-Path, one line (cleaned).
    let at = memchr::memchr(b'\n', trace).map_or(0, |i| i + 1);
    trace.splice(at..at, results);
}

/// One JSON object on one line (no newline) describing a stored message,
/// for `--envelope-json`:
///
/// `{"auth_user":null,"client":"127.0.0.1:40000","helo":"c.example",
/// "mail_from":"a@b.example","protocol":"ESMTP","queue_id":"1A2B",
/// "rcpt_to":["c@d.example"],"size":1234,"stored":"/var/mail/x","tls":false}`
///
/// `mail_from` is `""` for the null sender; `client` is `address:port` or
/// `"stdio"`; `size` is the message size in octets as received (CRLF line
/// ends, unstuffed); keys are sorted. `params` is present only when the
/// client sent ESMTP parameters: `{"mail":{"SIZE":"10","BODY":"8BITMIME"},
/// "rcpt":[{"NOTIFY":"NEVER"},{}]}` (a keyword without value maps to null).
///
/// `dkim` (with `--dkim-verify`) adds `"dkim"`: one object per signature
/// ([`Verdict::json`]), `[]` for none.
pub fn envelope_json(
    env: &Envelope,
    size: u64,
    stored: &Stored,
    queue_id: &str,
    dkim: Option<&[Verdict]>,
) -> String {
    let rcpt: Vec<String> = env.rcpt_to.iter().map(|(m, _)| m.to_string()).collect();
    let mut v = serde_json::json!({
        "mail_from": env.mail_from.to_string(),
        "rcpt_to": rcpt,
        "helo": env.helo,
        "client": env.client.to_string(),
        "protocol": env.protocol,
        "size": size,
        "tls": env.tls,
        "auth_user": env.auth_user,
        "stored": stored.location,
        "queue_id": queue_id,
    });
    if !env.mail_params.is_empty() || env.rcpt_to.iter().any(|(_, p)| !p.is_empty()) {
        let rcpt: Vec<serde_json::Value> = env.rcpt_to.iter().map(|(_, p)| params(p)).collect();
        v["params"] = serde_json::json!({ "mail": params(&env.mail_params), "rcpt": rcpt });
    }
    if let Some(verdicts) = dkim {
        v["dkim"] = verdicts.iter().map(Verdict::json).collect();
    }
    v.to_string()
}

fn params(p: &Params) -> serde_json::Value {
    p.0.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.clone().map_or(serde_json::Value::Null, Into::into),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Replaces control characters (and, for `words`, white space) by `?`.
fn clean(s: &str, words: bool) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || (words && c.is_whitespace());
    if s.contains(bad) {
        Cow::Owned(s.replace(bad, "?"))
    } else {
        Cow::Borrowed(s)
    }
}

/// RFC 5321 §4.1.3 address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]`
/// (an IPv4-mapped IPv6 address is shown as IPv4).
fn address_literal(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(a) => format!("[{a}]"),
        IpAddr::V6(a) => format!("[IPv6:{a}]"),
    }
}

/// RFC 5322 §3.3 date-time in UTC: `Thu, 26 Nov 2026 19:31:32 +0000`.
pub(crate) fn rfc5322_date(t: SystemTime) -> String {
    // Beyond jiff's range (years -9999 to 9999): its nearest end.
    let secs = match jiff::Timestamp::try_from(t) {
        Ok(t) => t.as_second(),
        Err(_) if t < UNIX_EPOCH => i64::MIN,
        Err(_) => i64::MAX,
    };
    date::format(secs, 0)
}

#[cfg(test)]
mod tests;
