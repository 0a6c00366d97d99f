//! The client side of SMTP AUTH (RFC 4954): SASL mechanisms.
//!
//! - PLAIN (RFC 4616): `authzid NUL authcid NUL password`, with an empty
//!   authorisation identity, sent as the initial response.
//! - LOGIN (draft-murchison-sasl-login): the user name, then the password,
//!   one per challenge.
//! - CRAM-MD5 (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`.
//! - SCRAM-SHA-256 (RFC 5802, RFC 7677): salted challenge-response; the
//!   password never crosses the wire, and the server must prove it knows the
//!   password too (its `v=` signature is checked; a server that cannot prove
//!   it is an error, [`SaslError::ServerNotVerified`]). No channel binding
//!   (`n,,`). The client nonce is 24 random octets from the system's random
//!   source, base64-encoded.
//! - XOAUTH2 (Google's and Microsoft's format): `user=U^Aauth=Bearer T^A^A`.
//! - OAUTHBEARER (RFC 7628): `n,a=U,^A[host=H^A]auth=Bearer T^A^A`.
//!
//! The server reads the last two with [`bearer`].
//!
//! [`Mechanism::preference`] orders the password mechanisms strongest first;
//! the OAuth ones are never picked automatically (their secret is a token,
//! not a password), only when asked for by name.
//!
//! Departures: SCRAM should prepare the user name and password with SASLprep
//! (RFC 4013). ASCII text is unchanged by it; other text is sent as given
//! (UTF-8), which matches servers that store the same bytes. The iteration
//! count a server asks for must be at least 4096 (RFC 7677 §4) and at most
//! ten million, so a server can neither weaken the proof nor make the
//! client compute for minutes.

use std::fmt;
use std::num::NonZeroU32;

use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use ring::{digest, hmac as rhmac, pbkdf2, rand::SecureRandom};

use crate::codec::base64::{decode_to_vec, encode_to_string};
use bearer::KVSEP;

pub mod bearer;

/// A SASL mechanism the client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (obsolete but common).
    Login,
    /// CRAM-MD5 (RFC 2195).
    CramMd5,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// XOAUTH2 (Google, Microsoft): the secret is an OAuth 2.0 access token.
    XOAuth2,
    /// OAUTHBEARER (RFC 7628): the secret is an OAuth 2.0 access token.
    OAuthBearer,
}

/// Every mechanism, for listing.
const ALL: [Mechanism; 6] = [
    Mechanism::ScramSha256,
    Mechanism::CramMd5,
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::XOAuth2,
    Mechanism::OAuthBearer,
];

impl Mechanism {
    /// The mechanism named `name` (case-insensitive), if we have it.
    pub fn parse(name: &str) -> Option<Mechanism> {
        ALL.into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The registered name, as sent in `AUTH`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The password mechanisms, strongest first: SCRAM-SHA-256 (mutual,
    /// no password on the wire), CRAM-MD5 (no password on the wire), PLAIN,
    /// LOGIN. XOAUTH2 and OAUTHBEARER are not here: they take a token and
    /// are used only when asked for.
    pub fn preference() -> &'static [Mechanism] {
        &ALL[..4]
    }

    /// The strongest of [`Mechanism::preference`] that the server offers
    /// (`offered` as in the EHLO `AUTH` line, any case).
    pub fn choose(offered: &[String]) -> Option<Mechanism> {
        Mechanism::preference()
            .iter()
            .copied()
            .find(|m| offered.iter().any(|o| o.eq_ignore_ascii_case(m.name())))
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A password or token. `Debug` prints `***`; the bytes are overwritten
/// with zeros when dropped (best effort: copies made by the allocator or
/// the mechanisms are not tracked).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps `bytes`.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s.into_bytes())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Secret {
        Secret(v)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

/// Why an exchange failed on the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// The server's challenge is not what the mechanism defines (the text
    /// says what).
    Malformed(String),
    /// SCRAM: the server did not prove it knows the password (wrong or
    /// missing `v=` signature). Either the server is an impostor or the
    /// exchange was tampered with.
    ServerNotVerified,
    /// The server reported an error inside the mechanism (SCRAM `e=`).
    Server(String),
}

impl fmt::Display for SaslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslError::Malformed(why) => write!(f, "unexpected server challenge: {why}"),
            SaslError::ServerNotVerified => f.write_str(
                "the server did not prove that it knows the password (SCRAM server signature)",
            ),
            SaslError::Server(e) => write!(f, "the server reported: {e}"),
        }
    }
}

impl std::error::Error for SaslError {}

