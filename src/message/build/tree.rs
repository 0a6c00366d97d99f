//! The MIME tree: every input checked, typed and scanned, boundaries
//! drawn, Content-* fields written ([`prepare`]).

use std::io::{self, BufRead, Write};

use super::error::{Error, Shown, usage};
use super::fields::{
    charset_name, check_arg, check_line_length, host_domain, is_dot_atom_text, is_msg_id,
    message_fields,
};
use super::options::{Item, Leaf, Options, Spec};
use super::random::boundary;
use super::source::{Source, scan, sniff, temp_file};
use crate::codec::{
    self, DecodeError, DecodeErrorKind, PartKind, Rules, Summary, TransferEncoding, charset,
};
use crate::limits::IO_BUF;
use crate::message::address::is_atext;
use crate::message::header;
use crate::message::mime::{ContentType, FieldWriter};

// ---------------------------------------------------------------- the tree

#[derive(Debug)]
pub(super) enum Body {
    Leaf {
        source: Source,
        cte: TransferEncoding,
    },
    Multi {
        boundary: usize,
        preamble: bool,
        parts: Vec<Node>,
    },
    Entity {
        source: Source,
    },
}

/// A node of the MIME tree: its Content-* fields and its body.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) headers: Vec<String>,
    pub(super) body: Body,
    /// For leaves: what the content type is, and its scan.
    pub(super) info: Option<LeafInfo>,
}

#[derive(Debug)]
pub(super) struct LeafInfo {
    pub(super) mtype: String,
    pub(super) kind: PartKind,
    pub(super) role: Role,
    pub(super) filename: Option<String>,
    pub(super) disposition: Option<String>,
    pub(super) cid: Option<String>,
    pub(super) charset: Option<String>,
    pub(super) label: String,
    pub(super) summary: Option<Summary>,
    bad_utf8: Option<(u64, u8)>,
    /// Scanned and found a boundary line.
    pub(super) collision: bool,
    /// The type came from a look at the start of the content.
    pub(super) sniffed: bool,
    /// The type was given (`type=`), not guessed.
    pub(super) typed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Body,
    Inline,
    Attachment,
    DigestMember,
    Entity,
}

/// A message ready to be written: every input checked and scanned.
#[derive(Debug)]
pub struct Prepared {
    pub(super) fields: Vec<String>,
    pub(super) root: Node,
    pub(super) boundaries: Vec<String>,
    pub(super) crlf: bool,
    pub(super) content_ids: Vec<(String, String)>,
    pub(super) total: u64,
    pub(super) subject: Option<String>,
}

