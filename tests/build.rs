//! mime-build: every message it makes is read back by Python's email
//! package (policy.default) and by munpack; hostile arguments; errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;

use crate::peers::peer;
use crate::util::*;

/// Python: the message as JSON (decoded headers, the tree of parts with
/// their types, file names, Content-IDs and decoded payloads in hex).
const PY: &str = r#"
import email, email.policy, json, sys
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=email.policy.default)
def addrs(name):
    h = m[name]
    if h is None: return None
    return [[a.display_name, a.addr_spec] for a in h.addresses]
def walk(p, depth):
    out = []
    payload = None
    if not p.is_multipart() and p.get_content_maintype() != 'message':
        b = p.get_payload(decode=True)
        payload = b.hex() if b is not None else None
    out.append({'depth': depth, 'type': p.get_content_type(), 'filename': p.get_filename(),
        'cid': p['content-id'], 'charset': p.get_param('charset'), 'payload': payload,
        'cte': p['content-transfer-encoding'],
        'defects': [type(d).__name__ for d in p.defects]})
    if p.is_multipart():
        for s in p.iter_parts(): out.extend(walk(s, depth + 1))
    return out
print(json.dumps({'from': addrs('from'), 'to': addrs('to'), 'cc': addrs('cc'), 'bcc': addrs('bcc'),
    'reply-to': addrs('reply-to'), 'subject': m['subject'], 'x': m['x-note'],
    'date': m['date'] and m['date'].datetime.isoformat(),
    'message-id': m['message-id'], 'mime-version': m['mime-version'],
    'list-unsubscribe': m['list-unsubscribe'], 'list-unsubscribe-post': m['list-unsubscribe-post'],
    'tree': walk(m, 0)}))
"#;

fn python(test: &str) -> Option<PathBuf> {
    peer("python3", test)
}

/// Python's view of `msg`.
fn py_parse(py: &Path, msg: &[u8], dir: &Path) -> Value {
    let f = dir.join("msg.eml");
    std::fs::write(&f, msg).unwrap();
    let out = Command::new(py).arg("-c").arg(PY).arg(&f).output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn crlf_to_lf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if !(c == b'\r' && b.get(i + 1) == Some(&b'\n')) {
            out.push(c);
        }
    }
    out
}

fn build(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    run("mime-build", args, stdin).ok().to_vec()
}

