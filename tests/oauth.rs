//! smtp-oauth against a mock authorization server: HTTPS on loopback with a
//! test CA made by rcgen, answering as each test scripts it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::*;

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub body: String,
}

impl Req {
    /// A form field of the body, decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        mailpipe::send::oauth::http::form_value(&self.body, name)
    }
}

/// What the mock answers.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Waits this long before answering (a slow server).
    pub delay: Duration,
}

impl Resp {
    pub fn json(status: u16, body: &str) -> Resp {
        Resp {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }
}

type Handler = dyn Fn(&Req) -> Resp + Send + Sync;

/// The test CA and a server certificate for 127.0.0.1 and localhost.
pub struct Pki {
    pub ca_file: PathBuf,
    cert_pem: String,
    key_pem: String,
    _dir: tempfile::TempDir,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mailpipe test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("leaf");
    let dir = tempfile::tempdir().expect("tempdir");
    Pki {
        ca_file: write_file(dir.path(), "ca.pem", ca.pem().as_bytes()),
        cert_pem: leaf.pem(),
        key_pem: key.serialize_pem(),
        _dir: dir,
    }
}

/// The mock authorization server: HTTPS on a free loopback port, each
/// connection in its own thread, every request recorded.
pub struct Mock {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Req>>>,
}

impl Mock {
    pub fn start(pki: &Pki, handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Mock {
        let config =
            mailpipe::smtp::tls::server_config(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
                .expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, handler, seen) =
                    (Arc::clone(&config), Arc::clone(&handler), Arc::clone(&seen));
                std::thread::spawn(move || serve(stream, config, &*handler, &seen));
            }
        });
        Mock { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    handler: &Handler,
    seen: &Mutex<Vec<Req>>,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
    let mut line = String::new();
    if tls.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0;
    loop {
        let mut field = String::new();
        if tls.read_line(&mut field).unwrap_or(0) == 0 || field.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = field.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if tls.read_exact(&mut body).is_err() {
        return;
    }
    let req = Req {
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    seen.lock().expect("lock").push(req.clone());
    let resp = handler(&req);
    std::thread::sleep(resp.delay);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        resp.body.len()
    );
    for (name, value) in &resp.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let tls = tls.get_mut();
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(&resp.body);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// A private state directory (XDG_STATE_HOME) for one test.
pub struct State {
    pub dir: tempfile::TempDir,
}

impl State {
    pub fn new() -> State {
        State {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn account_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("mailpipe/oauth").join(name)
    }

    /// Stores an account as `smtp-oauth login` would have.
    pub fn put(&self, name: &str, json: &str) {
        let path = self.account_path(name);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path.parent().expect("parent"))
            .expect("mkdir");
        std::fs::write(&path, json).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    pub fn read(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.account_path(name)).expect("read"))
            .expect("json")
    }

    /// `smtp-oauth ARGS` with this state, trusting the test CA.
    pub fn cmd(&self, pki: &Pki, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("smtp-oauth"));
        cmd.env("XDG_STATE_HOME", self.dir.path())
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .arg("--ca-file")
            .arg(&pki.ca_file)
            .args(args);
        cmd
    }

    pub fn run(&self, pki: &Pki, args: &[&str]) -> Run {
        run_cmd_within(self.cmd(pki, args), Duration::from_secs(60), b"")
    }
}

/// An account whose access token has expired, refreshed at `mock`.
fn expired(mock: &Mock) -> String {
    format!(
        r#"{{"provider":"custom","client_id":"cid","client_secret":"csecret-XYZ",
            "token_url":"{}","scope":"mail","refresh_token":"refresh-1-SECRET",
            "access_token":"old-access-SECRET","expires_at":1}}"#,
        mock.url("/token")
    )
}

/// No secret of the tests appears in `run`'s output but `allowed` on stdout.
fn no_secrets(run: &Run, allowed: &str) {
    let stdout = run.stdout_str();
    for secret in ["SECRET", "csecret"] {
        assert!(!run.stderr.contains(secret), "stderr: {}", run.stderr);
        assert!(
            !stdout.replace(allowed, "").contains(secret),
            "stdout: {stdout}"
        );
    }
}

