//! Unit tests of `sasl`.

use super::*;

fn run(ex: &mut dyn Exchange, challenge: &str) -> Result<String, SaslError> {
    ex.respond(challenge.as_bytes())
        .map(|r| String::from_utf8(r).unwrap())
}

#[test]
fn names_and_preference() {
    for m in ALL {
        assert_eq!(Mechanism::parse(m.name()), Some(m));
        assert_eq!(Mechanism::parse(&m.name().to_lowercase()), Some(m));
    }
    assert_eq!(Mechanism::parse("GSSAPI"), None);
    assert_eq!(
        Mechanism::preference(),
        [
            Mechanism::ScramSha256,
            Mechanism::CramMd5,
            Mechanism::Plain,
            Mechanism::Login
        ]
    );
    let offered = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert_eq!(
        Mechanism::choose(&offered("LOGIN PLAIN CRAM-MD5")),
        Some(Mechanism::CramMd5)
    );
    assert_eq!(
        Mechanism::choose(&offered("plain scram-sha-256 XOAUTH2")),
        Some(Mechanism::ScramSha256)
    );
    assert_eq!(Mechanism::choose(&offered("login")), Some(Mechanism::Login));
    // OAuth mechanisms are never chosen on their own.
    assert_eq!(Mechanism::choose(&offered("XOAUTH2 OAUTHBEARER")), None);
    assert_eq!(Mechanism::choose(&[]), None);
}

#[test]
fn secret_is_not_printed() {
    let s = Secret::from("hunter2");
    assert_eq!(format!("{s:?}"), "***");
    assert_eq!(s.as_bytes(), b"hunter2");
}

#[test]
fn plain_rfc4954_example() {
    // RFC 4954 §4 example: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" is
    // authzid "test"; with an empty authzid (RFC 4616 §2):
    let mut ex = start(Mechanism::Plain, "test", &"1234".into(), "");
    let ir = ex.initial().unwrap();
    assert_eq!(ir, b"\0test\x001234");
    assert_eq!(encode_to_string(&ir), "AHRlc3QAMTIzNA==");
    assert!(ex.respond(b"").is_err());
    assert_eq!(ex.finish(None), Ok(()));
}

#[test]
fn login_answers_by_prompt_and_order() {
    let mut ex = start(Mechanism::Login, "tim", &"pw".into(), "");
    assert_eq!(ex.initial(), None);
    assert_eq!(run(&mut *ex, "Username:").unwrap(), "tim");
    assert_eq!(run(&mut *ex, "Password:").unwrap(), "pw");
    assert!(run(&mut *ex, "Again:").is_err());
    let mut ex = start(Mechanism::Login, "tim", &"pw".into(), "");
    assert_eq!(run(&mut *ex, "").unwrap(), "tim");
    assert_eq!(run(&mut *ex, "").unwrap(), "pw");
}