/// Leaves of the tree (non-multipart parts).
fn leaves(v: &Value) -> Vec<&Value> {
    v["tree"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["type"].as_str().unwrap().starts_with("multipart/"))
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn headers_decode_equal_in_python() {
    let Some(py) = python("build::headers_decode_equal_in_python") else {
        return;
    };
    let dir = tmp();
    let subject =
        "Grüße aus Köln — ein sehr langer Betreff, der gefaltet werden muss, 日本語も少し";
    let msg = build(
        &[
            "-f",
            "Jöhn Dœ <john@example.org>",
            "-t",
            "a@b.example, \"Smith, J.\" <j@x.example>",
            "-t",
            "Ünïcode Ñame With A Very Long Display Name Indeed <long@example.net>",
            "-c",
            "team: x@y.example, z@y.example;",
            "-b",
            "hidden@example.org",
            "-r",
            "\"Back\\\"slash\" <r@example.org>",
            "-s",
            subject,
            "-H",
            "X-Note: naïve text =?not-a-word?= here",
        ],
        b"hello\n",
    );
    for line in String::from_utf8_lossy(&msg).lines() {
        assert!(line.len() <= 78, "{line:?}");
    }
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(
        v["from"],
        serde_json::json!([["Jöhn Dœ", "john@example.org"]])
    );
    assert_eq!(
        v["to"],
        serde_json::json!([
            ["", "a@b.example"],
            ["Smith, J.", "j@x.example"],
            [
                "Ünïcode Ñame With A Very Long Display Name Indeed",
                "long@example.net"
            ]
        ])
    );
    assert_eq!(
        v["cc"],
        serde_json::json!([["", "x@y.example"], ["", "z@y.example"]])
    );
    assert_eq!(v["bcc"], serde_json::json!([["", "hidden@example.org"]]));
    assert_eq!(
        v["reply-to"],
        serde_json::json!([["Back\"slash", "r@example.org"]])
    );
    assert_eq!(v["subject"], subject);
    assert_eq!(v["x"], "naïve text =?not-a-word?= here");
    assert_eq!(v["mime-version"], "1.0");
    assert!(v["message-id"].as_str().unwrap().ends_with("@example.org>"));
    assert!(v["date"].as_str().unwrap().ends_with("+00:00"));
    let tree = &v["tree"][0];
    assert_eq!(tree["type"], "text/plain");
    assert_eq!(tree["payload"], hex(b"hello\n"));
    assert_eq!(tree["defects"], serde_json::json!([]));
}

#[test]
fn date_and_message_id_from_h_replace_ours() {
    let msg = build(
        &[
            "-H",
            "Date: Fri, 21 Nov 1997 09:55:06 -0600",
            "-H",
            "Message-ID: <x@y>",
        ],
        b"",
    );
    let s = String::from_utf8(msg).unwrap();
    assert_eq!(s.matches("Date:").count(), 1, "{s}");
    assert!(s.contains("Date: Fri, 21 Nov 1997 09:55:06 -0600\n"), "{s}");
    assert!(s.contains("Message-ID: <x@y>\n"), "{s}");
}

/// A file set: (name, bytes, charset override).
type Files = Vec<(String, Vec<u8>, Option<&'static str>)>;

/// Builds a message from `files` (written into a fresh directory) and
/// checks Python's tree: one text body, then each file with its name,
/// type and exact bytes.
fn check_files(py: &Path, files: &Files, extra: &[&str]) {
    let dir = tmp();
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.extend(["--text".into(), "-".into()]);
    for (k, (name, bytes, cs)) in files.iter().enumerate() {
        let sub = dir.path().join(format!("d{k}"));
        std::fs::create_dir(&sub).unwrap();
        let p = sub.join(name);
        std::fs::write(&p, bytes).unwrap();
        let mut arg = p.to_str().unwrap().to_owned();
        if let Some(cs) = cs {
            arg.push_str(";charset=");
            arg.push_str(cs);
        }
        args.push(arg);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let msg = build(&args, b"body text\n");
    for line in msg.split(|&b| b == b'\n') {
        assert!(line.len() <= 998, "line of {} bytes", line.len());
    }
    let v = py_parse(py, &msg, dir.path());
    let tree = v["tree"].as_array().unwrap();
    assert_eq!(tree[0]["type"], "multipart/mixed");
    let leaves = leaves(&v);
    assert_eq!(leaves.len(), files.len() + 1, "{v}");
    // Text that is not base64-encoded has its line ends normalised
    // (CRLF and LF are both a line end; --crlf writes CRLF).
    let norm = |p: &Value, b: &[u8]| {
        let text = p["type"].as_str().unwrap().starts_with("text/");
        if text && p["cte"] != "base64" {
            hex(&crlf_to_lf(b))
        } else {
            hex(b)
        }
    };
    let got = |p: &Value| unhex(p["payload"].as_str().unwrap());
    assert_eq!(norm(leaves[0], &got(leaves[0])), hex(b"body text\n"));
    for (p, (name, bytes, _)) in leaves[1..].iter().zip(files) {
        assert_eq!(p["filename"].as_str(), Some(&name[..]), "{p}");
        assert_eq!(norm(p, &got(p)), norm(p, bytes), "{name:?}: {p}");
        assert_eq!(p["defects"], serde_json::json!([]), "{name:?}: {p}");
    }
}

#[test]
fn files_round_trip_through_python() {
    let Some(py) = python("build::files_round_trip_through_python") else {
        return;
    };
    let mut long_line = b"x".repeat(5000);
    long_line.push(b'\n');
    let files: Files = vec![
        ("report.pdf".into(), pseudo_random(10_000, 1), None),
        ("notes.txt".into(), b"line 1\nline 2\n".to_vec(), None),
        ("empty.bin".into(), Vec::new(), None),
        ("empty.txt".into(), Vec::new(), None),
        (
            "café €.txt".into(),
            "crème brûlée\n".as_bytes().to_vec(),
            None,
        ),
        (
            "latin1.txt".into(),
            b"caf\xe9\n".to_vec(),
            Some("iso-8859-1"),
        ),
        (
            "日本語.txt".into(),
            "日本語のテキスト\n".repeat(20).into_bytes(),
            None,
        ),
        ("no-newline.txt".into(), b"abc".to_vec(), None),
        ("crlf-and-cr.txt".into(), b"a\rb\r\n".to_vec(), None),
        ("long-line.txt".into(), long_line, None),
        (
            "unknown.zzz".into(),
            b"plain text with an unknown extension\n".to_vec(),
            None,
        ),
        ("binary.zzz".into(), vec![0, 1, 2, 255, 254], None),
        ("boundary.txt".into(), b"--=_ lines\n--=_x\n".to_vec(), None),
        ("a \"quoted\"; name=x.txt".into(), b"q\n".to_vec(), None),
        ("=?UTF-8?B?eA==?=.bin".into(), b"w".to_vec(), None),
        (
            format!("{}.dat", "very-long-name-".repeat(10)),
            b"long".to_vec(),
            None,
        ),
        (
            format!("{}.dat", "非常に長いファイル名".repeat(6)),
            b"long2".to_vec(),
            None,
        ),
        (
            "trailing space .txt".into(),
            b"sp  \n\ttab\t\n".to_vec(),
            None,
        ),
        (
            ".From and dot.txt".into(),
            b"From here\n.\n..x\n".to_vec(),
            None,
        ),
    ];
    check_files(&py, &files, &[]);
    check_files(&py, &files, &["--8bit"]);
    check_files(&py, &files, &["--binary-safe"]);
    check_files(&py, &files, &["--crlf"]);
}

/// RFC 2231 keeps every byte of a value; Python's `get_filename` strips
/// white space at either end (even of `filename*=UTF-8''a%20`). We send
/// the name exactly, percent-encoded so no reader can lose the space as
/// folding white space.
#[test]
fn surrounding_space_in_names_is_kept_python_strips_it() {
    let dir = tmp();
    let p = dir.path().join(" padded ");
    std::fs::write(&p, "x").unwrap();
    let s = String::from_utf8(build(&[p.to_str().unwrap()], b"")).unwrap();
    assert!(s.contains("filename*=UTF-8''%20padded%20\n"), "{s}");
    assert!(s.contains("name=\"=?UTF-8?B?IHBhZGRlZCA=?=\""), "{s}");
}

/// A file named `"x"` (quotes included) is written as the quoted-string
/// `filename="\\"x\\""` (RFC 2045 §5.1, RFC 5322 §3.2.4); our reader gives
/// the name back with its quotes. Python's `get_filename()` unquotes twice
/// (the parser removes the quoted-string's quoting, then
/// `email.utils.unquote` strips the quotes that were part of the name).
#[test]
fn quoted_names_are_kept_python_unquotes_twice() {
    let dir = tmp();
    let p = dir.path().join("\"x\"");
    std::fs::write(&p, "abc").unwrap();
    let msg = build(&[p.to_str().unwrap()], b"");
    let s = String::from_utf8(msg.clone()).unwrap();
    assert!(s.contains("filename=\"\\\"x\\\"\"\n"), "{s}");
    let out = dir.path().join("out");
    let m = dir.path().join("m.eml");
    std::fs::write(&m, &msg).unwrap();
    run(
        "mime-unpack",
        &["-x", "-C", out.to_str().unwrap(), m.to_str().unwrap()],
        b"",
    )
    .ok();
    assert_eq!(std::fs::read(out.join("\"x\"")).unwrap(), b"abc");
}

#[test]
fn transfer_encodings_follow_the_content() {
    let dir = tmp();
    let cjk = "日本語のテキスト".repeat(10);
    let cases: &[(&str, &[u8], &[&str], &str)] = &[
        ("a.txt", b"ascii\n", &[], "7bit"),
        (
            "b.txt",
            "café au lait, c'est très bon\n".as_bytes(),
            &[],
            "quoted-printable",
        ),
        // Tiny: base64 is smaller than QP.
        ("b2.txt", "é\n".as_bytes(), &[], "base64"),
        ("c.txt", "é\n".as_bytes(), &["--8bit"], "8bit"),
        ("d.txt", cjk.as_bytes(), &[], "base64"),
        ("e.txt", b"ascii\n", &["--binary-safe"], "base64"),
        ("f.png", b"ascii\n", &[], "base64"),
        ("g.txt", b"nul\0here\n", &["--8bit"], "quoted-printable"),
    ];
    for &(name, content, flags, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let mut args = flags.to_vec();
        args.push(p.to_str().unwrap());
        let s = String::from_utf8_lossy(&build(&args, b"")).into_owned();
        let att = s.split(&format!("filename={name}")).nth(1).unwrap();
        assert!(
            att.contains(&format!("Content-Transfer-Encoding: {want}\n")),
            "{name}: {s}"
        );
    }
}

#[test]
fn eml_attachment_and_digest() {
    let Some(py) = python("build::eml_attachment_and_digest") else {
        return;
    };
    let dir = tmp();
    let a = dir.path().join("a.eml");
    let b = dir.path().join("b.eml");
    std::fs::write(&a, "From: x@y\nSubject: one\n\nbody one\n").unwrap();
    std::fs::write(&b, "From: x@y\nSubject: two\n\nbödy two\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let msg = build(&[a], b"");
    let s = String::from_utf8_lossy(&msg);
    assert!(
        s.contains("Content-Type: message/rfc822; name=a.eml"),
        "{s}"
    );
    assert!(
        s.contains("Content-Transfer-Encoding: 7bit\n\nFrom: x@y\nSubject: one\n\nbody one\n"),
        "{s}"
    );
    let msg = build(&["--8bit", "--digest", "--text", "-", a, b], b"intro\n");
    let v = py_parse(&py, &msg, dir.path());
    let types: Vec<&str> = v["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "multipart/mixed",
            "text/plain",
            "multipart/digest",
            "message/rfc822",
            "text/plain",
            "message/rfc822",
            "text/plain"
        ]
    );
    let s = String::from_utf8_lossy(&msg);
    // Digest members have no Content-Type (RFC 2046 §5.1.5); 8-bit → 8bit.
    assert!(s.contains("\n\nFrom: x@y\nSubject: one"), "{s}");
    assert!(
        s.contains("Content-Transfer-Encoding: 8bit\n\nFrom: x@y\nSubject: two"),
        "{s}"
    );
}

#[test]
fn html_alternative_and_inline_images() {
    let Some(py) = python("build::html_alternative_and_inline_images") else {
        return;
    };
    let dir = tmp();
    let html = dir.path().join("page.html");
    let png = dir.path().join("logo.png");
    let jpg = dir.path().join("photo.jpg");
    std::fs::write(&html, "<p>Hi <img src=\"cid:logo\"></p>\n").unwrap();
    std::fs::write(&png, pseudo_random(500, 2)).unwrap();
    std::fs::write(&jpg, pseudo_random(700, 3)).unwrap();
    let logo = format!("{};cid=logo", png.display());
    let r = run(
        "mime-build",
        &[
            "--text",
            "-",
            "--html",
            html.to_str().unwrap(),
            "--inline",
            &logo,
            "--inline",
            jpg.to_str().unwrap(),
            jpg.to_str().unwrap(),
        ],
        b"Hi\n",
    );
    r.code(0);
    // The generated Content-ID is printed; the given one is not. It is
    // the name without the extension (issue 13 item 11), at the host's
    // domain here (no From).
    assert!(
        r.stderr.contains("photo.jpg: Content-ID <photo@"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("logo"), "{}", r.stderr);
    let v = py_parse(&py, &r.stdout, dir.path());
    let tree: Vec<(u64, &str)> = v["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["depth"].as_u64().unwrap(), p["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tree,
        [
            (0, "multipart/mixed"),
            (1, "multipart/related"),
            (2, "multipart/alternative"),
            (3, "text/plain"),
            (3, "text/html"),
            (2, "image/png"),
            (2, "image/jpeg"),
            (1, "image/jpeg"),
        ]
    );
    let all = v["tree"].as_array().unwrap();
    assert_eq!(all[5]["cid"], "<logo>");
    assert!(
        all[6]["cid"].as_str().unwrap().starts_with("<photo@"),
        "{v}"
    );
    assert_eq!(all[5]["payload"], hex(&pseudo_random(500, 2)));
    let s = String::from_utf8_lossy(&r.stdout);
    assert!(
        s.contains("Content-Type: multipart/related; type=\"multipart/alternative\";"),
        "{s}"
    );
    assert!(
        s.contains("Content-Disposition: inline; filename=logo.png"),
        "{s}"
    );
}

#[test]
fn entity_and_part_compose() {
    let Some(py) = python("build::entity_and_part_compose") else {
        return;
    };
    let dir = tmp();
    let f = dir.path().join("data.bin");
    std::fs::write(&f, pseudo_random(300, 4)).unwrap();
    let entity = build(
        &["--entity", "--text", "-", f.to_str().unwrap()],
        b"inner text\n",
    );
    assert!(entity.starts_with(b"Content-Type: multipart/mixed; boundary="));
    let e = dir.path().join("entity.mime");
    std::fs::write(&e, &entity).unwrap();
    let msg = build(
        &["-s", "outer", "--text", "-", "--part", e.to_str().unwrap()],
        b"outer text\n",
    );
    let v = py_parse(&py, &msg, dir.path());
    let types: Vec<&str> = v["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "multipart/mixed",
            "text/plain",
            "multipart/mixed",
            "text/plain",
            "application/octet-stream"
        ]
    );
    assert_eq!(v["tree"][4]["payload"], hex(&pseudo_random(300, 4)));
    assert_eq!(v["tree"][3]["payload"], hex(b"inner text\n"));
    // --entity with message headers is a usage error.
    run("mime-build", &["--entity", "-s", "x"], b"")
        .code(64)
        .one_line_error("mime-build");
}

#[test]
fn charsets_of_text_bodies() {
    let Some(py) = python("build::charsets_of_text_bodies") else {
        return;
    };
    let dir = tmp();
    // Not UTF-8 and no --charset: 65, nothing written.
    let r = run("mime-build", &["--text", "-"], b"caf\xe9\n");
    r.code(65).one_line_error("mime-build");
    assert!(r.stdout.is_empty());
    let msg = build(&["--charset", "iso-8859-1"], b"caf\xe9\n");
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(v["tree"][0]["charset"], "ISO-8859-1");
    assert_eq!(v["tree"][0]["payload"], hex(b"caf\xe9\n"));
    // --to-charset converts; unmappable is 65.
    let msg = build(&["--to-charset", "iso-8859-1"], "café\n".as_bytes());
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(v["tree"][0]["charset"], "ISO-8859-1");
    assert_eq!(v["tree"][0]["payload"], hex(b"caf\xe9\n"));
    let r = run(
        "mime-build",
        &["--to-charset", "iso-8859-1"],
        "€\n".as_bytes(),
    );
    r.code(65).one_line_error("mime-build");
    assert!(r.stdout.is_empty());
    let msg = build(&["--to-charset", "iso-2022-jp"], "日本語\n".as_bytes());
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(v["tree"][0]["charset"], "ISO-2022-JP");
    assert_eq!(v["tree"][0]["cte"], "7bit");
    run("mime-build", &["--to-charset", "x-nope"], b"a")
        .code(64)
        .one_line_error("mime-build");
    // ASCII text is us-ascii, UTF-8 is utf-8.
    assert!(String::from_utf8_lossy(&build(&[], b"a\n")).contains("charset=us-ascii"));
    assert!(String::from_utf8_lossy(&build(&[], "é\n".as_bytes())).contains("charset=utf-8"));
}

#[test]
fn hostile_header_arguments_are_refused() {
    // (NUL cannot be passed in argv; the library refuses it too.)
    let bad = ["a\nBcc: evil@x", "a\rb", "a\r\nX-Evil: 1"];
    for v in bad {
        let addr = format!("x@y.example{v}");
        let h = format!("X-A: {v}");
        let sets: Vec<Vec<&str>> = vec![
            vec!["-f", &addr],
            vec!["-t", &addr],
            vec!["-c", &addr],
            vec!["-b", &addr],
            vec!["-r", &addr],
            vec!["-s", v],
            vec!["-H", &h],
        ];
        for args in sets {
            let r = run("mime-build", &args, b"body\n");
            r.code(64).one_line_error("mime-build");
            assert!(r.stdout.is_empty(), "{args:?}");
        }
    }
    let dir = tmp();
    let f = dir.path().join("f.txt");
    std::fs::write(&f, "x").unwrap();
    for o in [";name=a\nb", ";type=text/plain\r\nX: y", ";cid=a\r"] {
        let arg = format!("{}{o}", f.display());
        let r = run("mime-build", &[&arg], b"");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty());
    }
    // Malformed addresses, bad field names, fields we own.
    for args in [
        vec!["-t", "not an address"],
        vec!["-t", "a@b, <unterminated"],
        vec!["-t", "local-only"],
        vec!["-t", ""],
        vec!["-f", "a@b (comment"],
        vec!["-H", "Bad Name: x"],
        vec!["-H", "no colon"],
        vec!["-H", "Content-Type: text/html"],
        vec!["-H", "MIME-Version: 2"],
        vec!["-s", "x", "-H", "Subject: y"],
        vec!["-s", "bell\u{7}"],
    ] {
        let r = run("mime-build", &args, b"body\n");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty(), "{args:?}");
        assert!(
            r.stderr.contains(args[args.len() - 2]),
            "{args:?}: {}",
            r.stderr
        );
    }
    let f = f.to_str().unwrap();
    for o in [
        ";type=nonsense",
        ";disposition=sideways",
        ";type=text/plain;colour=red",
    ] {
        let arg = format!("{f}{o}");
        run("mime-build", &[&arg], b"")
            .code(64)
            .one_line_error("mime-build");
    }
}

#[test]
fn unreadable_inputs_write_nothing() {
    let dir = tmp();
    let good = dir.path().join("good.txt");
    std::fs::write(&good, "x").unwrap();
    let good = good.to_str().unwrap();
    for args in [
        vec![good, "/nonexistent/file"],
        vec!["--text", "/nonexistent/file"],
        vec!["--html", "/nonexistent/file"],
        vec!["--part", "/nonexistent/file"],
        vec!["--html", good, "--inline", "/nonexistent/file"],
        vec![good, "/"],
    ] {
        let r = run("mime-build", &args, b"");
        r.code(66).one_line_error("mime-build");
        assert!(r.stdout.is_empty(), "{args:?}");
        assert!(
            r.stderr.contains("/nonexistent/file") || r.stderr.contains(": /:"),
            "{}",
            r.stderr
        );
    }
    // Usage errors.
    for args in [
        vec!["--inline", good],
        vec!["--text", "-", "-"],
        vec!["--split", "10000"],
        vec!["--bogus"],
    ] {
        let r = run("mime-build", &args, b"");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn output_line_ends_and_limits() {
    let dir = tmp();
    let f = dir.path().join("x.bin");
    std::fs::write(&f, pseudo_random(5000, 9)).unwrap();
    let long = "word ".repeat(100).to_string();
    let msg = build(
        &[
            "--crlf",
            "-s",
            &long,
            "-t",
            "a@b.example",
            f.to_str().unwrap(),
            "--text",
            "-",
        ],
        b"a\nb\r\nc",
    );
    let s = String::from_utf8(msg).unwrap();
    assert!(
        !s.replace("\r\n", "").contains('\n'),
        "bare LF in --crlf output"
    );
    assert!(
        !s.replace("\r\n", "").contains('\r'),
        "bare CR in --crlf output"
    );
    for line in s.split("\r\n") {
        assert!(line.len() <= 78, "{line:?}");
    }
    assert!(s.contains("\r\n\r\na\r\nb\r\nc\r\n--=_"), "{s}");
}

#[test]
fn stdin_attachment_is_spooled() {
    let Some(py) = python("build::stdin_attachment_is_spooled") else {
        return;
    };
    let data = pseudo_random(200_000, 5);
    let msg = build(&["--", "-;name=data.bin"], &data);
    let dir = tmp();
    let v = py_parse(&py, &msg, dir.path());
    let l = leaves(&v);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["filename"], "data.bin");
    assert_eq!(l[0]["type"], "application/octet-stream");
    assert_eq!(l[0]["payload"], hex(&data));
    // Text from stdin with no name is sniffed as text.
    let msg = build(&["-"], b"plain words\n");
    assert!(String::from_utf8_lossy(&msg).contains("Content-Type: text/plain; charset=us-ascii"));
}

#[test]
fn split_pieces_are_rfc2046_partials() {
    let Some(py) = python("build::split_pieces_are_rfc2046_partials") else {
        return;
    };
    let dir = tmp();
    let f = dir.path().join("big.bin");
    let data = pseudo_random(60_000, 6);
    std::fs::write(&f, &data).unwrap();
    let prefix = dir.path().join("piece");
    let prefix = prefix.to_str().unwrap();
    let r = run(
        "mime-build",
        &[
            "--split",
            "20000",
            "-o",
            prefix,
            "-f",
            "a@b.example",
            "-t",
            "c@d.example",
            "-s",
            "Big one",
            f.to_str().unwrap(),
        ],
        b"",
    );
    r.code(0);
    let names: Vec<&str> = r.stdout_str().leak().lines().collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(names[0], format!("{prefix}.01"));
    let mut joined = Vec::new();
    let mut id = String::new();
    for (k, n) in names.iter().enumerate() {
        let piece = std::fs::read(n).unwrap();
        assert!(piece.len() <= 20_000);
        let s = String::from_utf8(piece.clone()).unwrap();
        let (head, body) = s.split_once("\n\n").unwrap();
        assert!(
            head.contains(&format!("number={}; total=5", k + 1)),
            "{head}"
        );
        assert!(
            head.contains(&format!("Subject: Big one ({}/5)", k + 1)),
            "{head}"
        );
        assert!(head.contains("From: a@b.example") && head.contains("To: c@d.example"));
        let this_id = head
            .split("id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        if k == 0 {
            id = this_id;
        } else {
            assert_eq!(id, this_id);
        }
        joined.extend_from_slice(body.as_bytes());
    }
    // The joined bodies are the whole message (RFC 2046 §5.2.2.1).
    let v = py_parse(&py, &joined, dir.path());
    assert_eq!(v["subject"], "Big one");
    assert_eq!(leaves(&v)[0]["payload"], hex(&data));
    // Existing files are not overwritten.
    run(
        "mime-build",
        &["--split", "20000", "-o", prefix, f.to_str().unwrap()],
        b"",
    )
    .code(74);
    // An 8-bit .eml goes as application/octet-stream (base64), so the
    // message can be split (message/partial is 7bit only).
    let e = dir.path().join("m.eml");
    std::fs::write(&e, "Subject: x\n\nbödy\n").unwrap();
    let p2 = dir.path().join("other");
    let r = run(
        "mime-build",
        &[
            "--split",
            "20000",
            "-o",
            p2.to_str().unwrap(),
            e.to_str().unwrap(),
        ],
        b"",
    );
    r.code(0);
    let piece = std::fs::read_to_string(r.stdout_str().trim()).unwrap();
    assert!(
        piece.contains("application/octet-stream; name=m.eml"),
        "{piece}"
    );
}

#[test]
fn munpack_extracts_our_attachments() {
    let Some(munpack) = peer("munpack", "build::munpack_extracts_our_attachments") else {
        return;
    };
    let dir = tmp();
    let data = pseudo_random(50_000, 8);
    let f = dir.path().join("photo.jpg");
    std::fs::write(&f, &data).unwrap();
    let t = dir.path().join("notes.txt");
    std::fs::write(&t, "some notes\n").unwrap();
    let msg = build(
        &[
            "-s",
            "files",
            f.to_str().unwrap(),
            t.to_str().unwrap(),
            "--text",
            "-",
        ],
        b"hi\n",
    );
    let m = dir.path().join("msg");
    std::fs::write(&m, &msg).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let st = Command::new(munpack)
        .args(["-q", "-C"])
        .arg(&out)
        .arg(&m)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::read(out.join("photo.jpg")).unwrap(), data);
    assert_eq!(
        std::fs::read(out.join("notes.txt")).unwrap(),
        b"some notes\n"
    );
}

/// One generated file: content kind and name kind.
fn file_strategy() -> impl Strategy<Value = (String, Vec<u8>, Option<&'static str>)> {
    let name = prop_oneof![
        "[a-z]{1,12}\\.(txt|bin|pdf|png|html|csv|zzz)",
        "[a-zé日本ßЖ ]{1,20}\\.(txt|dat)",
        "[ -~&&[^/]]{1,40}",
        "[a-z]{60,120}\\.txt",
        "[\u{80}-\u{7ff}]{30,60}",
    ]
    // Python strips white space around file names (pinned in
    // `surrounding_space_in_names_is_kept_python_strips_it`) and a pair of
    // double quotes around one (`quoted_names_are_kept_python_unquotes_twice`).
    .prop_filter("not a dot name", |n| {
        n != "." && n != ".." && n.trim() == n && !n.is_empty()
    })
    .prop_filter("not in double quotes", |n| {
        !(n.len() >= 2 && n.starts_with('"') && n.ends_with('"'))
    });
    let content = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(|b| (b, None)),
        "[ -~\n]{0,2000}".prop_map(|s| (s.into_bytes(), None)),
        "[ -~é€日本語\n]{0,500}".prop_map(|s| (s.into_bytes(), None)),
        "[ -~àéîõü\n]{0,500}".prop_map(|s| {
            let (b, _, _) = encoding_rs::WINDOWS_1252.encode(&s);
            (b.into_owned(), Some("windows-1252"))
        }),
        "[あ-んア-ン漢字\n]{0,300}".prop_map(|s| {
            let (b, _, _) = encoding_rs::SHIFT_JIS.encode(&s);
            (b.into_owned(), Some("shift_jis"))
        }),
        Just((Vec::new(), None)),
    ];
    (name, content).prop_map(|(n, (c, cs))| (n, c, cs))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn random_file_sets_round_trip_through_python(
        files in proptest::collection::vec(file_strategy(), 1..5),
        flags in prop_oneof![Just(""), Just("--8bit"), Just("--binary-safe"), Just("--crlf")],
    ) {
        let Some(py) = python("build::random_file_sets_round_trip_through_python") else { return Ok(()) };
        let extra: Vec<&str> = if flags.is_empty() { vec![] } else { vec![flags] };
        check_files(&py, &files, &extra);
    }
}