#[test]
fn oauth_refresh_rotates_and_caches() {
    let pki = pki();
    let mock = Mock::start(&pki, |req| {
        assert_eq!(req.method, "POST");
        match req.form("refresh_token").as_deref() {
            Some("refresh-1-SECRET") => Resp::json(
                200,
                r#"{"access_token":"access-2-SECRET","token_type":"Bearer","expires_in":3600,
                    "refresh_token":"refresh-2-SECRET"}"#,
            ),
            _ => Resp::json(400, r#"{"error":"invalid_grant"}"#),
        }
    });
    let state = State::new();
    state.put("work", &expired(&mock));
    let run = state.run(&pki, &["token", "work"]);
    run.code(0);
    assert_eq!(run.stdout_str(), "access-2-SECRET\n");
    no_secrets(&run, "access-2-SECRET");
    let req = &mock.requests()[0];
    assert_eq!(req.path, "/token");
    assert_eq!(req.form("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(req.form("client_id").as_deref(), Some("cid"));
    assert_eq!(req.form("client_secret").as_deref(), Some("csecret-XYZ"));
    // RFC 6749 §6: the scope is optional, left out unless the account
    // says (Microsoft).
    assert_eq!(req.form("scope"), None);
    // Rotation: the file now holds the new refresh token, still private.
    let stored = state.read("work");
    assert_eq!(stored["refresh_token"], "refresh-2-SECRET");
    assert_eq!(stored["access_token"], "access-2-SECRET");
    let mode = std::fs::metadata(state.account_path("work"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Valid for an hour: the next call needs no server.
    let again = state.run(&pki, &["token", "work"]);
    again.code(0);
    assert_eq!(again.stdout_str(), "access-2-SECRET\n");
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn oauth_expires_in_as_a_string_and_no_rotation() {
    let pki = pki();
    let mock = Mock::start(&pki, |_| {
        Resp::json(
            200,
            r#"{"access_token":"access-3-SECRET","expires_in":"3599"}"#,
        )
    });
    let state = State::new();
    state.put(
        "work",
        &expired(&mock).replace(
            r#""scope":"mail","#,
            r#""scope":"mail","refresh_scope":true,"#,
        ),
    );
    let run = state.run(&pki, &["token", "work"]);
    run.code(0);
    assert_eq!(run.stdout_str(), "access-3-SECRET\n");
    assert_eq!(mock.requests()[0].form("scope").as_deref(), Some("mail"));
    let stored = state.read("work");
    // Not rotated: the old refresh token stays.
    assert_eq!(stored["refresh_token"], "refresh-1-SECRET");
    let left = stored["expires_at"].as_u64().expect("expires_at")
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
    assert!((3000..=3599).contains(&left), "{left}");
    // A token with less than a minute left is refreshed.
    let mut soon = stored;
    soon["expires_at"] = serde_json::json!(soon["expires_at"].as_u64().expect("n") - 3560);
    state.put("work", &soon.to_string());
    state.run(&pki, &["token", "work"]).code(0);
    assert_eq!(mock.requests().len(), 2);
}

/// One failure case: what the server does, the exit code, words expected.
fn failing(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static, code: i32, words: &str) {
    let pki = pki();
    let mock = Mock::start(&pki, handler);
    let state = State::new();
    state.put("work", &expired(&mock));
    let before = std::fs::read(state.account_path("work")).expect("read");
    let run = state.run(&pki, &["--timeout", "2", "token", "work"]);
    run.code(code).one_line_error("smtp-oauth");
    assert!(run.stderr.contains(words), "{words:?} in {}", run.stderr);
    assert!(run.stdout.is_empty());
    no_secrets(&run, "");
    // Nothing was lost: the stored account is as it was.
    assert_eq!(
        std::fs::read(state.account_path("work")).expect("read"),
        before
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "one request, no retry, no redirect"
    );
}

#[test]
fn oauth_invalid_grant_says_sign_in_again() {
    failing(
        |_| {
            Resp::json(
                400,
                r#"{"error":"invalid_grant","error_description":"expired"}"#,
            )
        },
        77,
        "smtp-oauth: work: sign in again: smtp-oauth login work",
    );
}

#[test]
fn oauth_server_error_is_temporary() {
    failing(|_| Resp::json(500, "oops"), 75, "HTTP 500");
}

#[test]
fn oauth_slow_server_times_out() {
    failing(
        |_| Resp {
            delay: Duration::from_secs(6),
            ..Resp::json(200, r#"{"access_token":"late-SECRET","expires_in":3600}"#)
        },
        75,
        "timed out",
    );
}

#[test]
fn oauth_malformed_json_is_a_protocol_error() {
    failing(|_| Resp::json(200, r#"{"access_token": "#), 76, "malformed");
    failing(
        |_| Resp::json(200, r#"{"token_type":"Bearer"}"#),
        76,
        "malformed",
    );
    failing(
        |_| Resp::json(200, r#"{"access_token":"a","expires_in":"soon"}"#),
        76,
        "expires_in",
    );
}

#[test]
fn oauth_oversized_answer_is_a_protocol_error() {
    let big = format!(
        r#"{{"access_token":"{}","expires_in":3600}}"#,
        "a".repeat(100_000)
    );
    failing(move |_| Resp::json(200, &big), 76, "longer than");
}

#[test]
fn oauth_redirect_is_not_followed() {
    failing(
        |req| {
            assert_eq!(req.path, "/token", "the redirect was followed");
            Resp {
                headers: vec![("Location".into(), "/elsewhere".into())],
                ..Resp::json(307, "")
            }
        },
        76,
        "not followed",
    );
}

#[test]
fn oauth_store_readable_by_others_is_refused() {
    let pki = pki();
    let state = State::new();
    state.put(
        "work",
        r#"{"provider":"custom","client_id":"c","token_url":"https://127.0.0.1:1/"}"#,
    );
    std::fs::set_permissions(
        state.account_path("work"),
        std::fs::Permissions::from_mode(0o640),
    )
    .expect("chmod");
    state
        .run(&pki, &["token", "work"])
        .code(78)
        .one_line_error("smtp-oauth");
    let list = state.run(&pki, &["list"]);
    list.code(78).one_line_error("smtp-oauth");
    assert!(list.stdout.is_empty(), "{}", list.stdout_str());
    let run = state.run(&pki, &["token", "../work"]);
    run.code(78).one_line_error("smtp-oauth");
    assert!(run.stderr.contains("not an account name"), "{}", run.stderr);
    let run = state.run(&pki, &["token", "nobody"]);
    run.code(78);
    assert!(
        run.stderr.contains("smtp-oauth login nobody"),
        "{}",
        run.stderr
    );
}

/// The provider's side of a sign-in: the PKCE challenge seen at /auth,
/// checked at /token against the verifier (RFC 7636 §4.6).
#[derive(Default)]
struct Provider {
    challenge: Option<String>,
    polls: u32,
}

fn s256(verifier: &str) -> String {
    use base64::Engine;
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A mock provider with an authorization endpoint (/auth, redirecting to
/// the redirect_uri with a code), a device endpoint (/device: pending,
/// slow_down, then tokens) and a token endpoint (/token).
fn provider(pki: &Pki) -> Mock {
    let seen = Arc::new(Mutex::new(Provider::default()));
    // Its own address, for its OpenID discovery document.
    let base = Arc::new(Mutex::new(String::new()));
    let own = Arc::clone(&base);
    let mock = Mock::start(pki, move |req| {
        let mut p = seen.lock().expect("lock");
        let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
        let q = |name: &str| mailpipe::send::oauth::http::form_value(query, name);
        let granted = Resp::json(
            200,
            r#"{"access_token":"access-L-SECRET","expires_in":3600,"refresh_token":"refresh-L-SECRET"}"#,
        );
        match req.path.split('?').next().unwrap_or("") {
            "/auth" => {
                assert_eq!(q("response_type").as_deref(), Some("code"));
                assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
                assert_eq!(q("client_id").as_deref(), Some("cid"));
                assert_eq!(q("scope").as_deref(), Some("mail offline"));
                assert_eq!(q("login_hint").as_deref(), Some("me@example.org"));
                p.challenge = q("code_challenge");
                let redirect = q("redirect_uri").expect("redirect_uri");
                assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
                let state = q("state").expect("state");
                Resp {
                    headers: vec![(
                        "Location".into(),
                        format!("{redirect}?code=code-SECRET&state={state}"),
                    )],
                    ..Resp::json(302, "")
                }
            }
            "/device" => {
                assert_eq!(req.form("client_id").as_deref(), Some("cid"));
                Resp::json(
                    200,
                    r#"{"device_code":"device-SECRET","user_code":"WDJB-MJHT",
                        "verification_uri":"https://example.org/device","expires_in":"900",
                        "interval":0}"#,
                )
            }
            "/token" => match req.form("grant_type").as_deref() {
                Some("authorization_code") => {
                    assert_eq!(req.form("code").as_deref(), Some("code-SECRET"));
                    let verifier = req.form("code_verifier").expect("code_verifier");
                    assert_eq!(Some(s256(&verifier)), p.challenge, "PKCE verifier");
                    assert!(req.form("redirect_uri").is_some());
                    granted
                }
                Some("urn:ietf:params:oauth:grant-type:device_code") => {
                    assert_eq!(req.form("device_code").as_deref(), Some("device-SECRET"));
                    p.polls += 1;
                    match p.polls {
                        1 => Resp::json(400, r#"{"error":"authorization_pending"}"#),
                        2 => Resp::json(400, r#"{"error":"slow_down"}"#),
                        _ => granted,
                    }
                }
                Some("refresh_token") => {
                    assert_eq!(
                        req.form("refresh_token").as_deref(),
                        Some("refresh-1-SECRET")
                    );
                    granted
                }
                other => panic!("grant {other:?}"),
            },
            "/revoke" => {
                assert_eq!(req.form("token").as_deref(), Some("refresh-L-SECRET"));
                Resp::json(200, "")
            }
            "/.well-known/openid-configuration" => {
                let b = own.lock().expect("lock").clone();
                Resp::json(
                    200,
                    &format!(
                        r#"{{"issuer":"{b}","authorization_endpoint":"{b}/auth",
                            "token_endpoint":"{b}/token","revocation_endpoint":"{b}/revoke"}}"#
                    ),
                )
            }
            other => panic!("path {other}"),
        }
    });
    *base.lock().expect("lock") = mock.url("");
    mock
}

fn login_args<'a>(mock: &'a [String; 3], flow: &'a str) -> Vec<&'a str> {
    vec![
        "login",
        "work",
        "--client-id",
        "cid",
        "--user",
        "me@example.org",
        "--scope",
        "mail offline",
        "--token-url",
        &mock[0],
        "--revoke-url",
        &mock[2],
        flow,
        &mock[1],
    ]
}

fn urls(mock: &Mock, second: &str) -> [String; 3] {
    [mock.url("/token"), mock.url(second), mock.url("/revoke")]
}

/// After a login: the account is stored privately and `token` works
/// without the network; no secret was printed.
fn signed_in(state: &State, pki: &Pki, run: &Run) {
    run.code(0);
    no_secrets(run, "");
    let stored = state.read("work");
    assert_eq!(stored["refresh_token"], "refresh-L-SECRET");
    let meta = std::fs::metadata(state.account_path("work")).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata(state.account_path("work").parent().expect("dir")).expect("meta");
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    let token = state.run(pki, &["token", "work"]);
    token.code(0);
    assert_eq!(token.stdout_str(), "access-L-SECRET\n");
}

#[test]
fn oauth_login_device_flow_with_slow_down() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let urls = urls(&mock, "/device");
    let run = state.run(&pki, &login_args(&urls, "--device-url"));
    assert!(
        run.stderr
            .contains("go to https://example.org/device and enter the code WDJB-MJHT"),
        "{}",
        run.stderr
    );
    signed_in(&state, &pki, &run);
    let polls = mock
        .requests()
        .iter()
        .filter(|r| r.form("device_code").is_some())
        .count();
    assert_eq!(polls, 3, "pending, slow_down, granted");
}

/// A test "browser": follows redirects, trusts the test CA.
fn browser(pki: &Pki) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(browser_tls(pki))
        .proxy(None)
        .build()
        .into()
}

/// `smtp-oauth login` running, the sign-in address read from its stderr.
struct Signing {
    child: std::process::Child,
    stderr: BufReader<std::process::ChildStderr>,
    shown: String,
    url: String,
}

impl Signing {
    fn start(mut cmd: Command) -> Signing {
        cmd.env_remove("BROWSER")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut shown = String::new();
        let url = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).expect("read") > 0,
                "no URL: {shown}"
            );
            shown.push_str(&line);
            if line.starts_with("https://") {
                break line.trim().to_owned();
            }
        };
        Signing {
            child,
            stderr,
            shown,
            url,
        }
    }

    /// A query parameter of the sign-in address.
    fn param(&self, name: &str) -> String {
        let query = self.url.split_once('?').expect("query").1;
        mailpipe::send::oauth::http::form_value(query, name).expect(name)
    }

    /// Types `text` and a newline on its stdin, then closes it.
    fn paste(&mut self, text: &str) {
        let mut stdin = self.child.stdin.take().expect("stdin");
        writeln!(stdin, "{text}").expect("paste");
    }

    /// Waits for the end (killed and failed after a minute: a hung
    /// listener must fail the test, not hang it).
    fn finish(mut self) -> Run {
        drop(self.child.stdin.take());
        let mut stderr = self.stderr;
        let err = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
            rest
        });
        let mut stdout = self.child.stdout.take().expect("stdout");
        let out = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stdout.read_to_end(&mut v);
            v
        });
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("smtp-oauth login hung: {}", self.shown);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.shown.push_str(&err.join().expect("stderr"));
        Run {
            code: status.code().expect("code"),
            stdout: out.join().expect("stdout"),
            stderr: self.shown,
        }
    }
}

/// `smtp-oauth login` of the browser flow at the mock, waiting.
fn pkce_login(pki: &Pki, mock: &Mock, state: &State) -> Signing {
    let urls = urls(mock, "/auth");
    Signing::start(state.cmd(pki, &login_args(&urls, "--auth-url")))
}

/// The test browser's answer at `url`, whatever its status.
fn visit(pki: &Pki, url: &str) -> ureq::http::Response<ureq::Body> {
    browser(pki)
        .get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .expect(url)
}

#[test]
fn oauth_login_pkce_through_the_loopback_listener() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let signing = pkce_login(&pki, &mock, &state);
    // Another request first (a browser's favicon): 404, and the listener
    // goes on waiting for the answer.
    let redirect = signing.param("redirect_uri");
    let other = visit(&pki, &format!("{redirect}favicon.ico"));
    assert_eq!(other.status(), 404);
    let mut page = browser(&pki).get(&signing.url).call().expect("browser");
    assert_eq!(page.status(), 200);
    let text = page.body_mut().read_to_string().expect("page");
    assert!(text.contains("Signed in"), "{text}");
    let run = signing.finish();
    signed_in(&state, &pki, &run);
    assert!(run.stderr.contains("work: signed in"), "{}", run.stderr);
}

#[test]
fn oauth_login_by_openid_discovery() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let issuer = mock.url("");
    let signing = Signing::start(state.cmd(
        &pki,
        &[
            "login",
            "work",
            "--issuer",
            &issuer,
            "--client-id",
            "cid",
            "--user",
            "me@example.org",
            "--scope",
            "mail offline",
        ],
    ));
    assert!(signing.url.starts_with(&format!("{issuer}/auth?")));
    let page = browser(&pki).get(&signing.url).call().expect("browser");
    assert_eq!(page.status(), 200);
    let run = signing.finish();
    signed_in(&state, &pki, &run);
    // The discovered revocation endpoint was kept for logout.
    assert_eq!(state.read("work")["revoke_url"], format!("{issuer}/revoke"));
}

