//! The token endpoint (RFC 6749 §3.2): a grant sent, its answer read
//! (§5.1 success, §5.2 error), and `smtp-oauth token`: a valid access
//! token, refreshed (§6) when less than a minute remains.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::error::Error;
use super::http::{Http, Reply};
use super::secret::Token;
use super::store::{Account, Store};

/// Seconds of validity an access token must have left to be handed out:
/// time for `smtp-send` to connect and authenticate with it.
pub const MIN_VALIDITY_SECS: u64 = 60;

/// A successful token response (RFC 6749 §5.1), as much as we keep.
#[derive(Debug)]
pub struct Grant {
    /// The access token.
    pub access_token: Token,
    /// When it expires, seconds since the epoch (0: not said).
    pub expires_at: u64,
    /// A new refresh token, when the server issues or rotates one.
    pub refresh_token: Option<Token>,
}

/// An error response (RFC 6749 §5.2; RFC 8628 §3.5 adds the device codes).
#[derive(Debug, Deserialize)]
pub struct Refusal {
    /// The error code: `invalid_grant`, `authorization_pending`…
    pub error: String,
    /// Words for a person, if any.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// What the token endpoint answered.
#[derive(Debug)]
pub enum Answer {
    /// Tokens.
    Granted(Grant),
    /// A 4xx with an error code.
    Refused(Refusal),
}

#[derive(Deserialize)]
struct Success {
    access_token: Token,
    #[serde(default)]
    expires_in: Option<ExpiresIn>,
    #[serde(default)]
    refresh_token: Option<Token>,
}

/// `expires_in` is a number (RFC 6749 §5.1), but some servers send it as a
/// string of digits (Microsoft's v1 endpoints did): both are read.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum ExpiresIn {
    Number(u64),
    Text(String),
}

impl ExpiresIn {
    pub(crate) fn secs(&self) -> Result<u64, Error> {
        match self {
            ExpiresIn::Number(n) => Ok(*n),
            ExpiresIn::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| Error::Protocol(format!("expires_in {t:?} is not a number"))),
        }
    }
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The client's credentials as form fields (RFC 6749 §2.3.1: in the body,
/// which every provider accepts of an installed application).
pub fn client_fields<'a>(account: &'a Account, form: &mut Vec<(&'a str, &'a [u8])>) {
    form.push(("client_id", account.client_id.as_bytes()));
    if let Some(secret) = &account.client_secret {
        form.push(("client_secret", secret.0.as_bytes()));
    }
}

/// Sends a grant to `url` and reads the answer: 200 with tokens, or a 4xx
/// with an error code; anything else is a protocol error.
pub fn request(http: &Http, url: &str, form: &[(&str, &[u8])]) -> Result<Answer, Error> {
    answer(url, &http.post_form(url, form)?)
}

/// Reads a token endpoint's `reply` from `url` (RFC 6749 §5.1, §5.2): 200
/// with tokens, or a 4xx with an error code; anything else, or a body
/// that is not the JSON these say, is a protocol error. The body is
/// bounded by the HTTP layer ([`crate::limits::OAUTH_MAX_RESPONSE`]).
pub fn answer(url: &str, reply: &Reply) -> Result<Answer, Error> {
    if reply.status == 200 {
        let ok: Success = reply.json()?;
        if ok.access_token.0.is_empty() {
            return Err(Error::Protocol(format!("{url}: empty access_token")));
        }
        let expires_at = match &ok.expires_in {
            Some(e) => now().saturating_add(e.secs()?),
            None => 0,
        };
        return Ok(Answer::Granted(Grant {
            access_token: ok.access_token,
            expires_at,
            refresh_token: ok.refresh_token.filter(|t| !t.0.is_empty()),
        }));
    }
    if (400..500).contains(&reply.status) {
        return reply.json().map(Answer::Refused);
    }
    Err(Error::Protocol(format!(
        "{url}: unexpected HTTP status {}",
        reply.status
    )))
}

/// Puts a grant into `account`: the access token, its expiry, a rotated
/// refresh token (RFC 6749 §6: the old one may be revoked now).
pub fn apply(account: &mut Account, grant: Grant) {
    account.access_token = Some(grant.access_token);
    account.expires_at = grant.expires_at;
    if let Some(refresh) = grant.refresh_token {
        account.refresh_token = Some(refresh);
    }
}

/// The stored access token while it has time left, unless it is the one
/// a server just refused.
fn fresh(account: &Account, refused: Option<&str>) -> Option<Token> {
    match &account.access_token {
        Some(t)
            if account.expires_at >= now().saturating_add(MIN_VALIDITY_SECS)
                && Some(t.as_str()) != refused =>
        {
            Some(t.clone())
        }
        _ => None,
    }
}

/// A valid access token of account `name`: the stored one while more than
/// [`MIN_VALIDITY_SECS`] remain (no network), else a new one from the
/// refresh token, the rotated refresh token stored before it is returned.
///
/// Errors: `invalid_grant` is [`Error::SignIn`] (which names the
/// account); other refusals [`Error::Denied`]; no refresh token
/// [`Error::SignIn`]. Only `SignIn` names the account: callers say which
/// account the others are about.
///
/// `refused`: a token a server has just refused (revoked, or expired
/// early): it is not handed out again, a new one is fetched, unless
/// another process already stored a different one.
pub fn access_token(
    http: impl FnOnce() -> Result<Http, Error>,
    store: &Store,
    name: &str,
    refused: Option<&str>,
) -> Result<Token, Error> {
    if let Some(token) = fresh(&store.load(name)?, refused) {
        return Ok(token);
    }
    let http = http()?;
    store.locked(|| {
        // Another process may have refreshed while we waited for the lock.
        let mut account = store.load(name)?;
        if let Some(token) = fresh(&account, refused) {
            return Ok(token);
        }
        let Some(refresh) = account.refresh_token.clone() else {
            return Err(Error::SignIn(name.to_owned()));
        };
        let mut form = vec![
            ("grant_type", &b"refresh_token"[..]),
            ("refresh_token", refresh.0.as_bytes()),
        ];
        if account.refresh_scope {
            form.push(("scope", account.scope.as_bytes()));
        }
        client_fields(&account, &mut form);
        let answer = request(&http, &account.token_url, &form)?;
        drop(form);
        match answer {
            Answer::Granted(grant) => {
                let token = grant.access_token.clone();
                apply(&mut account, grant);
                store.save(name, &account)?;
                Ok(token)
            }
            Answer::Refused(r) if r.error == "invalid_grant" => Err(Error::SignIn(name.to_owned())),
            Answer::Refused(r) => Err(Error::Denied(format!(
                "{}: refused: {r}",
                account.token_url
            ))),
        }
    })
}
