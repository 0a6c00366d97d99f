//! DKIM (RFC 6376, RFC 8463): tag lists, body canonicalization, verifying
//! a hostile message against a hostile key record, and signing.

use std::sync::OnceLock;

use mailpipe::codec::base64;
use mailpipe::message::dkim::canon::{self, Canon};
use mailpipe::message::dkim::key::SigningKey;
use mailpipe::message::dkim::sign::{self, Options, Signer};
use mailpipe::message::dkim::tags;
use mailpipe::message::dkim::verify::{self, LookupError, Outcome};

use super::Pieces;

/// A fixed time (seconds since the epoch) for `t=` and `x=`.
const NOW: u64 = 1_700_000_000;

/// RFC 8463 A.1's Ed25519 key (its seed), as PKCS#8 PEM (RFC 8410 §7).
fn key_pem() -> &'static [u8] {
    static PEM: OnceLock<Vec<u8>> = OnceLock::new();
    PEM.get_or_init(|| {
        let seed = base64::decode_to_vec(b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
            .expect("the RFC's seed");
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::encode_to_string(&der)
        )
        .into_bytes()
    })
}

/// Byte 0 cuts the body, byte 1 chooses canonicalizations; then a line
/// that is the key record, then the message.
///
/// - A tag list (the record, and the message read as one) that parses has
///   unique, well-formed names and each value is its range of the input.
/// - The body hash, fed in pieces, is the hash fed whole (§3.7), for both
///   canonicalizations, limited by `l=` or not.
/// - Verifying the message against the record (every selector gets it)
///   never panics, and gives one verdict per signature field.
/// - A message that signs verifies: its new signature (the first field)
///   passes against the key's own record.
pub fn dkim(data: &[u8]) {
    let [seed, opts, rest @ ..] = data else {
        return;
    };
    let (record, message) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    for list in [record, message] {
        if let Ok(tags) = tags::parse(list) {
            for (i, t) in tags.iter().enumerate() {
                assert!(
                    tags[..i].iter().all(|u| u.name != t.name),
                    "{} twice",
                    t.name
                );
                assert!(t.name.starts_with(|c: char| c.is_ascii_alphabetic()));
                assert_eq!(&list[t.range.clone()], t.value);
            }
        }
    }
    for c in [Canon::Simple, Canon::Relaxed] {
        for limit in [None, Some(u64::from(*opts))] {
            let mut whole = canon::Body::new(c, limit);
            whole.update(message);
            let whole = whole.finish();
            let mut cut = canon::Body::new(c, limit);
            for piece in Pieces::new(*seed).split(message) {
                cut.update(piece);
            }
            let cut = cut.finish();
            assert_eq!(
                (whole.digest, whole.length),
                (cut.digest, cut.length),
                "{c:?} {limit:?}"
            );
        }
    }
    let mut lookup = |_: &str| -> Result<Vec<Vec<u8>>, LookupError> { Ok(vec![record.to_vec()]) };
    if let Ok(verdicts) = verify::verify(message, NOW, &mut lookup) {
        let signatures = mailpipe::message::header::read_block(&mut &message[..])
            .map(|b| b.get_all(canon::FIELD.as_bytes()).count())
            .unwrap_or(0);
        assert_eq!(verdicts.len(), signatures);
    }

    let key = SigningKey::from_pem(key_pem()).expect("the RFC's key");
    let own = key.record();
    let canon_of = |bit: u8| {
        if opts & bit != 0 {
            Canon::Relaxed
        } else {
            Canon::Simple
        }
    };
    let signer = Signer {
        key,
        domain: "fuzz.example".into(),
        selector: "fz".into(),
    };
    let options = Options {
        header: canon_of(1),
        body: canon_of(2),
        fields: None,
        time: NOW,
        expire: None,
    };
    let mut signed = Vec::new();
    if sign::sign(message, &mut signed, &[signer], &options).is_err() {
        return;
    }
    let mut lookup = |name: &str| -> Result<Vec<Vec<u8>>, LookupError> {
        match name {
            "fz._domainkey.fuzz.example" => Ok(vec![own.as_bytes().to_vec()]),
            _ => Err(LookupError::NotFound),
        }
    };
    let verdicts = verify::verify(&signed[..], NOW, &mut lookup).expect("memory");
    let first = verdicts.first().unwrap_or_else(|| {
        panic!(
            "no verdict: the new signature is not seen in {:?}",
            String::from_utf8_lossy(&signed)
        )
    });
    assert_eq!(
        (first.outcome, first.domain.as_str()),
        (Outcome::Pass, "fuzz.example"),
        "{first:?} for {signed:?}"
    );
}
