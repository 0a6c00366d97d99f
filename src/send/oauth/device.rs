//! The device authorization grant (RFC 8628): the user types a short code
//! at a URL on any device while we poll the token endpoint.

use std::time::Duration;

use serde::Deserialize;

use super::error::Error;
use super::http::Http;
use super::secret::Token;
use super::store::Account;
use super::token::{self, Answer, ExpiresIn, Grant, Refusal};

/// What the person must be told (RFC 8628 §3.3).
#[derive(Debug)]
pub struct Prompt {
    /// Where to go (`verification_uri`).
    pub uri: String,
    /// What to type there.
    pub user_code: String,
    /// The URL with the code in it, if the server gives one.
    pub uri_complete: Option<String>,
}

#[derive(Deserialize)]
struct Authorization {
    device_code: Token,
    user_code: String,
    // Google and older drafts say verification_url.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: ExpiresIn,
    /// §3.2: "If no value is provided, clients MUST use 5 as the default."
    #[serde(default = "default_interval")]
    interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// Seconds added to the polling interval at each `slow_down` (§3.5).
const SLOW_DOWN_SECS: u64 = 5;

/// Runs the device flow for `account` (its client and token endpoint) at
/// `device_url`, asking for `scope`: `tell` shows the code, then the token
/// endpoint is polled until the person has signed in, refused, or the code
/// expired.
pub fn grant(
    http: &Http,
    account: &Account,
    device_url: &str,
    scope: &str,
    tell: &mut dyn FnMut(Prompt),
) -> Result<Grant, Error> {
    let mut form = vec![("scope", scope.as_bytes())];
    token::client_fields(account, &mut form);
    let reply = http.post_form(device_url, &form)?;
    if reply.status != 200 {
        let refusal: Refusal = reply.json()?;
        return Err(Error::Denied(format!("{device_url}: refused: {refusal}")));
    }
    let auth: Authorization = reply.json()?;
    let deadline = token::now().saturating_add(auth.expires_in.secs()?);
    tell(Prompt {
        uri: auth.verification_uri,
        user_code: auth.user_code,
        uri_complete: auth.verification_uri_complete,
    });
    let mut interval = auth.interval;
    let mut form = vec![
        (
            "grant_type",
            &b"urn:ietf:params:oauth:grant-type:device_code"[..],
        ),
        ("device_code", auth.device_code.0.as_bytes()),
    ];
    token::client_fields(account, &mut form);
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        if token::now() > deadline {
            return Err(expired());
        }
        match token::request(http, &account.token_url, &form)? {
            Answer::Granted(grant) => return Ok(grant),
            Answer::Refused(r) => match r.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += SLOW_DOWN_SECS,
                "expired_token" => return Err(expired()),
                "access_denied" => return Err(Error::Denied("sign-in refused".into())),
                _ => {
                    return Err(Error::Denied(format!(
                        "{}: refused: {r}",
                        account.token_url
                    )));
                }
            },
        }
    }
}

fn expired() -> Error {
    Error::Denied("the code expired before sign-in: run login again".into())
}
