//! The message header fields: address, text and structured fields from
//! the user's arguments, checked and folded (RFC 5322 §2.1.1, §3.6).

use super::error::{Error, Shown, usage};
use super::options::Spec;
use super::random::message_id;
use crate::codec::{charset, encoded_word};
use crate::message::address::{self, Address, Mailbox, Words, is_atext};
use crate::message::mime::fold_append;
use crate::message::{date, header};

/// Refuses CR, LF and NUL in an argument that lands in a header.
pub(super) fn check_arg(what: &str, value: &str) -> Result<(), Error> {
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(usage(format!(
            "{what} {:?}: contains a line break or NUL",
            Shown(value)
        )));
    }
    Ok(())
}

/// Header-field layout: pieces separated by a space, folded before a
/// piece that would pass the fold width ([`fold_append`]).
struct Line {
    out: String,
    col: usize,
}

impl Line {
    fn new(name: &str) -> Line {
        Line {
            out: format!("{name}:"),
            col: name.len() + 1,
        }
    }

    fn piece(&mut self, p: &str) {
        fold_append(&mut self.out, &mut self.col, " ", p, 0);
    }
}

/// RFC 5321 §4.5.3.1.1-2: at most 64 octets of local part and 255 of
/// domain, so that every address can be delivered (and a field line stays
/// well under 998 octets).
const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 255;

fn check_mailbox(m: &Mailbox, what: &str, v: &str) -> Result<(), Error> {
    let Some((local, domain)) = m.addr.rsplit_once('@') else {
        return Err(usage(format!(
            "{what} {:?}: address without a domain",
            Shown(v)
        )));
    };
    if local.len() > MAX_LOCAL {
        return Err(usage(format!(
            "{what} {:?}: local part longer than {MAX_LOCAL} octets (RFC 5321)",
            Shown(v)
        )));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(usage(format!(
            "{what} {:?}: domain longer than {MAX_DOMAIN} octets (RFC 5321)",
            Shown(v)
        )));
    }
    Ok(())
}

fn mailbox_pieces(m: &Mailbox, pieces: &mut Vec<String>) {
    match &m.name {
        Some(n) => {
            pieces.extend(address::phrase(n, Words::Runs));
            pieces.push(format!("<{}>", m.addr));
        }
        None => pieces.push(m.addr.clone()),
    }
}

/// An address field from user arguments: each parsed strictly, so the
/// field holds exactly the mailboxes typed.
pub(crate) fn address_field(name: &str, what: &str, values: &[String]) -> Result<String, Error> {
    let mut items: Vec<Vec<String>> = Vec::new();
    for v in values {
        check_arg(what, v)?;
        let list = address::parse(v.as_bytes())
            .strict()
            .map_err(|d| usage(format!("{what} {:?}: {d} ({})", Shown(v), address::HINT)))?;
        if list.is_empty() {
            return Err(usage(format!("{what} {:?}: no address", Shown(v))));
        }
        for a in list {
            let mut pieces = Vec::new();
            match a {
                Address::Mailbox(m) => {
                    check_mailbox(&m, what, v)?;
                    mailbox_pieces(&m, &mut pieces);
                }
                Address::Group(g) => {
                    let mut head = address::phrase(&g.name, Words::Runs);
                    if let Some(last) = head.last_mut() {
                        last.push(':');
                    }
                    pieces.extend(head);
                    for (k, m) in g.members.iter().enumerate() {
                        check_mailbox(m, what, v)?;
                        mailbox_pieces(m, &mut pieces);
                        if k + 1 < g.members.len()
                            && let Some(last) = pieces.last_mut()
                        {
                            last.push(',');
                        }
                    }
                    match pieces.last_mut() {
                        Some(last) if !g.members.is_empty() => last.push(';'),
                        _ => pieces.push(";".to_owned()),
                    }
                }
            }
            items.push(pieces);
        }
    }
    let mut line = Line::new(name);
    let n = items.len();
    for (k, mut item) in items.into_iter().enumerate() {
        if k + 1 < n
            && let Some(last) = item.last_mut()
        {
            last.push(',');
        }
        for p in item {
            line.piece(&p);
        }
    }
    Ok(line.out)
}

/// Unstructured text as a folded field with RFC 2047 words where needed.
pub(super) fn text_field(name: &str, what: &str, value: &str) -> Result<String, Error> {
    check_arg(what, value)?;
    encoded_word::encode_field(
        name,
        value.as_bytes(),
        &charset::Target::UTF_8,
        Default::default(),
    )
    .map_err(|e| usage(format!("{what} {:?}: {e}", Shown(value))))
}

/// Fields that may appear once (RFC 5322 §3.6, RFC 2369 §3, RFC 8058 §3.1)
/// and that we write.
const ONCE: [&str; 11] = [
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
];