/// Inputs that are not regular files (a FIFO, a pipe behind /dev/fd/N
/// from process substitution) are read once and spooled: they used to be
/// opened again for the sniff, the scan and the write (an empty body, a
/// part that lost its first 64 KiB, a hang on a FIFO).
#[test]
fn bug_nonregular_inputs_are_read_once() {
    let Some(py) = python("build::bug_nonregular_inputs_are_read_once") else {
        return;
    };
    let dir = tmp();
    let fifo = dir.path().join("f.txt");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "hi from a fifo\n").unwrap())
    };
    let msg = build(
        &["-t", "a@b.example", "--text", fifo.to_str().unwrap()],
        b"",
    );
    writer.join().unwrap();
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(v["tree"][0]["payload"], hex(b"hi from a fifo\n"));
    // Process substitution: /dev/fd/N, a pipe (bash is a peer like python).
    let Some(bash) = peer("bash", "build::bug_nonregular_inputs_are_read_once") else {
        return;
    };
    let data = pseudo_random(100_000, 12);
    let f = dir.path().join("data");
    std::fs::write(&f, &data).unwrap();
    let script = format!(
        "exec {} -t a@b.example --text <(echo body) <(cat {})",
        bin("mime-build").display(),
        f.display()
    );
    let mut cmd = Command::new(bash);
    cmd.args(["-c", &script]);
    let r = run_cmd(cmd, b"");
    r.code(0);
    let v = py_parse(&py, &r.stdout, dir.path());
    let l = leaves(&v);
    assert_eq!(l[0]["payload"], hex(b"body\n"));
    assert_eq!(l[1]["type"], "application/octet-stream");
    assert_eq!(l[1]["payload"], hex(&data));
}