fn leaf_node(mut leaf: Leaf, role: Role, opts: &Options) -> Result<Node, Error> {
    for (what, v) in [
        ("name=", &leaf.overrides.name),
        ("type=", &leaf.overrides.content_type),
        ("cid=", &leaf.overrides.cid),
        ("charset=", &leaf.overrides.charset),
    ] {
        if let Some(v) = v {
            check_arg(&format!("{} {what}", leaf.label), v)?;
        }
    }
    let label = leaf.label.clone();
    if let Some(c) = &mut leaf.overrides.cid {
        // RFC 2045 §7: a Content-ID is a msg-id (RFC 5322 §3.6.4); the
        // `@domain` may be left out (`cid=logo`, as mailers write and
        // readers take).
        let id = c.trim_start_matches('<').trim_end_matches('>');
        if !(is_dot_atom_text(id) || is_msg_id(id)) {
            return Err(usage(format!(
                "{label}: cid={:?}: not a Content-ID (id or id@domain, letters, digits and !#$%&'*+-/=?^_`{{|}}~)",
                Shown(c)
            )));
        }
        *c = id.to_owned();
    }
    if let Some(cs) = &mut leaf.overrides.charset {
        *cs = charset_name(&format!("{label}: charset="), cs)?;
    }
    let typed = leaf.overrides.content_type.is_some() && role != Role::Body;
    let sniffed = leaf.overrides.content_type.is_none()
        && matches!(role, Role::Attachment | Role::Inline)
        && guess(leaf.overrides.name.as_deref()).is_none();
    let mtype = match (&leaf.overrides.content_type, role) {
        (Some(t), _) => {
            let ct = ContentType::parse(t.as_bytes());
            if !ct.params.defects.is_empty() || !ct.params.list.is_empty() || !t.contains('/') {
                return Err(usage(format!(
                    "{label}: type={:?} is not a type/subtype",
                    Shown(t)
                )));
            }
            let essence = ct.essence();
            // RFC 6838 §4.2: type and subtype names are at most 127
            // characters.
            if essence.split('/').any(|n| n.len() > MAX_TYPE_NAME) {
                return Err(usage(format!(
                    "{label}: type={:?}: a type or subtype longer than {MAX_TYPE_NAME} characters",
                    Shown(t)
                )));
            }
            // A file is a leaf: a multipart needs a boundary we would have
            // to find in it, message/partial and message/external-body
            // need parameters (RFC 2046 §5.2.2-5.2.3). Ready entities go
            // in with --part.
            if essence.starts_with("multipart/")
                || matches!(&essence[..], "message/partial" | "message/external-body")
            {
                return Err(usage(format!(
                    "{label}: type={:?} cannot be given to a file (use --part for a ready entity)",
                    Shown(t)
                )));
            }
            essence
        }
        (None, Role::Entity) => {
            check_entity(&mut leaf.source, &label)?;
            String::new()
        }
        (None, Role::DigestMember) => {
            guess(leaf.overrides.name.as_deref()).unwrap_or_else(|| "message/rfc822".to_owned())
        }
        (None, _) => match guess(leaf.overrides.name.as_deref()) {
            Some(t) => t,
            None => {
                if sniff(&mut leaf.source)? {
                    "application/octet-stream".to_owned()
                } else {
                    "text/plain".to_owned()
                }
            }
        },
    };
    let kind = if role == Role::Entity || mtype.starts_with("message/") {
        PartKind::Message
    } else if mtype.starts_with("text/") {
        PartKind::Text
    } else {
        PartKind::Other
    };
    let mut source = leaf.source;
    let mut charset = leaf.overrides.charset.clone();
    if kind == PartKind::Text
        && role == Role::Body
        && let Some(to) = &opts.to_charset
    {
        let (converted, name) = convert(source, to, &label)?;
        source = converted;
        charset = Some(name.to_owned());
    }
    Ok(Node {
        headers: Vec::new(),
        body: if role == Role::Entity {
            Body::Entity { source }
        } else {
            Body::Leaf {
                source,
                cte: TransferEncoding::Base64,
            }
        },
        info: Some(LeafInfo {
            mtype,
            kind,
            role,
            filename: leaf.overrides.name,
            disposition: leaf.overrides.disposition.map(|d| d.to_ascii_lowercase()),
            cid: leaf.overrides.cid,
            charset,
            label,
            summary: None,
            bad_utf8: None,
            collision: false,
            sniffed,
            typed,
        }),
    })
}

/// Checks that a `--part` file is a MIME entity (RFC 2045 §2.4): header
/// fields, then an empty line (or the end). Its fields are copied as they
/// are, so a file that starts with anything else would put its first line
/// where the part's header belongs.
fn check_entity(source: &mut Source, label: &str) -> Result<(), Error> {
    let mut input = source.open()?;
    let not = |why: &str| Error::Invalid(format!("{label}: not a MIME entity: {why}"));
    if input.fill_buf()?.starts_with(b"From ") {
        return Err(not("it starts with an mbox From line"));
    }
    let block = match header::read_block(&mut input) {
        Ok(b) => b,
        Err(crate::message::Error::Io(e)) => return Err(e.into()),
        Err(crate::message::Error::Parse(e)) => return Err(not(&e.to_string())),
    };
    if block.is_empty() {
        return Err(not("no header fields"));
    }
    if block.body_start().is_some() {
        return Err(not("no empty line after the header fields"));
    }
    Ok(())
}

/// Longest type or subtype name (RFC 6838 §4.2 `restricted-name`).
const MAX_TYPE_NAME: usize = 127;

/// The content type for a file name's extension.
pub(super) fn guess(filename: Option<&str>) -> Option<String> {
    let name = filename?;
    let ext = std::path::Path::new(name).extension()?.to_str()?;
    if ext.eq_ignore_ascii_case("eml") {
        return Some("message/rfc822".to_owned());
    }
    mime_guess::from_ext(ext)
        .first_raw()
        .map(str::to_ascii_lowercase)
        .filter(|t| !t.starts_with("multipart/") && t != "message/partial")
}

