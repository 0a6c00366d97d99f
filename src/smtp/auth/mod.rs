//! SMTP AUTH, server side (RFC 4954) with the SASL mechanisms PLAIN
//! (RFC 4616), LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and
//! the OAuth 2.0 bearer-token ones, XOAUTH2 and OAUTHBEARER (RFC 7628),
//! whose messages [`sasl::bearer`] reads; their secret is the token.
//!
//! The session ([`super::server`]) owns the protocol around an exchange: it
//! answers `AUTH` only when it may (after TLS unless told otherwise, once per
//! session, not inside a transaction). This module owns what travels inside:
//! [`Exchange::start`] takes the `AUTH` command's mechanism and optional
//! initial response, [`Exchange::step`] each later client line, and both
//! return an [`AuthStep`] that names the reply (see its variants).
//!
//! Credentials come from a [`Verifier`]: a `user:password` file (for the
//! OAuth mechanisms `user:token`)
//! ([`Verifier::parse_file`]) or [`Verifier::AnyPassword`] for tests that only
//! need a client to get through AUTH.
//!
//! Secrets: passwords never appear in `Debug` output or in errors (the file
//! parser reports line numbers only); password and CRAM-MD5 digest
//! comparisons take a time that does not depend on where the bytes differ;
//! an unknown user is compared against a dummy so it costs the same as a
//! wrong password. User names that will be logged or written into a
//! `Received:` field are refused when they contain control characters or are
//! not UTF-8 (RFC 4616 §2 requires UTF-8), so a name cannot inject header
//! lines.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use crate::codec::base64::{decode_to_vec, encode_to_string};
use crate::limits::SMTP_MAX_AUTH_LINE;
use crate::smtp::sasl::bearer::{self, Bearer};

/// A SASL mechanism this server implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd` in one response.
    Plain,
    /// LOGIN: user name and password asked for in two `334` challenges.
    Login,
    /// CRAM-MD5 (RFC 2195): HMAC-MD5 of a server challenge, keyed with the
    /// password; the password itself never crosses the wire.
    CramMd5,
    /// XOAUTH2 (Google, Microsoft): user and OAuth 2.0 access token in one
    /// response.
    XOAuth2,
    /// OAUTHBEARER (RFC 7628): the same in the standard's format.
    OAuthBearer,
}

impl Mechanism {
    /// Every mechanism, in the order EHLO advertises them (`AUTH PLAIN LOGIN
    /// CRAM-MD5 XOAUTH2 OAUTHBEARER`).
    pub const ALL: [Mechanism; 5] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
    ];

    /// The mechanism named by an `AUTH` argument, case-insensitively
    /// (RFC 4954 §4: SASL mechanism names are upper case, but RFC 5321 §2.4
    /// verbs and keywords are case-insensitive); `None` for a mechanism we do
    /// not implement (the session answers 504 5.5.4).
    pub fn parse(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered SASL name, as advertised after `AUTH` in EHLO.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where credentials are checked.
#[derive(Clone)]
pub enum Verifier {
    /// User name → password, from a `user:password` file
    /// ([`Verifier::parse_file`]).
    File(HashMap<String, String>),
    /// Accepts every well-formed exchange whatever the password (`smtp-recv
    /// --auth-any`, for testing clients). For CRAM-MD5 the response must
    /// still be `user SP 32-hex-digit digest`; the digest cannot be checked
    /// without a password, so any digest passes.
    AnyPassword,
}

/// Never shows passwords: only how many users a file holds.
impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verifier::File(users) => write!(f, "Verifier::File({} users)", users.len()),
            Verifier::AnyPassword => f.write_str("Verifier::AnyPassword"),
        }
    }
}

/// A malformed line in a credentials file. The line's text is never kept:
/// it holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for AuthFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for AuthFileError {}