/// message/* parts are 7bit, or 8bit with --8bit (RFC 2046 §5.2.1), and
/// never `binary` (we offer no BINARYMIME): an .eml that cannot be either
/// is attached as application/octet-stream in base64; a ready entity that
/// cannot is refused (65); a file cannot be given a multipart type (64).
/// They used to go out 8bit without --8bit, or raw as `binary`.
#[test]
fn bug_message_parts_keep_the_7bit_promise() {
    let Some(py) = python("build::bug_message_parts_keep_the_7bit_promise") else {
        return;
    };
    let dir = tmp();
    let eight = dir.path().join("m8.eml");
    let eight_bytes = "Subject: x\n\nbödy\n".as_bytes();
    std::fs::write(&eight, eight_bytes).unwrap();
    let nul = dir.path().join("nul.eml");
    let nul_bytes = b"Subject: x\n\nnul\0 and bare\r cr\n";
    std::fs::write(&nul, nul_bytes).unwrap();
    let png = dir.path().join("logo.png");
    std::fs::write(&png, pseudo_random(300, 13)).unwrap();
    let (eight, nul) = (eight.to_str().unwrap(), nul.to_str().unwrap());
    // (flags, file, content type, transfer encoding, payload)
    type Case<'a> = (&'a [&'a str], &'a str, &'a str, &'a str, &'a [u8]);
    let cases: &[Case] = &[
        (
            &[],
            eight,
            "application/octet-stream",
            "base64",
            eight_bytes,
        ),
        (&["--8bit"], eight, "message/rfc822", "8bit", b""),
        (
            &["--binary-safe"],
            eight,
            "application/octet-stream",
            "base64",
            eight_bytes,
        ),
        (&[], nul, "application/octet-stream", "base64", nul_bytes),
        (
            &["--8bit"],
            nul,
            "application/octet-stream",
            "base64",
            nul_bytes,
        ),
    ];
    for &(flags, file, ctype, cte, payload) in cases {
        let mut args = flags.to_vec();
        args.extend(["-t", "a@b.example", "--text", "-", file]);
        let msg = build(&args, b"hi\n");
        let s = String::from_utf8_lossy(&msg);
        assert!(!s.contains("Transfer-Encoding: binary"), "{s}");
        let top = s.split("\n\n").next().unwrap();
        assert_eq!(
            top.contains("Transfer-Encoding: 8bit"),
            cte == "8bit",
            "{flags:?}: {top}"
        );
        let v = py_parse(&py, &msg, dir.path());
        let l = leaves(&v);
        assert_eq!(
            (l[1]["type"].as_str(), l[1]["cte"].as_str()),
            (Some(ctype), Some(cte))
        );
        if !payload.is_empty() {
            assert_eq!(l[1]["payload"], hex(payload));
            assert_eq!(
                l[1]["filename"],
                Path::new(file).file_name().unwrap().to_str().unwrap()
            );
        }
    }
    // A ready entity cannot change its type: refused unless it can travel.
    let r = run("mime-build", &["--part", eight], b"");
    r.code(65).one_line_error("mime-build");
    assert!(r.stderr.contains("--8bit"), "{}", r.stderr);
    run("mime-build", &["--8bit", "--part", eight], b"").code(0);
    run("mime-build", &["--8bit", "--part", nul], b"")
        .code(65)
        .one_line_error("mime-build");
    // Types a file cannot have.
    for t in ["multipart/mixed", "Multipart/Related", "message/partial"] {
        let arg = format!("{};type={t}", png.display());
        let r = run("mime-build", &[&arg], b"");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty());
    }
}

