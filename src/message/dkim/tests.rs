//! Unit tests of DKIM: the fixed vectors of RFC 8463 Appendix A and RFC
//! 6376 §3.4.5, tag lists, and sign-then-verify round trips.

use super::canon::{self, Body, Canon};
use super::key::{Algorithm, SigningKey};
use super::sign::{self, Options, Signer};
use super::tags::{self, TagError};
use super::verify::{self, LookupError, Outcome, Verdict};
use crate::codec::base64;

/// RFC 8463 Appendix A.3: the message signed with Ed25519 (`brisbane`)
/// and RSA (`test`), byte for byte.
const RFC8463_SIGNED: &str = concat!(
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n",
    " subject : date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n",
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n",
    " d=football.example.com; i=@football.example.com;\r\n",
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n",
    " date : message-id : from : subject : date;\r\n",
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n",
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n",
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n",
    "From: Joe SixPack <joe@football.example.com>\r\n",
    "To: Suzie Q <suzie@shopping.example.net>\r\n",
    "Subject: Is dinner ready?\r\n",
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
    "\r\n",
    "Hi.\r\n",
    "\r\n",
    "We lost the game.  Are you hungry yet?\r\n",
    "\r\n",
    "Joe.\r\n",
    "\r\n",
);

/// RFC 8463 A.2: the two key records.
const BRISBANE: &str = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const TEST: &str = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/// RFC 8463 A.1: the Ed25519 private key (its seed), as PKCS#8 v1 PEM
/// (RFC 8410 §7).
fn rfc8463_ed25519() -> SigningKey {
    let seed = base64::decode_to_vec(b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=").unwrap();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::encode_to_string(&der)
    );
    SigningKey::from_pem(pem.as_bytes()).unwrap()
}

fn records<'a>(
    list: &'a [(&'a str, &'a str)],
) -> impl FnMut(&str) -> Result<Vec<Vec<u8>>, LookupError> + 'a {
    move |name| {
        list.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| vec![r.as_bytes().to_vec()])
            .ok_or(LookupError::NotFound)
    }
}

fn check(message: &[u8], list: &[(&str, &str)]) -> Vec<Verdict> {
    verify::verify(message, 1_600_000_000, &mut records(list)).unwrap()
}

const RFC8463_RECORDS: &[(&str, &str)] = &[
    ("brisbane._domainkey.football.example.com", BRISBANE),
    ("test._domainkey.football.example.com", TEST),
];

#[test]
fn rfc8463_both_signatures_pass() {
    let verdicts = check(RFC8463_SIGNED.as_bytes(), RFC8463_RECORDS);
    assert_eq!(verdicts.len(), 2);
    for (v, alg) in verdicts.iter().zip(["ed25519-sha256", "rsa-sha256"]) {
        assert_eq!((v.outcome, v.reason.as_str()), (Outcome::Pass, ""), "{v:?}");
        assert_eq!(v.algorithm, alg);
        assert_eq!(v.domain, "football.example.com");
    }
}

#[test]
fn rfc8463_body_hash() {
    let body = RFC8463_SIGNED.split_once("\r\n\r\n").unwrap().1;
    let mut hash = Body::new(Canon::Relaxed, None);
    // Byte by byte: the state carried between pieces must not matter.
    for b in body.as_bytes() {
        hash.update(std::slice::from_ref(b));
    }
    assert_eq!(
        base64::encode_to_string(&hash.finish().digest),
        "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="
    );
}

/// Ed25519 is deterministic: signing the RFC's data with the RFC's key
/// gives the RFC's b= exactly.
#[test]
fn rfc8463_ed25519_signature_reproduced() {
    let key = rfc8463_ed25519();
    assert_eq!(key.algorithm(), Algorithm::Ed25519Sha256);
    assert_eq!(key.record(), BRISBANE);
    let block = crate::message::header::read_block(&mut RFC8463_SIGNED.as_bytes()).unwrap();
    let names = [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "from",
        "subject",
        "date",
    ];
    let mut data = Vec::new();
    canon::signed_fields(&block, &names, Canon::Relaxed, &mut data);
    let field = block.get(b"dkim-signature").unwrap();
    let value = String::from_utf8_lossy(field.value);
    let blank = &value[..value.find(" b=").unwrap() + 3];
    canon::header(Canon::Relaxed, field.name, blank.as_bytes(), &mut data);
    data.truncate(data.len() - 2);
    assert_eq!(
        base64::encode_to_string(&key.sign(&data).unwrap()),
        "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="
    );
}

