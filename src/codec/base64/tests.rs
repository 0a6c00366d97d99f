//! Unit tests of `base64`.

use super::*;
use proptest::prelude::*;
use std::io::BufReader;

fn enc(data: &[u8], wrap: usize, crlf: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let n = encode(data, &mut out, EncodeOptions { wrap, crlf }).unwrap();
    assert_eq!(n, out.len() as u64);
    out
}

/// Decoded output and the error (kind, offset), if any.
fn dec_with(input: impl BufRead, garbage: Garbage) -> (Vec<u8>, Option<(DecodeErrorKind, u64)>) {
    let mut out = Vec::new();
    match decode(input, &mut out, garbage) {
        Ok(n) => {
            assert_eq!(n, out.len() as u64);
            (out, None)
        }
        Err(Error::Decode(e)) => (out, Some((e.kind, e.offset))),
        Err(Error::Io(e)) => panic!("i/o error from memory: {e}"),
    }
}

fn dec(input: &[u8]) -> Result<Vec<u8>, (DecodeErrorKind, u64)> {
    match dec_with(input, Garbage::Reject) {
        (out, None) => Ok(out),
        (_, Some(e)) => Err(e),
    }
}

fn dec_skip(input: &[u8]) -> Vec<u8> {
    let (out, err) = dec_with(input, Garbage::Skip);
    assert_eq!(err, None);
    out
}

// RFC 4648 §10 test vectors.
const RFC4648: [(&str, &str); 7] = [
    ("", ""),
    ("f", "Zg=="),
    ("fo", "Zm8="),
    ("foo", "Zm9v"),
    ("foob", "Zm9vYg=="),
    ("fooba", "Zm9vYmE="),
    ("foobar", "Zm9vYmFy"),
];

#[test]
fn rfc4648_vectors() {
    for (plain, b64) in RFC4648 {
        let lf = if b64.is_empty() {
            String::new()
        } else {
            format!("{b64}\n")
        };
        assert_eq!(enc(plain.as_bytes(), 76, false), lf.as_bytes(), "{plain:?}");
        assert_eq!(enc(plain.as_bytes(), 0, false), b64.as_bytes(), "{plain:?}");
        assert_eq!(dec(b64.as_bytes()).unwrap(), plain.as_bytes(), "{b64:?}");
        assert_eq!(dec(lf.as_bytes()).unwrap(), plain.as_bytes(), "{b64:?}");
        // Missing padding is accepted (MIME senders omit it).
        let bare = b64.trim_end_matches('=');
        assert_eq!(dec(bare.as_bytes()).unwrap(), plain.as_bytes(), "{bare:?}");
        assert_eq!(encode_to_string(plain.as_bytes()), b64);
        assert_eq!(decode_to_vec(b64.as_bytes()).unwrap(), plain.as_bytes());
    }
}

#[test]
fn wraps_like_coreutils() {
    let data: Vec<u8> = (0..=255).collect();
    let nowrap = enc(&data, 0, false);
    assert_eq!(nowrap.len(), 344);
    assert!(!nowrap.contains(&b'\n'));
    // 57 bytes make exactly one 76-column line (RFC 2045 §6.8).
    let one = enc(&data[..57], 76, false);
    assert_eq!(one.len(), 77);
    assert_eq!(one[76], b'\n');
    let two = enc(&data[..58], 76, false);
    assert_eq!(&two[..77], &one[..]);
    assert_eq!(&two[77..], b"OQ==\n");
    let table: [(usize, bool, &[u8]); 6] = [
        (1, false, b"Z\nm\n9\nv\nY\ng\n=\n=\n"),
        (4, false, b"Zm9v\nYg==\n"),
        (5, false, b"Zm9vY\ng==\n"),
        (3, true, b"Zm9\r\nvYg\r\n==\r\n"),
        (8, true, b"Zm9vYg==\r\n"),
        (0, true, b"Zm9vYg=="),
    ];
    for (wrap, crlf, want) in table {
        assert_eq!(enc(b"foob", wrap, crlf), want, "wrap {wrap} crlf {crlf}");
    }
    for wrap in [0, 1, 76] {
        assert_eq!(enc(b"", wrap, true), b"");
    }
    let crlf = enc(&data, 76, true);
    assert_eq!(
        crlf,
        String::from_utf8(enc(&data, 76, false))
            .unwrap()
            .replace('\n', "\r\n")
            .as_bytes()
    );
}