/// The lines of the header field `name` (first line and continuations).
fn field_lines<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if inside {
                out.push(line);
            }
        } else {
            inside = line
                .to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()));
            if inside {
                out.push(line);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// RFC 5322 §2.1.1: no line over 998 octets whatever the arguments;
    /// ≤ 78 where the RFC 2047 encoder writes (Subject, unstructured -H,
    /// the RFC 2047 `name` parameter). Long words used to go out whole
    /// (a 2009-octet Subject line, a 1211-octet To line).
    #[test]
    fn bug_header_lines_within_998(
        subject in "[a-z]{900,2100}|\\PC{0,600}|([a-zé]{1,90} ?){1,40}",
        note in "[a-z]{900,2100}|\\PC{0,400}",
        name in "[a-z]{100,1500}|[ -~]{60,300}|[a-zé日 ]{1,200}",
        local in "[a-z]{1,64}",
        domain in "[a-z]{1,63}(\\.[a-z]{1,63}){0,3}",
        file in "[a-zé]{100,900}\\.txt",
        subtype in "[a-z]{1,127}",
    ) {
        // (U+2028 and U+2029 are refused in header text: 64.)
        let subject = subject.replace(['\u{2028}', '\u{2029}'], " ");
        let note = note.replace(['\u{2028}', '\u{2029}'], " ");
        let dir = tmp();
        let f = dir.path().join("f.bin");
        std::fs::write(&f, b"x").unwrap();
        let name = name.replace(['"', '\\'], "");
        let to = format!("\"{name}\" <{local}@{domain}>");
        let group = format!("\"{name}\": {local}@{domain};");
        let op = format!("{};name={file};type=application/{subtype}", f.display());
        let note = format!("X-Note: {note}");
        let r = run(
            "mime-build",
            &["-s", &subject, "-t", &to, "-c", &group,
              "-H", &note, "--text", "-", &op],
            b"body\n",
        );
        r.code(0);
        let s = String::from_utf8(r.stdout.clone()).unwrap();
        for line in s.lines() {
            prop_assert!(line.len() <= 998, "{} octets: {:.100}", line.len(), line);
        }
        let head = s.split("\n\n").next().unwrap();
        for name in ["Subject", "X-Note"] {
            for line in field_lines(head, name) {
                prop_assert!(line.len() <= 78, "{:?}", line);
            }
        }
        let part = s.split("\n\n").find(|p| p.contains("Content-Disposition: attachment")).unwrap();
        for line in field_lines(part, "Content-Disposition") {
            prop_assert!(line.len() <= 78, "{:?}", line);
        }
    }
}

