//! mime-hdr: header fields unfolded and decoded, addresses, limits, and
//! differential tests against Python's `email` package.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::peer;
use crate::util::*;

const BIN: &str = "mime-hdr";

fn hdr(args: &[&str], stdin: &[u8]) -> Run {
    run(BIN, args, stdin)
}

fn out(args: &[&str], stdin: &[u8]) -> String {
    String::from_utf8(hdr(args, stdin).ok().to_vec()).expect("UTF-8 output")
}

const MSG: &[u8] = b"From: Ann Example <ann@example.org>\r\n\
To: bob@example.net,\r\n \"Doe, Jane\" <jane@example.net>\r\n\
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?UTF-8?Q?_aus_K=C3=B6ln?= and more\r\n\
Cc: team: carl@example.com, =?ISO-8859-1?Q?Ren=E9?= <rene@example.com>;\r\n\
Received: from a\r\nReceived: from b\r\n\
\r\n\
Subject: body, not a header\r\n";

#[test]
fn one_name_prints_the_value_alone() {
    assert_eq!(out(&["-n", "subject"], MSG), "Grüße aus Köln and more\n");
    assert_eq!(
        out(&["-n", "SUBJECT", "-H"], MSG),
        "Subject: Grüße aus Köln and more\n"
    );
    assert_eq!(out(&["--name", "received"], MSG), "from a\nfrom b\n");
}

#[test]
fn several_names_print_in_the_order_asked() {
    let want = "Received: from a\nReceived: from b\nFrom: Ann Example <ann@example.org>\n";
    assert_eq!(out(&["-n", "received:from"], MSG), want);
    assert_eq!(out(&["-n", "received", "-n", "from"], MSG), want);
}

#[test]
fn all_fields_unfolded_and_decoded() {
    let want = "From: Ann Example <ann@example.org>\n\
                To: bob@example.net, \"Doe, Jane\" <jane@example.net>\n\
                Subject: Grüße aus Köln and more\n\
                Cc: team: carl@example.com, René <rene@example.com>;\n\
                Received: from a\nReceived: from b\n";
    assert_eq!(out(&[], MSG), want);
    // LF line ends read the same.
    let lf = String::from_utf8(MSG.to_vec())
        .unwrap()
        .replace("\r\n", "\n");
    assert_eq!(out(&[], lf.as_bytes()), want);
}

#[test]
fn addresses_and_mailboxes() {
    assert_eq!(
        out(&["-A"], MSG),
        "ann@example.org\nbob@example.net\njane@example.net\ncarl@example.com\nrene@example.com\n"
    );
    assert_eq!(
        out(&["-a", "-n", "to:cc"], MSG),
        "bob@example.net\n\"Doe, Jane\" <jane@example.net>\ncarl@example.com\nRené <rene@example.com>\n"
    );
    assert_eq!(
        out(&["-A", "-H", "-n", "from"], MSG),
        "From: ann@example.org\n"
    );
    // A group without members prints nothing: exit 1.
    hdr(&["-A"], b"To: undisclosed-recipients:;\n\n").code(1);
}

#[test]
fn decoded_text_never_breaks_a_line() {
    let msg = b"Subject: =?UTF-8?Q?Hi=0D=0ABcc:_x@evil?= \x01raw\r\n\r\n";
    assert_eq!(
        out(&["-n", "subject"], msg),
        "Hi\u{FFFD}\u{FFFD}Bcc: x@evil \u{FFFD}raw\n"
    );
    let msg = b"From: =?UTF-8?Q?a=0A=3Cevil=40x=3E=2C?= <real@x>\n\n";
    assert_eq!(out(&["-a"], msg), "\"a\u{FFFD}<evil@x>,\" <real@x>\n");
}

#[test]
fn cve_2023_27043_never_invents_an_address() {
    let msg =
        b"From: alice@example.org(<bob@example.org>\nTo: alice@example.org)<bob@example.org>\n\n";
    assert_eq!(out(&["-A"], msg), "alice@example.org\n");
}

#[test]
fn mbox_from_line_is_skipped() {
    let msg = b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a@b\nSubject: s\n\nbody\n";
    assert_eq!(out(&[], msg), "From: a@b\nSubject: s\n");
}

