//! Unit tests of `auth`.

use super::*;

fn b64(s: &[u8]) -> String {
    encode_to_string(s)
}

fn users() -> Verifier {
    Verifier::parse_file(
        b"# test users\n\
          tim:tanstaaftanstaaf\n\
          \n\
          test:1234\r\n\
          alice@example.org:pa:ss word\n",
    )
    .unwrap()
}

#[test]
fn mechanism_names() {
    for (name, m) in [
        ("PLAIN", Some(Mechanism::Plain)),
        ("plain", Some(Mechanism::Plain)),
        ("Login", Some(Mechanism::Login)),
        ("cram-md5", Some(Mechanism::CramMd5)),
        ("CRAM-MD5", Some(Mechanism::CramMd5)),
        ("xoauth2", Some(Mechanism::XOAuth2)),
        ("OAUTHBEARER", Some(Mechanism::OAuthBearer)),
        ("OAUTH", None),
        ("DIGEST-MD5", None),
        ("", None),
        ("PLAIN ", None),
    ] {
        assert_eq!(Mechanism::parse(name), m, "{name:?}");
    }
    assert_eq!(Mechanism::CramMd5.to_string(), "CRAM-MD5");
}

#[test]
fn parse_file_accepts() {
    let Verifier::File(map) = users() else {
        panic!()
    };
    assert_eq!(map.len(), 3);
    assert_eq!(map["tim"], "tanstaaftanstaaf");
    assert_eq!(map["test"], "1234", "CR stripped");
    assert_eq!(map["alice@example.org"], "pa:ss word", "first colon splits");
    let Verifier::File(map) = Verifier::parse_file(b"\xEF\xBB\xBFa:b\n  # c:d\n\t\nx: y ").unwrap()
    else {
        panic!()
    };
    assert_eq!(map.len(), 2);
    assert_eq!(map["a"], "b", "BOM skipped");
    assert_eq!(map["x"], " y ", "spaces are the password's");
    let Verifier::File(map) = Verifier::parse_file(b"").unwrap() else {
        panic!()
    };
    assert!(map.is_empty());
}

#[test]
fn parse_file_errors_name_the_line_not_the_password() {
    for (input, line, reason) in [
        (
            &b"ok:1\nsecretline\n"[..],
            2,
            "no ':' (user:password expected)",
        ),
        (b":secret\n", 1, "empty user name"),
        (b"# c\n\nbob:\n", 3, "empty password"),
        (b"a:1\r\nb:2\r\na:secret\r\n", 3, "user listed twice"),
        (b"a:\xffsecret\n", 1, "not UTF-8"),
        (b"a\x01b:secret\n", 1, "control character in user name"),
    ] {
        let err = Verifier::parse_file(input).unwrap_err();
        assert_eq!(err, AuthFileError { line, reason }, "{input:?}");
        assert!(!err.to_string().contains("secret"));
        assert_eq!(err.to_string(), format!("line {line}: {reason}"));
    }
}

#[test]
fn debug_hides_passwords() {
    let v = users();
    let s = format!("{v:?}");
    assert_eq!(s, "Verifier::File(3 users)");
    let (ex, _) = Exchange::start(Mechanism::Login, Some(&b64(b"tim")), &v, "h");
    assert_eq!(format!("{ex:?}"), "Exchange(LoginPassword)");
}

/// RFC 4954 §4 example: `AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=` is
/// "test\0test\01234" (authzid = authcid = test).
#[test]
fn plain_rfc4954_example() {
    let v = users();
    let (_, step) = Exchange::start(Mechanism::Plain, Some("dGVzdAB0ZXN0ADEyMzQ="), &v, "h");
    assert_eq!(step, AuthStep::Success("test".into()));
}