impl Verifier {
    /// Parses a credentials file: one `user:password` per line.
    ///
    /// - Lines end with LF or CRLF; a final line without an end counts.
    /// - Blank lines (only spaces and tabs) and lines whose first non-blank
    ///   character is `#` are ignored.
    /// - The user name is everything before the first `:` and may contain
    ///   `@` (`alice@example.org:secret`); the password is everything after
    ///   it, colons and spaces included, up to the line end.
    ///
    /// Errors (with the line number, never the text): a line without `:`, an
    /// empty user or password, a user name with control characters, a line
    /// that is not UTF-8 (RFC 4616 §2: SASL names and passwords are UTF-8),
    /// and a user listed twice (which of the two passwords was meant?).
    pub fn parse_file(bytes: &[u8]) -> Result<Verifier, AuthFileError> {
        let mut users = HashMap::new();
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let fail = |reason| Err(AuthFileError { line, reason });
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let first = raw.iter().find(|b| !matches!(b, b' ' | b'\t'));
            if matches!(first, None | Some(b'#')) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(raw) else {
                return fail("not UTF-8");
            };
            let Some((user, password)) = text.split_once(':') else {
                return fail("no ':' (user:password expected)");
            };
            if user.is_empty() {
                return fail("empty user name");
            }
            if !valid_user(user) {
                return fail("control character in user name");
            }
            if password.is_empty() {
                return fail("empty password");
            }
            if users.insert(user.to_owned(), password.to_owned()).is_some() {
                return fail("user listed twice");
            }
        }
        Ok(Verifier::File(users))
    }

    /// Whether `password` is `user`'s. Constant time in the password
    /// comparison; an unknown user costs a comparison against a dummy.
    fn check_password(&self, user: &str, password: &[u8]) -> bool {
        match self {
            Verifier::AnyPassword => true,
            Verifier::File(users) => match users.get(user) {
                Some(stored) => ct_eq(password, stored.as_bytes()),
                None => {
                    let _ = ct_eq(password, DUMMY_PASSWORD);
                    false
                }
            },
        }
    }

    /// Whether `digest` is HMAC-MD5(`user`'s password, `challenge`)
    /// (RFC 2195 §2); constant time through `Mac::verify_slice`.
    fn check_cram(&self, user: &str, challenge: &[u8], digest: &[u8]) -> bool {
        match self {
            Verifier::AnyPassword => true,
            Verifier::File(users) => {
                let (key, known) = match users.get(user) {
                    Some(p) => (p.as_bytes(), true),
                    None => (DUMMY_PASSWORD, false),
                };
                let ok = hmac_md5(key, challenge).verify_slice(digest).is_ok();
                ok && known
            }
        }
    }
}

/// Compared against when the user is unknown, so that case takes as long as
/// a wrong password.
const DUMMY_PASSWORD: &[u8] = b"mailpipe-dummy-password-for-unknown-users";

/// What the session answers after a step of an exchange.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// Send `334 ` followed by the text (base64; empty for PLAIN, XOAUTH2
    /// and OAUTHBEARER without an initial response, the line then being
    /// `334 ` with its space, RFC 4954 §4) and pass the client's next line
    /// to [`Exchange::step`]. A refused OAuth token gets the error
    /// challenge here, not [`AuthStep::Failure`], which follows the client's
    /// answer to it (RFC 7628 §3.2.2).
    Challenge(String),
    /// Authenticated as this user: `235 2.7.0 Authentication successful`.
    Success(String),
    /// Wrong user or password: `535 5.7.8 Authentication credentials invalid`
    /// (RFC 4954 §6).
    Failure,
    /// The client sent `*`: `501 5.0.0 Authentication cancelled` (RFC 4954 §4).
    Cancelled,
    /// Not base64, or decoded but not what the mechanism expects, or an
    /// initial response CRAM-MD5 does not allow: `501 5.5.2` (RFC 4954 §4).
    Malformed,
}

/// Shows the user on success (it is logged anyway), never client secrets.
impl fmt::Debug for AuthStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthStep::Challenge(c) => write!(f, "Challenge({c:?})"),
            AuthStep::Success(u) => write!(f, "Success({u:?})"),
            AuthStep::Failure => f.write_str("Failure"),
            AuthStep::Cancelled => f.write_str("Cancelled"),
            AuthStep::Malformed => f.write_str("Malformed"),
        }
    }
}

/// The server side of one AUTH exchange.
pub struct Exchange {
    state: State,
}

enum State {
    /// PLAIN after an empty `334 `: the next line is the whole response.
    Plain,
    /// LOGIN after `334 VXNlcm5hbWU6` ("Username:").
    LoginUser,
    /// LOGIN after `334 UGFzc3dvcmQ6` ("Password:"), the user known.
    LoginPassword(String),
    /// CRAM-MD5 after the challenge was sent.
    Cram(String),
    /// XOAUTH2 or OAUTHBEARER after an empty `334 `: the next line is the
    /// whole response.
    Bearer(Mechanism),
    /// The token was refused and the error challenge sent: whatever the
    /// client answers (RFC 7628 §3.2.3: `^A`; XOAUTH2 clients send an empty
    /// line) ends in [`AuthStep::Failure`].
    BearerRefused,
    /// Over: further lines are [`AuthStep::Malformed`].
    Done,
}

