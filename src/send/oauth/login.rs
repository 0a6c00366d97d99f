//! `smtp-oauth login`, `revoke`: an account signed in, stored, signed out.

use std::io::BufRead;
use std::time::Duration;

use super::device;
use super::error::Error;
use super::http::Http;
use super::pkce::{self, Listener, Pkce};
use super::provider::{self, Endpoints};
use super::secret::Token;
use super::store::{self, Account, Store};
use super::token::{self, Answer, Grant};

/// What `login` was told.
#[derive(Debug, Default)]
pub struct LoginOptions {
    /// A preset (`provider::PRESETS`).
    pub provider: Option<String>,
    /// `--issuer`: OpenID discovery.
    pub issuer: Option<String>,
    /// The registered client.
    pub client_id: String,
    /// Its secret (from `--client-secret-file`).
    pub client_secret: Option<Token>,
    /// Microsoft's tenant.
    pub tenant: Option<String>,
    /// The mailbox (`login_hint`, shown by `list`).
    pub user: Option<String>,
    /// Scopes instead of the preset's.
    pub scope: Option<String>,
    /// Endpoints instead of the preset's or the discovered ones.
    pub auth_url: Option<String>,
    /// See `auth_url`.
    pub token_url: Option<String>,
    /// See `auth_url`; its presence selects the device flow.
    pub device_url: Option<String>,
    /// See `auth_url`.
    pub revoke_url: Option<String>,
    /// `--no-browser`: the redirected URL is pasted instead of received.
    pub paste: bool,
}

/// What the person must do, for the caller to show.
#[derive(Debug)]
pub enum Prompt {
    /// Open this URL in a browser (the listener waits for the redirect).
    Open(String),
    /// Open this URL anywhere and paste the address it ends at.
    OpenAndPaste(String),
    /// Device flow: go to a URL and enter a code.
    Device(device::Prompt),
}

fn endpoints(http: &Http, opts: &LoginOptions) -> Result<(String, Endpoints), Error> {
    let (name, mut found) = match (&opts.provider, &opts.issuer) {
        (Some(p), _) => {
            let preset = provider::preset(p, opts.tenant.as_deref()).ok_or_else(|| {
                Error::Config(format!(
                    "--provider {p}: unknown (known: {})",
                    provider::PRESETS.join(", ")
                ))
            })?;
            (p.clone(), preset)
        }
        (None, Some(issuer)) => ("custom".to_owned(), provider::discover(http, issuer)?),
        (None, None) => ("custom".to_owned(), Endpoints::default()),
    };
    let given = [
        (&opts.auth_url, &mut found.auth_url),
        (&opts.token_url, &mut found.token_url),
        (&opts.device_url, &mut found.device_url),
        (&opts.revoke_url, &mut found.revoke_url),
    ];
    for (url, slot) in given {
        if url.is_some() {
            slot.clone_from(url);
        }
    }
    if let Some(scope) = &opts.scope {
        found.scope.clone_from(scope);
    }
    if found.scope.is_empty() {
        return Err(Error::Config("no scope: give --scope".into()));
    }
    Ok((name, found))
}

/// Signs account `name` in and stores it: the device flow when a device
/// endpoint is known, else the browser with PKCE. `tell` shows what the
/// person must do; `paste` is read for `--no-browser`; `patience` bounds
/// each silent connection to the loopback listener.
pub fn login(
    http: &Http,
    store: &Store,
    name: &str,
    opts: &LoginOptions,
    tell: &mut dyn FnMut(Prompt),
    paste: &mut dyn BufRead,
    patience: Duration,
) -> Result<Account, Error> {
    store::check_name(name)?;
    let (provider, found) = endpoints(http, opts)?;
    let token_url = found
        .token_url
        .clone()
        .ok_or_else(|| Error::Config("no token endpoint: give --token-url".into()))?;
    let mut account = Account {
        provider,
        client_id: opts.client_id.clone(),
        client_secret: opts.client_secret.clone(),
        token_url,
        revoke_url: found.revoke_url.clone(),
        user: opts.user.clone(),
        scope: found.scope.clone(),
        refresh_scope: found.refresh_scope,
        refresh_token: None,
        access_token: None,
        expires_at: 0,
    };
    let grant = match (&found.device_url, &found.auth_url) {
        (Some(device_url), _) => {
            device::grant(http, &account, device_url, &found.scope, &mut |p| {
                tell(Prompt::Device(p))
            })?
        }
        (None, Some(auth_url)) => browser(
            http, &account, auth_url, &found, opts, tell, paste, patience,
        )?,
        (None, None) => {
            return Err(Error::Config(
                "no authorization or device endpoint: give --auth-url or --device-url".into(),
            ));
        }
    };
    if grant.refresh_token.is_none() {
        return Err(Error::Denied(
            "signed in, but no refresh token was granted (offline access missing from the scope?)"
                .into(),
        ));
    }
    token::apply(&mut account, grant);
    store.save(name, &account)?;
    Ok(account)
}