/// RFC 4616 §4 examples.
#[test]
fn plain_rfc4616_examples() {
    let v = users();
    // "\0tim\0tanstaaftanstaaf"
    let (_, step) = Exchange::start(
        Mechanism::Plain,
        Some("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"),
        &v,
        "h",
    );
    assert_eq!(step, AuthStep::Success("tim".into()));
    // "Ursel\0Kurt\0xipj3plmq": authzid differs from authcid: we refuse.
    let v2 = Verifier::parse_file(b"Kurt:xipj3plmq\n").unwrap();
    let (_, step) = Exchange::start(
        Mechanism::Plain,
        Some("VXJzZWwAS3VydAB4aXBqM3BsbXE="),
        &v2,
        "h",
    );
    assert_eq!(step, AuthStep::Failure);
}

#[test]
fn plain_cases() {
    let v = users();
    for (msg, want) in [
        (
            &b"\0tim\0tanstaaftanstaaf"[..],
            AuthStep::Success("tim".into()),
        ),
        (
            b"tim\0tim\0tanstaaftanstaaf",
            AuthStep::Success("tim".into()),
        ),
        (
            b"\0alice@example.org\0pa:ss word",
            AuthStep::Success("alice@example.org".into()),
        ),
        (b"\0tim\0wrong", AuthStep::Failure),
        (b"\0tim\0tanstaaftanstaafX", AuthStep::Failure),
        (b"\0tim\0tanstaaf", AuthStep::Failure),
        (b"\0nobody\0tanstaaftanstaaf", AuthStep::Failure),
        (b"other\0tim\0tanstaaftanstaaf", AuthStep::Failure),
        (b"\0tim\0", AuthStep::Malformed),
        (b"\0\0pw", AuthStep::Malformed),
        (b"tim\0tanstaaftanstaaf", AuthStep::Malformed),
        (b"\0tim\0pw\0x", AuthStep::Malformed),
        (b"\0t\nim\0pw", AuthStep::Malformed),
        (b"\0t\xffm\0pw", AuthStep::Malformed),
        (b"", AuthStep::Malformed),
    ] {
        // As an initial response and after the empty challenge.
        let (_, step) = Exchange::start(Mechanism::Plain, Some(&b64(msg)), &v, "h");
        assert_eq!(step, want, "initial {msg:?}");
        let (mut ex, step) = Exchange::start(Mechanism::Plain, None, &v, "h");
        assert_eq!(step, AuthStep::Challenge(String::new()));
        assert_eq!(ex.step(b64(msg).as_bytes(), &v), want, "{msg:?}");
        assert_eq!(
            ex.step(b64(msg).as_bytes(), &v),
            AuthStep::Malformed,
            "over"
        );
    }
}

#[test]
fn plain_empty_initial_response_and_cancel_and_garbage() {
    let v = users();
    let (_, step) = Exchange::start(Mechanism::Plain, Some("="), &v, "h");
    assert_eq!(
        step,
        AuthStep::Malformed,
        "empty response is not a credential"
    );
    let (mut ex, _) = Exchange::start(Mechanism::Plain, None, &v, "h");
    assert_eq!(ex.step(b"*", &v), AuthStep::Cancelled);
    let (mut ex, _) = Exchange::start(Mechanism::Plain, None, &v, "h");
    assert_eq!(ex.step(b"!!notbase64!!", &v), AuthStep::Malformed);
    let (_, step) = Exchange::start(Mechanism::Plain, Some("A"), &v, "h");
    assert_eq!(step, AuthStep::Malformed, "lone final character");
    let long = vec![b'A'; SMTP_MAX_AUTH_LINE + 4];
    let (mut ex, _) = Exchange::start(Mechanism::Plain, None, &v, "h");
    assert_eq!(ex.step(&long, &v), AuthStep::Malformed);
}

#[test]
fn any_password() {
    let v = Verifier::AnyPassword;
    let (_, step) = Exchange::start(Mechanism::Plain, Some(&b64(b"\0who\0ever")), &v, "h");
    assert_eq!(step, AuthStep::Success("who".into()));
    let (_, step) = Exchange::start(Mechanism::Plain, Some(&b64(b"x\0who\0ever")), &v, "h");
    assert_eq!(step, AuthStep::Failure, "authzid still checked");
    let (_, step) = Exchange::start(Mechanism::Plain, Some(&b64(b"\0\0ever")), &v, "h");
    assert_eq!(step, AuthStep::Malformed);
    let (mut ex, _) = Exchange::start(Mechanism::CramMd5, None, &v, "h");
    let r = b64(b"someone 0123456789abcdef0123456789ABCDEF");
    assert_eq!(
        ex.step(r.as_bytes(), &v),
        AuthStep::Success("someone".into())
    );
    let (mut ex, _) = Exchange::start(Mechanism::CramMd5, None, &v, "h");
    assert_eq!(
        ex.step(b64(b"someone xyz").as_bytes(), &v),
        AuthStep::Malformed
    );
}

