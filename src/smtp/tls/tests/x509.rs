//! Certificate info: fields, compared with openssl, and the helpers.

use std::io::Write;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use x509_parser::der_parser::asn1_rs::Tag;

use crate::smtp::tls::x509::{cert_info, der_string, dotted_oid, format_unix};
use crate::smtp::tls::{Fingerprint, self_signed_pem};

#[test]
fn cert_info_fields() {
    let (cert, _) = self_signed_pem("mx.example.org").unwrap();
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let info = cert_info(der.as_ref());
    assert_eq!(info.subject, "CN=mx.example.org");
    assert_eq!(info.issuer, "CN=mx.example.org");
    // rcgen's default validity: 1975 (UTCTime) to 4096 (GeneralizedTime).
    assert_eq!(info.not_before, "1975-01-01 00:00:00 UTC");
    assert_eq!(info.not_after, "4096-01-01 00:00:00 UTC");
    assert_eq!(info.not_after_unix, Some(67_090_118_400));
    assert_eq!(info.sha256, Fingerprint::of(der.as_ref()));
    // Truncated or garbage DER: no panic, fingerprint still there.
    for n in 0..der.len() {
        let _ = cert_info(&der[..n]);
    }
    let info = cert_info(b"\x30\x84\xff\xff\xff\xff");
    assert_eq!(info.subject, "");
    assert_eq!(info.sha256, Fingerprint::of(b"\x30\x84\xff\xff\xff\xff"));
}

#[test]
fn cert_info_matches_openssl() {
    // A richer name from rcgen, compared with openssl's RFC 2253 view.
    let mut params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CountryName, "DE");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Bärchen GmbH");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "a.example");
    params.not_after = rcgen::date_time_ymd(2031, 7, 9);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let info = cert_info(cert.der());
    assert_eq!(info.subject, "CN=a.example, O=Bärchen GmbH, C=DE");
    assert_eq!(info.not_after, "2031-07-09 00:00:00 UTC");
    assert_eq!(format_unix(info.not_after_unix.unwrap()), info.not_after);
    let Ok(mut child) = std::process::Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-subject",
            "-enddate",
            "-fingerprint",
            "-sha256",
            "-nameopt",
            "RFC2253,-esc_msb",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIP cert_info_matches_openssl: no openssl");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cert.pem().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.contains("subject=CN=a.example,O=Bärchen GmbH,C=DE"),
        "{out}"
    );
    assert!(out.contains("notAfter=Jul  9 00:00:00 2031 GMT"), "{out}");
    assert!(
        out.contains(&format!("Fingerprint={}", &info.sha256.to_string()[7..])),
        "{out}"
    );
}

#[test]
fn der_helpers() {
    assert_eq!(dotted_oid(&[0x55, 0x04, 0x2a]), "2.5.4.42");
    assert_eq!(
        dotted_oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
        "1.2.840.113549"
    );
    assert_eq!(dotted_oid(&[0x88, 0x37]), "2.999");
    assert_eq!(dotted_oid(&[0xff; 12]), "?");
    assert_eq!(der_string(Some(Tag::BmpString), &[0, b'h', 0, b'i']), "hi");
    assert_eq!(der_string(Some(Tag::TeletexString), &[0xe9]), "é");
    assert_eq!(
        der_string(Some(Tag::UniversalString), &[0, 0, 0, b'h']),
        "h"
    );
    assert_eq!(der_string(Some(Tag::OctetString), &[1, 2]), "#0102");
    assert_eq!(der_string(None, b"ab"), "#6162");
    assert_eq!(
        der_string(Some(Tag::Utf8String), b"evil\x1b[2J"),
        "evil\\x1b[2J"
    );
    for (secs, text) in [
        (0, "1970-01-01 00:00:00 UTC"),
        (951_782_400, "2000-02-29 00:00:00 UTC"),
        (1_709_164_799, "2024-02-28 23:59:59 UTC"),
        (4_102_444_800, "2100-01-01 00:00:00 UTC"),
        (-631_152_000, "1950-01-01 00:00:00 UTC"),
    ] {
        assert_eq!(format_unix(secs), text);
    }
}

/// UTCTime's two-digit years are 1950 to 2049 (RFC 5280 §4.1.2.5.1), later
/// years GeneralizedTime; a malformed time leaves the fields empty.
#[test]
fn cert_times() {
    let make = |before: (i32, u8, u8), after: (i32, u8, u8)| {
        let mut params = rcgen::CertificateParams::new(vec!["t.example".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(before.0, before.1, before.2);
        params.not_after = rcgen::date_time_ymd(after.0, after.1, after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    };
    let der = make((1950, 1, 1), (2049, 12, 31));
    let info = cert_info(&der);
    assert_eq!(info.not_before, "1950-01-01 00:00:00 UTC");
    assert_eq!(info.not_after, "2049-12-31 00:00:00 UTC");
    assert_eq!(info.not_after_unix, Some(2_524_521_600));
    assert_eq!(info.names, ["t.example"]);
    let info = cert_info(&make((2049, 12, 31), (2050, 1, 1)));
    assert_eq!(info.not_after, "2050-01-01 00:00:00 UTC");
    // Month 13 in the UTCTime of notAfter.
    let at = der.windows(13).position(|w| w == b"491231000000Z").unwrap();
    let mut bad = der.clone();
    bad[at + 2..at + 4].copy_from_slice(b"13");
    let info = cert_info(&bad);
    assert_eq!((info.subject.as_str(), info.not_after_unix), ("", None));
    assert_eq!(info.sha256, Fingerprint::of(&bad));
}