/// One client-side SASL exchange (RFC 4422 §3): the client's initial
/// response, then one response per server challenge, then the outcome.
/// Challenges and responses are raw bytes (the SMTP layer does base64).
pub trait Exchange {
    /// The initial response to send with `AUTH` (RFC 4954 §4), if the
    /// mechanism has one (an empty one is sent as `=`); most have none.
    fn initial(&mut self) -> Option<Vec<u8>> {
        None
    }
    /// The response to a server challenge (a `334` reply).
    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError>;
    /// Called on the server's success (`235`), with additional data if the
    /// server sent some; an error means the server failed to authenticate
    /// itself (SCRAM) although it accepted us. Only SCRAM checks anything.
    fn finish(&mut self, success_data: Option<&[u8]>) -> Result<(), SaslError> {
        let _ = success_data;
        Ok(())
    }
}

/// Starts an exchange. `host` is the server's host name, used only by
/// OAUTHBEARER (its optional `host=` field; empty leaves it out).
pub fn start(mech: Mechanism, user: &str, secret: &Secret, host: &str) -> Box<dyn Exchange> {
    match mech {
        Mechanism::Plain => Box::new(Plain {
            user: user.to_owned(),
            secret: secret.clone(),
        }),
        Mechanism::Login => Box::new(Login {
            user: user.to_owned(),
            secret: secret.clone(),
            step: 0,
        }),
        Mechanism::CramMd5 => Box::new(CramMd5 {
            user: user.to_owned(),
            secret: secret.clone(),
            done: false,
        }),
        Mechanism::ScramSha256 => Box::new(Scram::new(user, secret, nonce())),
        Mechanism::XOAuth2 => Box::new(OAuth {
            initial: xoauth2_response(user, secret),
            failure: Vec::new(),
        }),
        Mechanism::OAuthBearer => Box::new(OAuth {
            initial: oauthbearer_response(user, secret, host),
            failure: vec![KVSEP],
        }),
    }
}

/// SCRAM-SHA-256 with a given client nonce (for tests that replay RFC
/// examples).
#[cfg(test)]
pub(crate) fn scram_with_nonce(user: &str, secret: &Secret, nonce: &str) -> Box<dyn Exchange> {
    Box::new(Scram::new(user, secret, nonce.to_owned()))
}

fn unexpected(what: &str) -> SaslError {
    SaslError::Malformed(format!("{what} expected no challenge"))
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.
struct Plain {
    user: String,
    secret: Secret,
}

impl Exchange for Plain {
    fn initial(&mut self) -> Option<Vec<u8>> {
        let mut m = Vec::with_capacity(self.user.len() + self.secret.0.len() + 2);
        m.push(0);
        m.extend_from_slice(self.user.as_bytes());
        m.push(0);
        m.extend_from_slice(&self.secret.0);
        Some(m)
    }

    fn respond(&mut self, _: &[u8]) -> Result<Vec<u8>, SaslError> {
        Err(unexpected("PLAIN"))
    }
}

/// LOGIN: the server asks `Username:` then `Password:` (base64). We answer
/// by the prompt's text when it names one, else by order.
struct Login {
    user: String,
    secret: Secret,
    step: u8,
}

impl Exchange for Login {
    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let prompt = String::from_utf8_lossy(challenge).to_ascii_lowercase();
        let password = if prompt.starts_with("user") {
            false
        } else if prompt.starts_with("pass") {
            true
        } else {
            self.step > 0
        };
        self.step += 1;
        if self.step > 2 {
            return Err(SaslError::Malformed("LOGIN asked a third question".into()));
        }
        Ok(if password {
            self.secret.0.clone()
        } else {
            self.user.as_bytes().to_vec()
        })
    }
}

/// RFC 2195 §2: `user SP 32 lowercase hex digits` of HMAC-MD5 keyed with
/// the password over the challenge.
struct CramMd5 {
    user: String,
    secret: Secret,
    done: bool,
}