#[test]
fn oauth_login_pkce_refuses_another_state() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let signing = pkce_login(&pki, &mock, &state);
    // A forged answer (RFC 6749 §10.12): its state is not this sign-in's.
    let redirect = signing.param("redirect_uri");
    let forged = visit(&pki, &format!("{redirect}?code=forged&state=other"));
    assert_eq!(forged.status(), 400);
    let run = signing.finish();
    run.code(77);
    assert!(
        run.stderr.contains("state does not match"),
        "{}",
        run.stderr
    );
    assert!(!state.account_path("work").exists());
    assert!(
        !mock.requests().iter().any(|r| r.path == "/token"),
        "the forged code was not exchanged"
    );
}

#[test]
fn oauth_login_pkce_pasted_then_list_and_revoke() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let urls = urls(&mock, "/auth");
    let mut args = login_args(&urls, "--auth-url");
    args.push("--no-browser");
    let mut signing = Signing::start(state.cmd(&pki, &args));
    // The person opens the URL elsewhere; the browser ends at the
    // redirect the provider answers, which does not load.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .tls_config(browser_tls(&pki))
        .proxy(None)
        .build()
        .into();
    let answer = agent.get(&signing.url).call().expect("auth");
    assert_eq!(answer.status(), 302);
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    signing.paste(&location);
    let run = signing.finish();
    signed_in(&state, &pki, &run);

    let list = state.run(&pki, &["list"]);
    list.code(0);
    let line = list.stdout_str();
    assert!(
        line.starts_with("work\tme@example.org\tcustom\taccess token until "),
        "{line}"
    );
    no_secrets(&list, "");

    let revoke = state.run(&pki, &["logout", "work"]);
    revoke.code(0);
    assert!(
        revoke.stderr.contains("work: revoked and removed"),
        "{}",
        revoke.stderr
    );
    assert!(!state.account_path("work").exists());
    assert!(mock.requests().iter().any(|r| r.path == "/revoke"));
    assert_eq!(state.run(&pki, &["list"]).stdout_str(), "");
}

