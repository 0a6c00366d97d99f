//! The transfer and header codecs: base64 (RFC 2045 §6.8),
//! quoted-printable (§6.7) and RFC 2047 encoded-words.

use mailpipe::codec::base64::{self as b64, EncodeOptions, Garbage};
use mailpipe::codec::charset::{self, Target};
use mailpipe::codec::encoded_word::{self as ew, FOLD_WIDTH, MAX_WORD, Method};
use mailpipe::codec::qp;
use mailpipe::message::header;

use super::{Chunked, Pieces, assert_folded, assert_printable, is_unsafe_char};

/// Byte 0 cuts the streams, byte 1 chooses options. Decoding in pieces
/// gives what decoding whole gives (output and error); `decode_to_vec` is
/// the streaming decoder; encoding in pieces is encoding whole; what is
/// encoded decodes back to the input, in lines no longer than asked.
pub fn base64(data: &[u8]) {
    let [seed, opts, input @ ..] = data else {
        return;
    };
    for garbage in [Garbage::Reject, Garbage::Skip] {
        let (mut whole, mut cut) = (Vec::new(), Vec::new());
        let a = b64::decode(input, &mut whole, garbage).map_err(|e| e.to_string());
        let b =
            b64::decode(Chunked::new(*seed, input), &mut cut, garbage).map_err(|e| e.to_string());
        assert_eq!(a, b, "result whole vs in pieces");
        assert_eq!(whole, cut, "output whole vs in pieces");
        if garbage == Garbage::Reject {
            match b64::decode_to_vec(input) {
                Ok(v) => {
                    assert_eq!(a, Ok(v.len() as u64));
                    assert_eq!(v, whole);
                }
                Err(e) => assert_eq!(a, Err(e.to_string())),
            }
        }
    }
    let o = EncodeOptions {
        wrap: [0, 1, 4, 76, 77][usize::from(*opts % 5)],
        crlf: opts & 8 != 0,
    };
    let mut whole = Vec::new();
    let n = b64::encode(input, &mut whole, o).expect("encode to memory");
    assert_eq!(n, whole.len() as u64);
    let mut enc = b64::Encoder::new(o);
    let mut cut = Vec::new();
    for piece in Pieces::new(*seed).split(input) {
        enc.feed(piece, &mut cut).expect("encode to memory");
    }
    enc.finish(&mut cut).expect("encode to memory");
    assert_eq!(whole, cut, "encoding whole vs in pieces");
    if o.wrap > 0 {
        let eol: &[u8] = if o.crlf { b"\r\n" } else { b"\n" };
        for line in whole.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(line.len() <= o.wrap, "line over {}: {line:?}", o.wrap);
        }
        assert!(
            input.is_empty() || whole.ends_with(eol),
            "no final line end"
        );
    } else {
        assert!(!whole.contains(&b'\n'), "wrap 0 gives one line");
    }
    assert_eq!(
        b64::decode_to_vec(&whole).expect("own encoding decodes"),
        input
    );
}

/// Byte 0 cuts the streams, byte 1 chooses options. Decoding in pieces
/// gives what decoding whole gives (output, defects, strict error);
/// encoding in pieces is encoding whole, no line passes 76 characters,
/// and binary data, or text whose line ends are the output's, decodes
/// back to itself.
pub fn qp(data: &[u8]) {
    let [seed, opts, input @ ..] = data else {
        return;
    };
    let d = qp::DecodeOptions {
        strict: opts & 1 != 0,
        crlf: opts & 2 != 0,
    };
    let (mut whole, mut cut) = (Vec::new(), Vec::new());
    let a = qp::decode(input, &mut whole, &d).map_err(|e| e.to_string());
    let b = qp::decode(Chunked::new(*seed, input), &mut cut, &d).map_err(|e| e.to_string());
    assert_eq!(a, b, "result whole vs in pieces");
    assert_eq!(whole, cut, "output whole vs in pieces");

    let e = qp::EncodeOptions {
        binary: opts & 4 != 0,
        crlf: opts & 8 != 0,
        safe: opts & 16 != 0,
    };
    // Text mode: line ends are the output's (LF, or CRLF with crlf), and
    // a CR is only ever part of one.
    let text: Vec<u8>;
    let input = if e.binary {
        input
    } else {
        let lf: Vec<u8> = input.iter().copied().filter(|&b| b != b'\r').collect();
        text = if e.crlf {
            lf.split(|&b| b == b'\n')
                .collect::<Vec<_>>()
                .join(&b"\r\n"[..])
        } else {
            lf
        };
        &text
    };
    let mut whole = Vec::new();
    qp::encode(input, &mut whole, &e).expect("encode to memory");
    let mut enc = qp::Encoder::new(&e);
    let mut cut = Vec::new();
    for piece in Pieces::new(*seed).split(input) {
        enc.feed(piece, &mut cut).expect("encode to memory");
    }
    enc.finish(&mut cut).expect("encode to memory");
    assert_eq!(whole, cut, "encoding whole vs in pieces");
    for line in whole.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() <= 76, "line over 76: {line:?}");
    }
    let back = qp::DecodeOptions {
        strict: true,
        crlf: e.crlf,
    };
    let mut decoded = Vec::new();
    let report = qp::decode(&whole[..], &mut decoded, &back).expect("own encoding decodes");
    assert_eq!(report.defects, 0);
    assert_eq!(decoded, input, "encode then decode");
}