#[test]
fn cram_md5_rfc2195_example() {
    // RFC 2195 §2.
    let mut ex = start(Mechanism::CramMd5, "tim", &"tanstaaftanstaaf".into(), "");
    assert_eq!(ex.initial(), None);
    let challenge =
        decode_to_vec(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+").unwrap();
    assert_eq!(challenge, b"<1896.697170952@postoffice.reston.mci.net>");
    let r = ex.respond(&challenge).unwrap();
    assert_eq!(r, b"tim b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(
        encode_to_string(&r),
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    );
    assert!(ex.respond(&challenge).is_err());
}

const RFC7677_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const RFC7677_SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const RFC7677_CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const RFC7677_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

#[test]
fn scram_sha256_rfc7677_example() {
    // RFC 7677 §3: user "user", password "pencil".
    let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
    assert_eq!(ex.initial().unwrap(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert_eq!(
        run(&mut *ex, RFC7677_SERVER_FIRST).unwrap(),
        RFC7677_CLIENT_FINAL
    );
    assert_eq!(run(&mut *ex, RFC7677_SERVER_FINAL).unwrap(), "");
    assert_eq!(ex.finish(None), Ok(()));

    // Or the server-final comes with the success.
    let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
    ex.initial();
    run(&mut *ex, RFC7677_SERVER_FIRST).unwrap();
    assert_eq!(ex.finish(Some(RFC7677_SERVER_FINAL.as_bytes())), Ok(()));
}

#[test]
fn scram_refuses_an_unproven_server() {
    // Wrong signature (a server that does not know the password).
    let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
    ex.initial();
    run(&mut *ex, RFC7677_SERVER_FIRST).unwrap();
    assert_eq!(
        run(&mut *ex, "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Err(SaslError::ServerNotVerified)
    );
    assert_eq!(ex.finish(None), Err(SaslError::ServerNotVerified));
    // Success without a signature at all.
    let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
    ex.initial();
    run(&mut *ex, RFC7677_SERVER_FIRST).unwrap();
    assert_eq!(ex.finish(None), Err(SaslError::ServerNotVerified));
    // Different password: the server's real signature does not match.
    let mut ex = scram_with_nonce("user", &"pencil2".into(), RFC7677_NONCE);
    ex.initial();
    let cf = run(&mut *ex, RFC7677_SERVER_FIRST).unwrap();
    assert_ne!(cf, RFC7677_CLIENT_FINAL);
    assert!(run(&mut *ex, RFC7677_SERVER_FINAL).is_err());
    // Server error.
    let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
    ex.initial();
    run(&mut *ex, RFC7677_SERVER_FIRST).unwrap();
    assert_eq!(
        run(&mut *ex, "e=invalid-proof"),
        Err(SaslError::Server("invalid-proof".into()))
    );
}

#[test]
fn scram_checks_the_server_first_message() {
    for bad in [
        "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOx,s=!!,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
        "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
        "garbage",
        "",
    ] {
        let mut ex = scram_with_nonce("user", &"pencil".into(), RFC7677_NONCE);
        ex.initial();
        assert!(
            matches!(run(&mut *ex, bad), Err(SaslError::Malformed(_))),
            "{bad}"
        );
        // After a failure nothing more is answered.
        assert!(run(&mut *ex, RFC7677_SERVER_FINAL).is_err());
    }
}

#[test]
fn scram_escapes_the_user_name_and_uses_a_fresh_nonce() {
    let mut a = start(Mechanism::ScramSha256, "a=b,c", &"x".into(), "");
    let mut b = start(Mechanism::ScramSha256, "a=b,c", &"x".into(), "");
    let (a, b) = (a.initial().unwrap(), b.initial().unwrap());
    let a = String::from_utf8(a).unwrap();
    assert!(a.starts_with("n,,n=a=3Db=2Cc,r="), "{a}");
    let nonce = &a["n,,n=a=3Db=2Cc,r=".len()..];
    assert_eq!(nonce.len(), 32);
    assert!(!nonce.contains(','));
    assert_ne!(a.as_bytes(), &b[..]);
}

#[test]
fn xoauth2_format() {
    let mut ex = start(
        Mechanism::XOAuth2,
        "someuser@example.com",
        &"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg".into(),
        "",
    );
    assert_eq!(
        ex.initial().unwrap(),
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    );
    // An error challenge (JSON) is answered with an empty response.
    assert_eq!(run(&mut *ex, r#"{"status":"401"}"#).unwrap(), "");
}

#[test]
fn oauthbearer_rfc7628_format() {
    // RFC 7628 §4.1 (without the port, which the client does not pass).
    let mut ex = start(
        Mechanism::OAuthBearer,
        "user@example.com",
        &"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==".into(),
        "server.example.com",
    );
    assert_eq!(
        ex.initial().unwrap(),
        b"n,a=user@example.com,\x01host=server.example.com\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    );
    // §3.2.3: the error challenge is answered with a lone %x01.
    assert_eq!(
        ex.respond(br#"{"status":"invalid_token"}"#).unwrap(),
        b"\x01"
    );
    let mut ex = start(Mechanism::OAuthBearer, "", &"t".into(), "");
    assert_eq!(ex.initial().unwrap(), b"n,,\x01auth=Bearer t\x01\x01");
}

#[test]
fn oauth_messages_read_back_by_the_server() {
    let token: Secret = "ya29.a0-b_c~d+e/f==".into();
    let user = "a,b=c@example.org";
    let mut ex = start(Mechanism::XOAuth2, user, &token, "");
    let msg = ex.initial().unwrap();
    let b = bearer::parse_xoauth2(&msg).unwrap();
    assert_eq!((&b.user[..], b.token), (user.as_bytes(), token.as_bytes()));
    for host in ["", "mx.example.org"] {
        let mut ex = start(Mechanism::OAuthBearer, user, &token, host);
        let msg = ex.initial().unwrap();
        let b = bearer::parse_oauthbearer(&msg).unwrap();
        assert_eq!((&b.user[..], b.token), (user.as_bytes(), token.as_bytes()));
        // The dummy answer to the error challenge is no message (§3.2.3).
        let dummy = ex.respond(bearer::ERROR_CHALLENGE.as_bytes()).unwrap();
        assert!(bearer::parse_oauthbearer(&dummy).is_err());
    }
}