/// Shows only where the exchange is.
impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Plain => "Plain",
            State::LoginUser => "LoginUser",
            State::LoginPassword(_) => "LoginPassword",
            State::Cram(_) => "Cram",
            State::Bearer(_) => "Bearer",
            State::BearerRefused => "BearerRefused",
            State::Done => "Done",
        };
        write!(f, "Exchange({state})")
    }
}

/// `334 ` challenge of LOGIN asking for the user name: base64 "Username:".
const LOGIN_USER: &str = "VXNlcm5hbWU6";
/// `334 ` challenge of LOGIN asking for the password: base64 "Password:".
const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

impl Exchange {
    /// Starts an exchange for `AUTH <mech> [initial]`.
    ///
    /// `initial` is the initial response as sent (base64; `=` stands for an
    /// empty one, RFC 4954 §4). PLAIN without one gets an empty challenge;
    /// LOGIN takes an initial response as the user name (as Postfix and
    /// many clients do); CRAM-MD5 is server-first, so an initial response is
    /// [`AuthStep::Malformed`]. `hostname` goes into the CRAM-MD5 challenge.
    pub fn start(
        mech: Mechanism,
        initial: Option<&str>,
        verifier: &Verifier,
        hostname: &str,
    ) -> (Exchange, AuthStep) {
        let challenge = match mech {
            Mechanism::CramMd5 => cram_challenge(hostname),
            _ => String::new(),
        };
        Exchange::start_with(mech, initial, verifier, challenge)
    }

    fn start_with(
        mech: Mechanism,
        initial: Option<&str>,
        verifier: &Verifier,
        challenge: String,
    ) -> (Exchange, AuthStep) {
        let mut ex = Exchange { state: State::Done };
        let step = match (mech, initial) {
            (Mechanism::Plain, None) => {
                ex.state = State::Plain;
                AuthStep::Challenge(String::new())
            }
            (Mechanism::Login, None) => {
                ex.state = State::LoginUser;
                AuthStep::Challenge(LOGIN_USER.to_owned())
            }
            (Mechanism::CramMd5, None) => {
                let text = encode_to_string(challenge.as_bytes());
                ex.state = State::Cram(challenge);
                AuthStep::Challenge(text)
            }
            (Mechanism::CramMd5, Some(_)) => AuthStep::Malformed,
            (Mechanism::Plain, Some(initial)) => {
                ex.state = State::Plain;
                ex.respond(initial_bytes(initial), verifier)
            }
            (Mechanism::Login, Some(initial)) => {
                ex.state = State::LoginUser;
                ex.respond(initial_bytes(initial), verifier)
            }
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, None) => {
                ex.state = State::Bearer(mech);
                AuthStep::Challenge(String::new())
            }
            (Mechanism::XOAuth2 | Mechanism::OAuthBearer, Some(initial)) => {
                ex.state = State::Bearer(mech);
                ex.respond(initial_bytes(initial), verifier)
            }
        };
        (ex, step)
    }

    /// Feeds one client line (without CRLF) answering the last challenge.
    pub fn step(&mut self, line: &[u8], verifier: &Verifier) -> AuthStep {
        if line == b"*" {
            self.state = State::Done;
            return AuthStep::Cancelled;
        }
        self.respond(line, verifier)
    }

    fn respond(&mut self, response: &[u8], verifier: &Verifier) -> AuthStep {
        let state = std::mem::replace(&mut self.state, State::Done);
        if matches!(state, State::BearerRefused) {
            // RFC 7628 §3.2.3: the answer to the error challenge is a
            // formality; the exchange fails whatever it is.
            return AuthStep::Failure;
        }
        if matches!(state, State::Done) || response.len() > SMTP_MAX_AUTH_LINE {
            return AuthStep::Malformed;
        }
        let Ok(decoded) = decode_to_vec(response) else {
            return AuthStep::Malformed;
        };
        match state {
            State::Plain => plain(&decoded, verifier),
            State::LoginUser => match user_name(&decoded) {
                Some(user) => {
                    self.state = State::LoginPassword(user.to_owned());
                    AuthStep::Challenge(LOGIN_PASSWORD.to_owned())
                }
                None => AuthStep::Malformed,
            },
            State::LoginPassword(user) => {
                if decoded.is_empty() {
                    AuthStep::Malformed
                } else if verifier.check_password(&user, &decoded) {
                    AuthStep::Success(user)
                } else {
                    AuthStep::Failure
                }
            }
            State::Cram(challenge) => cram(&decoded, &challenge, verifier),
            State::Bearer(mech) => {
                let parsed = match mech {
                    Mechanism::OAuthBearer => bearer::parse_oauthbearer(&decoded),
                    _ => bearer::parse_xoauth2(&decoded),
                };
                let step = parsed.map_or(AuthStep::Malformed, |b| token(&b, verifier));
                if step == AuthStep::Failure {
                    self.state = State::BearerRefused;
                    return AuthStep::Challenge(encode_to_string(
                        bearer::ERROR_CHALLENGE.as_bytes(),
                    ));
                }
                step
            }
            State::BearerRefused | State::Done => AuthStep::Malformed,
        }
    }
}