fn browser_tls(pki: &Pki) -> ureq::tls::TlsConfig {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let pem = std::fs::read(&pki.ca_file).expect("ca");
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(vec![
            Certificate::from_pem(&pem).expect("pem"),
        ])))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build()
}

/// A minimal SMTP server on loopback that offers AUTH XOAUTH2 (no TLS:
/// smtp-send is told --insecure-auth) and records each AUTH's decoded
/// initial response and each message's DATA.
struct FakeSmtp {
    port: u16,
    auths: Arc<Mutex<Vec<String>>>,
    messages: Arc<Mutex<Vec<String>>>,
}

impl FakeSmtp {
    fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let auths = Arc::new(Mutex::new(Vec::new()));
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (a, m) = (Arc::clone(&auths), Arc::clone(&messages));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (a, m) = (Arc::clone(&a), Arc::clone(&m));
                std::thread::spawn(move || smtp_session(stream, &a, &m));
            }
        });
        FakeSmtp {
            port,
            auths,
            messages,
        }
    }
}

fn smtp_session(stream: TcpStream, auths: &Mutex<Vec<String>>, messages: &Mutex<Vec<String>>) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = stream.try_clone().expect("clone");
    let mut input = BufReader::new(stream);
    let mut say = |text: &str| out.write_all(text.as_bytes()).is_ok();
    say("220 fake ESMTP\r\n");
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") {
            say("250-fake\r\n250 AUTH XOAUTH2 OAUTHBEARER\r\n")
        } else if upper.starts_with("AUTH ") {
            let initial = line.split_whitespace().nth(2).unwrap_or("").to_owned();
            let decoded =
                String::from_utf8_lossy(&b64.decode(initial).unwrap_or_default()).into_owned();
            let good = decoded.contains("auth=Bearer access-L-SECRET\u{1}");
            auths.lock().expect("lock").push(decoded);
            if good {
                say("235 2.7.0 accepted\r\n")
            } else {
                // RFC 7628 §3.2.2: the error challenge, then 535.
                say("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
                line.clear();
                let _ = input.read_line(&mut line);
                say("535 5.7.8 bad token\r\n")
            }
        } else if upper.starts_with("DATA") {
            say("354 go\r\n");
            let mut data = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            messages.lock().expect("lock").push(data);
            say("250 2.0.0 stored\r\n")
        } else if upper.starts_with("QUIT") {
            say("221 bye\r\n");
            return;
        } else {
            say("250 ok\r\n")
        };
        if !ok {
            return;
        }
    }
}

