//! smtp-send as `sendmail` for the programs that call one: the name
//! `sendmail` ends input at a dot line unless `-i`, sendmail's flags are
//! accepted, git send-email sends through it, and the sender without `-f`
//! comes from USER, LOGNAME or the real uid (PHP-FPM, cron, services).
//! (`-bs` is in send_bs.)

use std::path::Path;
use std::process::{Command, Stdio};

use crate::peers::*;
use crate::send::{PATIENCE, send, send_env};
use crate::util::*;

#[test]
fn sendmail_name_ends_input_at_a_dot_line_unless_i() {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("sendmail");
    std::os::unix::fs::symlink(bin("smtp-send"), &link).expect("symlink");
    let msg = b"From: a@example.org\n\nkept\n.\ndropped\n";
    let run_as = |prog: &Path, extra: &[&str]| {
        let mut cmd = Command::new(prog);
        cmd.args(["--dry-run", "b@example.net"]).args(extra);
        run_cmd_within(cmd, PATIENCE, msg)
    };
    let cut = run_as(&link, &["-oem"]);
    let cut = String::from_utf8_lossy(cut.ok()).into_owned();
    assert!(
        cut.ends_with("\r\n\r\nkept\r\n.\r\n") && !cut.contains("dropped"),
        "{cut}"
    );
    for flags in [&["-i"][..], &["-oi"], &["-odi", "-oi", "-em"]] {
        let all = run_as(&link, flags);
        assert!(
            String::from_utf8_lossy(all.ok()).contains("dropped"),
            "{flags:?}"
        );
    }
    // As smtp-send, the input is always read to the end.
    let all = run_as(&bin("smtp-send"), &[]);
    assert!(String::from_utf8_lossy(all.ok()).contains("\r\n..\r\ndropped\r\n"));
}

#[test]
fn sendmail_flags_are_accepted() {
    let msg = b"Subject: cron\n\nout\n";
    let r = send(
        &[
            "--dry-run",
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-odb",
            "-r",
            "root@example.org",
            "x@example.net",
        ],
        msg,
    );
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.starts_with("MAIL FROM:<root@example.org>"), "{out}");
    assert!(
        out.contains("\r\nFrom: CronDaemon <root@example.org>\r\n"),
        "{out}"
    );
    let help = send(&["--help"], b"");
    let help = help.stdout_str();
    for noop in ["-odi", "-odb", "-oem", "-oep", "-em", "-ep", "-B"] {
        assert!(help.contains(noop), "--help does not list {noop}");
    }
}

#[test]
fn empty_input_and_no_sender() {
    // An empty message (--allow-empty, issue 13) still gets the fields it
    // needs.
    let r = send(
        &[
            "--dry-run",
            "--allow-empty",
            "-f",
            "a@example.org",
            "b@example.net",
        ],
        b"",
    );
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.contains("\r\nFrom: a@example.org\r\nDate: "), "{out}");
    // Without -f, USER gives the sender.
    let r = send_env(
        &["--dry-run", "--allow-empty", "b@example.net"],
        &[("USER", "someone"), ("LOGNAME", "")],
        b"",
    );
    assert!(String::from_utf8_lossy(r.ok()).starts_with("MAIL FROM:<someone@"));
    // Without USER and LOGNAME: the real uid's login name
    // (bug_no_sender_falls_back_to_the_real_uid_login_name).
}

/// sendmail compatibility: with no -f, no From: and neither USER nor
/// LOGNAME (PHP-FPM, systemd services, cron with a bare environment), the
/// sender is the login name of the real uid, as sendmail's, qualified as
/// $USER@host would be.
#[test]
fn bug_no_sender_falls_back_to_the_real_uid_login_name() {
    let id = Command::new("id").arg("-un").output().expect("id -un");
    let me = String::from_utf8(id.stdout).expect("utf-8");
    let me = me.trim();
    let mut cmd = Command::new(bin("smtp-send"));
    cmd.args(["--dry-run", "b@example.net"]).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("NETRC", "/nonexistent/netrc")
        .env("XDG_CONFIG_HOME", "/nonexistent/config");
    let r = run_cmd_within(cmd, PATIENCE, b"Subject: x\n\nhi\n");
    let out = String::from_utf8_lossy(r.ok()).into_owned();
    assert!(out.starts_with(&format!("MAIL FROM:<{me}@")), "{out}");
    assert!(out.contains(&format!("\r\nFrom: {me}@")), "{out}");
}

