//! File names for extracted parts: where they come from, and how they are
//! made safe to create in a directory (reliability.md M08; RFC 2183 §2.3:
//! "the receiving MUA should not respect any directory path information").
//!
//! A part's name is the Content-Disposition `filename` parameter, else the
//! Content-Type `name` parameter (RFC 2046 §4.5.1, still what old clients
//! send). [`crate::message::mime`] has already joined RFC 2231
//! continuations, decoded their charsets, and decoded RFC 2047
//! encoded-words in plain values (which RFC 2047 §5 forbids but Outlook
//! sends).
//!
//! [`sanitize`] then keeps only what is safe as one file name:
//! - the last component after any `/` or `\` (basename only);
//! - no control characters (C0, DEL, C1, NUL included), no Unicode
//!   bidirectional controls (which can disguise `exe.pdf`) and no line or
//!   paragraph separators (U+2028, U+2029);
//! - no leading dots, dashes or white space (no hidden files, no `..`, no
//!   names read as options), no trailing white space;
//! - at most [`MAX_NAME`] bytes, cut at a character boundary, keeping a
//!   short extension.
//!
//! Names that Windows reserves (`CON`, `NUL`, …) are ordinary on Unix and
//! kept. A part without a usable name is named from its number and type:
//! `part-1.2.pdf`.

use crate::codec::encoded_word::is_bad_control;
use crate::message::mime::{ContentType, Disposition};

pub use crate::limits::MAX_NAME;

/// Longest extension kept when a long name is shortened.
const MAX_EXTENSION: usize = 16;

/// The file name a part gives, decoded but not yet sanitised: the
/// disposition's `filename`, else the type's `name` (empty ones ignored).
pub fn of(content_type: &ContentType, disposition: Option<&Disposition>) -> Option<String> {
    let given = |v: Option<&str>| v.filter(|s| !s.trim().is_empty()).map(str::to_owned);
    given(disposition.and_then(Disposition::filename)).or_else(|| given(content_type.param("name")))
}

/// Whether `c` may not appear in a file name we create: what may not be
/// printed at all ([`is_bad_control`], the predicate the listing cleans
/// with), and, stricter for names, TAB and the direction marks U+200E and
/// U+200F (which a name never needs).
fn unsafe_char(c: char) -> bool {
    is_bad_control(c) || matches!(c, '\t' | '\u{200E}' | '\u{200F}')
}

/// Makes `name` safe as a single file name (module docs); `None` when
/// nothing usable is left.
pub fn sanitize(name: &str) -> Option<String> {
    let base = name
        .split(['/', '\\'])
        .rev()
        .find(|c| !c.trim().is_empty())
        .unwrap_or("");
    let clean: String = base.chars().filter(|&c| !unsafe_char(c)).collect();
    let clean = clean
        .trim_start_matches(|c: char| c == '.' || c == '-' || c.is_whitespace())
        .trim_end();
    if clean.is_empty() {
        return None;
    }
    Some(shorten(clean, "", MAX_NAME))
}

/// `stem` + `suffix` + extension within `max` bytes: the stem is cut at a
/// character boundary; an extension of up to [`MAX_EXTENSION`] bytes is
/// kept.
fn shorten(name: &str, suffix: &str, max: usize) -> String {
    let (stem, ext) = split_extension(name);
    if name.len() + suffix.len() <= max {
        return format!("{stem}{suffix}{ext}");
    }
    let room = max.saturating_sub(suffix.len() + ext.len());
    let mut cut = room.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    // The cut may end in white space, which a name never does (a name
    // ending in a space is hard to see and to type).
    format!("{}{suffix}{ext}", stem[..cut].trim_end())
}

/// `report.pdf` → (`report`, `.pdf`); no extension when the dot starts the
/// name or the extension is long.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= MAX_EXTENSION + 1 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// The `n`th alternative to a taken name: `report.pdf` → `report-1.pdf`,
/// still within [`MAX_NAME`] bytes.
pub fn numbered(name: &str, n: u32) -> String {
    shorten(name, &format!("-{n}"), MAX_NAME)
}

/// The name for a part that has none: `part-1.2.pdf` from the number and
/// the type's usual extension.
pub fn generated(number: &str, content_type: &ContentType) -> String {
    format!("part-{number}.{}", extension(content_type))
}

