//! Content-Type and Content-Disposition (RFC 2045 §5.1, RFC 2183) with
//! RFC 2231 parameters: reading hostile fields, and writing them.

use mailpipe::message::header;
use mailpipe::message::mime::{ContentType, Disposition, FieldWriter, MAX_PARAMS};
use mailpipe::message::multipart::filename;

use super::{assert_folded, assert_printable, is_unsafe_char};

/// Hostile fields parse into at most [`MAX_PARAMS`] parameters with
/// lowercase names; a file name, once made safe, is one printable path
/// component. Written back ([`FieldWriter`]), the values of the input's
/// parameters (or the input itself, as a value) give a field whose
/// continuation lines all start with white space, that parses back to
/// the same values.
pub fn content_type(data: &[u8]) {
    let ct = ContentType::parse(data);
    let disp = Disposition::parse(data);
    for params in [&ct.params, &disp.params] {
        assert!(params.list.len() <= MAX_PARAMS);
        for p in &params.list {
            assert_eq!(p.name, p.name.to_ascii_lowercase());
        }
    }
    assert!(!ct.mtype.is_empty() && !ct.subtype.is_empty());
    if let Some(name) = filename::of(&ct, Some(&disp))
        && let Some(safe) = filename::sanitize(&name)
    {
        assert_printable("safe file name", &safe, false);
        // RFC 2183 §2.3: no directory, no hidden file, nothing read
        // as an option.
        assert!(
            !safe.is_empty() && safe.len() <= filename::MAX_NAME,
            "{safe:?}"
        );
        assert!(!safe.contains(['/', '\\']), "{safe:?}");
        assert!(!safe.starts_with(['.', '-']), "{safe:?}");
        assert!(safe.trim() == safe, "white space at an end of {safe:?}");
    }

    // Values to write: those read (controls, which a writer's caller
    // never passes, left out), and the input as text.
    let mut values: Vec<String> = ct
        .params
        .list
        .iter()
        .chain(&disp.params.list)
        .map(|p| p.value.clone())
        .collect();
    values.push(String::from_utf8_lossy(data).into_owned());
    for v in &mut values {
        v.retain(|c| !is_unsafe_char(c));
    }
    values.truncate(8);
    let mut w = FieldWriter::new("Content-Type", "application/octet-stream");
    let mut names = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let name = format!("p{i}");
        if i % 3 == 2 {
            w.param_encoded_word(&name, v);
        } else {
            w.param(&name, v);
        }
        names.push(name);
    }
    let field = w.finish();
    assert_folded(&field, false);
    for line in field.split('\n') {
        assert!(line.len() <= 78, "line over 78: {field:?}");
    }
    let value = header::unfold(field.as_bytes());
    let value = value
        .strip_prefix(b"Content-Type:")
        .expect("the name first");
    let back = ContentType::parse(value);
    assert_eq!(back.essence(), "application/octet-stream");
    for (name, v) in names.iter().zip(&values) {
        assert_eq!(back.param(name), Some(v.as_str()), "{name} in {field:?}");
    }
}