/// RFC 6376 §3.4.5, both algorithms on the header fields and the body.
#[test]
fn rfc6376_canonicalization_examples() {
    let mut out = Vec::new();
    canon::header(Canon::Relaxed, b"A", b" X", &mut out);
    canon::header(Canon::Relaxed, b"B ", b" Y\t\r\n\tZ  ", &mut out);
    assert_eq!(out, b"a:X\r\nb:Y Z\r\n");
    out.clear();
    canon::header(Canon::Simple, b"A", b" X", &mut out);
    canon::header(Canon::Simple, b"B ", b" Y\t\r\n\tZ  ", &mut out);
    assert_eq!(out, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");

    let body = b" C \r\nD \t E\r\n\r\n\r\n";
    let hash = |canon, body: &[u8]| {
        let mut h = Body::new(canon, None);
        h.update(body);
        h.finish()
    };
    let sha = |b: &[u8]| {
        ring::digest::digest(&ring::digest::SHA256, b)
            .as_ref()
            .to_vec()
    };
    let relaxed = hash(Canon::Relaxed, body);
    assert_eq!(relaxed.digest, sha(b" C\r\nD E\r\n"));
    assert_eq!(relaxed.length, 9);
    let simple = hash(Canon::Simple, body);
    assert_eq!(simple.digest, sha(b" C \r\nD \t E\r\n"));
    // §3.4.3/§3.4.4: an empty body is CRLF in simple, nothing in relaxed;
    // LF alone counts as CRLF; a last line without one gets it.
    assert_eq!(hash(Canon::Simple, b"").digest, sha(b"\r\n"));
    assert_eq!(hash(Canon::Relaxed, b"\n\n").digest, sha(b""));
    assert_eq!(hash(Canon::Simple, b"a\nb").digest, sha(b"a\r\nb\r\n"));
    assert_eq!(hash(Canon::Simple, b"a\rb\r").digest, sha(b"a\rb\r\r\n"));
}

#[test]
fn tag_lists() {
    let tags = tags::parse(b" v = 1 ;a=rsa-sha256;\r\n\tb= ab\r\n cd ;").unwrap();
    let names: Vec<_> = tags.iter().map(|t| t.name).collect();
    assert_eq!(names, ["v", "a", "b"]);
    assert_eq!(tags[2].value, b"ab\r\n cd");
    assert_eq!(tags::without_fws(tags[2].value), b"abcd");
    assert_eq!(
        tags::parse(b"a=1; a=2"),
        Err(TagError::Duplicate("a".into()))
    );
    assert!(matches!(tags::parse(b"a=1;;b=2"), Err(TagError::Syntax(_))));
    assert!(matches!(tags::parse(b"1a=1"), Err(TagError::Syntax(_))));
    assert!(matches!(tags::parse(b"novalue"), Err(TagError::Syntax(_))));
    let many: String = (0..65).map(|i| format!("t{i}=x;")).collect();
    assert_eq!(tags::parse(many.as_bytes()), Err(TagError::TooMany));
    assert!(tags::parse(b"").unwrap().is_empty());
}

const MESSAGE: &str = "From: A <a@example.org>\nTo: b@example.net\nSubject: hi\n\nline  one \n\n\n";

fn signed(message: &str, canon: Canon, fields: Option<Vec<String>>) -> (Vec<u8>, String) {
    let key = rfc8463_ed25519();
    let record = key.record();
    let signer = Signer {
        key,
        domain: "example.org".into(),
        selector: "sel".into(),
    };
    let opts = Options {
        header: canon,
        body: canon,
        fields,
        time: 1_600_000_000,
        expire: Some(3600),
    };
    let mut out = Vec::new();
    sign::sign(message.as_bytes(), &mut out, &[signer], &opts).unwrap();
    (out, record)
}

#[test]
fn sign_then_verify_both_canonicalizations() {
    for canon in [Canon::Simple, Canon::Relaxed] {
        let (out, record) = signed(MESSAGE, canon, None);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.ends_with(MESSAGE), "the message follows unchanged");
        assert!(!text.contains('\r'), "an LF message gets an LF field");
        assert!(text.contains("h=from:to:subject:from;"), "{text}");
        assert!(text.contains("t=1600000000; x=1600003600;"), "{text}");
        assert!(!text.contains("l="), "{text}");
        let list = [("sel._domainkey.example.org", record.as_str())];
        let v = check(&out, &list);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].outcome, Outcome::Pass, "{canon:?} {v:?}");

        let tampered_body = text.replace("line  one", "line  two");
        assert_eq!(
            check(tampered_body.as_bytes(), &list)[0].outcome,
            Outcome::Fail
        );
        let tampered_header = text.replace("Subject: hi", "Subject: ho");
        let v = check(tampered_header.as_bytes(), &list);
        assert_eq!(
            (v[0].outcome, v[0].reason.as_str()),
            (Outcome::Fail, "signature did not verify")
        );
        // Over-signed From: a second From added on top breaks it.
        let added = format!("From: evil@example.com\n{text}");
        assert_eq!(check(added.as_bytes(), &list)[0].outcome, Outcome::Fail);
    }
}