#[test]
fn bug_header_lines_within_998_refusals() {
    let a = "a".repeat(2000);
    let dir = tmp();
    let f = dir.path().join("logo.png");
    std::fs::write(&f, "x").unwrap();
    // RFC 5321 §4.5.3.1: local part ≤ 64, domain ≤ 255; RFC 6838 §4.2:
    // type names ≤ 127; field names must leave room for a value.
    for args in [
        vec!["-t".to_owned(), format!("a@{}", "d".repeat(1200))],
        vec!["-t".to_owned(), format!("{}@x.example", "l".repeat(65))],
        vec!["-c".to_owned(), format!("g: {}@x.example;", "l".repeat(65))],
        vec![
            "-H".to_owned(),
            format!("From: a@{}.example", "d".repeat(256)),
        ],
        vec![format!(
            "{};type=application/{}",
            f.display(),
            "a".repeat(128)
        )],
        vec!["-H".to_owned(), format!("{}: v", "X".repeat(100))],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run("mime-build", &args, b"");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty());
    }
    // Long words are encoded and folded, not refused.
    for args in [vec!["-s", &a], vec!["-t", &format!("{a} <x@y.example>")]] {
        let msg = build(&args, b"");
        assert!(
            msg.split(|&b| b == b'\n').all(|l| l.len() <= 78),
            "{args:?}"
        );
    }
}

/// Structured values are checked, not passed through: a Content-ID must
/// be a msg-id (it used to take `a> <b c` and raw 8-bit), Message-ID,
/// In-Reply-To and References lists of `<id@domain>` (not encoded-words),
/// Date an RFC 5322 date-time (written again in its current form), and
/// charsets known labels, written by their MIME names.
#[test]
fn bug_structured_header_values_are_checked() {
    let Some(py) = python("build::bug_structured_header_values_are_checked") else {
        return;
    };
    let dir = tmp();
    let html = dir.path().join("p.html");
    std::fs::write(&html, "<img src=cid:logo>\n").unwrap();
    let png = dir.path().join("logo.png");
    std::fs::write(&png, pseudo_random(100, 14)).unwrap();
    let (html, png) = (html.to_str().unwrap(), png.to_str().unwrap());
    for cid in ["a> <b c", "é", "a b", "a@", "@b", "a..b", "a@b@c", ""] {
        let r = run(
            "mime-build",
            &["--html", html, "--inline", &format!("{png};cid={cid}")],
            b"",
        );
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty(), "{cid:?}");
    }
    for (cid, want) in [
        ("logo", "<logo>"),
        ("<a.b@c.example>", "<a.b@c.example>"),
        ("x@[10.0.0.1]", "<x@[10.0.0.1]>"),
    ] {
        let msg = build(
            &["--html", html, "--inline", &format!("{png};cid={cid}")],
            b"",
        );
        let v = py_parse(&py, &msg, dir.path());
        assert_eq!(v["tree"][2]["cid"], want);
    }
    for h in [
        "Message-ID: <é@x>",
        "Message-ID: <a@b> <c@d>",
        "Message-ID: a@b",
        "Message-ID: <a b@c>",
        "In-Reply-To: <a@b",
        "References: <a@b>, <c@d>",
        "References:",
        "Date: yesterday",
        "Date: Fri, 31 Nov 1997 09:55:06 -0600",
        "Resent-Date: 1997-11-21",
    ] {
        let r = run("mime-build", &["-H", h], b"");
        r.code(64).one_line_error("mime-build");
        assert!(r.stdout.is_empty(), "{h}");
    }
    let refs: Vec<String> = (0..12)
        .map(|k| format!("<message.{k}@host.example.org>"))
        .collect();
    let refs = format!("References: {}", refs.join(" "));
    let msg = build(
        &[
            "-H",
            "Date: 21 Nov 97 09:55:06 GMT",
            "-H",
            "In-Reply-To: <a@b.example>",
            "-H",
            &refs,
        ],
        b"",
    );
    let s = String::from_utf8(msg).unwrap();
    assert!(
        s.contains("\nDate: Fri, 21 Nov 1997 09:55:06 +0000\n"),
        "{s}"
    );
    assert!(s.contains("\nIn-Reply-To: <a@b.example>\n"), "{s}");
    assert!(
        s.contains("References: <message.0@host.example.org>"),
        "{s}"
    );
    assert!(s.lines().all(|l| l.len() <= 78), "{s}");
    assert!(!s.contains("=?"), "{s}");
    // Charsets: unknown is 64; known ones are written by their MIME name.
    for args in [
        vec!["--charset", "bo\"gus; x=y"],
        vec!["--to-charset", "x-nope"],
    ] {
        run("mime-build", &args, b"caf\xe9\n")
            .code(64)
            .one_line_error("mime-build");
    }
    let t = dir.path().join("t.txt");
    std::fs::write(&t, b"caf\xe9\n").unwrap();
    for op in [";charset=nope", ";charset=a\"b"] {
        let arg = format!("{}{op}", t.display());
        run("mime-build", &[&arg], b"")
            .code(64)
            .one_line_error("mime-build");
    }
    for (args, input, want) in [
        (
            vec!["--to-charset", "latin1"],
            "café\n".as_bytes(),
            "charset=ISO-8859-1",
        ),
        (
            vec!["--charset", "sjis"],
            b"\x93\xfa\n",
            "charset=Shift_JIS",
        ),
        (
            vec!["--charset", "cp1252"],
            b"\x80\n",
            "charset=windows-1252",
        ),
    ] {
        let s = String::from_utf8_lossy(&build(&args, input)).into_owned();
        assert!(s.contains(want), "{args:?}: {s}");
    }
    let arg = format!("{};charset=latin1", t.display());
    let s = String::from_utf8(build(&[&arg], b"")).unwrap();
    assert!(
        s.contains("Content-Type: text/plain; charset=ISO-8859-1;"),
        "{s}"
    );
    let msg = build(&["--charset", "l1"], b"caf\xe9\n");
    assert!(String::from_utf8_lossy(&msg).contains("charset=ISO-8859-1"));
}