impl Exchange for CramMd5 {
    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if self.done {
            return Err(SaslError::Malformed("CRAM-MD5 has one challenge".into()));
        }
        self.done = true;
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(&self.secret.0)
            .map_err(|_| SaslError::Malformed("HMAC key".into()))?;
        mac.update(challenge);
        let digest = mac.finalize().into_bytes();
        let mut out = self.user.as_bytes().to_vec();
        out.push(b' ');
        out.extend_from_slice(hex(&digest).as_bytes());
        Ok(out)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn xoauth2_response(user: &str, token: &Secret) -> Vec<u8> {
    let mut m = b"user=".to_vec();
    m.extend_from_slice(user.as_bytes());
    m.extend_from_slice(b"\x01auth=Bearer ");
    m.extend_from_slice(&token.0);
    m.extend_from_slice(b"\x01\x01");
    m
}

/// RFC 7628 §3.1: `gs2-header kvsep *kvpair kvsep`, gs2-header
/// `n,a=authzid,` (RFC 5801 §4, with `=` and `,` escaped as in SCRAM).
fn oauthbearer_response(user: &str, token: &Secret, host: &str) -> Vec<u8> {
    let mut m = b"n,".to_vec();
    if !user.is_empty() {
        m.extend_from_slice(b"a=");
        m.extend_from_slice(saslname(user).as_bytes());
    }
    m.push(b',');
    m.push(KVSEP);
    if !host.is_empty() {
        m.extend_from_slice(b"host=");
        m.extend_from_slice(host.as_bytes());
        m.push(KVSEP);
    }
    m.extend_from_slice(b"auth=Bearer ");
    m.extend_from_slice(&token.0);
    m.extend_from_slice(&[KVSEP, KVSEP]);
    m
}

/// XOAUTH2 / OAUTHBEARER: one initial response. A challenge means failure
/// (the server sends an error document, RFC 7628 §3.2.2); the client must
/// answer it (XOAUTH2: empty; OAUTHBEARER: a lone kvsep, §3.2.3) so the
/// server can finish with its 5xx reply.
struct OAuth {
    initial: Vec<u8>,
    failure: Vec<u8>,
}

impl Exchange for OAuth {
    fn initial(&mut self) -> Option<Vec<u8>> {
        Some(std::mem::take(&mut self.initial))
    }

    fn respond(&mut self, _error: &[u8]) -> Result<Vec<u8>, SaslError> {
        Ok(self.failure.clone())
    }
}

impl Drop for OAuth {
    fn drop(&mut self) {
        self.initial.iter_mut().for_each(|b| *b = 0);
    }
}

/// RFC 5802 §5.1: in a saslname, `=` is `=3D` and `,` is `=2C`.
fn saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// Fewest PBKDF2 iterations a server may ask for (RFC 7677 §4: "SHOULD be
/// at least 4096"); fewer would let a server weaken the client's proof.
const SCRAM_MIN_ITERATIONS: u32 = 4096;
/// Most PBKDF2 iterations we compute (a few seconds), so a hostile server
/// cannot keep the client busy.
const SCRAM_MAX_ITERATIONS: u32 = 10_000_000;

/// A fresh client nonce: 24 random octets, base64 (printable, no `,`, as
/// RFC 5802 §7 `c-nonce` requires).
fn nonce() -> String {
    let mut bytes = [0u8; 24];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The system's random source failed (it practically cannot). A
        // SCRAM nonce must be unique, not secret: fall back to a hash of
        // the time, the process and a counter.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!(
            "{now} {} {}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        bytes.copy_from_slice(&digest::digest(&digest::SHA256, seed.as_bytes()).as_ref()[..24]);
    }
    encode_to_string(&bytes)
}

enum ScramState {
    /// The client-first message is to be sent.
    Start,
    /// Sent; waiting for the server-first message.
    SentFirst,
    /// Sent the proof; the server's signature must be this.
    SentFinal {
        server_key: rhmac::Key,
        auth_message: Vec<u8>,
    },
    /// The server proved itself.
    Verified,
    /// Something went wrong; nothing more is answered.
    Failed,
}

/// RFC 5802 §3 with SHA-256 (RFC 7677).
struct Scram {
    user: String,
    secret: Secret,
    nonce: String,
    /// `n=user,r=nonce` (client-first-message-bare).
    first_bare: String,
    state: ScramState,
}

/// `biws` is base64 of the GS2 header `n,,` (no channel binding).
const GS2_HEADER: &str = "n,,";

impl Scram {
    fn new(user: &str, secret: &Secret, nonce: String) -> Scram {
        Scram {
            first_bare: format!("n={},r={nonce}", saslname(user)),
            user: user.to_owned(),
            secret: secret.clone(),
            nonce,
            state: ScramState::Start,
        }
    }