/// smtp-send with `config` as its config file, this test's state.
fn smtp_send(state: &State, pki: &Pki, config: &str) -> Command {
    let file = write_file(state.dir.path(), "config.toml", config.as_bytes());
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.env("XDG_STATE_HOME", state.dir.path())
        // The token endpoint is the mock: trust its CA as the system's.
        .env("SSL_CERT_FILE", &pki.ca_file)
        .env_remove("SMTP_PASSWORD")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .arg("--config")
        .arg(&file);
    cmd
}

/// smtp-send with `oauth = "work"` in its config file, this test's state.
fn send_with_oauth(state: &State, pki: &Pki, smtp: &FakeSmtp, auth: &str) -> Run {
    let config = format!(
        "[default]\nserver = \"smtp://127.0.0.1:{}\"\nuser = \"me@example.org\"\n\
         oauth = \"work\"\ninsecure_auth = true\n{auth}",
        smtp.port
    );
    let mut cmd = smtp_send(state, pki, &config);
    cmd.args(["-v", "-f", "me@example.org", "you@example.org"]);
    run_cmd_within(
        cmd,
        Duration::from_secs(60),
        b"Subject: hi\r\nFrom: me@example.org\r\n\r\nhello\r\n",
    )
}

#[test]
fn oauth_smtp_send_refreshes_through_the_library() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    // Expired: smtp-send must refresh it (no smtp-oauth process).
    state.put(
        "work",
        &format!(
            r#"{{"provider":"custom","client_id":"cid","token_url":"{}",
                "refresh_token":"refresh-1-SECRET","access_token":"old-SECRET","expires_at":1}}"#,
            mock.url("/token")
        ),
    );
    let smtp = FakeSmtp::start();
    let run = send_with_oauth(&state, &pki, &smtp, "");
    run.code(0);
    no_secrets(&run, "");
    let auths = smtp.auths.lock().expect("lock").clone();
    assert_eq!(
        auths,
        ["user=me@example.org\u{1}auth=Bearer access-L-SECRET\u{1}\u{1}"],
        "XOAUTH2 implied"
    );
    assert_eq!(smtp.messages.lock().expect("lock").len(), 1);
    // The -v transcript shows the AUTH, not its base64 (which grep for
    // SECRET would miss).
    use base64::Engine;
    let wire = base64::engine::general_purpose::STANDARD.encode(&auths[0]);
    assert!(run.stderr.contains("AUTH XOAUTH2"), "{}", run.stderr);
    assert!(!run.stderr.contains(&wire[..20]), "{}", run.stderr);
    assert_eq!(state.read("work")["refresh_token"], "refresh-L-SECRET");
    // OAUTHBEARER when auth says so (RFC 7628 §3.1 GS2 header first).
    let run = send_with_oauth(&state, &pki, &smtp, "auth = \"OAUTHBEARER\"\n");
    run.code(0);
    let last = smtp
        .auths
        .lock()
        .expect("lock")
        .last()
        .cloned()
        .expect("auth");
    assert!(last.starts_with("n,a=me@example.org,\u{1}"), "{last:?}");
    assert!(
        last.contains("auth=Bearer access-L-SECRET\u{1}"),
        "{last:?}"
    );
}