#[test]
fn relaxed_survives_rewrapping_simple_does_not() {
    let (out, record) = signed(MESSAGE, Canon::Relaxed, None);
    let list = [("sel._domainkey.example.org", record.as_str())];
    let text = String::from_utf8(out)
        .unwrap()
        .replace("Subject: hi", "subject:   hi ");
    let text = text.replace("line  one \n", "line one\n");
    assert_eq!(check(text.as_bytes(), &list)[0].outcome, Outcome::Pass);
    let (out, record) = signed(MESSAGE, Canon::Simple, None);
    let list = [("sel._domainkey.example.org", record.as_str())];
    let text = String::from_utf8(out)
        .unwrap()
        .replace("Subject: hi", "subject:   hi ");
    assert_eq!(check(text.as_bytes(), &list)[0].outcome, Outcome::Fail);
}

/// RFC 8463's key as `sel` of `example.org`.
fn ed_signer() -> Signer {
    Signer {
        key: rfc8463_ed25519(),
        domain: "example.org".into(),
        selector: "sel".into(),
    }
}

/// relaxed/relaxed, the default fields, `t=0`, no `x=`.
fn relaxed() -> Options {
    Options {
        header: Canon::Relaxed,
        body: Canon::Relaxed,
        fields: None,
        time: 0,
        expire: None,
    }
}

#[test]
fn crlf_message_gets_crlf_field_and_no_from_is_refused() {
    let crlf = MESSAGE.replace('\n', "\r\n");
    let (out, record) = signed(&crlf, Canon::Relaxed, Some(vec!["from".into()]));
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "{text:?}");
    assert!(text.contains(" h=from;"));
    let list = [("sel._domainkey.example.org", record.as_str())];
    assert_eq!(check(&out, &list)[0].outcome, Outcome::Pass);

    let err = sign::sign(
        &b"To: x\n\nbody\n"[..],
        &mut Vec::new(),
        &[ed_signer()],
        &relaxed(),
    );
    assert!(matches!(err, Err(sign::Error::NoFrom)));
}

