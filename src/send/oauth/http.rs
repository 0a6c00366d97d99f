//! HTTPS for OAuth: ureq on rustls with ring (our one TLS stack), the
//! system's roots or `--ca-file`, one timeout for every request, bodies
//! bounded by [`OAUTH_MAX_RESPONSE`], redirects never followed, and form
//! bodies built as [`Secret`]s because they carry tokens.
//!
//! Redirects: an authorization server answers token, device and revocation
//! requests directly (RFC 6749 §3.2, RFC 8628 §3.1); a 3xx there is a
//! misconfigured or hostile endpoint, and following it would send the form
//! (a refresh token, a client secret) somewhere else.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use super::error::Error;
use crate::limits::OAUTH_MAX_RESPONSE;
use crate::smtp::sasl::Secret;

/// How requests are made.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// `--ca-file`: PEM certificates trusted instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The limit on each whole request (connect, send, answer).
    pub timeout: Duration,
}

/// An HTTPS client for the authorization server.
#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
}

/// An answer: its status and its body (at most [`OAUTH_MAX_RESPONSE`]
/// bytes), redirects and 5xx already turned into errors.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status, 2xx or 4xx.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    url: String,
}

impl Reply {
    /// The answer `body` with `status` from `url` (for a caller that has
    /// the bytes from elsewhere: the fuzz targets).
    pub fn new(url: &str, status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body,
            url: url.to_owned(),
        }
    }

    /// The body as JSON of type `T`; anything else is a protocol error.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        // serde_json's message names a line and column and the expected
        // shape, never the input's content.
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Protocol(format!(
                "{}: malformed answer (HTTP {}): {e}",
                self.url, self.status
            ))
        })
    }
}

impl Http {
    /// A client for `opts`. Errors: a CA file without certificates, no
    /// system roots (configuration).
    pub fn new(opts: &HttpOptions) -> Result<Http, Error> {
        let roots = match &opts.ca_pem {
            Some(pem) => pem_roots(pem)?,
            None => native_roots()?,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(opts.timeout))
            .user_agent(concat!("mailpipe-smtp-oauth/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Http {
            agent: config.into(),
        })
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`, RFC 6749
    /// Appendix B) to `url`.
    pub fn post_form(&self, url: &str, form: &[(&str, &[u8])]) -> Result<Reply, Error> {
        let body = Secret::new(form_encode(form));
        let result = self
            .agent
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .send(body.as_bytes());
        finish(url, result)
    }

    /// GETs `url` (OpenID discovery).
    pub fn get(&self, url: &str) -> Result<Reply, Error> {
        let result = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .call();
        finish(url, result)
    }
}

fn finish(
    url: &str,
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, Error> {
    let mut response = result.map_err(|e| failure(url, e))?;
    let status = response.status().as_u16();
    if (300..400).contains(&status) {
        let to = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nowhere");
        return Err(Error::Protocol(format!(
            "{url}: redirect (HTTP {status}) to {to} not followed"
        )));
    }
    if status >= 500 {
        return Err(Error::Temporary(format!(
            "{url}: server error (HTTP {status})"
        )));
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(OAUTH_MAX_RESPONSE)
        .read_to_vec()
        .map_err(|e| failure(url, e))?;
    if !(200..300).contains(&status) && !(400..500).contains(&status) {
        return Err(Error::Protocol(format!(
            "{url}: unexpected HTTP status {status}"
        )));
    }
    Ok(Reply::new(url, status, body))
}

/// A failed request in words, with its exit code's kind.
fn failure(url: &str, e: ureq::Error) -> Error {
    match e {
        ureq::Error::BodyExceedsLimit(_) => Error::Protocol(format!(
            "{url}: answer longer than {OAUTH_MAX_RESPONSE} bytes"
        )),
        ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(_, _) => {
            Error::Protocol(format!("{url}: {e}"))
        }
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => Error::Denied(format!("{url}: TLS: {e}")),
        ureq::Error::RequireHttpsOnly(_) | ureq::Error::BadUri(_) => {
            Error::Config(format!("{url}: not an https URL"))
        }
        ureq::Error::Timeout(_) => Error::Temporary(format!("{url}: timed out")),
        e => Error::Temporary(format!("{url}: {}", crate::io::strip_os_error(&e))),
    }
}

/// Root certificates from `--ca-file`'s PEM.
fn pem_roots(pem: &[u8]) -> Result<Vec<Certificate<'static>>, Error> {
    let mut roots = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => roots.push(c),
            Ok(_) => {}
            Err(e) => return Err(Error::Config(format!("CA file: {e}"))),
        }
    }
    if roots.is_empty() {
        return Err(Error::Config(
            "no certificate found in the CA file (PEM \"BEGIN CERTIFICATE\" expected)".into(),
        ));
    }
    Ok(roots)
}

/// The system's roots, as for SMTP (`smtp::tls::client` says why not a
/// compiled-in list).
fn native_roots() -> Result<Vec<Certificate<'static>>, Error> {
    let found = rustls_native_certs::load_native_certs();
    let roots: Vec<_> = found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if roots.is_empty() {
        return Err(Error::Config(
            "no system root certificates found (see SSL_CERT_FILE, or use --ca-file)".into(),
        ));
    }
    Ok(roots)
}

/// `application/x-www-form-urlencoded` (URL Standard §5.2): unreserved
/// bytes as they are, space as `+`, every other byte `%XX`. Also the
/// query of an authorization request (RFC 6749 §4.1.1, Appendix B).
pub fn form_encode(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode_into(&mut out, name.as_bytes());
        out.push(b'=');
        encode_into(&mut out, value);
    }
    out
}

fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend([b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
}

/// The value of `name` in a form-encoded query (`a=1&b=2`), decoded; the
/// first one wins.
pub fn form_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 1 < bytes.len() => {
                match (hex(bytes[i + 1]), bytes.get(i + 2).and_then(|&b| hex(b))) {
                    (Some(h), Some(l)) => {
                        // Two hex digits: at most 0xFF.
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_all_but_unreserved() {
        let body = form_encode(&[("grant_type", b"refresh_token"), ("x y", b"a+b/=&\xff ~")]);
        assert_eq!(body, b"grant_type=refresh_token&x+y=a%2Bb%2F%3D%26%FF+%7E");
    }

    #[test]
    fn form_values_are_decoded() {
        let q = "code=4%2F0Ab+c&state=xyz&state=second&empty";
        assert_eq!(form_value(q, "code").as_deref(), Some("4/0Ab c"));
        assert_eq!(form_value(q, "state").as_deref(), Some("xyz"));
        assert_eq!(form_value(q, "empty").as_deref(), Some(""));
        assert_eq!(form_value(q, "none"), None);
        assert_eq!(form_value("a=%zz%4", "a").as_deref(), Some("%zz%4"));
    }
}