#[test]
fn oauth_smtp_send_says_sign_in_again() {
    let pki = pki();
    let mock = Mock::start(&pki, |_| Resp::json(400, r#"{"error":"invalid_grant"}"#));
    let state = State::new();
    state.put("work", &expired(&mock));
    let smtp = FakeSmtp::start();
    let run = send_with_oauth(&state, &pki, &smtp, "");
    run.code(77);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("smtp-send: oauth work: sign in again: smtp-oauth login work")),
        "{}",
        run.stderr
    );
    no_secrets(&run, "");
    assert!(smtp.messages.lock().expect("lock").is_empty());
}

#[test]
fn oauth_smtp_send_refreshes_a_refused_token_once() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    // Valid for an hour by its expiry, but the server no longer takes it
    // (revoked): smtp-send refreshes once and authenticates again.
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        + 3600;
    state.put(
        "work",
        &format!(
            r#"{{"provider":"custom","client_id":"cid","token_url":"{}",
                "refresh_token":"refresh-1-SECRET","access_token":"revoked-SECRET",
                "expires_at":{expires}}}"#,
            mock.url("/token")
        ),
    );
    let smtp = FakeSmtp::start();
    let run = send_with_oauth(&state, &pki, &smtp, "");
    run.code(0);
    no_secrets(&run, "");
    assert!(
        run.stderr.contains("token refused: refreshing it once"),
        "{}",
        run.stderr
    );
    let auths = smtp.auths.lock().expect("lock").clone();
    assert_eq!(auths.len(), 2, "{auths:?}");
    assert!(auths[0].contains("auth=Bearer revoked-SECRET\u{1}"));
    assert!(auths[1].contains("auth=Bearer access-L-SECRET\u{1}"));
    assert_eq!(smtp.messages.lock().expect("lock").len(), 1);
    assert_eq!(state.read("work")["access_token"], "access-L-SECRET");
}

/// The end-to-end provider: the device flow, then short-lived access
/// tokens (30 s, under `token`'s minute of validity, so every fetch
/// refreshes) and a refresh token rotated at each refresh, the one
/// presented recorded.
fn short_lived(pki: &Pki) -> (Mock, Arc<Mutex<Vec<String>>>) {
    let presented = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&presented);
    let mock = Mock::start(pki, move |req| {
        let granted = |refresh: usize| {
            Resp::json(
                200,
                &format!(
                    r#"{{"access_token":"{E2E_TOKEN}","expires_in":30,
                        "refresh_token":"refresh-{refresh}-SECRET"}}"#
                ),
            )
        };
        match (req.path.as_str(), req.form("grant_type").as_deref()) {
            ("/device", _) => Resp::json(
                200,
                r#"{"device_code":"device-SECRET","user_code":"WDJB-MJHT",
                    "verification_uri":"https://example.org/device","expires_in":900,"interval":0}"#,
            ),
            ("/token", Some("urn:ietf:params:oauth:grant-type:device_code")) => granted(1),
            ("/token", Some("refresh_token")) => {
                let mut seen = seen.lock().expect("lock");
                let refresh = req.form("refresh_token").expect("refresh_token");
                // Each refresh spends the last one issued (rotation).
                assert_eq!(refresh, format!("refresh-{}-SECRET", seen.len() + 1));
                seen.push(refresh);
                granted(seen.len() + 1)
            }
            other => panic!("{other:?}"),
        }
    });
    (mock, presented)
}