/// Fuzzing's findings (issue 17): a folded line before any field would
/// become the continuation of the field put on top, so it is refused; an
/// obsolete `From :` first line is the From field, not an mbox `From `
/// line, so the new field goes above it (and is not glued to it when it
/// has no line end); a real mbox `From ` line stays first.
#[test]
fn the_field_goes_on_top_of_what_the_header_reader_reads() {
    let (signer, opts) = (ed_signer, relaxed());
    for folded in [
        &b" x\nFrom: a@b\n\nbody\n"[..],
        b"From x\n\ty\nFrom: a@b\n\n",
    ] {
        let err = sign::sign(folded, &mut Vec::new(), &[signer()], &opts);
        assert!(matches!(err, Err(sign::Error::LeadingFold)), "{err:?}");
    }
    let record = rfc8463_ed25519().record();
    let list = [("sel._domainkey.example.org", record.as_str())];
    let mut out = Vec::new();
    sign::sign(&b"From :a@b"[..], &mut out, &[signer()], &opts).unwrap();
    assert!(
        out.starts_with(b"DKIM-Signature:"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(out.ends_with(b"\nFrom :a@b"));
    assert_eq!(check(&out, &list)[0].outcome, Outcome::Pass);
    let mut out = Vec::new();
    let mbox = b"From a@b Mon Dec  7 00:00:00 2026\nFrom: a@b\n\nhi\n";
    sign::sign(&mbox[..], &mut out, &[signer()], &opts).unwrap();
    assert!(out.starts_with(b"From a@b Mon Dec  7 00:00:00 2026\nDKIM-Signature:"));
    assert_eq!(check(&out, &list)[0].outcome, Outcome::Pass);
}

/// Hostile signatures: each is a permerror with its reason, never a panic.
#[test]
fn hostile_signatures_are_permerrors() {
    let (out, record) = signed(MESSAGE, Canon::Relaxed, None);
    let text = String::from_utf8(out).unwrap();
    let list = [("sel._domainkey.example.org", record.as_str())];
    let cases: &[(&str, &str, &str)] = &[
        ("v=1; ", "", "no v= tag"),
        ("v=1; ", "v=1; v=1; ", "tag v= appears twice"),
        ("bh=", "bh=!!!!", "bh= is not base64"),
        (
            "a=ed25519-sha256",
            "a=rsa-sha1",
            "rsa-sha1 is not accepted (RFC 8301)",
        ),
        (
            "d=example.org",
            "d=example.org; l=999999",
            "l= is longer than the body",
        ),
        (
            "s=sel",
            "s=nokey",
            "no key record at nokey._domainkey.example.org",
        ),
        (
            "h=from:to:subject:from",
            "h=to:subject",
            "h= does not sign From",
        ),
        ("x=1600003600", "x=1500000000", "x= is before t="),
        (
            "d=example.org",
            "d=example.org; i=@other.org",
            "i= is not within d=",
        ),
    ];
    for (from, to, why) in cases {
        let bad = text.replacen(from, to, 1);
        let v = check(bad.as_bytes(), &list);
        assert_eq!(v[0].outcome, Outcome::PermError, "{to}: {v:?}");
        assert!(v[0].reason.starts_with(why), "{to}: {v:?}");
    }
    // A 100 KB signature field.
    let huge = text.replacen("v=1;", &format!("v=1; z={};", "A".repeat(100_000)), 1);
    let v = check(huge.as_bytes(), &list);
    assert_eq!(v[0].outcome, Outcome::Fail, "{v:?}");
    let huge = text.replacen("v=1;", &format!("v=1; {}", "z=A; ".repeat(20_000)), 1);
    assert_eq!(check(huge.as_bytes(), &list)[0].outcome, Outcome::PermError);
    // Key records: revoked, wrong type, temporary failure, testing mode.
    let revoked = [("sel._domainkey.example.org", "v=DKIM1; k=ed25519; p=")];
    assert_eq!(
        check(text.as_bytes(), &revoked)[0].reason,
        "key revoked (empty p=)"
    );
    let rsa = [("sel._domainkey.example.org", TEST)];
    assert_eq!(check(text.as_bytes(), &rsa)[0].outcome, Outcome::PermError);
    let v = verify::verify(text.as_bytes(), 0, &mut |_| {
        Err(LookupError::Temporary("timed out".into()))
    })
    .unwrap();
    assert_eq!(
        (v[0].outcome, v[0].reason.as_str()),
        (Outcome::TempError, "timed out")
    );
    let testing = format!("{record}; t=y");
    let testing = [("sel._domainkey.example.org", testing.as_str())];
    let tampered = text.replace("line  one", "line  two");
    assert_eq!(
        check(tampered.as_bytes(), &testing)[0].outcome,
        Outcome::Neutral
    );
    assert!(check(MESSAGE.as_bytes(), &list).is_empty());
}

/// RSA keys under 1024 bits: permerror (RFC 8301 §3.2). The key is the
/// 512-bit SubjectPublicKeyInfo of a throwaway key.
#[test]
fn rsa_key_under_1024_bits_is_permerror() {
    let message = RFC8463_SIGNED.replace("s=test", "s=small");
    let small = "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANTYi7Hs+GHn6qjym07X9DA3R6P0uFP+CTiqkrfrTnl6MMGcrPi8/qST+qFEbPY6CQvkt0F6XtiRxJKT5GLTBFUCAwEAAQ==";
    let list = [("small._domainkey.football.example.com", small)];
    let v = check(message.as_bytes(), &list);
    assert_eq!(v[1].selector, "small");
    let v = &v[1..];
    assert_eq!(v[0].outcome, Outcome::PermError, "{v:?}");
    assert!(v[0].reason.contains("512 bits"), "{v:?}");
}

/// An mbox `From ` line is no part of the message: it stays first, the
/// signature after it.
#[test]
fn mbox_from_line_stays_first() {
    let mbox = format!("From a@example.org Mon Dec  7 00:00:00 2026\n{MESSAGE}");
    let (out, record) = signed(&mbox, Canon::Relaxed, None);
    let text = String::from_utf8(out.clone()).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    assert_eq!(first, "From a@example.org Mon Dec  7 00:00:00 2026");
    assert!(rest.starts_with("DKIM-Signature: v=1;"), "{rest}");
    assert!(rest.ends_with(MESSAGE));
    let list = [("sel._domainkey.example.org", record.as_str())];
    assert_eq!(check(&out, &list)[0].outcome, Outcome::Pass);
}

/// Over the spool's memory (256 KiB) the message goes through a file:
/// the same bytes come out, the signature verifies.
#[test]
fn large_message_through_the_spool_file() {
    let body: String = (0..40_000).map(|i| format!("line {i}  \t end\n")).collect();
    let big = format!("From a@example.org Mon Dec  7 00:00:00 2026\n{MESSAGE}{body}");
    assert!(big.len() > crate::limits::SPOOL_MEM);
    for canon in [Canon::Simple, Canon::Relaxed] {
        let (out, record) = signed(&big, canon, None);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.ends_with(&big[big.find('\n').unwrap() + 1..]));
        assert!(text.starts_with("From a@example.org Mon Dec  7 00:00:00 2026\nDKIM-Signature:"));
        let list = [("sel._domainkey.example.org", record.as_str())];
        assert_eq!(check(&out, &list)[0].outcome, Outcome::Pass, "{canon:?}");
    }
}

/// Past [`crate::limits::DKIM_MAX_SIGNATURES`] signatures, the rest are
/// permerror unchecked.
#[test]
fn signatures_past_the_limit_are_permerror() {
    let (out, record) = signed(MESSAGE, Canon::Relaxed, None);
    let text = String::from_utf8(out).unwrap();
    let field = &text[..text.find("From: A").unwrap()];
    let many = format!(
        "{}{text}",
        field.repeat(crate::limits::DKIM_MAX_SIGNATURES + 1)
    );
    let list = [("sel._domainkey.example.org", record.as_str())];
    let v = check(many.as_bytes(), &list);
    assert_eq!(v.len(), crate::limits::DKIM_MAX_SIGNATURES + 2);
    let (checked, rest) = v.split_at(crate::limits::DKIM_MAX_SIGNATURES);
    assert!(
        checked.iter().all(|v| v.outcome == Outcome::Pass),
        "{checked:?}"
    );
    assert!(
        rest.iter()
            .all(|v| v.outcome == Outcome::PermError && v.reason.starts_with("more than")),
        "{rest:?}"
    );
}

/// Long runs are hashed as they come, short pieces gathered: the same
/// digest either way, and `l=` cuts at the same byte.
#[test]
fn body_hash_same_in_any_pieces() {
    let mut body = Vec::new();
    for i in 0..3000 {
        body.extend_from_slice(format!("{i} {}\t \r\n\n", "x".repeat(i % 97)).as_bytes());
    }
    body.extend_from_slice(&[b'y'; 70_000]);
    for canon in [Canon::Simple, Canon::Relaxed] {
        for limit in [None, Some(5), Some(100_000)] {
            let mut whole = Body::new(canon, limit);
            whole.update(&body);
            let whole = whole.finish();
            let mut pieces = Body::new(canon, limit);
            for piece in body.chunks(7) {
                pieces.update(piece);
            }
            let pieces = pieces.finish();
            assert_eq!(whole.digest, pieces.digest, "{canon:?} {limit:?}");
            assert_eq!(whole.length, pieces.length);
            let mut all = Body::new(canon, None);
            all.update(&body);
            assert_eq!(
                all.finish().length,
                whole.length,
                "l= does not change the length"
            );
        }
    }
    let mut five = Body::new(Canon::Simple, Some(5));
    five.update(b"abcdefgh\r\n");
    let five = five.finish();
    assert_eq!(
        five.digest,
        ring::digest::digest(&ring::digest::SHA256, b"abcde").as_ref()
    );
    assert_eq!(five.length, 10);
}

/// CR, LF, `;` or white space in a domain, a selector or a field name
/// never reach the field.
#[test]
fn names_that_would_break_the_field_are_refused() {
    for (domain, selector, field) in [
        ("example.org\r\nBcc: x", "s", "from"),
        ("example.org", "s; d=evil.example", "from"),
        ("example.org", "", "from"),
        ("example..org", "s", "from"),
        ("example.org", "s", "from;x"),
        ("example.org", "s", "fr om"),
        ("example.org", "s", "to"),
    ] {
        let signer = Signer {
            key: rfc8463_ed25519(),
            domain: domain.into(),
            selector: selector.into(),
        };
        let opts = Options {
            header: Canon::Relaxed,
            body: Canon::Relaxed,
            fields: Some(vec![field.into()]),
            time: 0,
            expire: None,
        };
        let mut out = Vec::new();
        let err = sign::sign(MESSAGE.as_bytes(), &mut out, &[signer], &opts);
        assert!(
            matches!(err, Err(sign::Error::BadName(_))),
            "{domain:?} {selector:?} {field:?}"
        );
        assert!(out.is_empty());
    }
}

/// RFC 6376 §3.4.4 written the plain way, line by line, for the property
/// below: lines end at LF (a CR before it is part of the end), white space
/// runs become one SP, none at a line's end, empty lines at the end go,
/// and an empty body is nothing.
fn relaxed_reference(body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut pieces: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let last = pieces.pop().unwrap_or_default();
    for (i, piece) in pieces.iter().chain([&last]).enumerate() {
        let ended = i < pieces.len();
        if !ended && piece.is_empty() {
            break;
        }
        let piece = if ended {
            piece.strip_suffix(b"\r").unwrap_or(piece)
        } else {
            piece
        };
        let mut line = Vec::new();
        let mut space = false;
        for &b in piece {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    line.push(b' ');
                }
                space = false;
                line.push(b);
            }
        }
        lines.push(line);
    }
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
        .iter()
        .flat_map(|l| [&l[..], b"\r\n"].concat())
        .collect()
}

proptest::proptest! {
    /// The relaxed body hash, fed in any pieces, is the hash of the plain
    /// reference (its fast path takes runs of text with single spaces).
    #[test]
    fn relaxed_body_matches_the_plain_reference(
        body in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b'b', b' ', b'\t', b'\r', b'\n']),
            0..200,
        ),
        step in 1usize..20,
    ) {
        let mut h = Body::new(Canon::Relaxed, None);
        for piece in body.chunks(step) {
            h.update(piece);
        }
        let want = ring::digest::digest(&ring::digest::SHA256, &relaxed_reference(&body));
        proptest::prop_assert_eq!(h.finish().digest, want.as_ref().to_vec());
    }
}