/// Converts UTF-8 text to `label` into a temporary file, in blocks split
/// between characters.
fn convert(mut source: Source, label: &str, what: &str) -> Result<(Source, &'static str), Error> {
    let target = charset::target(label.as_bytes())
        .map_err(|e| usage(format!("--to-charset {label:?}: {e}")))?;
    let mut input = source.open()?;
    let mut file = io::BufWriter::with_capacity(IO_BUF, temp_file()?);
    let mut carry: Vec<u8> = Vec::new();
    let mut out = Vec::with_capacity(IO_BUF * 2);
    let mut offset = 0u64;
    let mut len = 0u64;
    loop {
        let block = input.fill_buf()?;
        let eof = block.is_empty();
        carry.extend_from_slice(block);
        let n = block.len();
        input.consume(n);
        let valid = match std::str::from_utf8(&carry) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() && !eof => e.valid_up_to(),
            Err(e) => {
                let at = e.valid_up_to();
                return Err(Error::Data(
                    format!("{what}: --to-charset needs UTF-8 input"),
                    DecodeError {
                        kind: DecodeErrorKind::InvalidByte(carry[at]),
                        offset: offset + at as u64,
                    },
                ));
            }
        };
        let text = std::str::from_utf8(&carry[..valid]).unwrap_or_default();
        out.clear();
        target.encode_into(text, &mut out).map_err(|(c, at)| {
            Error::Data(
                format!("{what}: cannot convert to {}", target.name()),
                DecodeError {
                    kind: DecodeErrorKind::Unmappable(c),
                    offset: offset + at as u64,
                },
            )
        })?;
        file.write_all(&out)?;
        len += out.len() as u64;
        offset += valid as u64;
        carry.drain(..valid);
        if eof {
            break;
        }
    }
    let file = file.into_inner().map_err(|e| e.into_error())?;
    Ok((Source::spooled(file, len), target.name()))
}

fn multi(subtype: &str, parts: Vec<Node>, boundaries: &mut usize, extra: Option<&str>) -> Node {
    let b = *boundaries;
    *boundaries += 1;
    let mut headers = Vec::new();
    // Filled in by `finish_headers` once the boundary is known.
    headers.push(format!("multipart/{subtype}"));
    if let Some(t) = extra {
        headers.push(t.to_owned());
    }
    Node {
        headers,
        body: Body::Multi {
            boundary: b,
            preamble: false,
            parts,
        },
        info: None,
    }
}