/// The access token the end-to-end provider issues, the one smtp-recv's
/// auth file holds. Every refresh issues the same one: smtp-recv reads
/// its `--auth-file` once and takes one entry per user, so a new string
/// could not be accepted; that the second message's token is a new one
/// is shown by the refresh the mock saw for it.
const E2E_TOKEN: &str = "ya29.access-E-SECRET";

/// `smtp-oauth login` at the mock, then `smtp-send --each` with `oauth =`
/// in its config to smtp-recv (STARTTLS, XOAUTH2 checked against its
/// `--auth-file`); smtp-recv drops the connection at the second message,
/// whose token has expired meanwhile: smtp-send reconnects, the library
/// refreshes (spending the rotated refresh token) and the message goes.
/// No token or secret in any output.
#[test]
fn oauth_end_to_end_login_send_recv_with_expiry_between_messages() {
    let pki = pki();
    let (mock, presented) = short_lived(&pki);
    let state = State::new();
    let login = state.run(&pki, &login_args(&urls(&mock, "/device"), "--device-url"));
    login.code(0);
    no_secrets(&login, "");
    assert_eq!(state.read("work")["refresh_token"], "refresh-1-SECRET");

    // smtp-recv serves the mock's certificate (the test CA's), so one CA
    // file is trusted for both the token endpoint and the SMTP server.
    let tls = state.dir.path();
    let cert = write_file(tls, "cert.pem", pki.cert_pem.as_bytes());
    let key = write_file(tls, "key.pem", pki.key_pem.as_bytes());
    let users = write_file(
        tls,
        "users",
        format!("me@example.org:{E2E_TOKEN}\n").as_bytes(),
    );
    let recv = crate::peers::Recv::start(&[
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
        "--auth-file",
        users.to_str().expect("utf-8"),
        // The second message's MAIL loses the connection: smtp-send
        // authenticates again on a new one.
        "--disconnect",
        "1:mail:two@*",
    ]);
    let config = format!(
        "[default]\nserver = \"smtp+starttls://{}\"\nuser = \"me@example.org\"\n\
         oauth = \"work\"\nca_file = \"{}\"\n",
        recv.server(),
        pki.ca_file.display()
    );
    let mut files = Vec::new();
    for from in ["one", "two"] {
        let msg =
            format!("From: {from}@example.org\nTo: you@example.org\nSubject: {from}\n\nhello\n");
        files.push(write_file(tls, &format!("{from}.eml"), msg.as_bytes()));
    }
    let mut cmd = smtp_send(&state, &pki, &config);
    cmd.args(["--each", "-v"]).args(&files);
    let send = run_cmd_within(cmd, Duration::from_secs(60), b"");
    send.code(0);
    no_secrets(&send, "");
    assert_eq!(
        send.stderr.matches("C: AUTH XOAUTH2").count(),
        2,
        "{}",
        send.stderr
    );
    // Nor the token inside the base64 of the AUTH line.
    use base64::Engine;
    let wire = base64::engine::general_purpose::STANDARD.encode(format!(
        "user=me@example.org\u{1}auth=Bearer {E2E_TOKEN}\u{1}\u{1}"
    ));
    assert!(!send.stderr.contains(&wire[..20]), "{}", send.stderr);

    // One refresh per connection, the second spending the rotated token.
    assert_eq!(
        *presented.lock().expect("lock"),
        ["refresh-1-SECRET", "refresh-2-SECRET"]
    );
    assert_eq!(state.read("work")["refresh_token"], "refresh-3-SECRET");
    let envelopes = recv.envelopes();
    assert_eq!(envelopes.len(), 2, "{envelopes:?}");
    for e in &envelopes {
        assert_eq!(e["auth_user"], "me@example.org", "{e}");
    }
    let texts = recv.texts();
    assert!(
        texts.iter().any(|t| t.contains("Subject: one\n")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("Subject: two\n")),
        "{texts:?}"
    );
    let recv_log = std::fs::read_to_string(recv.dir().join("stderr")).expect("stderr");
    for text in texts.iter().chain([&recv_log]) {
        assert!(!text.contains("SECRET"), "{text}");
    }
    let list = state.run(&pki, &["list"]);
    list.code(0);
    no_secrets(&list, "");
}

