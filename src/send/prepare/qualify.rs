//! `--qualify-domain`: bare local names in the header's address fields
//! get `@domain`.

use crate::message::address;

/// The header field names whose bare local names `--qualify-domain`
/// qualifies.
pub const QUALIFIED_FIELDS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Resent-From",
    "Resent-Sender",
    "Resent-To",
    "Resent-Cc",
];

/// An address list field value with every address that has no domain
/// (`root`, `Cron Daemon <root>`) given `@domain`, the rest of the bytes
/// untouched; `None` when nothing needs it or when the list has other
/// defects (then it is left as it is).
pub fn qualify(value: &[u8], domain: &str) -> Option<Vec<u8>> {
    let list = address::parse(value);
    if list.defects.is_empty()
        || list
            .defects
            .iter()
            .any(|d| d.kind != address::DefectKind::MissingDomain)
    {
        return None;
    }
    let mut out = value.to_vec();
    // From the end, so earlier offsets stay valid.
    for d in list.defects.iter().rev() {
        let end = local_part_end(&out, d.offset)?;
        out.splice(end..end, format!("@{domain}").bytes());
    }
    // Only what was meant: the same mailboxes, each now with the domain.
    let after = address::parse(&out);
    let want: Vec<String> = list
        .mailboxes()
        .map(|m| {
            if m.addr.contains('@') {
                m.addr.clone()
            } else {
                format!("{}@{domain}", m.addr)
            }
        })
        .collect();
    let got: Vec<String> = after.mailboxes().map(|m| m.addr.clone()).collect();
    (after.defects.is_empty() && got == want).then_some(out)
}

/// Where the local part starting at `at` ends: after a quoted string, or
/// after a run of atext and dots.
fn local_part_end(v: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    if v.get(i) == Some(&b'"') {
        i += 1;
        while i < v.len() {
            match v[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        return None;
    }
    let atext =
        |b: u8| b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~.".contains(&b);
    while i < v.len() && atext(v[i]) {
        i += 1;
    }
    (i > at).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualify_adds_the_domain_to_bare_names_only() {
        let q =
            |v: &str| qualify(v.as_bytes(), "example.org").map(|v| String::from_utf8(v).unwrap());
        assert_eq!(q(" root").unwrap(), " root@example.org");
        assert_eq!(
            q(" Cron Daemon <root>, user@x.example, \"a b\"").unwrap(),
            " Cron Daemon <root@example.org>, user@x.example, \"a b\"@example.org"
        );
        assert_eq!(q(" root (Cron)").unwrap(), " root@example.org (Cron)");
        assert_eq!(q(" team: a, b@c;").unwrap(), " team: a@example.org, b@c;");
        assert_eq!(q(" user@x.example"), None);
        // Other defects: left alone.
        assert_eq!(q(" root, John Smith"), None);
        assert_eq!(q(""), None);
    }
}