#[test]
fn login() {
    let v = users();
    let (mut ex, step) = Exchange::start(Mechanism::Login, None, &v, "h");
    assert_eq!(step, AuthStep::Challenge("VXNlcm5hbWU6".into()));
    assert_eq!(decode_to_vec(LOGIN_USER.as_bytes()).unwrap(), b"Username:");
    assert_eq!(
        decode_to_vec(LOGIN_PASSWORD.as_bytes()).unwrap(),
        b"Password:"
    );
    assert_eq!(
        ex.step(b64(b"tim").as_bytes(), &v),
        AuthStep::Challenge("UGFzc3dvcmQ6".into())
    );
    assert_eq!(
        ex.step(b64(b"tanstaaftanstaaf").as_bytes(), &v),
        AuthStep::Success("tim".into())
    );

    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    ex.step(b64(b"tim").as_bytes(), &v);
    assert_eq!(ex.step(b64(b"nope").as_bytes(), &v), AuthStep::Failure);

    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    ex.step(b64(b"nobody").as_bytes(), &v);
    assert_eq!(
        ex.step(b64(b"tanstaaftanstaaf").as_bytes(), &v),
        AuthStep::Failure
    );

    // Initial response = user name.
    let (mut ex, step) = Exchange::start(Mechanism::Login, Some(&b64(b"test")), &v, "h");
    assert_eq!(step, AuthStep::Challenge(LOGIN_PASSWORD.into()));
    assert_eq!(ex.step(b"MTIzNA==", &v), AuthStep::Success("test".into()));

    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    assert_eq!(ex.step(b"", &v), AuthStep::Malformed, "empty user");
    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    ex.step(b64(b"tim").as_bytes(), &v);
    assert_eq!(ex.step(b"*", &v), AuthStep::Cancelled);
    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    ex.step(b64(b"tim").as_bytes(), &v);
    assert_eq!(ex.step(b"", &v), AuthStep::Malformed, "empty password");
    let (mut ex, _) = Exchange::start(Mechanism::Login, None, &v, "h");
    assert_eq!(ex.step(b64(b"a\r\nb").as_bytes(), &v), AuthStep::Malformed);
}

/// RFC 2195 §2 example: challenge `<1896.697170952@postoffice.reston.mci.net>`,
/// user tim, password tanstaaftanstaaf, digest b913a602c7eda7a495b4e6e7334d3890.
#[test]
fn cram_md5_rfc2195_example() {
    let v = users();
    let challenge = "<1896.697170952@postoffice.reston.mci.net>".to_owned();
    let (mut ex, step) = Exchange::start_with(Mechanism::CramMd5, None, &v, challenge);
    assert_eq!(
        step,
        AuthStep::Challenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+".into())
    );
    let response = b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw";
    assert_eq!(ex.step(response, &v), AuthStep::Success("tim".into()));
}

