//! What `--probe` and `-v` show of a certificate: [`CertInfo`], read from
//! its DER form (RFC 5280 §4.1) by x509-parser, then written as text:
//! names in RFC 4514 form, times as `YYYY-MM-DD HH:MM:SS UTC` (jiff).

use std::net::{Ipv4Addr, Ipv6Addr};

use rustls::pki_types::UnixTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::{Class, FromDer, Oid, Tag};
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

use super::common::Fingerprint;

/// What `--probe` shows of a certificate. Text fields are printable: control
/// characters from a hostile certificate are escaped as `\xNN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name, RFC 4514 order (`CN=mx.example, O=Example`),
    /// empty if the certificate could not be parsed.
    pub subject: String,
    /// Issuer distinguished name, same form.
    pub issuer: String,
    /// Start of validity, `YYYY-MM-DD HH:MM:SS UTC`.
    pub not_before: String,
    /// End of validity, same form.
    pub not_after: String,
    /// End of validity in seconds since the Unix epoch (for "expires in N
    /// days").
    pub not_after_unix: Option<i64>,
    /// Subject alternative names: DNS names and IP addresses.
    pub names: Vec<String>,
    /// SHA-256 of the DER certificate (what `--tls-fingerprint` pins).
    pub sha256: Fingerprint,
}

/// Reads subject, issuer, validity and names from a DER certificate
/// (RFC 5280 §4.1). A certificate x509-parser cannot read leaves every
/// field empty; the fingerprint is always there.
pub(super) fn cert_info(der: &[u8]) -> CertInfo {
    let mut info = CertInfo {
        subject: String::new(),
        issuer: String::new(),
        not_before: String::new(),
        not_after: String::new(),
        not_after_unix: None,
        names: Vec::new(),
        sha256: Fingerprint::of(der),
    };
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return info;
    };
    info.subject = format_name(cert.subject());
    info.issuer = format_name(cert.issuer());
    let validity = cert.validity();
    info.not_before = format_unix(validity.not_before.timestamp());
    let not_after = validity.not_after.timestamp();
    info.not_after = format_unix(not_after);
    info.not_after_unix = Some(not_after);
    // id-ce-subjectAltName (RFC 5280 §4.2.1.6); an unreadable one shows no
    // names.
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match *name {
                GeneralName::DNSName(n) => info.names.push(printable(n)),
                GeneralName::IPAddress(a) => {
                    if let Ok(a) = <[u8; 4]>::try_from(a) {
                        info.names.push(Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(a) {
                        info.names.push(Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    info
}

/// A certificate's validity period (RFC 5280 §4.1.2.5: notBefore,
/// notAfter), if it parses and both times are after 1970.
pub(super) fn validity(der: &[u8]) -> Option<(UnixTime, UnixTime)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let v = cert.validity();
    let unix = |t: i64| {
        u64::try_from(t)
            .ok()
            .map(|s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s)))
    };
    Some((
        unix(v.not_before.timestamp())?,
        unix(v.not_after.timestamp())?,
    ))
}

/// A Name (RFC 5280 §4.1.2.4) as RFC 4514 text: last RDN first,
/// `, ` between RDNs, `+` within one. (x509-parser's own `Display` keeps
/// the DER order and other attribute names.)
fn format_name(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            let parts: Vec<String> = rdn
                .iter()
                .map(|atv| {
                    let value = atv.attr_value();
                    // Only the universal string types are text.
                    let tag = (value.class() == Class::Universal && !value.header.is_constructed())
                        .then(|| value.tag());
                    format!(
                        "{}={}",
                        oid_name(atv.attr_type()),
                        der_string(tag, value.data)
                    )
                })
                .collect();
            parts.join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(", ")
}

/// The RFC 4514 §3 short name of an attribute type (and the ones openssl
/// prints), else the dotted OID.
fn oid_name(oid: &Oid<'_>) -> String {
    let short = match oid.as_bytes() {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        bytes => return dotted_oid(bytes),
    };
    short.to_owned()
}

/// `2.5.4.42` from the DER contents of an OID (X.690 §8.19). Not asn1-rs's
/// `Oid::to_id_string`: it splits the first two arcs from the first octet
/// alone (`2.999` comes out as `3.16.55`) and writes an arc over 64 bits as
/// hex; here such an OID is `?`.
pub(super) fn dotted_oid(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        if value > u64::MAX >> 7 {
            return "?".to_owned();
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
    parts.join(".")
}

/// A directory string's text: UTF8String, PrintableString, IA5String,
/// TeletexString (as Latin-1), BMPString (UTF-16BE), UniversalString
/// (UTF-32BE); anything else as `#hex` (RFC 4514 §2.4).
pub(super) fn der_string(tag: Option<Tag>, value: &[u8]) -> String {
    let text = match tag {
        Some(Tag::Utf8String | Tag::PrintableString | Tag::Ia5String) => {
            String::from_utf8_lossy(value).into_owned()
        }
        Some(Tag::TeletexString) => value.iter().map(|&b| char::from(b)).collect(),
        Some(Tag::BmpString) => char::decode_utf16(
            value
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]])),
        )
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect(),
        Some(Tag::UniversalString) => value
            .chunks_exact(4)
            .map(|p| {
                char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect(),
        _ => {
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            return format!("#{hex}");
        }
    };
    printable(&text)
}

/// Escapes control characters (and bidi controls and line separators),
/// so a certificate cannot write terminal escape sequences into `--probe`
/// output nor reorder what it shows.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || crate::codec::encoded_word::is_bad_control(c) {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Seconds since the Unix epoch as `2026-11-26 19:31:32 UTC`, for
/// certificate times and rustls' `UnixTime` in messages. A time beyond
/// jiff's range (years -9999 to 9999) is written as its nearest end.
pub(super) fn format_unix(secs: i64) -> String {
    let t = jiff::Timestamp::from_second(secs).unwrap_or(if secs < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}
