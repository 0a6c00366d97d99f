//! A real Postfix as the client (issue 12): a private instance
//! ([`crate::daemons::Postfix`], one for this file) relays what its
//! sendmail(1) is given to our smtp-recv. Each test has a domain of its
//! own, `NAME.test`, whose relay is `[127.0.0.1]:PORT` (a transport map
//! entry, as `relayhost = [127.0.0.1]:PORT` is for all mail), PORT picked
//! free when the instance starts; the test starts its smtp-recv there.
//! So tests running at once share the instance without sharing a relay.
//! Retries happen only when a test asks (`postqueue -f`): the back-off
//! times are an hour.

use std::sync::OnceLock;
use std::time::Duration;

use crate::daemons::*;
use crate::peers::{Recv, certs};
use crate::util::*;

static RELAY: OnceLock<Option<Postfix>> = OnceLock::new();

/// The relays: NAME.test through TRANSPORT to `{port:NAME}`: `smtp` in
/// cleartext, `encrypt` (TLS without verification), `secure` (verified
/// against recv-cert.pem, the certificate the tests give smtp-recv, for
/// the name localhost).
const RELAYS: [(&str, &str); 9] = [
    ("plain", "smtp"),
    ("utf8", "smtp"),
    ("encrypt", "encrypt"),
    ("secure", "secure"),
    ("encrypt-refused", "encrypt"),
    ("secure-refused", "secure"),
    ("rcpt450", "smtp"),
    ("dot451", "smtp"),
    ("dotgone", "smtp"),
];

const MASTER: &str = "\
encrypt unix - - n - - smtp
  -o smtp_tls_security_level=encrypt
secure unix - - n - - smtp
  -o smtp_tls_security_level=secure
  -o smtp_tls_CAfile={dir}/recv-cert.pem
  -o smtp_tls_secure_cert_match=localhost
";

const MAIN: &str = "\
minimal_backoff_time = 1h
maximal_backoff_time = 1h
queue_run_delay = 1h
smtp_connection_cache_on_demand = no
smtp_tls_loglevel = 1
";

fn relay(test: &str) -> Option<&'static Postfix> {
    let pf = RELAY
        .get_or_init(|| {
            let c = certs();
            let cert = std::fs::read(&c.cert).expect("cert");
            let key = std::fs::read(&c.key).expect("key");
            let routes: Vec<String> = RELAYS
                .iter()
                .map(|(name, via)| format!("{name}.test={via}:[127.0.0.1]:{{port:{name}}}"))
                .collect();
            let main = format!(
                "{MAIN}transport_maps = inline:{{ {} }}\n",
                routes.join(", ")
            );
            Postfix::start(
                test,
                &PostfixConf {
                    main: &main,
                    master: MASTER,
                    files: &[("recv-cert.pem", &cert), ("recv-key.pem", &key)],
                },
            )
        })
        .as_ref();
    if pf.is_none() {
        skipped(&format!(
            "{test}: no private Postfix (see the first SKIPPED line)"
        ));
    }
    pf
}

/// smtp-recv as the relay NAME, with `args`, and with TLS (recv-*.pem)
/// when `tls`.
fn recv(pf: &Postfix, name: &str, tls: bool, args: &[&str]) -> Recv {
    let (cert, key) = (
        pf.dir().join("recv-cert.pem"),
        pf.dir().join("recv-key.pem"),
    );
    let mut all: Vec<&str> = Vec::new();
    if tls {
        all.extend([
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ]);
    }
    all.extend(args);
    Recv::start_on(&pf.server(name), &all)
}

fn message(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@relay.test>\nTo: someone@example.net\nSubject: {subject}\n\
Date: Thu, 26 Nov 2026 10:00:00 +0000\nMessage-ID: <{subject}@relay.test>\n\
MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\
\nGr\u{fc}\u{df}e.\n.a dot line\n.\nend\n"
    )
    .into_bytes()
}

