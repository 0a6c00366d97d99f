//! `smtp-send --aliases FILE` (issue 14, part 3) against our smtp-recv: a
//! cron-like `To: root` run delivered to the alias's addresses with the
//! header untouched, RECIPIENT arguments, `default:`, `--qualify-domain`
//! qualifying what is still local afterwards, skipped `|command` entries,
//! a loop refused (78) before any connection, and the file named by the
//! config key and by an msmtprc's `aliases`.

use std::path::{Path, PathBuf};

use crate::peers::*;
use crate::send::{send, send_env};
use crate::util::Run;

/// The message cron writes: a bare local name in `To:`.
const CRON: &[u8] = b"To: root\nSubject: x\n\nhi\n";

/// Writes `text` as `name` in `dir`.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// smtp-send to `recv` with `--aliases aliases` and `args`, cron's
/// message on stdin.
fn send_aliased(recv: &Recv, aliases: &Path, args: &[&str]) -> Run {
    let server = recv.server();
    let path = aliases.to_str().expect("a UTF-8 path");
    let head = ["-S", server.as_str(), "--aliases", path];
    send(&[&head[..], args].concat(), CRON)
}

/// The recipients of the one envelope `recv` stored.
fn rcpts(recv: &Recv) -> Vec<String> {
    let env = recv.envelopes();
    assert_eq!(env.len(), 1, "{env:?}");
    env[0]["rcpt_to"]
        .as_array()
        .expect("rcpt_to")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn cron_root_goes_to_the_alias_with_the_header_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let al = file(
        tmp.path(),
        "aliases",
        "# cron's mail\nroot: admin@example.org,\n  ops@example.org\n",
    );
    let recv = Recv::start(&[]);
    let r = send_aliased(&recv, &al, &["-t"]);
    r.code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(rcpts(&recv), ["admin@example.org", "ops@example.org"]);
    // Only the envelope changes (msmtp's way): the header says root still.
    let text = &recv.texts()[0];
    assert!(text.lines().any(|l| l.trim_end() == "To: root"), "{text}");
}

#[test]
fn arguments_default_and_qualify_domain_after_the_aliases() {
    let tmp = tempfile::tempdir().unwrap();
    let al = file(
        tmp.path(),
        "aliases",
        "root: ops, admin\nadmin: a@example.org\nADMIN2: admin, b@example.org\n",
    );
    let recv = Recv::start(&[]);
    let r = send_aliased(
        &recv,
        &al,
        &[
            "--qualify-domain",
            "q.example",
            "root",
            "cron, admin2",
            "root@example.net",
        ],
    );
    r.code(0);
    // ops has no entry: qualified as --qualify-domain says, as cron is;
    // a@example.org once; an address with a domain is never an alias.
    assert_eq!(
        rcpts(&recv),
        [
            "ops@q.example",
            "a@example.org",
            "cron@q.example",
            "b@example.org",
            "root@example.net"
        ]
    );
    let al = file(tmp.path(), "default", "default: catchall@example.org\n");
    let recv = Recv::start(&[]);
    let r = send_aliased(&recv, &al, &["-t", "www-data"]);
    r.code(0);
    assert_eq!(rcpts(&recv), ["catchall@example.org"]);
}

#[test]
fn a_loop_is_a_config_error_before_any_connection() {
    let tmp = tempfile::tempdir().unwrap();
    let al = file(
        tmp.path(),
        "aliases",
        "root: admin\nadmin: ops\nops: root\n",
    );
    let recv = Recv::start(&[]);
    let r = send_aliased(&recv, &al, &["-t"]);
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr.contains(&format!(
            "{}:1: alias root: loop: root → admin → ops → root",
            al.display()
        )),
        "{}",
        r.stderr
    );
    assert!(recv.envelopes().is_empty());
    // A malformed line and a missing file: 78 too, naming where.
    let bad = file(tmp.path(), "bad", "root: a@example.org\nnocolon\n");
    let r = send_aliased(&recv, &bad, &["-t"]);
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr.contains(&format!("{}:2: ", bad.display())),
        "{}",
        r.stderr
    );
    let missing = tmp.path().join("missing");
    let r = send_aliased(&recv, &missing, &["-t"]);
    r.code(78).one_line_error("smtp-send");
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
    assert!(recv.envelopes().is_empty());
}

#[test]
fn commands_and_files_are_skipped_with_one_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let al = file(
        tmp.path(),
        "aliases",
        "root: |/usr/bin/procmail, /var/mail/root, admin@example.org\n\
         unused: :include:/etc/list\n",
    );
    let recv = Recv::start(&[]);
    let r = send_aliased(&recv, &al, &["-t"]);
    r.code(0);
    assert_eq!(rcpts(&recv), ["admin@example.org"]);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "smtp-send: warning: {}:1: root: skipped |/usr/bin/procmail, /var/mail/root",
            al.display()
        )),
        "{}",
        r.stderr
    );
    assert!(
        lines[1].contains(":2: unused: skipped :include:/etc/list"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_file_named_in_the_config_and_in_an_msmtprc() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    file(&home, "aliases", "root: from-home@example.org\n");
    let recv = Recv::start(&[]);
    let toml = file(
        tmp.path(),
        "config.toml",
        &format!(
            "[default]\nserver = \"{}\"\naliases = \"~/aliases\"\n",
            recv.server()
        ),
    );
    let env = [("HOME", home.to_str().unwrap())];
    let r = send_env(&["--config", toml.to_str().unwrap(), "-t"], &env, CRON);
    r.code(0);
    assert_eq!(rcpts(&recv), ["from-home@example.org"]);
    let printed = send_env(
        &["--config", toml.to_str().unwrap(), "--print-config"],
        &env,
        b"",
    );
    let out = printed.ok();
    let out = String::from_utf8_lossy(out);
    let want = format!("aliases = {:?}", home.join("aliases").display().to_string());
    assert!(out.contains(&want), "{out}");
    // msmtp's key, ~ expanded as msmtp does.
    let recv = Recv::start(&[]);
    let rc = file(
        tmp.path(),
        "msmtprc",
        &format!(
            "defaults\naliases ~/aliases\naccount default\nhost {}\nport {}\n",
            recv.addr.ip(),
            recv.addr.port()
        ),
    );
    let r = send_env(&["--config", rc.to_str().unwrap(), "-t"], &env, CRON);
    r.code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(rcpts(&recv), ["from-home@example.org"]);
}
