//! The authorization code grant with PKCE (RFC 7636) for a native
//! application (RFC 8252): the browser signs in at the authorization
//! endpoint, which redirects it to a one-shot listener on 127.0.0.1
//! (§7.3), or the person pastes the redirected URL (headless machines).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::Error;
use super::http::{form_encode, form_value};
use super::secret::Token;
use crate::limits::OAUTH_MAX_REDIRECT;

/// A PKCE pair (RFC 7636 §4.1, §4.2: S256).
#[derive(Debug)]
pub struct Pkce {
    /// `code_verifier`: 32 random bytes, base64url (43 characters).
    pub verifier: Token,
    /// `code_challenge`: BASE64URL(SHA256(verifier)).
    pub challenge: String,
}

fn random(len: usize) -> Result<Vec<u8>, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0; len];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Config("no system randomness".into()))?;
    Ok(bytes)
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Result<Pkce, Error> {
        let verifier = URL_SAFE_NO_PAD.encode(random(32)?);
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        Ok(Pkce {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier: Token::from(verifier),
        })
    }
}

/// A fresh `state` (RFC 6749 §10.12): the answer must carry it back.
pub fn new_state() -> Result<String, Error> {
    Ok(URL_SAFE_NO_PAD.encode(random(16)?))
}

/// What goes into an authorization request (RFC 6749 §4.1.1).
#[derive(Debug)]
pub struct Request<'a> {
    /// The authorization endpoint.
    pub auth_url: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// Where the browser is sent back.
    pub redirect_uri: &'a str,
    /// The scopes.
    pub scope: &'a str,
    /// The `state`.
    pub state: &'a str,
    /// The PKCE challenge.
    pub challenge: &'a str,
    /// The account, as a hint to the sign-in page (`login_hint`).
    pub user: Option<&'a str>,
    /// The provider's own parameters.
    pub extra: &'a [(&'static str, &'static str)],
}

impl Request<'_> {
    /// The URL to open in a browser.
    pub fn url(&self) -> String {
        let mut query = vec![
            ("response_type", &b"code"[..]),
            ("client_id", self.client_id.as_bytes()),
            ("redirect_uri", self.redirect_uri.as_bytes()),
            ("scope", self.scope.as_bytes()),
            ("state", self.state.as_bytes()),
            ("code_challenge", self.challenge.as_bytes()),
            ("code_challenge_method", b"S256"),
        ];
        if let Some(user) = self.user {
            query.push(("login_hint", user.as_bytes()));
        }
        query.extend(self.extra.iter().map(|(k, v)| (*k, v.as_bytes())));
        let sep = if self.auth_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{sep}{}",
            self.auth_url,
            String::from_utf8_lossy(&form_encode(&query))
        )
    }
}

/// The code from the query of the redirect (RFC 6749 §4.1.2), its `state`
/// checked; an error answer (§4.1.2.1) is a refusal.
pub fn code_from_query(query: &str, state: &str) -> Result<Token, Error> {
    if form_value(query, "state").as_deref() != Some(state) {
        return Err(Error::Denied(
            "the answer's state does not match this sign-in (RFC 6749 §10.12)".into(),
        ));
    }
    if let Some(error) = form_value(query, "error") {
        let why = form_value(query, "error_description")
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(Error::Denied(format!("sign-in refused: {error}{why}")));
    }
    match form_value(query, "code") {
        Some(code) if !code.is_empty() => Ok(Token::from(code)),
        _ => Err(Error::Protocol("the redirect carries no code".into())),
    }
}

/// The query of a URL or request target: what follows `?`, without a
/// fragment.
fn query_of(target: &str) -> Option<&str> {
    let (_, query) = target.split_once('?')?;
    Some(query.split('#').next().unwrap_or(query))
}

/// The code from a redirected URL pasted by the person (one line of
/// `input`), for `--no-browser`.
pub fn code_from_paste(input: &mut dyn BufRead, state: &str) -> Result<Token, Error> {
    let mut line = Vec::new();
    let mut input = input;
    crate::io::lines::read_line(&mut input, &mut line, OAUTH_MAX_REDIRECT)
        .map_err(Error::io("standard input"))?;
    let line = String::from_utf8_lossy(&line).trim().to_owned();
    let query = query_of(&line).ok_or_else(|| {
        Error::Config("paste the whole address the browser was sent to (with ?code=…)".into())
    })?;
    code_from_query(query, state)
}

