//! Where a provider's endpoints are: the presets, OpenID discovery, and the
//! URLs given on the command line.

use serde::Deserialize;

use super::error::Error;
use super::http::Http;

/// The endpoints and scopes of one provider.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// The authorization endpoint (RFC 6749 §3.1), for the PKCE flow.
    pub auth_url: Option<String>,
    /// The token endpoint (RFC 6749 §3.2).
    pub token_url: Option<String>,
    /// The device authorization endpoint (RFC 8628 §3.1): when known, the
    /// device flow is used.
    pub device_url: Option<String>,
    /// The revocation endpoint (RFC 7009 §2).
    pub revoke_url: Option<String>,
    /// The scopes to ask for, space-separated (RFC 6749 §3.3).
    pub scope: String,
    /// Extra parameters of the authorization request.
    pub auth_params: Vec<(&'static str, &'static str)>,
    /// Whether refresh requests repeat the scopes.
    pub refresh_scope: bool,
}

/// The names of the presets.
pub const PRESETS: &[&str] = &["google", "microsoft"];

/// A preset's endpoints. `tenant` is Microsoft's directory (`common`,
/// `organizations`, a domain or a GUID; default `common`).
pub fn preset(name: &str, tenant: Option<&str>) -> Option<Endpoints> {
    match name {
        // Google's device flow does not grant the mail scope, so Google
        // signs in through the browser (PKCE). access_type=offline asks for
        // a refresh token, prompt=consent for one on every sign-in (else
        // only the first sign-in gets one).
        "google" => Some(Endpoints {
            auth_url: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
            token_url: Some("https://oauth2.googleapis.com/token".into()),
            device_url: None,
            revoke_url: Some("https://oauth2.googleapis.com/revoke".into()),
            scope: "https://mail.google.com/".into(),
            auth_params: vec![("access_type", "offline"), ("prompt", "consent")],
            refresh_scope: false,
        }),
        // Microsoft identity platform v2.0; offline_access grants the
        // refresh token. It has no revocation endpoint (RFC 7009).
        "microsoft" => {
            let base = format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0",
                tenant.unwrap_or("common")
            );
            Some(Endpoints {
                auth_url: Some(format!("{base}/authorize")),
                token_url: Some(format!("{base}/token")),
                device_url: Some(format!("{base}/devicecode")),
                revoke_url: None,
                scope: "https://outlook.office.com/SMTP.Send offline_access".into(),
                auth_params: Vec::new(),
                // Its refresh request lists scope as required (and without
                // offline_access no new refresh token comes back).
                refresh_scope: true,
            })
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

/// The endpoints an OpenID provider publishes (OpenID Connect Discovery
/// 1.0 §4) at `issuer`/.well-known/openid-configuration. The document
/// must name the same issuer (§4.3). Scopes are not published: the caller
/// gives them.
pub fn discover(http: &Http, issuer: &str) -> Result<Endpoints, Error> {
    let issuer = issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let reply = http.get(&url)?;
    if reply.status != 200 {
        return Err(Error::Config(format!(
            "{url}: no OpenID configuration (HTTP {})",
            reply.status
        )));
    }
    let found: Discovery = reply.json()?;
    if found.issuer.trim_end_matches('/') != issuer {
        return Err(Error::Protocol(format!(
            "{url}: names another issuer ({})",
            found.issuer
        )));
    }
    Ok(Endpoints {
        auth_url: found.authorization_endpoint,
        token_url: found.token_endpoint,
        device_url: found.device_authorization_endpoint,
        revoke_url: found.revocation_endpoint,
        scope: String::new(),
        auth_params: Vec::new(),
        refresh_scope: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_name_their_endpoints_and_flows() {
        let ms = preset("microsoft", Some("example.onmicrosoft.com")).unwrap();
        assert_eq!(
            ms.device_url.as_deref(),
            Some(
                "https://login.microsoftonline.com/example.onmicrosoft.com/oauth2/v2.0/devicecode"
            )
        );
        assert!(ms.scope.split(' ').any(|s| s == "offline_access"));
        assert!(ms.refresh_scope && ms.revoke_url.is_none());
        let common = preset("microsoft", None).unwrap();
        assert!(common.token_url.unwrap().contains("/common/"));
        // Google: no device flow for the mail scope, so the browser (PKCE).
        let g = preset("google", Some("ignored")).unwrap();
        assert!(g.device_url.is_none() && g.auth_url.is_some());
        assert_eq!(g.scope, "https://mail.google.com/");
        assert!(g.auth_params.contains(&("access_type", "offline")));
        assert!(preset("yahoo", None).is_none());
        for name in PRESETS {
            assert!(preset(name, None).is_some(), "{name}");
        }
    }
}