/// Checks and scans everything `spec` names and lays out the tree;
/// nothing is written.
pub fn prepare(spec: Spec) -> Result<Prepared, Error> {
    let mut opts = spec.options.clone();
    if let Some(cs) = &opts.charset {
        opts.charset = Some(charset_name("--charset ", cs)?);
    }
    let has_headers = spec.from.is_some()
        || !spec.to.is_empty()
        || !spec.cc.is_empty()
        || !spec.bcc.is_empty()
        || !spec.reply_to.is_empty()
        || spec.subject.is_some()
        || !spec.fields.is_empty();
    if spec.entity && has_headers {
        return Err(usage(
            "--entity writes no message header fields (-f, -t, -s, -H …)",
        ));
    }
    if !spec.inline.is_empty() && spec.html.is_none() {
        return Err(usage("--inline needs --html"));
    }
    if spec.digest && !spec.parts.iter().any(|p| matches!(p, Item::Leaf(_))) {
        return Err(usage(
            "--digest needs files (.eml messages) to put in the digest",
        ));
    }
    let fields = if spec.entity {
        Vec::new()
    } else {
        message_fields(&spec)?
    };
    let subject = spec.subject.clone();
    let mut nb = 0usize;
    let mut total = 0u64;
    let mut add_len = |s: &Source| total += s.len().unwrap_or(0);

    // The body: text, HTML, or both as alternatives; inline files with it.
    let body_leaf = |mut l: Leaf, t: &str| {
        l.overrides.content_type.get_or_insert_with(|| t.to_owned());
        leaf_node(l, Role::Body, &opts)
    };
    let text = spec.text.map(|l| body_leaf(l, "text/plain")).transpose()?;
    let html = spec.html.map(|l| body_leaf(l, "text/html")).transpose()?;
    let mut body = match (text, html) {
        (Some(t), Some(h)) => Some(multi("alternative", vec![t, h], &mut nb, None)),
        (t, h) => t.or(h),
    };
    if !spec.inline.is_empty() {
        let root_type = match &body {
            Some(Node { info: Some(i), .. }) => i.mtype.clone(),
            _ => "multipart/alternative".to_owned(),
        };
        let mut parts: Vec<Node> = body.take().into_iter().collect();
        for l in spec.inline {
            parts.push(leaf_node(l, Role::Inline, &opts)?);
        }
        let t = format!("type={root_type}");
        body = Some(multi("related", parts, &mut nb, Some(&t)));
    }
    // Attachments and entities.
    let mut attached = Vec::new();
    for item in spec.parts {
        let (leaf, role) = match item {
            Item::Leaf(l) if spec.digest => (l, Role::DigestMember),
            Item::Leaf(l) => (l, Role::Attachment),
            Item::Entity(l) => (l, Role::Entity),
        };
        attached.push(leaf_node(leaf, role, &opts)?);
    }
    let mut root = if spec.digest && !attached.is_empty() {
        let digest = multi("digest", attached, &mut nb, None);
        match body {
            Some(b) => multi("mixed", vec![b, digest], &mut nb, None),
            None => digest,
        }
    } else if attached.is_empty() {
        match body {
            Some(b) => b,
            None => leaf_node(
                Leaf::new(Source::bytes(Vec::new()), "body", None),
                Role::Body,
                &opts,
            )?,
        }
    } else {
        let mut parts: Vec<Node> = body.into_iter().collect();
        parts.extend(attached);
        multi("mixed", parts, &mut nb, None)
    };
    if let Body::Multi { preamble, .. } = &mut root.body {
        *preamble = !spec.entity;
    }
    visit(&mut root, &mut |n| {
        if let Body::Leaf { source, .. } | Body::Entity { source } = &n.body {
            add_len(source);
        }
    });

    // Boundaries, and the scan of every part that may go out as it is.
    let mut boundaries: Vec<String> = Vec::new();
    let mut preset = opts.boundaries.clone().into_iter();
    let rules = Rules {
        eight_bit: opts.eight_bit,
        binary_safe: opts.binary_safe,
    };
    let mut rounds = 0;
    loop {
        boundaries.clear();
        for _ in 0..nb {
            boundaries.push(preset.next().unwrap_or_else(boundary));
        }
        let mut collided = false;
        let mut failed = None;
        visit(&mut root, &mut |n| {
            if failed.is_none() {
                match scan_node(n, &boundaries, rules, opts.charset.is_some()) {
                    Ok(c) => collided |= c,
                    Err(e) => failed = Some(e),
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        if !collided {
            break;
        }
        rounds += 1;
        if rounds > 64 {
            return Err(Error::Io(io::Error::other("cannot find a boundary")));
        }
    }
    let mut content_ids = Vec::new();
    let domain = domain_from_fields(&fields);
    // The Content-IDs given, which a made-up one must not repeat.
    let mut given = Vec::new();
    visit(&mut root, &mut |n| {
        given.extend(n.info.as_ref().and_then(|i| i.cid.clone()));
    });
    finish(
        &mut root,
        &boundaries,
        &opts,
        &domain,
        &given,
        &mut content_ids,
    )?;
    Ok(Prepared {
        fields,
        root,
        boundaries,
        crlf: opts.crlf,
        content_ids,
        total,
        subject,
    })
}

pub(super) fn domain_from_fields(fields: &[String]) -> String {
    fields
        .iter()
        .find_map(|f| {
            let (name, value) = f.split_once(':')?;
            name.eq_ignore_ascii_case("message-id").then_some(value)
        })
        .and_then(|id| id.rsplit_once('@'))
        .map(|(_, d)| d.trim_end_matches('>').to_owned())
        .unwrap_or_else(host_domain)
}

fn visit(n: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    f(n);
    if let Body::Multi { parts, .. } = &mut n.body {
        for p in parts {
            visit(p, f);
        }
    }
}

/// Scans a leaf or entity when its encoding needs it; returns whether it
/// goes out as it is and has a boundary line.
fn scan_node(
    n: &mut Node,
    boundaries: &[String],
    rules: Rules,
    default_charset: bool,
) -> Result<bool, Error> {
    let Some(info) = &mut n.info else {
        return Ok(false);
    };
    let (source, cte) = match &mut n.body {
        Body::Leaf { source, cte } => (source, Some(cte)),
        Body::Entity { source } => (source, None),
        Body::Multi { .. } => return Ok(false),
    };
    if info.kind == PartKind::Other && info.summary.is_none() {
        if let Some(cte) = cte {
            *cte = codec::choose(&Summary::default(), PartKind::Other, rules);
        }
        return Ok(false);
    }
    let already_encoded = cte.as_ref().is_some_and(|c| !c.is_identity());
    if info.summary.is_some() && already_encoded {
        return Ok(false); // base64/QP need no new scan for new boundaries
    }
    let (sum, collision, bad) = scan(source, boundaries)?;
    info.bad_utf8 = bad;
    // A sniffed text file that is not text after all (the sniff saw only
    // its start).
    if info.sniffed && info.charset.is_none() && (sum.nul > 0 || !sum.utf8) {
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    // A text file (not the body) that is not UTF-8, with no charset= and
    // no --charset: readers would take it for US-ASCII (RFC 2046
    // §4.1.2). A type the user gave needs the charset; a guessed one is
    // dropped and the bytes go as they are.
    if info.kind == PartKind::Text
        && info.role != Role::Body
        && info.charset.is_none()
        && !sum.utf8
        && !default_charset
    {
        if info.typed {
            let (offset, byte) = bad.unwrap_or_default();
            return Err(Error::Data(
                format!(
                    "{}: {} text is not UTF-8; give ;charset= or --charset",
                    info.label, info.mtype
                ),
                DecodeError {
                    kind: DecodeErrorKind::InvalidByte(byte),
                    offset,
                },
            ));
        }
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    if info.kind == PartKind::Text && info.charset.is_none() {
        info.charset = if sum.utf8 && sum.eight_bit == 0 {
            Some("us-ascii".to_owned())
        } else if sum.utf8 {
            Some("utf-8".to_owned())
        } else {
            None
        };
    }
    let chosen = codec::choose(&sum, info.kind, rules);
    if info.kind == PartKind::Message && !chosen.is_identity() {
        // Not 7bit, and not 8bit with --8bit: it cannot travel as
        // message/* (RFC 2046 §5.2.1), so a file goes as its bytes.
        if info.role == Role::Entity {
            let why = if sum.is_line_safe() {
                "has 8-bit data: give --8bit (the transport must have 8BITMIME)"
            } else {
                "has NUL, a bare CR or a line over 998 octets: it needs a binary transport"
            };
            return Err(Error::Invalid(format!(
                "{}: ready entity {why}",
                info.label
            )));
        }
        info.mtype = "application/octet-stream".to_owned();
        info.kind = PartKind::Other;
    }
    info.collision = collision && chosen.is_identity();
    info.summary = Some(sum);
    if let Some(cte) = cte {
        *cte = chosen;
    }
    Ok(info.collision)
}

/// Writes the Content-* fields of every node, now that encodings and
/// boundaries are known.
fn finish(
    n: &mut Node,
    boundaries: &[String],
    opts: &Options,
    domain: &str,
    taken: &[String],
    cids: &mut Vec<(String, String)>,
) -> Result<TransferEncoding, Error> {
    match &mut n.body {
        Body::Multi {
            boundary, parts, ..
        } => {
            // RFC 2045 §6.4: a multipart is 7bit unless a part is 8bit
            // (never binary: see codec::choose).
            let mut worst = TransferEncoding::SevenBit;
            for p in parts.iter_mut() {
                if finish(p, boundaries, opts, domain, taken, cids)? == TransferEncoding::EightBit {
                    worst = TransferEncoding::EightBit;
                }
            }
            let mtype = n.headers.first().cloned().unwrap_or_default();
            let mut f = FieldWriter::new("Content-Type", &mtype);
            if let Some(t) = n.headers.get(1).and_then(|t| t.strip_prefix("type=")) {
                f.param("type", t);
            }
            f.param("boundary", &boundaries[*boundary]);
            n.headers = vec![f.finish()];
            if worst != TransferEncoding::SevenBit {
                n.headers
                    .push(format!("Content-Transfer-Encoding: {}", worst.as_str()));
            }
            Ok(worst)
        }
        Body::Entity { .. } => {
            let info = n.info.as_ref();
            let sum = info.and_then(|i| i.summary.clone()).unwrap_or_default();
            let rules = Rules {
                eight_bit: opts.eight_bit,
                binary_safe: opts.binary_safe,
            };
            Ok(codec::choose(&sum, PartKind::Message, rules))
        }
        Body::Leaf { cte, .. } => {
            let cte = *cte;
            let Some(info) = &mut n.info else {
                return Ok(cte);
            };
            if info.kind == PartKind::Text && info.charset.is_none() {
                info.charset = opts.charset.clone();
                if info.charset.is_none() && info.role == Role::Body {
                    let (offset, byte) = info.bad_utf8.unwrap_or_default();
                    return Err(Error::Data(
                        format!("{}: text is not UTF-8; give --charset", info.label),
                        DecodeError {
                            kind: DecodeErrorKind::InvalidByte(byte),
                            offset,
                        },
                    ));
                }
            }
            n.headers = leaf_headers(info, cte, domain, taken, cids);
            for h in &n.headers {
                check_line_length(h).map_err(|e| usage(format!("{}: {e}", info.label)))?;
            }
            Ok(cte)
        }
    }
}

/// The Content-ID of an inline file given none (`--inline chart.png`):
/// its file name without the extension, made a dot-atom (each character
/// that is not ASCII atext becomes `_`, dots kept between words), at the
/// message's domain (the one its Message-ID uses): `chart@example.org`,
/// which the HTML names as `cid:chart@example.org` (RFC 2392; a msg-id,
/// RFC 5322 §3.6.4, as RFC 2045 §7 asks). A name already `taken` in the
/// message gets `-2`, `-3`, … added to its left side.
pub(super) fn default_cid(
    filename: Option<&str>,
    domain: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let name = filename.unwrap_or_default();
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.trim_matches('.').is_empty() => stem,
        _ => name,
    };
    let atext: String = stem
        .chars()
        .map(|c| {
            if c == '.' || c.is_ascii() && is_atext(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let words: Vec<&str> = atext.split('.').filter(|w| !w.is_empty()).collect();
    let left = if words.is_empty() {
        "part".to_owned()
    } else {
        words.join(".")
    };
    let mut id = format!("{left}@{domain}");
    let mut n = 1;
    while taken(&id) {
        n += 1;
        id = format!("{left}-{n}@{domain}");
    }
    id
}

fn leaf_headers(
    info: &LeafInfo,
    cte: TransferEncoding,
    domain: &str,
    taken: &[String],
    cids: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut h = Vec::new();
    if info.role == Role::DigestMember && info.mtype == "message/rfc822" {
        // RFC 2046 §5.1.5: the default type of a digest member.
        if cte != TransferEncoding::SevenBit {
            h.push(format!("Content-Transfer-Encoding: {}", cte.as_str()));
        }
        return h;
    }
    let mut f = FieldWriter::new("Content-Type", &info.mtype);
    if let Some(cs) = &info.charset
        && info.kind == PartKind::Text
    {
        f.param("charset", cs);
    }
    let named = matches!(info.role, Role::Inline | Role::Attachment)
        || (info.role == Role::DigestMember && info.mtype != "message/rfc822");
    if let (true, Some(name)) = (named, &info.filename) {
        f.param_encoded_word("name", name);
    }
    h.push(f.finish());
    if info.role == Role::Inline {
        let cid = info.cid.clone().unwrap_or_else(|| {
            let id = default_cid(info.filename.as_deref(), domain, |id| {
                taken.iter().any(|t| t.eq_ignore_ascii_case(id))
                    || cids.iter().any(|(_, t)| t.eq_ignore_ascii_case(id))
            });
            cids.push((info.label.clone(), id.clone()));
            id
        });
        h.push(format!("Content-ID: <{cid}>"));
    }
    if named {
        let kind = info.disposition.clone().unwrap_or_else(|| {
            if info.role == Role::Inline {
                "inline"
            } else {
                "attachment"
            }
            .to_owned()
        });
        let mut f = FieldWriter::new("Content-Disposition", &kind);
        if let Some(name) = &info.filename {
            f.param("filename", name);
        }
        h.push(f.finish());
    }
    h.push(format!("Content-Transfer-Encoding: {}", cte.as_str()));
    h
}