/// The authorization code grant with PKCE (RFC 7636 §4; RFC 8252).
#[allow(clippy::too_many_arguments)]
fn browser(
    http: &Http,
    account: &Account,
    auth_url: &str,
    found: &Endpoints,
    opts: &LoginOptions,
    tell: &mut dyn FnMut(Prompt),
    paste: &mut dyn BufRead,
    patience: Duration,
) -> Result<Grant, Error> {
    let pkce = Pkce::new()?;
    let state = pkce::new_state()?;
    // With --no-browser nothing listens: the browser's redirect fails and
    // the person copies the address it shows.
    let listener = Listener::bind()?;
    let redirect_uri = listener.redirect_uri.clone();
    let url = pkce::Request {
        auth_url,
        client_id: &account.client_id,
        redirect_uri: &redirect_uri,
        scope: &found.scope,
        state: &state,
        challenge: &pkce.challenge,
        user: opts.user.as_deref(),
        extra: &found.auth_params,
    }
    .url();
    let code = if opts.paste {
        drop(listener);
        tell(Prompt::OpenAndPaste(url));
        pkce::code_from_paste(paste, &state)?
    } else {
        tell(Prompt::Open(url));
        listener.wait(&state, patience)?
    };
    let mut form = vec![
        ("grant_type", &b"authorization_code"[..]),
        ("code", code.0.as_bytes()),
        ("redirect_uri", redirect_uri.as_bytes()),
        ("code_verifier", pkce.verifier.0.as_bytes()),
    ];
    token::client_fields(account, &mut form);
    match token::request(http, &account.token_url, &form)? {
        Answer::Granted(grant) => Ok(grant),
        Answer::Refused(r) => Err(Error::Denied(format!(
            "{}: refused the code: {r}",
            account.token_url
        ))),
    }
}

/// What `revoke` did. The account's file is deleted in every case.
#[derive(Debug)]
pub enum Revoked {
    /// Revoked at the provider too.
    Everywhere,
    /// The provider has no revocation endpoint (or there was no refresh
    /// token to revoke).
    HereOnly,
    /// The provider did not revoke it: why.
    Failed(Error),
}

/// Signs account `name` out: its refresh token revoked at the provider
/// when it has a revocation endpoint (RFC 7009 §2.1: revoking a refresh
/// token revokes its access tokens too), its file deleted whatever the
/// provider answered, as a local secret must not outlive a sign-out.
pub fn revoke(
    http: impl FnOnce() -> Result<Http, Error>,
    store: &Store,
    name: &str,
) -> Result<Revoked, Error> {
    let account = store.load(name)?;
    let revoked = match (&account.revoke_url, &account.refresh_token) {
        (Some(url), Some(refresh)) => {
            let mut form = vec![
                ("token", refresh.0.as_bytes()),
                ("token_type_hint", &b"refresh_token"[..]),
            ];
            token::client_fields(&account, &mut form);
            // §2.2: 200 is success, also for a token already invalid.
            match http().and_then(|http| http.post_form(url, &form)) {
                Ok(reply) if reply.status == 200 => Revoked::Everywhere,
                Ok(reply) => Revoked::Failed(Error::Denied(format!(
                    "{url}: revocation refused (HTTP {})",
                    reply.status
                ))),
                Err(e) => Revoked::Failed(e),
            }
        }
        _ => Revoked::HereOnly,
    };
    store.remove(name, &account)?;
    Ok(revoked)
}