#[test]
fn cram_md5_cases() {
    let v = users();
    let challenge = "<1896.697170952@postoffice.reston.mci.net>";
    for (resp, want) in [
        (
            &b"tim b913a602c7eda7a495b4e6e7334d3890"[..],
            AuthStep::Success("tim".into()),
        ),
        (
            b"tim B913A602C7EDA7A495B4E6E7334D3890",
            AuthStep::Success("tim".into()),
        ),
        (b"tim b913a602c7eda7a495b4e6e7334d3891", AuthStep::Failure),
        (b"bob b913a602c7eda7a495b4e6e7334d3890", AuthStep::Failure),
        (b"tim b913a602c7eda7a495b4e6e7334d389", AuthStep::Malformed),
        (
            b"tim b913a602c7eda7a495b4e6e7334d38900",
            AuthStep::Malformed,
        ),
        (b"tim g913a602c7eda7a495b4e6e7334d3890", AuthStep::Malformed),
        (b"timb913a602c7eda7a495b4e6e7334d3890", AuthStep::Malformed),
        (b" b913a602c7eda7a495b4e6e7334d3890", AuthStep::Malformed),
    ] {
        let (mut ex, _) = Exchange::start_with(Mechanism::CramMd5, None, &v, challenge.to_owned());
        assert_eq!(ex.step(b64(resp).as_bytes(), &v), want, "{resp:?}");
    }
    let (_, step) = Exchange::start(Mechanism::CramMd5, Some("dGlt"), &v, "h");
    assert_eq!(
        step,
        AuthStep::Malformed,
        "CRAM-MD5 has no initial response"
    );
}

#[test]
fn cram_md5_live_challenge() {
    let v = users();
    let (mut ex, step) = Exchange::start(Mechanism::CramMd5, None, &v, "mx.example.org");
    let AuthStep::Challenge(text) = step else {
        panic!("{step:?}")
    };
    let challenge = String::from_utf8(decode_to_vec(text.as_bytes()).unwrap()).unwrap();
    assert!(challenge.starts_with('<') && challenge.ends_with("@mx.example.org>"));
    let digest = hmac_md5(b"1234", challenge.as_bytes())
        .finalize()
        .into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let resp = b64(format!("test {hex}").as_bytes());
    assert_eq!(
        ex.step(resp.as_bytes(), &v),
        AuthStep::Success("test".into())
    );
    // Challenges differ; a hostile host name is not put into one.
    let (_, a) = Exchange::start(Mechanism::CramMd5, None, &v, "h");
    let (_, b) = Exchange::start(Mechanism::CramMd5, None, &v, "h");
    assert_ne!(a, b);
    let c = cram_challenge("bad host>\r\n");
    assert!(c.ends_with("@localhost>"), "{c}");
}

#[test]
fn ct_eq_is_equality() {
    for (a, b, want) in [
        (&b"abc"[..], &b"abc"[..], true),
        (b"abc", b"abd", false),
        (b"ab", b"abc", false),
        (b"abcabc", b"abc", false),
        (b"", b"abc", false),
        (b"", b"", false),
    ] {
        assert_eq!(ct_eq(a, b), want, "{a:?} {b:?}");
    }
}

fn tokens() -> Verifier {
    Verifier::parse_file(b"alice@example.org:ya29.good-token\nbob:other\n").unwrap()
}

/// The error challenge of RFC 7628 §3.2.2, as sent in the `334`.
fn error_challenge() -> AuthStep {
    AuthStep::Challenge(b64(bearer::ERROR_CHALLENGE.as_bytes()))
}

#[test]
fn oauth_accepts_the_users_token() {
    let v = tokens();
    let alice = AuthStep::Success("alice@example.org".into());
    for (mech, msg) in [
        (
            Mechanism::XOAuth2,
            &b"user=alice@example.org\x01auth=Bearer ya29.good-token\x01\x01"[..],
        ),
        (
            Mechanism::OAuthBearer,
            b"n,a=alice@example.org,\x01host=mx\x01port=587\x01auth=Bearer ya29.good-token\x01\x01",
        ),
    ] {
        // As the initial response and after an empty challenge.
        let (_, step) = Exchange::start(mech, Some(&b64(msg)), &v, "h");
        assert_eq!(step, alice, "{mech}");
        let (mut ex, step) = Exchange::start(mech, None, &v, "h");
        assert_eq!(step, AuthStep::Challenge(String::new()), "{mech}");
        assert_eq!(ex.step(b64(msg).as_bytes(), &v), alice, "{mech}");
        assert_eq!(ex.step(b64(msg).as_bytes(), &v), AuthStep::Malformed);
    }
    let any = Verifier::AnyPassword;
    let msg = b64(b"user=who\x01auth=Bearer ever\x01\x01");
    let (_, step) = Exchange::start(Mechanism::XOAuth2, Some(&msg), &any, "h");
    assert_eq!(step, AuthStep::Success("who".into()));
}