/// The loopback listener (RFC 8252 §7.3): 127.0.0.1 on a port the system
/// picks; it answers the one request that carries the authorization
/// response and closes.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    /// `http://127.0.0.1:PORT/`.
    pub redirect_uri: String,
}

/// The page the browser shows after the redirect.
const DONE: &str = "Signed in: smtp-oauth has the code. You may close this window.\n";

impl Listener {
    /// Binds 127.0.0.1 on a free port.
    pub fn bind() -> Result<Listener, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(Error::io("127.0.0.1"))?;
        let port = listener
            .local_addr()
            .map_err(Error::io("127.0.0.1"))?
            .port();
        Ok(Listener {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}/"),
        })
    }

    /// Waits for the browser's redirect and returns its code. Connections
    /// that send no authorization response (a favicon, a browser's
    /// speculative connection, silent for `patience`) are answered 404 or
    /// dropped, and the wait goes on.
    pub fn wait(self, state: &str, patience: Duration) -> Result<Token, Error> {
        loop {
            let (stream, _) = self.listener.accept().map_err(Error::io("127.0.0.1"))?;
            let Some(target) = request_target(&stream, patience) else {
                continue;
            };
            let query = query_of(&target).unwrap_or_default();
            if form_value(query, "code").is_none() && form_value(query, "error").is_none() {
                respond(&stream, "404 Not Found", "Not the sign-in answer.\n");
                continue;
            }
            let result = code_from_query(query, state);
            match &result {
                Ok(_) => respond(&stream, "200 OK", DONE),
                Err(e) => respond(&stream, "400 Bad Request", &format!("{e}\n")),
            }
            return result;
        }
    }
}

/// The request target of the one request on `stream` (`GET /?code=…
/// HTTP/1.1`), its head read whole (bounded); `None` for anything else.
fn request_target(stream: &TcpStream, patience: Duration) -> Option<String> {
    stream.set_read_timeout(Some(patience)).ok()?;
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    crate::io::lines::append_line(&mut reader, &mut head, OAUTH_MAX_REDIRECT).ok()?;
    let request_line = String::from_utf8_lossy(&head).into_owned();
    // The rest of the head, so that closing does not reset the connection
    // before the browser reads the answer.
    loop {
        let start = head.len();
        let n = crate::io::lines::append_line(&mut reader, &mut head, OAUTH_MAX_REDIRECT).ok()?;
        if n == 0 || crate::io::lines::trim_eol(&head[start..]).is_empty() {
            break;
        }
    }
    let mut words = request_line.split_whitespace();
    (words.next()? == "GET").then_some(())?;
    words.next().map(str::to_owned)
}

fn respond(mut stream: &TcpStream, status: &str, text: &str) {
    // Best effort: the code is ours whether or not the browser shows this.
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_is_s256_of_the_verifier() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(digest.as_ref()),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.as_str().len(), 43);
        let digest = ring::digest::digest(&ring::digest::SHA256, p.verifier.as_str().as_bytes());
        assert_eq!(p.challenge, URL_SAFE_NO_PAD.encode(digest.as_ref()));
        assert_ne!(new_state().unwrap(), new_state().unwrap());
    }

    #[test]
    fn the_answer_is_checked() {
        assert_eq!(
            code_from_query("code=c1&state=s", "s").unwrap().as_str(),
            "c1"
        );
        assert!(matches!(
            code_from_query("code=c1&state=t", "s"),
            Err(Error::Denied(_))
        ));
        assert!(matches!(
            code_from_query("code=c1", "s"),
            Err(Error::Denied(_))
        ));
        assert!(matches!(
            code_from_query("error=access_denied&state=s", "s"),
            Err(Error::Denied(_))
        ));
        assert!(matches!(
            code_from_query("state=s", "s"),
            Err(Error::Protocol(_))
        ));
        let mut pasted = &b"http://127.0.0.1:5/?state=s&code=4%2Fx#frag\n"[..];
        assert_eq!(code_from_paste(&mut pasted, "s").unwrap().as_str(), "4/x");
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let url = Request {
            auth_url: "https://a.example/auth",
            client_id: "id 1",
            redirect_uri: "http://127.0.0.1:9/",
            scope: "a b",
            state: "st",
            challenge: "ch",
            user: Some("me@example.org"),
            extra: &[("prompt", "consent")],
        }
        .url();
        assert_eq!(
            url,
            "https://a.example/auth?response_type=code&client_id=id+1&\
             redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2F&scope=a+b&state=st&code_challenge=ch&\
             code_challenge_method=S256&login_hint=me%40example.org&prompt=consent"
        );
    }
}
