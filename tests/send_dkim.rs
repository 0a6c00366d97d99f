//! DKIM end to end (issue 16): `mime-build | smtp-send --dkim-…` into
//! `smtp-recv --dkim-verify`, the keys served by a loopback DNS responder;
//! every sending mode signs once, after every change smtp-send makes, and
//! what arrives verifies in our receiver and in Python's dkimpy. The
//! receiver's Authentication-Results field and `--envelope-json` results
//! for a pass, a fail, no signature and a DNS that does not answer.

use std::path::PathBuf;

use crate::dkim::{DOMAIN, Keys, dkimpy};
use crate::peers::{Lmtp, Recv, strip_trace};
use crate::send::send;
use crate::send_mx::{Dns, Zone};
use crate::util::*;

/// A DNS responder serving the `rsa` and `ed` keys of `keys`, plus
/// `extra` zones.
fn dns(keys: &Keys, extra: Vec<(&str, Zone)>) -> Dns {
    let text = |sel: &str| {
        let zone = std::fs::read_to_string(keys.path(&format!("{sel}.txt"))).unwrap();
        zone.split('"').skip(1).step_by(2).collect::<String>()
    };
    let names = [
        format!("rsa._domainkey.{DOMAIN}"),
        format!("ed._domainkey.{DOMAIN}"),
    ];
    let mut zones: Vec<(&str, Zone)> = vec![
        (names[0].as_str(), Zone::Txt(text("rsa"))),
        (names[1].as_str(), Zone::Txt(text("ed"))),
    ];
    zones.extend(extra);
    Dns::start(&zones)
}

/// smtp-recv checking signatures against `dns`, with `args`.
fn receiver(dns: &Dns, args: &[&str]) -> Recv {
    let addr = dns.addr.to_string();
    let mut all = vec!["--dkim-verify", "--dns", &addr];
    all.extend_from_slice(args);
    Recv::start(&all)
}

/// smtp-send's signing flags for the key `sel`.
fn signing(keys: &Keys, sel: &str) -> Vec<String> {
    vec![
        "--dkim-key".into(),
        keys.path(&format!("{sel}.key")),
        "--dkim-selector".into(),
        sel.into(),
        "--dkim-domain".into(),
        DOMAIN.into(),
    ]
}