/// The usual extension of a media type: a short table for the types whose
/// first `mime_guess` extension is odd (`text/plain` → `asm`), then
/// `mime_guess`'s first extension that maps back to the type, then `txt`
/// for text and `bin` for the rest.
pub fn extension(content_type: &ContentType) -> &'static str {
    const PREFERRED: &[(&str, &str)] = &[
        ("text/plain", "txt"),
        ("text/html", "html"),
        ("text/markdown", "md"),
        ("image/jpeg", "jpg"),
        ("image/tiff", "tif"),
        ("audio/mpeg", "mp3"),
        ("video/mpeg", "mpg"),
        ("application/octet-stream", "bin"),
        ("application/msword", "doc"),
        ("application/pgp-signature", "asc"),
        ("application/pgp-encrypted", "asc"),
        ("message/rfc822", "eml"),
        ("message/global", "eml"),
    ];
    let essence = content_type.essence();
    if let Some((_, ext)) = PREFERRED.iter().find(|(t, _)| *t == essence) {
        return ext;
    }
    if let Some(exts) = mime_guess::get_mime_extensions_str(&essence) {
        let maps_back = exts
            .iter()
            .find(|e| mime_guess::from_ext(e).first_raw() == Some(essence.as_str()));
        if let Some(e) = maps_back.or(exts.first()) {
            return e;
        }
    }
    // A multipart read as one part is its preamble: text.
    match content_type.mtype.as_str() {
        "text" | "multipart" => "txt",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_m08_names_stay_inside_the_directory() {
        let table: &[(&str, Option<&str>)] = &[
            ("../../.bashrc", Some("bashrc")),
            ("/etc/passwd", Some("passwd")),
            ("..\\..\\x.bat", Some("x.bat")),
            ("a\0b.txt", Some("ab.txt")),
            ("CON", Some("CON")),
            ("../../x", Some("x")),
            ("..", None),
            ("../", None),
            ("/", None),
            ("", None),
            ("...", None),
            ("-rf", Some("rf")),
            ("--help.txt", Some("help.txt")),
            (" .hidden ", Some("hidden")),
            ("dir/", Some("dir")),
            ("a/b/", Some("b")),
            ("r\u{202E}fdp.exe", Some("rfdp.exe")),
            ("line\r\nbreak\t.txt", Some("linebreak.txt")),
            ("\u{85}x\u{9F}", Some("x")),
            ("a\u{2028}b\u{2029}c\u{2066}d\u{200F}.txt", Some("abcd.txt")),
            ("résumé.pdf", Some("résumé.pdf")),
        ];
        for (name, want) in table {
            assert_eq!(sanitize(name).as_deref(), *want, "{name:?}");
        }
    }

    /// Issue 17's fuzzing: the cut left a space at the end of the stem.
    #[test]
    fn a_cut_never_ends_the_name_in_white_space() {
        for (name, ext) in [("a ".repeat(300), ""), ("b ".repeat(300) + ".pdf", ".pdf")] {
            let s = sanitize(&name).unwrap();
            assert!(s.len() <= MAX_NAME, "{s}");
            let stem = s.strip_suffix(ext).unwrap();
            assert!(!stem.ends_with(char::is_whitespace), "{s:?}");
        }
    }

    #[test]
    fn long_names_are_cut_at_a_char_boundary_keeping_the_extension() {
        let long = "a".repeat(400) + ".pdf";
        let s = sanitize(&long).unwrap();
        assert_eq!(s.len(), MAX_NAME);
        assert!(s.ends_with("a.pdf"));
        let wide = "é".repeat(200) + ".txt"; // 400 bytes of 2-byte chars
        let s = sanitize(&wide).unwrap();
        assert!(s.len() <= MAX_NAME && s.ends_with(".txt"), "{}", s.len());
        assert_eq!(s.len(), 254 - 4 + 4); // 125 chars of 2 bytes + .txt
        // An extension too long to be one is cut with the rest.
        let s = sanitize(&("b".repeat(300) + "." + &"c".repeat(40))).unwrap();
        assert_eq!(s.len(), MAX_NAME);
        // Numbered alternatives stay within the limit too.
        let n = numbered(&sanitize(&long).unwrap(), 12);
        assert_eq!(n.len(), MAX_NAME);
        assert!(n.ends_with("-12.pdf"));
    }

    #[test]
    fn numbered_names_go_before_the_extension() {
        assert_eq!(numbered("report.pdf", 1), "report-1.pdf");
        assert_eq!(numbered("report", 2), "report-2");
        assert_eq!(numbered("archive.tar.gz", 1), "archive.tar-1.gz");
        assert_eq!(numbered("x.", 3), "x-3.");
    }

    #[test]
    fn generated_names_use_the_usual_extension() {
        let ct = |s: &str| ContentType::parse(s.as_bytes());
        assert_eq!(generated("1.2", &ct("application/pdf")), "part-1.2.pdf");
        assert_eq!(generated("1", &ct("text/plain")), "part-1.txt");
        assert_eq!(generated("3", &ct("image/jpeg")), "part-3.jpg");
        assert_eq!(generated("2", &ct("image/png")), "part-2.png");
        assert_eq!(generated("2", &ct("application/x-nothing")), "part-2.bin");
        assert_eq!(generated("2", &ct("text/x-nothing")), "part-2.txt");
        assert_eq!(generated("4", &ct("message/rfc822")), "part-4.eml");
        assert_eq!(
            generated(
                "5",
                &ct("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            ),
            "part-5.docx"
        );
    }

    #[test]
    fn names_come_from_disposition_then_type() {
        let ct = ContentType::parse(b"application/pdf; name=\"type.pdf\"");
        let cd = Disposition::parse(b"attachment; filename=\"disp.pdf\"");
        assert_eq!(of(&ct, Some(&cd)).as_deref(), Some("disp.pdf"));
        assert_eq!(of(&ct, None).as_deref(), Some("type.pdf"));
        let empty = Disposition::parse(b"attachment; filename=\"  \"");
        assert_eq!(of(&ct, Some(&empty)).as_deref(), Some("type.pdf"));
        // RFC 2231 with a character split across sections (reliability K12).
        let cd = Disposition::parse(b"attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC.txt");
        assert_eq!(
            of(&ContentType::default(), Some(&cd)).as_deref(),
            Some("€.txt")
        );
        // RFC 2047 in a quoted value, then sanitised (M08).
        let cd = Disposition::parse(b"attachment; filename=\"=?UTF-8?Q?..=2F..=2Fx?=\"");
        let name = of(&ContentType::default(), Some(&cd)).unwrap();
        assert_eq!(name, "../../x");
        assert_eq!(sanitize(&name).as_deref(), Some("x"));
        let cd = Disposition::parse(b"attachment; filename*=UTF-8''..%2F..%2Fx");
        let name = of(&ContentType::default(), Some(&cd)).unwrap();
        assert_eq!(sanitize(&name).as_deref(), Some("x"));
    }
}