/// An initial response as bytes to decode: `=` is the empty response
/// (RFC 4954 §4).
fn initial_bytes(initial: &str) -> &[u8] {
    if initial == "=" {
        b""
    } else {
        initial.as_bytes()
    }
}

/// PLAIN (RFC 4616 §2): `[authzid] NUL authcid NUL passwd`. We cannot act
/// for another identity, so an authzid other than empty or the authcid
/// itself is refused (§2: the server decides whether authcid may act as
/// authzid).
fn plain(decoded: &[u8], verifier: &Verifier) -> AuthStep {
    let mut parts = decoded.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(passwd), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return AuthStep::Malformed;
    };
    let Some(user) = user_name(authcid) else {
        return AuthStep::Malformed;
    };
    if passwd.is_empty() {
        return AuthStep::Malformed;
    }
    let authz_ok = authzid.is_empty() || authzid == authcid;
    // Check the password even for a bad authzid, so both cost the same.
    if verifier.check_password(user, passwd) && authz_ok {
        AuthStep::Success(user.to_owned())
    } else {
        AuthStep::Failure
    }
}

/// XOAUTH2 or OAUTHBEARER, parsed: the token is the user's secret.
fn token(bearer: &Bearer<'_>, verifier: &Verifier) -> AuthStep {
    let Some(user) = user_name(&bearer.user) else {
        return AuthStep::Malformed;
    };
    if verifier.check_password(user, bearer.token) {
        AuthStep::Success(user.to_owned())
    } else {
        AuthStep::Failure
    }
}

/// CRAM-MD5 (RFC 2195 §2): the response is `user SP digest`, the digest 32
/// lower-case hex digits (upper case accepted). The user is split off at the
/// last space, since a user name may contain spaces.
fn cram(decoded: &[u8], challenge: &str, verifier: &Verifier) -> AuthStep {
    let Some(space) = decoded.iter().rposition(|&b| b == b' ') else {
        return AuthStep::Malformed;
    };
    let (user, hex) = (&decoded[..space], &decoded[space + 1..]);
    let (Some(user), Some(digest)) = (user_name(user), hex16(hex)) else {
        return AuthStep::Malformed;
    };
    if verifier.check_cram(user, challenge.as_bytes(), &digest) {
        AuthStep::Success(user.to_owned())
    } else {
        AuthStep::Failure
    }
}

/// A user name fit to log and to put into a `Received:` field: non-empty
/// UTF-8 without control characters.
fn user_name(bytes: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(bytes).ok()?;
    (!s.is_empty() && valid_user(s)).then_some(s)
}

fn valid_user(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// 32 hex digits → 16 bytes.
fn hex16(hex: &[u8]) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn hmac_md5(key: &[u8], data: &[u8]) -> Hmac<Md5> {
    let mut mac =
        <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}

/// Equality of a client-supplied `given` secret with the `stored` one in a
/// time that depends only on `given`'s length: every byte is compared, with
/// no early exit (`stored` is never empty: the file parser refuses empty
/// passwords, and the dummy is not empty).
fn ct_eq(given: &[u8], stored: &[u8]) -> bool {
    if stored.is_empty() {
        return false;
    }
    let mut diff = u8::from(given.len() != stored.len());
    for (i, &g) in given.iter().enumerate() {
        diff |= g ^ stored[i % stored.len()];
    }
    std::hint::black_box(diff) == 0
}

/// The CRAM-MD5 challenge, RFC 2195 §2's msg-id form
/// `<random.timestamp@hostname>`.
///
/// The random part comes from std's `RandomState`, whose SipHash keys the
/// standard library draws from the operating system's random source
/// (getrandom(2) on Linux), hashed with a process-wide counter, the time
/// in nanoseconds and the process id: unpredictable to a client and unique
/// within and across processes, which is all the challenge needs. No `rand`
/// dependency.
fn cram_challenge(hostname: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(now.as_nanos());
    h.write_u32(std::process::id());
    let host = if !hostname.is_empty()
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        hostname
    } else {
        "localhost"
    };
    format!("<{}.{}@{}>", h.finish(), now.as_secs(), host)
}

#[cfg(test)]
mod tests;