/// Gives `msg` to Postfix's sendmail(1) for `rcpt` (`-i`: a lone dot is
/// a line of the message, not its end).
fn submit(pf: &Postfix, rcpt: &str, msg: &[u8]) {
    let r = pf.command(
        "sendmail",
        &["-i", "-f", "alice@relay.test", "--", rcpt],
        msg,
    );
    assert_eq!(r.code, 0, "sendmail: {}", r.stderr);
}

/// The messages `recv` stored: not its files in progress (`.tmp.*`,
/// renamed into place once complete), which [`Recv::messages`] lists too.
fn complete(recv: &Recv) -> Vec<Vec<u8>> {
    recv.message_files()
        .iter()
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .map(|p| std::fs::read(p).expect("read message"))
        .collect()
}

/// Waits until `recv` stored `want` messages and returns them.
fn stored(recv: &Recv, want: usize, pf: &Postfix) -> Vec<Vec<u8>> {
    wait_until(
        &format!("smtp-recv stored {want}"),
        || complete(recv),
        |got| got.len() >= want,
        || pf.log(),
    )
}

/// The one copy `recv` got is `msg` under the trace lines, and stays the
/// only one; returns those lines.
fn exactly_one(recv: &Recv, pf: &Postfix, rcpt: &str, msg: &[u8]) -> String {
    stored(recv, 1, pf);
    // Postfix is done with it (smtp-recv said 250 after storing it); a
    // second copy would be there by now.
    pf.wait_unqueued(rcpt);
    std::thread::sleep(Duration::from_millis(300));
    let got = complete(recv);
    assert_eq!(got.len(), 1, "copies: {}", got.len());
    assert_eq!(
        String::from_utf8_lossy(&strip_delivery_trace(&got[0])),
        String::from_utf8_lossy(msg)
    );
    let env = recv.envelopes();
    assert_eq!(env.len(), 1, "{env:?}");
    assert!(env[0].to_string().contains(rcpt), "{env:?}");
    delivery_trace(&got[0])
}

/// `postqueue -f`: Postfix retries now.
fn flush(pf: &Postfix) {
    let r = pf.command("postqueue", &["-f"], b"");
    assert_eq!(r.code, 0, "postqueue -f: {}", r.stderr);
}

#[test]
fn postfix_relays_to_smtp_recv_byte_for_byte() {
    let Some(pf) = relay("postfix_relays_to_smtp_recv_byte_for_byte") else {
        return;
    };
    let r = recv(pf, "plain", false, &[]);
    let rcpt = "someone@plain.test";
    let msg = message("plain");
    submit(pf, rcpt, &msg);
    let trace = exactly_one(&r, pf, rcpt, &msg);
    assert!(trace.contains("by postfix.test (Postfix"), "{trace}");
    assert!(trace.contains(" with ESMTP\n"), "{trace}");
}

#[test]
fn postfix_relays_a_utf8_address_with_smtputf8() {
    let Some(pf) = relay("postfix_relays_a_utf8_address_with_smtputf8") else {
        return;
    };
    // Postfix's sendmail finds the UTF-8 address itself
    // (smtputf8_autodetect_classes) and relays with SMTPUTF8 (RFC 6531).
    let r = recv(pf, "utf8", false, &[]);
    let rcpt = "j\u{f6}rg@utf8.test";
    let msg = message("utf8");
    submit(pf, rcpt, &msg);
    exactly_one(&r, pf, rcpt, &msg);
    let env = r.envelopes();
    assert_eq!(env[0]["rcpt_to"], serde_json::json!([rcpt]), "{env:?}");
    assert!(env[0].to_string().contains("SMTPUTF8"), "{env:?}");
}