/// `--store-cmd`/`--load-cmd` with a shell script store: login, token,
/// a refresh (the rotated token goes to the store command), list and
/// revoke keep the account only through the commands, the JSON on their
/// stdin and stdout, never in their argv; a missing, failing or hung
/// command is one line (78) without a secret.
#[test]
fn oauth_store_and_load_commands() {
    let pki = pki();
    let mock = provider(&pki);
    let state = State::new();
    let vault = tempfile::tempdir().expect("tempdir");
    let v = vault.path().display();
    // Each run's argv is logged: a secret there would be visible to `ps`.
    let store_cmd =
        format!("echo \"$0 $*\" >> '{v}/argv'; cat > '{v}/'\"$SMTP_OAUTH_ACCOUNT\".json");
    let load_cmd = format!("echo \"$0 $*\" >> '{v}/argv'; cat '{v}/'\"$SMTP_OAUTH_ACCOUNT\".json");
    let both = ["--store-cmd", &store_cmd, "--load-cmd", &load_cmd];
    let with = |cmds: &[&str], args: &[&str]| state.run(&pki, &[cmds, args].concat());
    let vaulted = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(vault.path().join("work.json")).expect("read"))
            .expect("json")
    };

    let urls = urls(&mock, "/device");
    let login = with(&both, &login_args(&urls, "--device-url"));
    login.code(0);
    no_secrets(&login, "");
    assert_eq!(vaulted()["refresh_token"], "refresh-L-SECRET");
    assert!(
        !state.account_path("work").exists(),
        "kept by the commands only"
    );
    let token = with(&both, &["token", "work"]);
    token.code(0);
    assert_eq!(token.stdout_str(), "access-L-SECRET\n");

    // Expired: refreshed, the rotated refresh token stored by the command.
    let account = expired(&mock).replace(
        r#""scope":"mail""#,
        &format!(r#""scope":"mail","revoke_url":"{}""#, mock.url("/revoke")),
    );
    std::fs::write(vault.path().join("work.json"), account).expect("write");
    // Without --store-cmd the refresh would be lost: refused first.
    let alone = with(&["--load-cmd", &load_cmd], &["token", "work"]);
    alone.code(78);
    assert!(
        alone.stderr.contains("--store-cmd is needed too"),
        "{}",
        alone.stderr
    );
    no_secrets(&alone, "");
    let token = with(&both, &["token", "work"]);
    token.code(0);
    no_secrets(&token, "access-L-SECRET");
    assert_eq!(token.stdout_str(), "access-L-SECRET\n");
    assert_eq!(vaulted()["refresh_token"], "refresh-L-SECRET");

    let list = with(&both, &["list"]);
    list.code(64);
    let list = with(&both, &["list", "work"]);
    list.code(0);
    assert!(
        list.stdout_str()
            .starts_with("work\t-\tcustom\taccess token until "),
        "{}",
        list.stdout_str()
    );
    no_secrets(&list, "");

    let revoke = with(&both, &["revoke", "work"]);
    revoke.code(0);
    no_secrets(&revoke, "");
    assert!(vaulted().get("refresh_token").is_none(), "{}", vaulted());
    assert!(vaulted().get("access_token").is_none(), "{}", vaulted());
    let list = with(&both, &["list", "work"]);
    assert_eq!(list.stdout_str(), "work\t-\tcustom\tsigned out\n");
    assert!(
        mock.requests().iter().any(|r| r.path == "/revoke"),
        "revoked at the provider"
    );

    let argv = std::fs::read_to_string(vault.path().join("argv")).expect("argv");
    assert!(argv.lines().count() >= 8, "{argv}");
    assert!(!argv.contains("SECRET"), "{argv}");

    // A failing command, a hung one: one line each, killed at the limit.
    let failing = with(
        &["--load-cmd", "printf 'refresh-SEC'; echo RET; exit 3"],
        &["token", "work"],
    );
    failing.code(78).one_line_error("smtp-oauth");
    assert!(
        failing.stderr.contains("exited with status 3"),
        "{}",
        failing.stderr
    );
    no_secrets(&failing, "");
    let hung = with(
        &["--cmd-timeout", "1", "--load-cmd", "sleep 30"],
        &["token", "work"],
    );
    hung.code(78);
    assert!(
        hung.stderr.contains("no answer within 1 s: killed"),
        "{}",
        hung.stderr
    );
}

/// A token endpoint that does not answer now (a 503, a closed port) is a
/// temporary failure for smtp-send (75, as for `smtp-oauth token`), not a
/// configuration error; `--queue` keeps the message, and nothing reaches
/// the SMTP server.
#[test]
fn oauth_smtp_send_token_endpoint_down_is_75_and_queued() {
    let pki = pki();
    let unavailable = Mock::start(&pki, |_| {
        Resp::json(503, r#"{"error":"temporarily_unavailable"}"#)
    });
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://127.0.0.1:{}/token", l.local_addr().unwrap().port())
    };
    for token_url in [unavailable.url("/token"), closed] {
        let state = State::new();
        state.put(
            "work",
            &format!(
                r#"{{"provider":"custom","client_id":"cid","token_url":"{token_url}",
                    "refresh_token":"refresh-1-SECRET","access_token":"old-SECRET","expires_at":1}}"#
            ),
        );
        let smtp = FakeSmtp::start();
        let run = send_with_oauth(&state, &pki, &smtp, "");
        run.code(75);
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("smtp-send: oauth work: ")),
            "{}",
            run.stderr
        );
        no_secrets(&run, "");
        let queue = state.dir.path().join("queue");
        let run = send_with_oauth(
            &state,
            &pki,
            &smtp,
            &format!("queue = \"{}\"\n", queue.display()),
        );
        run.code(0);
        assert!(run.stderr.contains("queued as"), "{}", run.stderr);
        assert!(smtp.messages.lock().expect("lock").is_empty());
    }
}