#[test]
fn decode_leniency() {
    let ok: [(&[u8], &[u8]); 10] = [
        (b"Zm9v\r\nYmFy\r\n", b"foobar"),
        (b" Z m\t9v\n\nYm\rFy ", b"foobar"),
        (b"Zm9vYg", b"foob"),
        (b"Zm9vYmE", b"fooba"),
        (b"Zg=\n=\n", b"f"),
        (b"Zg=\n", b"f"),
        // Non-zero trailing bits are accepted: "Zm9=" is "fo" (canonical "Zm8=").
        (b"Zm9=", b"fo"),
        (b"PC9odG1sPn==", b"</html>"),
        // Excess padding after a padded quantum is harmless.
        (b"Zg====\r\n", b"f"),
        (b"\r\n \t", b""),
    ];
    for (input, want) in ok {
        assert_eq!(
            dec(input).unwrap(),
            want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn decode_errors_name_the_byte_offset() {
    use DecodeErrorKind::*;
    let bad: [(&[u8], DecodeErrorKind, u64, &[u8]); 10] = [
        (b"Zm9v!mFy", InvalidByte(b'!'), 4, b"foo"),
        (b"Zm9vYmFy\n\xC3\xA9", InvalidByte(0xC3), 9, b"foobar"),
        (b"Zm9vY\x00", InvalidByte(0), 5, b"foo"),
        (b"dGVzdA==dGVzdA==", MisplacedPadding, 6, b"test"),
        (b"Zg==\r\n--boundary", InvalidByte(b'-'), 6, b"f"),
        (b"Zg==\nZg==", MisplacedPadding, 2, b"f"),
        (b"=Zg==", InvalidByte(b'='), 0, b""),
        (b"Zm9v=", InvalidByte(b'='), 4, b"foo"),
        (b"Z=g=", InvalidByte(b'='), 1, b""),
        (b"Zm9vY\n", Truncated, 4, b"foo"),
    ];
    for (input, kind, offset, written) in bad {
        let (out, err) = dec_with(input, Garbage::Reject);
        assert_eq!(
            err,
            Some((kind.clone(), offset)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(out, written, "output before the error");
        let e = decode_to_vec(input).unwrap_err();
        assert_eq!((e.kind, e.offset), (kind, offset));
    }
    let e = decode_to_vec(b"Zm9v!").unwrap_err();
    assert_eq!(e.to_string(), "invalid byte 0x21 at byte 4");
}

#[test]
fn ignore_garbage() {
    let table: [(&[u8], &[u8]); 7] = [
        (b"Zm9v!mFy", b"foo\x98\\"),
        (b"Z!m*9\xffv", b"foo"),
        // Data after padding starts a new quantum.
        (b"dGVzdA==dGVzdA==", b"testtest"),
        (b"Zg==\r\n--boundary--", b"fn\x8b\xa7u\xaa\xf2"),
        (b"=Zg==", b"f"),
        (b"Z=g=", b"f"),
        (b"Zm9v=\r\n", b"foo"),
    ];
    for (input, want) in table {
        assert_eq!(
            dec_skip(input),
            want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // A lone final character is still an error.
    let (out, err) = dec_with(&b"Zm9v!Y"[..], Garbage::Skip);
    assert_eq!(
        (out, err),
        (b"foo".to_vec(), Some((DecodeErrorKind::Truncated, 5)))
    );
}

#[test]
fn padding_at_the_end_of_a_block_is_remembered() {
    for cap in [4, 5, 6] {
        let input = BufReader::with_capacity(cap, &b"Zg==\nZg==\n"[..]);
        let (out, err) = dec_with(input, Garbage::Reject);
        assert_eq!(
            (out, err),
            (b"f".to_vec(), Some((DecodeErrorKind::MisplacedPadding, 2)))
        );
        let input = BufReader::with_capacity(cap, &b"Zg==\nZg==\n"[..]);
        assert_eq!(dec_with(input, Garbage::Skip), (b"ff".to_vec(), None));
    }
}

#[test]
fn offsets_count_from_the_start_across_blocks() {
    // Big enough for several CHUNK blocks, through a small reader too.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut b64 = enc(&data, 76, true);
    let at = b64.len() - 1000;
    b64[at] = b'*';
    for cap in [7, 4096, CHUNK, 3 * CHUNK] {
        let (out, err) = dec_with(BufReader::with_capacity(cap, &b64[..]), Garbage::Reject);
        assert_eq!(
            err,
            Some((DecodeErrorKind::InvalidByte(b'*'), at as u64)),
            "cap {cap}"
        );
        assert!(
            data.starts_with(&out) && out.len() + 760 > data.len(),
            "cap {cap}"
        );
    }
}

/// Input that exercises every decoder path, in both the fast and slow
/// paths: whole and padded quanta, stray characters, line ends, blanks
/// and garbage.
fn b64ish() -> impl Strategy<Value = Vec<u8>> {
    let alpha = || {
        proptest::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec(),
        )
    };
    let token = prop_oneof![
        8 => proptest::collection::vec(alpha(), 4),
        2 => (proptest::collection::vec(alpha(), 2..=3)).prop_map(|mut q| {
            q.resize(4, b'=');
            q
        }),
        2 => proptest::collection::vec(alpha(), 1),
        3 => proptest::sample::select(vec![&b"\n"[..], b"\r\n", b" ", b"\t", b"="])
            .prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(token, 0..120).prop_map(|t| t.concat())
}

#[test]
fn bug_b_words_share_the_one_encoder() {
    // encoded_word had its own (scalar) engine for B words.
    let mut s = "=?UTF-8?B?".to_owned();
    encode_append("é".as_bytes(), &mut s);
    assert_eq!(s, "=?UTF-8?B?w6k=");
    assert_eq!(encode_to_string(b"foob"), "Zm9vYg==");
    assert_eq!(encode_to_string(b""), "");
}

#[test]
fn bug_several_inputs_encode_as_one_stream() {
    // Each input padded on its own gave `...==\n...`, which no decoder
    // takes as one stream; one encoder fed each input gives the
    // encoding of the concatenation.
    let parts: [&[u8]; 4] = [b"t1\n", b"", b"x", &[7u8; 200]];
    for opts in [
        EncodeOptions::default(),
        EncodeOptions {
            wrap: 0,
            crlf: false,
        },
        EncodeOptions {
            wrap: 5,
            crlf: true,
        },
    ] {
        let mut out = Vec::new();
        let mut encoder = Encoder::new(opts);
        let mut n = 0;
        for part in parts {
            n += encoder.feed(part, &mut out).unwrap();
        }
        n += encoder.finish(&mut out).unwrap();
        assert_eq!(n, out.len() as u64);
        let all = parts.concat();
        assert_eq!(out, enc(&all, opts.wrap, opts.crlf));
    }
}

proptest! {
    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..2000),
                  wrap in 0usize..100, crlf: bool) {
        let b64 = enc(&data, wrap, crlf);
        prop_assert_eq!(dec(&b64).unwrap(), data.clone());
        prop_assert_eq!(decode_to_vec(&b64).unwrap(), data);
    }

    #[test]
    fn lines_are_exactly_wrap_columns(len in 0usize..1000, wrap in 1usize..100, crlf: bool) {
        let data = vec![0xA5u8; len];
        let b64 = enc(&data, wrap, crlf);
        let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        prop_assert!(b64.is_empty() || b64.ends_with(eol));
        let text = String::from_utf8(b64).unwrap();
        let lines: Vec<&str> = text.split_terminator(if crlf { "\r\n" } else { "\n" }).collect();
        for (i, line) in lines.iter().enumerate() {
            prop_assert!(!line.contains(['\r', '\n']));
            if i + 1 < lines.len() {
                prop_assert_eq!(line.len(), wrap);
            } else {
                prop_assert!(!line.is_empty() && line.len() <= wrap);
            }
        }
    }

    #[test]
    fn encode_is_independent_of_read_sizes(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        cap in 1usize..200, wrap in 0usize..90, crlf: bool,
    ) {
        let mut out = Vec::new();
        encode(BufReader::with_capacity(cap, &data[..]), &mut out, EncodeOptions { wrap, crlf }).unwrap();
        prop_assert_eq!(out, enc(&data, wrap, crlf));
    }

    #[test]
    fn decode_is_independent_of_read_sizes(input in b64ish(), cap in 1usize..64, skip: bool) {
        let garbage = if skip { Garbage::Skip } else { Garbage::Reject };
        let whole = dec_with(&input[..], garbage);
        let small = dec_with(BufReader::with_capacity(cap, &input[..]), garbage);
        prop_assert_eq!(whole, small);
    }

    #[test]
    fn decode_matches_the_base64_crate(
        data in proptest::collection::vec(any::<u8>(), 0..600),
        wrap in 1usize..90, cap in 1usize..300,
    ) {
        // Valid input, wrapped at any width with CRLF, read in any sizes:
        // the fast path and the engine agree with an independent encoder.
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let wrapped: Vec<u8> = b64.as_bytes().chunks(wrap).flat_map(|l| [l, b"\r\n"].concat()).collect();
        let (out, err) = dec_with(BufReader::with_capacity(cap, &wrapped[..]), Garbage::Reject);
        prop_assert_eq!(err, None);
        prop_assert_eq!(out, data);
    }
}