#[test]
fn several_files_are_prefixed_like_grep() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.eml");
    let b = dir.path().join("b.eml");
    std::fs::write(&a, b"Subject: one\n\n").unwrap();
    std::fs::write(&b, b"Subject: two\nSubject: three\n\n").unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let got = out(&["-n", "subject", a, b], b"");
    assert_eq!(got, format!("{a}:one\n{b}:two\n{b}:three\n"));
    let got = out(&["-H", "-n", "subject", a, b], b"");
    assert_eq!(
        got,
        format!("{a}:Subject: one\n{b}:Subject: two\n{b}:Subject: three\n")
    );
    // 0 if any file printed; 1 if none did.
    hdr(&["-n", "subject", a, "-"], b"X: y\n\n").code(0);
    hdr(&["-n", "nope", a, b], b"").code(1);
    // A missing file is reported, the rest still printed, exit 66.
    let r = hdr(&["-n", "subject", a, "/nonexistent/x.eml", b], b"");
    r.code(66).one_line_error(BIN);
    assert!(r.stderr.contains("/nonexistent/x.eml"), "{}", r.stderr);
    assert_eq!(r.stdout_str(), format!("{a}:one\n{b}:two\n{b}:three\n"));
}

#[test]
fn exit_1_when_nothing_printed() {
    let r = hdr(&[], b"");
    r.code(1);
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
    hdr(&["-n", "bcc"], MSG).code(1);
    hdr(&[], b"\n\nSubject: body\n").code(1);
    // An empty field exists: printed as an empty line, exit 0.
    assert_eq!(out(&["-n", "subject"], b"Subject:\n\n"), "\n");
}

#[test]
fn nonexistent_file_is_66() {
    hdr(&["/nonexistent/msg.eml"], b"")
        .code(66)
        .one_line_error(BIN);
    let dir = tempfile::tempdir().unwrap();
    hdr(&[dir.path().to_str().unwrap()], b"")
        .code(66)
        .one_line_error(BIN);
}

#[test]
fn bad_usage_is_64() {
    hdr(&["--bogus"], b"").code(64).one_line_error(BIN);
    hdr(&["-a", "-A"], b"").code(64).one_line_error(BIN);
    hdr(&["-n", "a b"], b"").code(64).one_line_error(BIN);
    hdr(&["-n", "to:"], b"").code(64).one_line_error(BIN);
    hdr(&["-n"], b"").code(64).one_line_error(BIN);
}

#[test]
fn oversized_headers_are_65() {
    // 10 MB line without a newline.
    let r = hdr(&[], &vec![b'x'; 10 << 20]);
    r.code(65).one_line_error(BIN);
    assert!(
        r.stderr.contains("header block larger than"),
        "{}",
        r.stderr
    );
    // 2 MB of well-formed fields, then a body.
    let mut big = Vec::new();
    while big.len() < 2 << 20 {
        big.extend_from_slice(b"X-Filler: ");
        big.extend(std::iter::repeat_n(b'f', 1000));
        big.extend_from_slice(b"\n");
    }
    big.extend_from_slice(b"\nbody\n");
    hdr(&[], &big).code(65).one_line_error(BIN);
    // 20,000 fields.
    let many = b"A: b\n".repeat(20_000);
    let r = hdr(&["-n", "a"], &many);
    r.code(65).one_line_error(BIN);
    assert!(r.stdout.is_empty());
    // Several files: the good one is printed, the worst code wins.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.eml");
    std::fs::write(&bad, &many).unwrap();
    let r = hdr(&["-n", "from", bad.to_str().unwrap(), "-"], MSG);
    r.code(65).one_line_error(BIN);
    assert_eq!(r.stdout_str(), "-:Ann Example <ann@example.org>\n");
}

#[test]
fn binary_garbage_is_survived() {
    for seed in 1..20 {
        let mut input = b"Subject: ".to_vec();
        input.extend(pseudo_random(20_000, seed));
        let r = hdr(&[], &input);
        assert!(
            r.code == 0 || r.code == 1,
            "seed {seed}: {} {}",
            r.code,
            r.stderr
        );
        let text = String::from_utf8(r.stdout).expect("UTF-8 output");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        let r = hdr(
            &["-a"],
            &[b"To: ".as_slice(), &pseudo_random(20_000, seed)].concat(),
        );
        assert!(r.code == 0 || r.code == 1, "seed {seed}: {}", r.stderr);
    }
}