/// `--split` creates every piece (new files only) before writing any,
/// and removes what it created on an error: it used to leave w.01 and w.02
/// behind when w.03 existed, and print no names.
#[test]
fn bug_split_leaves_no_pieces_on_failure() {
    let dir = tmp();
    let f = dir.path().join("big.bin");
    std::fs::write(&f, pseudo_random(100_000, 15)).unwrap();
    let prefix = dir.path().join("w");
    let taken = dir.path().join("w.03");
    std::fs::write(&taken, "mine").unwrap();
    let args = [
        "--split",
        "30000",
        "-o",
        prefix.to_str().unwrap(),
        f.to_str().unwrap(),
    ];
    let r = run("mime-build", &args, b"");
    r.code(74).one_line_error("mime-build");
    assert!(r.stderr.contains("w.03"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["big.bin", "w.03"]);
    assert_eq!(std::fs::read(&taken).unwrap(), b"mine");
    // A prefix in a missing directory: nothing made either.
    let nowhere = dir.path().join("missing/w");
    run(
        "mime-build",
        &[
            "--split",
            "30000",
            "-o",
            nowhere.to_str().unwrap(),
            f.to_str().unwrap(),
        ],
        b"",
    )
    .code(74)
    .one_line_error("mime-build");
    // Once the name is free, all pieces are made and named.
    std::fs::remove_file(&taken).unwrap();
    let r = run("mime-build", &args, b"");
    r.code(0);
    let names = r.stdout_str();
    assert_eq!(names.lines().count(), 5, "{names}");
    assert!(names.lines().all(|n| Path::new(n).exists()));
}

/// A `name=` override is cut to its last component (`/` and `\`): it
/// used to be sent as `filename="../../etc/passwd"`.
#[test]
fn bug_name_override_is_a_basename() {
    let Some(py) = python("build::bug_name_override_is_a_basename") else {
        return;
    };
    let dir = tmp();
    let f = dir.path().join("a.txt");
    std::fs::write(&f, "x\n").unwrap();
    let a = format!("{};name=../../etc/passwd", f.display());
    let b = format!("{};name=C:\\Users\\me\\évil.txt", f.display());
    let msg = build(&[&a, &b], b"");
    let v = py_parse(&py, &msg, dir.path());
    let l = leaves(&v);
    assert_eq!(l[0]["filename"], "passwd");
    assert_eq!(l[1]["filename"], "évil.txt");
    let s = String::from_utf8_lossy(&msg);
    assert!(!s.contains("etc") && !s.contains("Users"), "{s}");
    let c = format!("{};name=../", f.display());
    run("mime-build", &[&c], b"")
        .code(64)
        .one_line_error("mime-build");
}

/// `--part` takes a MIME entity (header fields, then an empty line):
/// anything else is 65, naming the file; it used to be copied in as if
/// its first lines were the part's header.
#[test]
fn bug_part_must_be_a_mime_entity() {
    let dir = tmp();
    let cases: &[(&str, &[u8], i32)] = &[
        ("text.txt", b"hello, world\n", 65),
        ("empty", b"", 65),
        ("noblank", b"Subject: x\nbody without an empty line\n", 65),
        (
            "mbox",
            b"From a@b Thu Jan  1 00:00:00 1970\nContent-Type: text/plain\n\nhi\n",
            65,
        ),
        ("binary", b"\x00\x01\x02\xff", 65),
        ("ok", b"Content-Type: text/plain\n\nhi\n", 0),
        ("header-only", b"Content-Type: text/plain\n", 0),
    ];
    for &(name, bytes, code) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, bytes).unwrap();
        let r = run("mime-build", &["--part", f.to_str().unwrap()], b"");
        r.code(code);
        if code != 0 {
            r.one_line_error("mime-build");
            assert!(
                r.stderr.contains(name) && r.stderr.contains("not a MIME entity"),
                "{}",
                r.stderr
            );
            assert!(r.stdout.is_empty());
        }
    }
}

/// File names that are not UTF-8 can be attached: the bytes are read as
/// UTF-8 where valid and windows-1252 elsewhere (`lat\xe9.txt` is sent as
/// `laté.txt`); they used to be a usage error (64).
#[test]
fn bug_non_utf8_file_names() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let Some(py) = python("build::bug_non_utf8_file_names") else {
        return;
    };
    let dir = tmp();
    let f = dir.path().join(OsStr::from_bytes(b"lat\xe9.txt"));
    std::fs::write(&f, "x\n").unwrap();
    let mut cmd = Command::new(bin("mime-build"));
    cmd.arg(&f);
    let mut named = f.as_os_str().to_owned();
    named.push(OsStr::from_bytes(b";name=r\xe9sum\xe9 \x80.pdf"));
    cmd.arg(named);
    let r = run_cmd(cmd, b"");
    r.code(0);
    let v = py_parse(&py, &r.stdout, dir.path());
    let l = leaves(&v);
    assert_eq!(l[0]["filename"], "laté.txt");
    assert_eq!(l[1]["filename"], "résumé €.pdf");
    assert_eq!(l[0]["payload"], hex(b"x\n"));
    // --text and -o take any bytes too.
    let mut cmd = Command::new(bin("mime-build"));
    cmd.arg("--text").arg(&f);
    run_cmd(cmd, b"").code(0);
}

/// A text file that is not UTF-8 and has no charset (no `;charset=`, no
/// --charset) used to go out as text/plain without one, which readers
/// take for US-ASCII: now a guessed text type becomes
/// application/octet-stream in base64 (the bytes arrive intact), and a
/// type the user gave is 65. `--digest` without files is 64 (it used to
/// be ignored).
#[test]
fn bug_text_without_charset() {
    let Some(py) = python("build::bug_text_without_charset") else {
        return;
    };
    let dir = tmp();
    let latin = dir.path().join("notes.txt");
    std::fs::write(&latin, b"caf\xe9 cr\xe8me\n").unwrap();
    let utf8 = dir.path().join("utf8.txt");
    std::fs::write(&utf8, "café\n").unwrap();
    let l = latin.to_str().unwrap();
    let msg = build(&["--text", "-", l, utf8.to_str().unwrap()], b"hi\n");
    let v = py_parse(&py, &msg, dir.path());
    let parts = leaves(&v);
    assert_eq!(parts[1]["type"], "application/octet-stream");
    assert_eq!(parts[1]["cte"], "base64");
    assert_eq!(parts[1]["filename"], "notes.txt");
    assert_eq!(parts[1]["payload"], hex(b"caf\xe9 cr\xe8me\n"));
    assert_eq!(parts[2]["type"], "text/plain");
    assert_eq!(parts[2]["charset"], "utf-8");
    // With a charset it stays text.
    for args in [
        vec!["--text", "-", "--charset", "latin1", l],
        vec!["--text", "-", &format!("{l};charset=latin1")],
    ] {
        let v = py_parse(&py, &build(&args, b"hi\n"), dir.path());
        assert_eq!(leaves(&v)[1]["type"], "text/plain");
        assert_eq!(leaves(&v)[1]["charset"], "ISO-8859-1");
    }
    // A text type given without a charset: 65, nothing written.
    let arg = format!("{l};type=text/csv");
    let r = run("mime-build", &[&arg], b"");
    r.code(65).one_line_error("mime-build");
    assert!(
        r.stdout.is_empty() && r.stderr.contains("charset"),
        "{}",
        r.stderr
    );
    run("mime-build", &["--digest", "--text", "-"], b"hi\n")
        .code(64)
        .one_line_error("mime-build");
}