/// The URI schemes a `List-Unsubscribe` field may name that a mail
/// program acts on (RFC 2369 §2: mailto, or a web page; RFC 8058 §3.1:
/// https for one click).
const UNSUBSCRIBE_SCHEMES: [&str; 3] = ["mailto", "https", "http"];

/// `List-Unsubscribe: <uri>, <uri>` (RFC 2369 §3.2, each URI in angle
/// brackets) and, for `--one-click`, RFC 8058's `List-Unsubscribe-Post`,
/// which needs an https URI to POST to (§3.1).
fn unsubscribe_fields(uris: &[String], one_click: bool) -> Result<Vec<String>, Error> {
    let what = "--list-unsubscribe";
    if uris.is_empty() {
        return if one_click {
            Err(usage(
                "--one-click: needs --list-unsubscribe with an https URI",
            ))
        } else {
            Ok(Vec::new())
        };
    }
    let mut line = Line::new("List-Unsubscribe");
    for (i, uri) in uris.iter().enumerate() {
        check_arg(what, uri)?;
        // A URI is ASCII without spaces or angle brackets (RFC 3986 §2;
        // RFC 2369 §2 delimits it with `<>`): anything else is percent-
        // encoded by whoever made it.
        if !uri
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
        {
            return Err(usage(format!(
                "{what} {:?}: not a URI (spaces, angle brackets and non-ASCII must be \
                 percent-encoded)",
                Shown(uri)
            )));
        }
        let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        if !scheme
            .as_deref()
            .is_some_and(|s| UNSUBSCRIBE_SCHEMES.contains(&s))
        {
            return Err(usage(format!(
                "{what} {:?}: want a mailto:, https: or http: URI",
                Shown(uri)
            )));
        }
        let sep = if i + 1 < uris.len() { "," } else { "" };
        line.piece(&format!("<{uri}>{sep}"));
    }
    let mut out = vec![line.out];
    if one_click {
        if !uris.iter().any(|u| {
            u.get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        }) {
            return Err(usage(
                "--one-click: needs an https URI in --list-unsubscribe (RFC 8058 §3.1)",
            ));
        }
        out.push("List-Unsubscribe-Post: List-Unsubscribe=One-Click".to_owned());
    }
    Ok(out)
}

/// The message header fields (without the MIME ones), and the subject
/// text (for split pieces).
pub(super) fn message_fields(spec: &Spec) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut from_domain = None;
    let std_fields: [(&str, &str, Vec<String>); 5] = [
        ("From", "-f", spec.from.iter().cloned().collect()),
        ("To", "-t", spec.to.clone()),
        ("Cc", "-c", spec.cc.clone()),
        ("Bcc", "-b", spec.bcc.clone()),
        ("Reply-To", "-r", spec.reply_to.clone()),
    ];
    for (name, what, values) in &std_fields {
        if values.is_empty() {
            continue;
        }
        if *name == "From" {
            from_domain = values.first().and_then(|v| domain_of(v));
        }
        out.push(address_field(name, what, values)?);
        seen.push(name.to_ascii_lowercase());
    }
    if let Some(s) = &spec.subject {
        out.push(text_field("Subject", "-s", s)?);
        seen.push("subject".to_owned());
    }
    out.extend(unsubscribe_fields(&spec.list_unsubscribe, spec.one_click)?);
    if !spec.list_unsubscribe.is_empty() {
        seen.push("list-unsubscribe".to_owned());
    }
    if spec.one_click {
        seen.push("list-unsubscribe-post".to_owned());
    }
    let mut extra = Vec::new();
    for f in &spec.fields {
        check_arg("-H", f)?;
        let (name, value) = f
            .split_once(':')
            .ok_or_else(|| usage(format!("-H {:?}: not 'Name: value'", Shown(f))))?;
        let name = name.trim_end();
        let value = value.trim_start_matches([' ', '\t']);
        if let Err(e) = encoded_word::field_name(name) {
            return Err(usage(format!("-H {:?}: bad field name: {e}", Shown(f))));
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("content-") || lower == "mime-version" {
            return Err(usage(format!(
                "-H {:?}: {name} is written by mime-build",
                Shown(f)
            )));
        }
        if ONCE.contains(&&lower[..]) {
            if seen.contains(&lower) {
                return Err(usage(format!("-H {:?}: {name} given twice", Shown(f))));
            }
            seen.push(lower.clone());
        }
        let bad = |what: &str| usage(format!("-H {:?}: not {what}", Shown(f)));
        let ids = |one: bool| match msg_ids(value) {
            Some(ids) if !one || ids.len() == 1 => {
                let mut line = Line::new(name);
                ids.iter().for_each(|id| line.piece(id));
                Ok(line.out)
            }
            _ => Err(bad(if one {
                "one <id@domain>"
            } else {
                "a list of <id@domain>"
            })),
        };
        if header::is_address_field(name) {
            if lower == "from" {
                from_domain = domain_of(value);
            }
            extra.push(address_field(name, "-H", &[value.to_owned()])?);
        } else if matches!(&lower[..], "date" | "resent-date") {
            // RFC 5322 §3.3, written again in its current form.
            let d = date::normalize(value).ok_or_else(|| bad("an RFC 5322 date-time"))?;
            extra.push(format!("{name}: {d}"));
        } else if matches!(&lower[..], "message-id" | "resent-message-id") {
            extra.push(ids(true)?);
        } else if matches!(&lower[..], "in-reply-to" | "references") {
            extra.push(ids(false)?);
        } else {
            extra.push(text_field(name, "-H", value)?);
        }
    }
    if !seen.iter().any(|s| s == "date") {
        out.push(format!("Date: {}", date::now()));
    }
    if !seen.iter().any(|s| s == "message-id") {
        let domain = from_domain.unwrap_or_else(host_domain);
        out.push(format!("Message-ID: {}", message_id(&domain)));
    }
    out.extend(extra);
    out.push("MIME-Version: 1.0".to_owned());
    for f in &out {
        check_line_length(f)?;
    }
    Ok(out)
}