#[test]
fn hostile_address_fields_take_linear_time() {
    for b in [b'(', b'"', b'<', b'\\', b':'] {
        let mut msg = b"To: ".to_vec();
        msg.extend(std::iter::repeat_n(b, 900_000));
        msg.extend_from_slice(b"\nCc: ok@example.org\n\n");
        let start = Instant::now();
        assert_eq!(out(&["-A"], &msg), "ok@example.org\n", "byte {b}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "byte {b}: {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn closed_stdout_is_quiet_success() {
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("m.eml");
    let mut big = Vec::new();
    for i in 0..9000 {
        writeln!(big, "X-Field-{i}: {}", "v".repeat(100)).unwrap();
    }
    std::fs::write(&msg, &big).unwrap();
    let script = r#""$0" "$1" "$1" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}""#;
    let run = Command::new("bash")
        .args([
            "-c",
            script,
            bin(BIN).to_str().unwrap(),
            msg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "0");
    assert_eq!(String::from_utf8_lossy(&run.stderr), "");
}

/// The header reader stops at the empty line: a body that never ends (the
/// pipe stays open) must not be waited for, and a 100 MB body is not read.
#[test]
fn body_is_never_read() {
    let mut child = Command::new(bin(BIN))
        .args(["-n", "subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"Subject: quick\n\n").unwrap();
    let body = vec![b'b'; 1 << 20];
    // Write the body in a thread (the tool may exit mid-way: EPIPE).
    let writer = std::thread::spawn(move || {
        let mut sent = 0usize;
        while sent < 100 << 20 {
            if stdin.write_all(&body).is_err() {
                break;
            }
            sent += body.len();
        }
        // Keep the pipe open a while: reading to EOF would hang here.
        std::thread::sleep(Duration::from_millis(200));
        sent
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "mime-hdr waits for the body"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let sent = writer.join().unwrap();
    assert!(status.success());
    assert!(sent < 50 << 20, "the body was read: {sent} bytes accepted");
    let mut output = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut output).unwrap();
    assert_eq!(output, "quick\n");
}

// ------------------------------------------------- differential vs Python

/// Python's compat32 parser, each value unfolded then
/// `str(make_header(decode_header(value)))`: the closest to RFC 2047 of
/// Python's two APIs (policy.default re-renders address fields and adds
/// spaces between adjacent words, gh-128110).
const PY_VALUES: &str = r#"
import sys, re, email, email.header, email.policy
def unfold(s): return re.sub(r'\r?\n(?=[ \t])', '', s)
out = sys.stdout.buffer
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    if len(sys.argv) > 2:
        out.write(b'\0' + path.encode() + b'\n')
    for name, value in msg.items():
        if not isinstance(value, email.header.Header):
            value = unfold(value)
        s = str(email.header.make_header(email.header.decode_header(value)))
        s = unfold(s).strip(' \t\r\n')
        out.write(f"{name}: {s}\n".encode('utf-8', 'surrogateescape'))
"#;

/// `getaddresses` on From, To, Cc: the non-empty addr parts.
const PY_ADDRS: &str = r#"
import sys, email, email.policy, email.utils
out = sys.stdout.buffer
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        msg = email.message_from_binary_file(f, policy=email.policy.compat32)
    if len(sys.argv) > 2:
        out.write(b'\0' + path.encode() + b'\n')
    for name in ('From', 'To', 'Cc'):
        for _, addr in email.utils.getaddresses([str(v) for v in msg.get_all(name, [])]):
            if addr:
                out.write(f"{addr}\n".encode('utf-8', 'surrogateescape'))
"#;

fn python(test: &str, script: &str, args: &[&str]) -> Option<String> {
    let py = peer("python3", test)?;
    let mut cmd = Command::new(py);
    cmd.arg("-c").arg(script).args(args);
    let r = run_cmd(cmd, b"");
    assert_eq!(r.code, 0, "python failed: {}", r.stderr);
    Some(String::from_utf8(r.stdout).expect("python output is UTF-8"))
}

/// Corpus messages where Python and the RFC disagree, and the test that
/// pins each difference.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "mime4j-testmsgs/obsolete.msg",
        "python_differs_on_space_before_colon",
    ),
    (
        "stalwart-mail-parser/malformed/019.eml",
        "python_differs_on_space_before_colon",
    ),
    (
        "mime4j-testmsgs/russian-headers.msg",
        "python_differs_on_space_before_a_glued_word",
    ),
    (
        "stalwart-mail-parser/thirdparty/010.eml",
        "python_differs_on_raw_utf8",
    ),
];

fn differential(test: &str, script: &str, args: &[&str]) {
    let Some(files) = corpus(test) else { return };
    assert!(!files.is_empty(), "empty corpus");
    let mut names = Vec::new();
    for file in &files {
        let name = file.to_str().unwrap();
        match KNOWN_DIFFERENCES.iter().find(|(f, _)| name.ends_with(f)) {
            Some((_, why)) => eprintln!("{test}: {name} differs from Python on purpose, see {why}"),
            None => names.push(name),
        }
    }
    // One Python run for all files: each file's output follows "\0path\n".
    let Some(py) = python(test, script, &names) else {
        return;
    };
    let mut want = py.split('\0').skip(1);
    for name in &names {
        let chunk = want.next().expect("python output for every file");
        let (path, want) = chunk.split_once('\n').unwrap();
        assert_eq!(path, *name);
        let r = hdr(&[args, &[name]].concat(), b"");
        assert!(r.code == 0 || r.code == 1, "{name}: {}", r.stderr);
        assert_eq!(r.stdout_str(), want, "{name}");
    }
    assert!(names.len() > 50, "only {} messages compared", names.len());
}

#[test]
fn values_match_python_on_the_corpus() {
    differential("values_match_python_on_the_corpus", PY_VALUES, &[]);
}

#[test]
fn addresses_match_python_on_the_corpus() {
    differential("addresses_match_python_on_the_corpus", PY_ADDRS, &["-A"]);
}

/// Runs mime-hdr and Python's `getaddresses` on the same To field.
fn addrs_both(test: &str, to: &str) -> Option<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, format!("To: {to}\n\n")).unwrap();
    let path = path.to_str().unwrap();
    let py = python(test, PY_ADDRS, &[path])?;
    Some((hdr(&["-A", path], b"").stdout_str(), py))
}

#[test]
fn addresses_match_python_on_valid_lists() {
    let lists = [
        "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
        "<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
        "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
        "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        "Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
        "a@[1.2.3.4], \"john doe\"@example.com, x@y (Old Style)",
        "=?UTF-8?Q?Doe=2C_John?= <j@x>, =?UTF-8?B?w6Q=?= <a@b>",
    ];
    for to in lists {
        let Some((ours, py)) = addrs_both("addresses_match_python_on_valid_lists", to) else {
            return;
        };
        assert_eq!(ours, py, "{to}");
    }
}

#[test]
fn bug_unclosed_bracket_keeps_later_addresses() {
    // `<` or `[` without its end threw away every later address; the page
    // says a bad element is skipped up to the next comma. Python finds
    // h@x.org after a `<` too (after a `[` it makes up `x@[1.2, h@x.org]`).
    let test = "hdr::bug_unclosed_bracket_keeps_later_addresses";
    for to in ["<x@y, h@x.org", "x@[1.2, h@x.org", "broken <, h@x.org"] {
        let msg = format!("To: {to}\n\n");
        let out = hdr(&["-A", "-n", "to"], msg.as_bytes());
        assert_eq!(out.stdout_str(), "h@x.org\n", "{to}");
        if to.contains('[') {
            continue;
        }
        if let Some((_, py)) = addrs_both(test, to) {
            assert!(py.lines().any(|l| l == "h@x.org"), "{to}: Python: {py}");
        }
    }
}

#[test]
fn bug_defects_warn_once_per_input() {
    // Unknown charsets, malformed words and broken address lists passed
    // silently, unlike mime-word and mime-qp.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.eml");
    std::fs::write(
        &bad,
        "Subject: =?x-foo?Q?a?= =?UTF-8?Q?b?= =?y?Q?c?=\nTo: <a@b, c@d\n\n",
    )
    .unwrap();
    let good = dir.path().join("good.eml");
    std::fs::write(&good, "Subject: =?UTF-8?Q?fine?=\n\n").unwrap();
    let (bad, good) = (bad.to_str().unwrap(), good.to_str().unwrap());
    let r = hdr(&["-n", "subject", bad, good], b"");
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stderr,
        format!(
            "mime-hdr: warning: {bad}: Subject: unknown charset \"x-foo\" at byte 0 (2 in all)\n"
        )
    );
    let r = hdr(&["-A", "-n", "to"], std::fs::read(bad).unwrap().as_slice());
    assert_eq!(r.stdout_str(), "c@d\n");
    assert_eq!(
        r.stderr,
        "mime-hdr: warning: stdin: To: '<' without '>' at byte 1 (1 in all)\n"
    );
    // Fields not printed are not looked at.
    let r = hdr(&["-n", "to"], std::fs::read(bad).unwrap().as_slice());
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
}

#[test]
fn bug_address_mode_memory_does_not_grow_with_the_list() {
    // 400,000 addresses in an 800 kB field took 68 MB (85 times the input):
    // 40-byte tokens for the whole field and every mailbox kept until the
    // end. Under a 48 MiB address-space limit that cannot run.
    let mut msg = b"To: ".to_vec();
    msg.extend(b"a,".repeat(400_000));
    msg.extend(b"\n\n");
    let out = Command::new("sh")
        .args([
            "-c",
            "ulimit -v 49152 && exec \"$0\" -A",
            &bin("mime-hdr").to_string_lossy(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().expect("stdin").write_all(&msg)?;
            child.wait_with_output()
        })
        .expect("run mime-hdr");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 400_000 * 2);
}

/// RFC 5322 §4.5.3 allows white space before the colon (obs-optional);
/// Python's parser takes such a line for the start of the body.
#[test]
fn python_differs_on_space_before_colon() {
    let msg = b"Subject :obsolete\r\nDate  : today\r\n\r\n";
    assert_eq!(out(&[], msg), "Subject: obsolete\nDate: today\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, msg).unwrap();
    let test = "python_differs_on_space_before_colon";
    if let Some(py) = python(test, PY_VALUES, &[path.to_str().unwrap()]) {
        assert_eq!(py, "");
    }
}

/// `name==?koi8-r?B?...?=`: the decoder decodes a word glued to text
/// (leniently, as Python does) and keeps the text as it is; Python's
/// make_header adds a space the message never had.
#[test]
fn python_differs_on_space_before_a_glued_word() {
    let msg = b"X: name==?koi8-r?B?89DJ08/LLmRvYw==?=\n\n";
    assert_eq!(out(&["-n", "x"], msg), "name=Список.doc\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, msg).unwrap();
    let test = "python_differs_on_space_before_a_glued_word";
    if let Some(py) = python(test, PY_VALUES, &[path.to_str().unwrap()]) {
        assert_eq!(py, "X: name= Список.doc\n");
    }
}

/// Raw UTF-8 in a header is text (RFC 6532 §3); Python's compat32 reads
/// it as "unknown-8bit" and prints U+FFFD for every byte.
#[test]
fn python_differs_on_raw_utf8() {
    let msg = "X: comment=\"人権\"\n\n".as_bytes();
    assert_eq!(out(&[], msg), "X: comment=\"人権\"\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, msg).unwrap();
    let test = "python_differs_on_raw_utf8";
    if let Some(py) = python(test, PY_VALUES, &[path.to_str().unwrap()]) {
        assert_eq!(py, format!("X: comment=\"{}\"\n", "\u{FFFD}".repeat(6)));
    }
}

/// Address lists Python reads differently, each pinned: ours, then
/// Python's `getaddresses` (3.11 without the CVE-2023-27043 fix).
#[test]
fn python_differs_on_malformed_address_lists() {
    let table = [
        // CVE-2023-27043: bob is inside an unterminated comment (Python
        // makes "<bob@example.org>" the display name).
        (
            "alice@example.org(<bob@example.org>",
            "alice@example.org\n",
            "alice@example.org\n",
        ),
        // A stray ')' makes the item unreadable: skipped, nothing guessed.
        (
            "alice@example.org)<bob@example.org>",
            "",
            "alice@example.org\nbob@example.org\n",
        ),
        // An unquoted '@' in a display name is a name, not a 2nd address.
        (
            "info@shop.example <info@shop.example>",
            "info@shop.example\n",
            "info@shop.example\ninfo@shop.example\n",
        ),
        // Two words are not a local part; Python keeps the first.
        ("John Smith", "", "John\n"),
        // `<` without `>`: skipped.
        ("John <john@x", "", "john@x\n"),
        // A quoted local part that is a dot-atom is written unquoted
        // (RFC 5322 §3.4.1: the two forms are the same address).
        (
            "\"john\"@example.com",
            "john@example.com\n",
            "\"john\"@example.com\n",
        ),
        // Text after `>`: the item is skipped.
        ("John <js@x> Doe", "", "js@x\nDoe\n"),
        // Raw UTF-8 (RFC 6532): Python's compat32 garbles it.
        (
            "Jörg <jörg@bücher.example>",
            "jörg@bücher.example\n",
            "j\u{FFFD}\u{FFFD}rg@b\u{FFFD}\u{FFFD}cher.example\n",
        ),
    ];
    for (to, ours, py_want) in table {
        let Some((got, py)) = addrs_both("python_differs_on_malformed_address_lists", to) else {
            return;
        };
        assert_eq!(got, ours, "{to}");
        assert_eq!(py, py_want, "{to}: Python changed");
    }
}

#[test]
fn corpus_never_fails() {
    let Some(files) = corpus("corpus_never_fails") else {
        return;
    };
    let names: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    for args in [&["-a"][..], &["-A"], &[]] {
        let r = hdr(&[args, &names].concat(), b"");
        r.code(0);
        assert!(Path::new(names[0]).exists());
    }
}