/// RFC 7628 §3.2.2: a refused token gets the error challenge, the client's
/// dummy response (§3.2.3: ^A; XOAUTH2 clients send an empty line) the
/// failure.
#[test]
fn oauth_refusal_is_the_error_challenge_then_failure() {
    let v = tokens();
    for (mech, msg, dummy) in [
        (
            Mechanism::XOAuth2,
            &b"user=alice@example.org\x01auth=Bearer ya29.wrong\x01\x01"[..],
            "",
        ),
        (
            Mechanism::XOAuth2,
            b"user=nobody\x01auth=Bearer ya29.good-token\x01\x01",
            "",
        ),
        (
            Mechanism::XOAuth2,
            b"user=bob\x01auth=Bearer ya29.good-token\x01\x01",
            "",
        ),
        (
            Mechanism::OAuthBearer,
            b"n,a=alice@example.org,\x01auth=Bearer ya29.good-toke\x01\x01",
            "AQ==",
        ),
        (
            Mechanism::OAuthBearer,
            b"n,a=bob,\x01auth=Bearer ya29.good-token\x01\x01",
            "AQ==",
        ),
    ] {
        let (mut ex, step) = Exchange::start(mech, Some(&b64(msg)), &v, "h");
        assert_eq!(step, error_challenge(), "{msg:?}");
        assert_eq!(format!("{ex:?}"), "Exchange(BearerRefused)");
        assert_eq!(ex.step(dummy.as_bytes(), &v), AuthStep::Failure, "{msg:?}");
        assert_eq!(ex.step(dummy.as_bytes(), &v), AuthStep::Malformed, "over");
        // After an empty 334 too; a client that cancels instead is cancelled.
        let (mut ex, _) = Exchange::start(mech, None, &v, "h");
        assert_eq!(ex.step(b64(msg).as_bytes(), &v), error_challenge());
        assert_eq!(ex.step(b"*", &v), AuthStep::Cancelled);
    }
    let challenge = decode_to_vec(b64(bearer::ERROR_CHALLENGE.as_bytes()).as_bytes()).unwrap();
    assert_eq!(
        challenge,
        br#"{"status":"invalid_token","schemes":"bearer"}"#
    );
}

#[test]
fn oauth_malformed() {
    let v = tokens();
    let long = b64(&[b'a'; SMTP_MAX_AUTH_LINE]);
    for (mech, response) in [
        (Mechanism::XOAuth2, "!!notbase64!!".to_owned()),
        (Mechanism::XOAuth2, "=".to_owned()),
        (
            Mechanism::XOAuth2,
            b64(b"user=alice@example.org\x01ya29.good-token\x01\x01"),
        ),
        (
            Mechanism::XOAuth2,
            b64(b"user=alice@example.org\x01auth=Bearer ya29.good-token"),
        ),
        (
            Mechanism::XOAuth2,
            b64(b"user=al\nice\x01auth=Bearer ya29.good-token\x01\x01"),
        ),
        (
            Mechanism::XOAuth2,
            b64(b"user=al\xffice\x01auth=Bearer ya29.good-token\x01\x01"),
        ),
        (Mechanism::XOAuth2, long.clone()),
        (Mechanism::OAuthBearer, "AQ==".to_owned()),
        (
            Mechanism::OAuthBearer,
            b64(b"n,,\x01auth=Bearer ya29.good-token\x01\x01"),
        ),
        (
            Mechanism::OAuthBearer,
            b64(b"p=tls-exporter,a=bob,\x01auth=Bearer other\x01\x01"),
        ),
        (Mechanism::OAuthBearer, long),
    ] {
        let (_, step) = Exchange::start(mech, Some(&response), &v, "h");
        assert_eq!(step, AuthStep::Malformed, "{mech} {response:.40}");
        let (mut ex, _) = Exchange::start(mech, None, &v, "h");
        assert_eq!(ex.step(response.as_bytes(), &v), AuthStep::Malformed);
    }
}