/// RFC 5322 §3.2.3 `dot-atom-text` (ASCII).
pub(super) fn is_dot_atom_text(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.bytes().all(is_atext))
}

/// RFC 5322 §3.6.4 `id-left "@" id-right` (what stands between `<` and
/// `>`): `dot-atom-text "@" (dot-atom-text / no-fold-literal)`; the
/// obsolete forms are not written.
pub(super) fn is_msg_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    let literal = |r: &str| {
        r.len() >= 2
            && r.starts_with('[')
            && r.ends_with(']')
            && r[1..r.len() - 1]
                .bytes()
                .all(|b| matches!(b, 33..=90 | 94..=126))
    };
    is_dot_atom_text(left) && (is_dot_atom_text(right) || literal(right))
}

/// The `<id@domain>` of a Message-ID, In-Reply-To or References value
/// (RFC 5322 §3.6.4: msg-ids separated by white space; no comments).
fn msg_ids(value: &str) -> Option<Vec<&str>> {
    let mut ids = Vec::new();
    let mut rest = value.trim_matches([' ', '\t']);
    while !rest.is_empty() {
        let end = rest.find('>')?;
        let id = rest.strip_prefix('<')?.get(..end - 1)?;
        if !is_msg_id(id) {
            return None;
        }
        ids.push(&rest[..=end]);
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
    }
    (!ids.is_empty()).then_some(ids)
}

/// The MIME name of a charset label (`latin1` → `ISO-8859-1`,
/// `sjis` → `Shift_JIS`): the name the encoder writes in encoded-words
/// ([`charset::target`]), else, for charsets that can only be read
/// (UTF-16, UTF-7), the decoder's. Unknown labels are a usage error.
pub(super) fn charset_name(what: &str, label: &str) -> Result<String, Error> {
    let name = match charset::target(label.as_bytes()) {
        Ok(t) => Some(t.name()),
        Err(_) => match charset::find(label.as_bytes()) {
            Some(charset::Charset::Utf16) => Some("UTF-16"),
            Some(charset::Charset::Utf7) => Some("UTF-7"),
            Some(charset::Charset::Encoding(e)) => Some(e.name()),
            None => None,
        },
    };
    name.map(str::to_owned)
        .ok_or_else(|| usage(format!("{what}{:?}: unknown charset", Shown(label))))
}

/// RFC 5322 §2.1.1: "Each line of characters MUST be no more than 998
/// characters". The checks on each argument keep every field within it;
/// this is the last guard, so that no argument can break the rule.
pub(super) fn check_line_length(field: &str) -> Result<(), Error> {
    if field.split('\n').any(|l| l.len() > 998) {
        let name = field.split(':').next().unwrap_or("");
        return Err(usage(format!(
            "{name}: a line of the field would be longer than 998 octets"
        )));
    }
    Ok(())
}

/// The domain of the first mailbox in `value`, if it is a plain ASCII one
/// (a Message-ID must be ASCII).
fn domain_of(value: &str) -> Option<String> {
    let list = address::parse(value.as_bytes());
    let m = list.mailboxes().next()?;
    let (_, d) = m.addr.rsplit_once('@')?;
    (!d.is_empty()
        && d.bytes()
            .all(|b| is_atext(b) || b == b'.' || b == b'[' || b == b']'))
    .then(|| d.to_owned())
}

pub(super) fn host_domain() -> String {
    let h = gethostname::gethostname().to_string_lossy().into_owned();
    if !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        h
    } else {
        "localhost".to_owned()
    }
}