#[test]
fn git_send_email_through_smtp_send() {
    // Debian's git, which the git-email package (installed by scripts/test)
    // extends; a git built elsewhere may lack send-email's Perl modules.
    let debian_git = Path::new("/usr/bin/git");
    let Some(git) = (if debian_git.exists() {
        Some(debian_git.to_path_buf())
    } else {
        peer("git", "git_send_email_through_smtp_send")
    }) else {
        return;
    };
    let has_send_email = Command::new(&git)
        .args(["send-email", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_send_email {
        absent(
            "git_send_email_through_smtp_send",
            "git send-email",
            "Debian git-email",
        );
        return;
    }
    let s = Recv::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let patch = write_file(
        dir.path(),
        "0001-x.patch",
        b"From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\nDate: Thu, 26 Nov 2026 10:00:00 +0000\nSubject: [PATCH] fix\n\n.dot line\n---\n a | 1 +\n",
    );
    let mut cmd = Command::new(git);
    cmd.args([
        "send-email",
        "--confirm=never",
        "--no-validate",
        "--quiet",
        "--to=list@example.net",
    ])
    .arg(format!("--smtp-server={}", bin("smtp-send").display()))
    .arg("--from=Dev <dev@example.org>")
    .arg(&patch)
    .env("SMTP_SERVER", s.server())
    .env("GIT_CONFIG_NOSYSTEM", "1")
    .env("GIT_AUTHOR_NAME", "Dev")
    .env("GIT_AUTHOR_EMAIL", "dev@example.org")
    .env("GIT_COMMITTER_NAME", "Dev")
    .env("GIT_COMMITTER_EMAIL", "dev@example.org")
    .env("HOME", dir.path())
    .current_dir(dir.path());
    let r = run_cmd_within(cmd, PATIENCE, b"");
    assert_eq!(r.code, 0, "git send-email: {} {}", r.stderr, r.stdout_str());
    let msgs = s.untraced();
    assert_eq!(msgs.len(), 1);
    let m = String::from_utf8_lossy(&msgs[0]).into_owned();
    assert!(
        m.contains("Subject: [PATCH] fix\n") && m.contains("\n.dot line\n"),
        "{m}"
    );
}

#[test]
fn sendmail_q_bp_mailq_and_newaliases_use_the_configured_queue() {
    // Issue 14: the verbs cron and admins type to a sendmail. `-q` runs
    // the configured queue once (--flush), `-bp` and `mailq` list it
    // (--list), `newaliases` has nothing to do; no queue configured: 78.
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    for name in ["sendmail", "mailq", "newaliases"] {
        std::os::unix::fs::symlink(bin("smtp-send"), bin_dir.join(name)).unwrap();
    }
    let home = tmp.path().join("home");
    let conf = home.join(".config/mailpipe");
    std::fs::create_dir_all(&conf).unwrap();
    let verb = |name: &str, args: &[&str], stdin: &[u8]| -> Run {
        let mut cmd = Command::new(bin_dir.join(name));
        crate::send::isolated(cmd.args(args).env("HOME", &home));
        crate::util::run_cmd_within(cmd, PATIENCE, stdin)
    };
    let r = verb("sendmail", &["-q"], b"");
    r.code(78).one_line_error("smtp-send");
    assert!(
        r.stderr.contains("sendmail -q: no queue configured"),
        "{}",
        r.stderr
    );
    verb("mailq", &[], b"").code(78);
    let r = verb("newaliases", &[], b"");
    r.code(0);
    assert!(r.stderr.contains("nothing to do"), "{}", r.stderr);
    // A server that is down, then up; the queue in the configuration.
    let down = Recv::start(&["--reply-once", "connect=421 4.3.2 down"]);
    let q = tmp.path().join("q");
    std::fs::write(
        conf.join("config.toml"),
        format!(
            "[default]\nserver = \"{}\"\nqueue = \"{}\"\n",
            down.server(),
            q.display()
        ),
    )
    .unwrap();
    verb(
        "sendmail",
        &["-t"],
        b"To: admin@example.org\nSubject: cron\n\nbackup done\n",
    )
    .code(0);
    for (name, args) in [("sendmail", &["-bp"][..]), ("mailq", &[][..])] {
        let r = verb(name, args, b"");
        r.code(0);
        assert!(
            r.stdout_str().contains("<admin@example.org>"),
            "{name}: {}",
            r.stdout_str()
        );
    }
    // Not due yet: -q leaves it (75, saying so); with --force it goes.
    verb("sendmail", &["-q"], b"").code(75);
    verb("sendmail", &["-qf", "--force"], b"").code(0);
    assert_eq!(down.untraced().len(), 1);
    assert!(verb("mailq", &[], b"").stdout.is_empty());
}