#[test]
fn postfix_relays_with_tls_at_encrypt_and_secure() {
    let Some(pf) = relay("postfix_relays_with_tls_at_encrypt_and_secure") else {
        return;
    };
    let r = recv(pf, "encrypt", true, &[]);
    let rcpt = "someone@encrypt.test";
    submit(pf, rcpt, &message("encrypt"));
    let trace = exactly_one(&r, pf, rcpt, &message("encrypt"));
    assert!(trace.contains(" with ESMTPS\n"), "{trace}");

    let r = recv(pf, "secure", true, &[]);
    let rcpt = "someone@secure.test";
    submit(pf, rcpt, &message("secure"));
    let trace = exactly_one(&r, pf, rcpt, &message("secure"));
    assert!(trace.contains(" with ESMTPS\n"), "{trace}");
    assert!(
        pf.log()
            .contains("Verified TLS connection established to 127.0.0.1"),
        "{}",
        pf.log()
    );

    // At encrypt, a relay that offers no STARTTLS gets nothing: deferred.
    let plain = recv(pf, "encrypt-refused", false, &[]);
    let rcpt = "someone@encrypt-refused.test";
    submit(pf, rcpt, &message("encrypt-refused"));
    let m = pf.wait_queued(rcpt, "deferred");
    let reason = m["recipients"][0]["delay_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("TLS"), "{reason}");
    assert!(complete(&plain).is_empty());
    drop_queued(pf, &m);

    // At secure, a certificate other than the trusted one gets nothing.
    let other = recv(pf, "secure-refused", false, &["--tls-self-signed"]);
    let rcpt = "someone@secure-refused.test";
    submit(pf, rcpt, &message("secure-refused"));
    let m = pf.wait_queued(rcpt, "deferred");
    let reason = m["recipients"][0]["delay_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("certificate"), "{reason}");
    assert!(complete(&other).is_empty());
    drop_queued(pf, &m);
}

/// Removes the queued message `m` (`postsuper -d ID`).
fn drop_queued(pf: &Postfix, m: &serde_json::Value) {
    let id = m["queue_id"].as_str().expect("queue_id");
    let d = pf.command("postsuper", &["-d", id], b"");
    assert_eq!(d.code, 0, "postsuper -d: {}", d.stderr);
}

#[test]
fn postfix_defers_a_rcpt_450_and_retries() {
    let Some(pf) = relay("postfix_defers_a_rcpt_450_and_retries") else {
        return;
    };
    let r = recv(
        pf,
        "rcpt450",
        false,
        &["--reply", "rcpt=450 4.2.0 try later"],
    );
    let rcpt = "someone@rcpt450.test";
    let msg = message("rcpt450");
    submit(pf, rcpt, &msg);
    let m = pf.wait_queued(rcpt, "deferred");
    let reason = m["recipients"][0]["delay_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("450"), "{reason}");
    assert!(complete(&r).is_empty());
    // The relay comes back on the same port, accepting; Postfix retries.
    drop(r);
    let r = recv(pf, "rcpt450", false, &[]);
    flush(pf);
    exactly_one(&r, pf, rcpt, &msg);
}

#[test]
fn postfix_retries_after_451_at_the_dot() {
    let Some(pf) = relay("postfix_retries_after_451_at_the_dot") else {
        return;
    };
    let r = recv(
        pf,
        "dot451",
        false,
        &["--reply-once", "dot=451 4.3.0 try later"],
    );
    let rcpt = "someone@dot451.test";
    let msg = message("dot451");
    submit(pf, rcpt, &msg);
    let m = pf.wait_queued(rcpt, "deferred");
    let reason = m["recipients"][0]["delay_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("451"), "{reason}");
    assert!(complete(&r).is_empty(), "stored before its 250");
    flush(pf);
    exactly_one(&r, pf, rcpt, &msg);
}

#[test]
fn postfix_retries_after_a_disconnect_at_the_dot() {
    let Some(pf) = relay("postfix_retries_after_a_disconnect_at_the_dot") else {
        return;
    };
    let r = recv(pf, "dotgone", false, &["--disconnect", "1:dot"]);
    let rcpt = "someone@dotgone.test";
    let msg = message("dotgone");
    submit(pf, rcpt, &msg);
    let m = pf.wait_queued(rcpt, "deferred");
    let reason = m["recipients"][0]["delay_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("lost connection"), "{reason}");
    // No reply, no copy: a stored one would be delivered twice.
    assert!(complete(&r).is_empty(), "stored without a 250");
    flush(pf);
    exactly_one(&r, pf, rcpt, &msg);
}