    /// server-first-message = [reserved-mext ","] nonce "," salt ","
    /// iteration-count ["," extensions]  (RFC 5802 §7)
    fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, SaslError> {
        let bad = |why: &str| SaslError::Malformed(format!("SCRAM server-first message: {why}"));
        let text = std::str::from_utf8(server_first).map_err(|_| bad("not UTF-8"))?;
        if let Some(e) = text.strip_prefix("e=") {
            return Err(SaslError::Server(e.to_owned()));
        }
        let mut attrs = text.split(',');
        let r = attrs.next().unwrap_or_default();
        if r.starts_with("m=") {
            return Err(bad("mandatory extension not supported"));
        }
        let r = r.strip_prefix("r=").ok_or_else(|| bad("no nonce"))?;
        if !r.starts_with(&self.nonce) || r.len() == self.nonce.len() {
            return Err(bad("the nonce does not extend ours"));
        }
        if !r.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(bad("nonce not printable"));
        }
        let salt = attrs
            .next()
            .and_then(|s| s.strip_prefix("s="))
            .ok_or_else(|| bad("no salt"))?;
        let salt = decode_to_vec(salt.as_bytes()).map_err(|_| bad("salt not base64"))?;
        let i = attrs
            .next()
            .and_then(|s| s.strip_prefix("i="))
            .ok_or_else(|| bad("no iteration count"))?;
        let iterations: u32 = i
            .parse()
            .ok()
            .filter(|n| (SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(n))
            .ok_or_else(|| {
                bad(&format!(
                    "iteration count {i:?} outside {SCRAM_MIN_ITERATIONS}..={SCRAM_MAX_ITERATIONS}"
                ))
            })?;
        let iterations = NonZeroU32::new(iterations).ok_or_else(|| bad("zero iterations"))?;

        // SaltedPassword := Hi(Normalize(password), salt, i)
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            &self.secret.0,
            &mut salted,
        );
        let salted_key = rhmac::Key::new(rhmac::HMAC_SHA256, &salted);
        salted.iter_mut().for_each(|b| *b = 0);
        // ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey)
        let client_key = rhmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        let server_key = rhmac::Key::new(
            rhmac::HMAC_SHA256,
            rhmac::sign(&salted_key, b"Server Key").as_ref(),
        );
        let without_proof = format!("c={},r={r}", encode_to_string(GS2_HEADER.as_bytes()));
        // AuthMessage := client-first-message-bare + "," +
        //                server-first-message + "," + client-final-message-without-proof
        let auth_message = format!("{},{text},{without_proof}", self.first_bare).into_bytes();
        let signature = rhmac::sign(
            &rhmac::Key::new(rhmac::HMAC_SHA256, stored_key.as_ref()),
            &auth_message,
        );
        // ClientProof := ClientKey XOR ClientSignature
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        self.state = ScramState::SentFinal {
            server_key,
            auth_message,
        };
        Ok(format!("{without_proof},p={}", encode_to_string(&proof)).into_bytes())
    }

    /// server-final-message = (server-error / verifier) ["," extensions]
    fn verify(&mut self, server_final: &[u8]) -> Result<(), SaslError> {
        let ScramState::SentFinal {
            server_key,
            auth_message,
        } = std::mem::replace(&mut self.state, ScramState::Failed)
        else {
            return Err(SaslError::ServerNotVerified);
        };
        let text = String::from_utf8_lossy(server_final);
        let first = text.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Err(SaslError::Server(e.to_owned()));
        }
        let v = first
            .strip_prefix("v=")
            .and_then(|v| decode_to_vec(v.as_bytes()).ok())
            .ok_or(SaslError::ServerNotVerified)?;
        // Constant-time comparison of ServerSignature := HMAC(ServerKey, AuthMessage).
        rhmac::verify(&server_key, &auth_message, &v).map_err(|_| SaslError::ServerNotVerified)?;
        self.state = ScramState::Verified;
        Ok(())
    }
}

impl Exchange for Scram {
    fn initial(&mut self) -> Option<Vec<u8>> {
        self.state = ScramState::SentFirst;
        Some(format!("{GS2_HEADER}{}", self.first_bare).into_bytes())
    }

    fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let result = match self.state {
            ScramState::SentFirst => self.client_final(challenge),
            // RFC 4954 §4: success data comes as a 334 challenge, answered
            // with an empty response.
            ScramState::SentFinal { .. } => self.verify(challenge).map(|()| Vec::new()),
            _ => Err(SaslError::Malformed("SCRAM: challenge out of turn".into())),
        };
        if result.is_err() {
            self.state = ScramState::Failed;
        }
        result
    }

    fn finish(&mut self, success_data: Option<&[u8]>) -> Result<(), SaslError> {
        if let Some(data) = success_data
            && matches!(self.state, ScramState::SentFinal { .. })
        {
            return self.verify(data);
        }
        match self.state {
            ScramState::Verified => Ok(()),
            _ => Err(SaslError::ServerNotVerified),
        }
    }
}

impl fmt::Debug for Scram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scram {{ user: {:?}, .. }}", self.user)
    }
}

#[cfg(test)]
mod tests;