/// Byte 0 cuts the stream, byte 1 chooses the method and charset.
/// Decoding never lets out a control or bidi character (RFC 2047 §5's
/// "no unwanted side effects"), neither does the header value decoder;
/// `decode_lines` in pieces gives what it gives whole; text without
/// controls encodes to ASCII words of at most 75 characters that decode
/// back to it, and as a field folded at 78 columns whose every
/// continuation line starts with white space.
pub fn word(data: &[u8]) {
    let [seed, opts, input @ ..] = data else {
        return;
    };
    let d = ew::decode(input);
    assert_printable("decoded word", &d.text, false);
    for defect in &d.defects {
        assert!(defect.offset <= input.len() as u64, "{defect:?}");
    }
    assert_printable("decoded header value", &header::decode(input), false);

    let o = ew::DecodeOptions {
        to: None,
        strict: opts & 1 != 0,
    };
    let (mut whole, mut cut) = (Vec::new(), Vec::new());
    let a = ew::decode_lines(&mut &input[..], &mut whole, &o).map_err(|e| e.to_string());
    let b =
        ew::decode_lines(&mut Chunked::new(*seed, input), &mut cut, &o).map_err(|e| e.to_string());
    assert_eq!(a, b, "result whole vs in pieces");
    assert_eq!(whole, cut, "output whole vs in pieces");
    assert_printable("decoded lines", &String::from_utf8_lossy(&whole), true);

    let text: String = String::from_utf8_lossy(input)
        .chars()
        .filter(|&c| !is_unsafe_char(c))
        .collect();
    let method = [Method::Auto, Method::B, Method::Q][usize::from(opts >> 1) % 3];
    // ISO-8859-1 represents exactly U+0000..U+00FF: a second charset whose
    // bytes are not UTF-8's.
    let latin1 = charset::target(b"iso-8859-1").expect("latin1 is a target");
    let target = if opts & 8 != 0 && text.chars().all(|c| c <= '\u{FF}') {
        latin1
    } else {
        Target::UTF_8
    };
    let out = ew::encode(text.as_bytes(), &target, method).expect("text without controls encodes");
    assert!(out.is_ascii() && !out.contains(['\r', '\n']), "{out:?}");
    for w in out.split([' ', '\t']).filter(|w| w.starts_with("=?")) {
        assert!(w.len() <= MAX_WORD, "word over {MAX_WORD}: {w:?}");
    }
    let back = ew::decode(out.as_bytes());
    assert_eq!(back.text, text, "encode then decode: {out:?}");
    assert!(back.defects.is_empty(), "{:?}", back.defects);

    let field = ew::encode_field("Subject", text.as_bytes(), &target, method)
        .expect("text without controls encodes");
    assert_folded(&field, false);
    for line in field.split('\n') {
        assert!(
            line.len() <= FOLD_WIDTH,
            "line over {FOLD_WIDTH}: {field:?}"
        );
    }
    let value = header::unfold(field.as_bytes());
    let value = value.strip_prefix(b"Subject:").expect("the name first");
    let value = value.strip_prefix(b" ").unwrap_or(value);
    assert_eq!(
        ew::decode(value).text,
        text,
        "folded field then decode: {field:?}"
    );
}