fn send_with(keys: &Keys, sel: &str, args: &[&str], stdin: &[u8]) -> Run {
    let mut all = signing(keys, sel);
    all.extend(args.iter().map(|s| (*s).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    send(&all, stdin)
}

/// The results of the Authentication-Results field of a stored message,
/// one `dkim=...` entry each, and the number of DKIM-Signature fields.
fn results(stored: &str) -> (Vec<String>, usize) {
    let head = stored.split("\n\n").next().unwrap_or_default();
    let mut field = String::new();
    let mut inside = false;
    for line in head.lines() {
        if line.starts_with("Authentication-Results:") {
            inside = true;
        } else if !line.starts_with(['\t', ' ']) {
            inside = false;
        }
        if inside {
            field.push_str(line);
            field.push('\n');
        }
    }
    let entries = field
        .split(';')
        .skip(1)
        .map(|e| e.trim().to_owned())
        .collect();
    let sigs = head.matches("\nDKIM-Signature:").count()
        + usize::from(head.starts_with("DKIM-Signature:"));
    (entries, sigs)
}

/// Every stored message passed with `sel`'s key, signed once, in the
/// field and in the envelope JSON; dkimpy agrees on the message as stored.
fn assert_all_pass(keys: &Keys, recv: &Recv, sel: &str, count: usize) {
    let texts = recv.texts();
    assert_eq!(texts.len(), count, "messages stored");
    for t in &texts {
        let (entries, sigs) = results(t);
        assert_eq!(sigs, 1, "one signature of ours:\n{t}");
        assert_eq!(entries.len(), 1, "{t}");
        let want = format!("dkim=pass header.d={DOMAIN} header.s={sel}");
        assert!(entries[0].starts_with(&want), "{t}");
    }
    for env in recv.envelopes() {
        assert_eq!(env["dkim"][0]["result"], "pass", "{env}");
        assert_eq!(env["dkim"][0]["selector"], sel, "{env}");
    }
    if dkimpy("assert_all_pass").is_none() {
        return;
    }
    let files: Vec<PathBuf> = recv
        .untraced()
        .iter()
        .enumerate()
        .map(|(i, m)| write_file(recv.dir(), &format!("untraced-{i}.eml"), m))
        .collect();
    let (verdicts, unparsable) = keys.dkimpy_verify(&files);
    assert!(unparsable.is_empty(), "{unparsable:?}");
    assert_eq!(verdicts.len(), count, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.2), "dkimpy: {verdicts:?}");
}

/// The pipeline: mime-build | smtp-send --dkim-… → smtp-recv
/// --dkim-verify → pass, for both algorithms; Bcc stripped, Date and
/// Message-ID added before signing; List-Unsubscribe signed.
#[test]
fn mime_build_smtp_send_signs_smtp_recv_verifies() {
    let keys = Keys::new();
    let dns = dns(&keys, vec![]);
    for sel in ["rsa", "ed"] {
        let recv = receiver(&dns, &[]);
        let built = run(
            "mime-build",
            &[
                "-f",
                "Joe <joe@example.org>",
                "-t",
                "suzie@example.net",
                "-b",
                "hidden@example.net",
                "-s",
                "Grüße",
                "--list-unsubscribe",
                "https://example.org/u/1",
                "--one-click",
            ],
            "Hello, Suzie.\n".as_bytes(),
        );
        let r = send_with(&keys, sel, &["-t", "-S", &recv.server()], built.ok());
        r.code(0);
        assert_all_pass(&keys, &recv, sel, 1);
        let stored = &recv.texts()[0];
        assert!(!stored.contains("hidden@"), "Bcc removed:\n{stored}");
        let sig = stored.split("DKIM-Signature:").nth(1).unwrap();
        let h = sig.split("h=").nth(1).unwrap().split(';').next().unwrap();
        let h: String = h.split_whitespace().collect();
        assert!(
            h.contains("list-unsubscribe:list-unsubscribe-post")
                && h.contains("date")
                && h.contains("message-id")
                && h.ends_with("from"),
            "{h}"
        );
        assert_eq!(recv.envelopes()[0]["rcpt_to"][1], "hidden@example.net");
    }
}

const LOCAL: &[u8] = b"From: joe@example.org\nTo: suzie\nSubject: qualified\n\nbody\n";

/// Every mode signs once, after every change: `--qualify-domain` and
/// `--dry-run`, `--each`, `--queue` then `--flush` (the first attempt
/// signed and refused: the queue keeps the message unsigned, the flush
/// signs it once), `-bs`, `--downgrade` (signed after the re-encoding),
/// `--mx`, `--lmtp`.
#[test]
fn every_mode_signs_once_after_every_change() {
    let keys = Keys::new();
    let recv_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dns = dns(
        &keys,
        vec![
            (
                "mx.test",
                Zone::Records {
                    mx: vec![(10, "mail.mx.test")],
                    a: vec![],
                    aaaa: vec![],
                },
            ),
            (
                "mail.mx.test",
                Zone::Records {
                    mx: vec![],
                    a: vec!["127.0.0.1".parse().unwrap()],
                    aaaa: vec![],
                },
            ),
        ],
    );
    let dir = tempfile::tempdir().unwrap();

    // One message: the header's local name qualified, then signed.
    let recv = receiver(&dns, &[]);
    let r = send_with(
        &keys,
        "rsa",
        &[
            "-t",
            "--qualify-domain",
            "example.net",
            "-S",
            &recv.server(),
        ],
        LOCAL,
    );
    r.code(0);
    assert_all_pass(&keys, &recv, "rsa", 1);
    assert!(recv.texts()[0].contains("To: suzie@example.net"));

    // --dry-run shows the signed message, which verifies.
    let r = send_with(&keys, "ed", &["--dry-run", "-t"], LOCAL);
    let out = r.stdout_str();
    let message = out.split_once("DATA\r\n").unwrap().1;
    let message = message.strip_suffix(".\r\n").unwrap();
    let v = keys.verify(&[], message.as_bytes());
    v.code(0);
    assert!(
        v.stdout_str().starts_with("dkim=pass"),
        "{}",
        v.stdout_str()
    );

    // --each: each file signed.
    let recv = receiver(&dns, &[]);
    let files: Vec<String> = (0..3)
        .map(|i| {
            let m = format!("From: joe@example.org\nTo: s@example.net\nSubject: {i}\n\n{i}\n");
            write_file(dir.path(), &format!("{i}.eml"), m.as_bytes())
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["--each", "-S"];
    let server = recv.server();
    args.push(&server);
    args.extend(files.iter().map(String::as_str));
    send_with(&keys, "ed", &args, b"").code(0);
    assert_all_pass(&keys, &recv, "ed", 3);

    // --queue, then --flush: one signature, made when it went.
    let queue = dir.path().join("queue");
    let queue = queue.to_str().unwrap();
    let recv = receiver(&dns, &["--reply-once", "dot=451 try later"]);
    let server = recv.server();
    let r = send_with(
        &keys,
        "rsa",
        &["-t", "--queue", queue, "-S", &server],
        LOCAL,
    );
    r.code(0);
    assert!(r.stderr.contains("queued as"), "{}", r.stderr);
    let queued = std::fs::read_dir(queue)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<String>();
    assert!(!queued.contains("DKIM-Signature"), "queued unsigned");
    send_with(
        &keys,
        "rsa",
        &["--flush", queue, "--force", "-S", &server],
        b"",
    )
    .code(0);
    assert_all_pass(&keys, &recv, "rsa", 1);

    // -bs: each relayed message signed.
    let recv = receiver(&dns, &[]);
    let session = b"EHLO client.test\r\nMAIL FROM:<joe@example.org>\r\n\
RCPT TO:<suzie@example.net>\r\nDATA\r\nFrom: joe@example.org\r\nTo: suzie@example.net\r\n\
Subject: bs\r\n\r\nrelayed\r\n.\r\nQUIT\r\n";
    let r = send_with(&keys, "ed", &["-bs", "-S", &recv.server()], session);
    assert!(r.stdout_str().contains("250"), "{}", r.stdout_str());
    assert_all_pass(&keys, &recv, "ed", 1);

    // --downgrade for a server without 8BITMIME: signed after.
    let recv = receiver(&dns, &["--no-8bitmime"]);
    let eight = "From: joe@example.org\nTo: s@example.net\nSubject: 8bit\n\
MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: 8bit\n\nGrüße aus Köln\n";
    let r = send_with(
        &keys,
        "rsa",
        &["-t", "--downgrade", "-S", &recv.server()],
        eight.as_bytes(),
    );
    r.code(0);
    assert_all_pass(&keys, &recv, "rsa", 1);
    assert!(recv.texts()[0].contains("quoted-printable"));

    // --mx: the mail host found through DNS, signed for it.
    let recv = Recv::start_on(
        &format!("127.0.0.1:{recv_port}"),
        &["--dkim-verify", "--dns", &dns.addr.to_string()],
    );
    let port = recv_port.to_string();
    let dns_arg = dns.addr.to_string();
    let mx_msg = b"From: joe@example.org\nTo: one@mx.test\nSubject: mx\n\nby MX\n";
    let r = send_with(
        &keys,
        "ed",
        &[
            "-t",
            "--mx",
            "--mx-port",
            &port,
            "--dns",
            &dns_arg,
            "--mx-tls",
            "none",
        ],
        mx_msg,
    );
    r.code(0);
    assert_all_pass(&keys, &recv, "ed", 1);

    // --lmtp (aiosmtpd's LMTP server keeps the message as it came).
    if let Some(lmtp) = Lmtp::start("every_mode_signs_once_after_every_change") {
        send_with(
            &keys,
            "rsa",
            &["-t", "--lmtp", "-S", &lmtp.server()],
            b"From: joe@example.org\nTo: l@example.net\nSubject: lmtp\n\nlmtp\n",
        )
        .code(0);
        let got = lmtp.message(0).expect("delivered over LMTP");
        assert_eq!(
            String::from_utf8_lossy(&got)
                .matches("DKIM-Signature:")
                .count(),
            1
        );
        let v = keys.verify(&[], &got);
        v.code(0);
        assert!(
            v.stdout_str().starts_with("dkim=pass"),
            "{}",
            v.stdout_str()
        );
    }
}

/// The receiver's results beyond a pass: no signature (`dkim=none`, `[]`),
/// a body changed after signing (`fail`), a key that DNS does not give
/// (`permerror`); the message is stored every time, the results on top.
#[test]
fn recv_reports_none_fail_and_permerror() {
    let keys = Keys::new();
    let dns = dns(&keys, vec![]);
    let recv = receiver(&dns, &[]);
    let msg = b"From: joe@example.org\r\nTo: s@example.net\r\nSubject: r\r\n\r\nbody\r\n";
    let file = write_file(keys.path("").as_ref(), "plain.eml", msg);
    let signed = run(
        "mime-dkim",
        &[
            "sign",
            "-d",
            DOMAIN,
            "-s",
            "rsa",
            "-k",
            &keys.path("rsa.key"),
            file.to_str().unwrap(),
        ],
        b"",
    )
    .ok()
    .to_vec();
    let tampered = String::from_utf8(signed.clone())
        .unwrap()
        .replace("body\r\n", "b0dy\r\n");
    let unknown = String::from_utf8(signed)
        .unwrap()
        .replacen("s=rsa;", "s=gone;", 1);
    let server = recv.server();
    for m in [&msg[..], tampered.as_bytes(), unknown.as_bytes()] {
        send(&["-S", &server, "s@example.net"], m).code(0);
    }
    let texts = recv.texts();
    assert_eq!(texts.len(), 3);
    let first: Vec<String> = texts.iter().map(|t| results(t).0.join(";")).collect();
    let host_none = texts[0]
        .lines()
        .find(|l| l.starts_with("Authentication-Results:"))
        .unwrap();
    assert!(host_none.ends_with("; dkim=none"), "{host_none}");
    assert!(
        first[1].starts_with("dkim=fail header.d=example.org header.s=rsa"),
        "{}",
        first[1]
    );
    assert!(
        first[2].starts_with("dkim=permerror header.d=example.org header.s=gone"),
        "{}",
        first[2]
    );
    let envs = recv.envelopes();
    assert_eq!(envs[0]["dkim"], serde_json::json!([]));
    assert_eq!(envs[1]["dkim"][0]["result"], "fail");
    assert_eq!(envs[2]["dkim"][0]["result"], "permerror");
    // The field sits after Return-Path, above our Received.
    let names: Vec<&str> = texts[1]
        .lines()
        .filter(|l| !l.starts_with(['\t', ' ']))
        .take(3)
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(names, ["Return-Path", "Authentication-Results", "Received"]);
    // Nothing but trace fields comes before the message.
    let rest = String::from_utf8(strip_trace(texts[0].as_bytes())).unwrap();
    assert!(rest.starts_with("From: joe@example.org\n"), "{rest}");
}

/// The account's `dkim_key`, `dkim_selector` and `dkim_domain` sign; a
/// key that cannot be read and a selector without its key are
/// configuration errors (78), one line, nothing sent.
#[test]
fn config_keys_sign_and_mistakes_are_78() {
    let keys = Keys::new();
    let dns = dns(&keys, vec![]);
    let recv = receiver(&dns, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = |body: &str| {
        let text = format!("[default]\nserver = \"{}\"\n{body}", recv.server());
        write_file(dir.path(), "config.toml", text.as_bytes())
            .display()
            .to_string()
    };
    let good = config(&format!(
        "dkim_key = \"{}\"\ndkim_selector = \"ed\"\ndkim_domain = \"{DOMAIN}\"\n",
        keys.path("ed.key")
    ));
    send(&["--config", &good, "s@example.net"], LOCAL).code(0);
    assert_all_pass(&keys, &recv, "ed", 1);

    let missing = config(&format!(
        "dkim_key = \"{}/none.key\"\ndkim_selector = \"ed\"\ndkim_domain = \"{DOMAIN}\"\n",
        keys.path("")
    ));
    let r = send(&["--config", &missing, "s@example.net"], LOCAL);
    r.code(78).one_line_error("smtp-send");
    assert!(r.stderr.contains("none.key"), "{}", r.stderr);
    let lonely = config("dkim_selector = \"ed\"\n");
    send(&["--config", &lonely, "s@example.net"], LOCAL)
        .code(78)
        .one_line_error("smtp-send");
    // On the command line, clap says what goes with what (64).
    send(
        &[
            "--dkim-selector",
            "ed",
            "-S",
            &recv.server(),
            "s@example.net",
        ],
        LOCAL,
    )
    .code(64);
    assert_eq!(recv.texts().len(), 1, "nothing more was sent");
}

/// A body with a bare CR is sent as CRLF, so a signature made over it
/// would not verify: refused (65) rather than sent broken.
#[test]
fn a_bare_cr_in_the_body_is_refused_when_signing() {
    let keys = Keys::new();
    let r = send_with(
        &keys,
        "rsa",
        &["--dry-run", "s@example.net"],
        b"From: joe@example.org\nSubject: cr\n\nline\rwith a CR\n",
    );
    r.code(65).one_line_error("smtp-send");
    assert!(r.stderr.contains("bare CR"), "{}", r.stderr);
}