#[test]
fn date_is_in_the_local_zone() {
    // RFC 5322 §3.3 with the local offset, from the zone data behind TZ.
    if !std::path::Path::new("/usr/share/zoneinfo/America/New_York").exists() {
        crate::util::skipped("date_is_in_the_local_zone: no zone data (tzdata)");
        return;
    }
    let mut cmd = std::process::Command::new(crate::util::bin("mime-build"));
    cmd.args(["-t", "a@example.org"])
        .env("TZ", "America/New_York");
    let msg = crate::util::run_cmd(cmd, b"body\n").ok().to_vec();
    let text = String::from_utf8_lossy(&msg);
    let date = text
        .lines()
        .find(|l| l.starts_with("Date: "))
        .expect("Date field");
    assert!(
        date.ends_with(" -0500") || date.ends_with(" -0400"),
        "{date}"
    );
}

#[test]
fn bug_output_file_without_split() {
    // Issue 13: `-o out.eml` without --split was ignored (the message went
    // to stdout). Now it replaces the file whole, as mpack -o does.
    let d = tmp();
    let out = d.path().join("out.eml");
    std::fs::write(&out, b"old content").unwrap();
    let o = out.to_str().unwrap();
    let args = [
        "-f",
        "a@example.org",
        "-t",
        "b@example.net",
        "-s",
        "Hi",
        "-o",
        o,
    ];
    let r = run("mime-build", &args, b"");
    r.code(0);
    assert!(r.stdout.is_empty());
    let written = std::fs::read(&out).unwrap();
    let text = String::from_utf8_lossy(&written);
    assert!(text.starts_with("From: a@example.org\n"), "{text}");
    assert!(text.contains("Subject: Hi\n"), "{text}");
    // The same message as on stdout (Date and Message-ID aside).
    let stdout = build(&args[..6], b"");
    let strip = |m: &[u8]| -> String {
        String::from_utf8_lossy(m)
            .lines()
            .filter(|l| !l.starts_with("Date:") && !l.starts_with("Message-ID:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&written), strip(&stdout));
    // Nothing else left in the directory (no temporary).
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    // An unwritable place: one line, and nothing half-written.
    let bad = d.path().join("no/such/dir/out.eml");
    let r = run(
        "mime-build",
        &["-t", "b@example.net", "-o", bad.to_str().unwrap()],
        b"",
    );
    assert_ne!(r.code, 0);
    r.one_line_error("mime-build");
    assert!(!bad.exists());
}

/// Issue 13 item 11: README's example builds a message whose HTML shows
/// its inline picture (the Content-ID the README tells note.html to use
/// is the one the part gets), and its `mime-unpack -p` line prints the
/// text (it printed the raw alternative, 1.1). Run as written, by sh.
#[test]
fn readme_build_example_works_as_written() {
    const README: &str = include_str!("../README.md");
    let start = README
        .find("# build a message from files")
        .expect("README's mime-build example");
    let block = &README[start..];
    let block = &block[..block.find("\n\n# large files").expect("its end")];
    let cid = block
        .split("cid:")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("README names the Content-ID note.html uses");
    let dir = tmp();
    let d = dir.path();
    std::fs::write(d.join("note.txt"), "Numbers are up.\n").unwrap();
    let html = format!("<p>Numbers are up.<img src=\"cid:{cid}\"></p>\n");
    std::fs::write(d.join("note.html"), html).unwrap();
    std::fs::write(d.join("chart.png"), pseudo_random(400, 7)).unwrap();
    std::fs::write(d.join("report.pdf"), b"%PDF-1.4\n%%EOF\n").unwrap();
    std::fs::write(d.join("data.csv"), "a,b\n1,2\n").unwrap();
    let bin_dir = bin("mime-build").parent().expect("bin dir").to_owned();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let sh = |script: &str| {
        let mut cmd = Command::new("sh");
        cmd.args(["-eu", "-c", script])
            .current_dir(d)
            .env("PATH", &path);
        run_cmd(cmd, b"")
    };
    sh(block).code(0);
    let msg = std::fs::read_to_string(d.join("msg.eml")).unwrap();
    assert!(msg.contains(&format!("Content-ID: <{cid}>")), "{msg}");
    assert_eq!(
        std::fs::read(d.join("attachments/data.csv")).unwrap(),
        b"a,b\n1,2\n"
    );
    // The README's -p line alone prints the text, decoded.
    let line = block
        .lines()
        .find(|l| l.starts_with("mime-unpack -p"))
        .expect("README's -p line");
    assert_eq!(sh(line).code(0).stdout_str(), "Numbers are up.\n");
}

#[test]
fn mpack_style_recipient_after_the_file_says_what_to_type() {
    // Issue 13: `mime-build -s S FILE ADDR`, as mpack takes it, said only
    // "No such file or directory" for the address.
    let d = tmp();
    let f = write_file(d.path(), "report.txt", b"numbers\n");
    let r = run(
        "mime-build",
        &["-s", "S", f.to_str().unwrap(), "you@example.org"],
        b"",
    );
    r.code(64).one_line_error("mime-build");
    assert!(
        r.stderr
            .contains("you@example.org: not a file but an address? recipients are -t ADDR"),
        "{}",
        r.stderr
    );
    // A missing file without @ is still 66.
    run("mime-build", &["-s", "S", "missing.txt"], b"").code(66);
}

#[test]
fn list_unsubscribe_and_one_click_as_python_reads_them() {
    // Issue 16: RFC 2369's List-Unsubscribe (each URI in <>, folded
    // between them) and RFC 8058's one-click POST field.
    let Some(py) = python("build::list_unsubscribe_and_one_click_as_python_reads_them") else {
        return;
    };
    let dir = tmp();
    let long = format!("https://example.org/unsubscribe/{}", "a1b2".repeat(10));
    let msg = build(
        &[
            "-t",
            "a@example.org",
            "--list-unsubscribe",
            "mailto:leave@example.org?subject=unsubscribe",
            "--list-unsubscribe",
            &long,
            "--one-click",
        ],
        b"news\n",
    );
    for line in String::from_utf8_lossy(&msg).lines() {
        assert!(line.len() <= 78, "{line:?}");
    }
    let v = py_parse(&py, &msg, dir.path());
    assert_eq!(
        v["list-unsubscribe"],
        format!("<mailto:leave@example.org?subject=unsubscribe>, <{long}>")
    );
    assert_eq!(v["list-unsubscribe-post"], "List-Unsubscribe=One-Click");
    // Without --one-click, no POST field.
    let v = py_parse(
        &py,
        &build(&["--list-unsubscribe", "mailto:l@example.org"], b"x\n"),
        dir.path(),
    );
    assert_eq!(v["list-unsubscribe"], "<mailto:l@example.org>");
    assert!(v["list-unsubscribe-post"].is_null());
}

#[test]
fn list_unsubscribe_mistakes_are_usage_errors() {
    for (args, says) in [
        (
            &["--list-unsubscribe", "mailto:l@example.org", "--one-click"][..],
            "https",
        ),
        (
            &["--list-unsubscribe", "ftp://example.org/x"][..],
            "mailto:, https:",
        ),
        (
            &["--list-unsubscribe", "https://example.org/a b"][..],
            "percent-encoded",
        ),
        (
            &["--list-unsubscribe", "https://example.org/\r\nBcc: x@y"][..],
            "line break",
        ),
        (
            &[
                "--list-unsubscribe",
                "https://example.org/u",
                "-H",
                "List-Unsubscribe: <mailto:x@y>",
            ][..],
            "given twice",
        ),
    ] {
        let r = run("mime-build", args, b"x\n");
        r.code(64).one_line_error("mime-build");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "nothing half-written");
    }
    // An entity has no message header to put it in.
    run(
        "mime-build",
        &["--entity", "--list-unsubscribe", "https://e.org/u"],
        b"x\n",
    )
    .code(64);
}
