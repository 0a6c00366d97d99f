//! Unit tests for every storage target.

use super::*;
use crate::smtp::envelope::{ClientAddr, Mailbox, Params, ReversePath};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, UNIX_EPOCH};

const MSG: &[u8] = b"Subject: hi\n\nFrom here\n>From there\nbody\n";

fn mb(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

fn envelope() -> Envelope {
    let mut env = Envelope::new(ClientAddr::Tcp("127.0.0.1:40000".parse().unwrap()));
    env.helo = "client.example".into();
    env.mail_from = ReversePath::Mailbox(mb("alice", "example.org"));
    env.rcpt_to = vec![
        (mb("bob", "example.net"), Params::default()),
        (mb("carol", "example.net"), Params::default()),
    ];
    env.protocol = "ESMTP";
    env
}

fn trace() -> Vec<u8> {
    trace_header(
        &envelope(),
        "mx.example",
        "Q1",
        UNIX_EPOCH + Duration::from_secs(86_400),
    )
}

fn store_one(store: &Store, qid: &str, msg: &[u8]) -> Result<Stored, StoreError> {
    let mut p = store.begin(&envelope(), qid, &trace()).unwrap();
    // Written in odd pieces, as a DATA reader would.
    for part in msg.chunks(3) {
        p.write_all(part).unwrap();
    }
    p.commit()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Makes `dir` unwritable even for root (chattr +i, where supported) and
/// undoes it on drop. None when it could not be done.
struct ReadOnly(PathBuf, bool);

impl ReadOnly {
    fn new(dir: &Path) -> Option<ReadOnly> {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o500)).unwrap();
        let immutable = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let guard = ReadOnly(dir.to_owned(), immutable);
        // Writable after all (root without chattr support): cannot test.
        let probe = dir.join("probe");
        if fs::write(&probe, b"").is_ok() {
            let _ = fs::remove_file(probe);
            return None;
        }
        Some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.0)
                .status();
        }
        let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700));
    }
}

#[test]
fn maildir_exact_bytes_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/Maildir");
    let store = Store::open(Target::Maildir(dir.clone()), 1, test_std()).unwrap();
    for sub in ["", "tmp", "new", "cur"] {
        assert_eq!(mode(&dir.join(sub)), 0o700, "{sub}");
    }
    let stored = store_one(&store, "Q1", MSG).unwrap();
    let new = files(&dir.join("new"));
    assert_eq!(new.len(), 1);
    assert_eq!(stored.location, new[0].display().to_string());
    assert_eq!(fs::read(&new[0]).unwrap(), [&trace()[..], MSG].concat());
    assert_eq!(mode(&new[0]), 0o600);
    assert!(files(&dir.join("tmp")).is_empty());
    // The name: SECS.M<usec>P<pid>Q<n>.HOST, one path component.
    let name = new[0].file_name().unwrap().to_str().unwrap().to_owned();
    let pid = format!("P{}Q", std::process::id());
    assert!(name.contains(".M") && name.contains(&pid), "{name}");
    assert!(!name.contains('/') && !name.contains(':'));
}

#[test]
fn maildir_names_unique_across_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(Target::Maildir(tmp.path().to_owned()), 0, test_std()).unwrap();
    let names: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || {
                    (0..40)
                        .map(|i| {
                            let msg = format!("thread {t} message {i}\n");
                            store_one(&store, "Q", msg.as_bytes()).unwrap().location
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), 320);
    assert_eq!(files(&tmp.path().join("new")).len(), 320);
    assert!(files(&tmp.path().join("tmp")).is_empty());
}

#[test]
fn maildir_abort_and_drop_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(Target::Maildir(tmp.path().to_owned()), 1, test_std()).unwrap();
    let mut p = store.begin(&envelope(), "Q", &trace()).unwrap();
    p.write_all(MSG).unwrap();
    assert_eq!(files(&tmp.path().join("tmp")).len(), 1);
    p.abort();
    let p = store.begin(&envelope(), "Q", &trace()).unwrap();
    drop(p);
    assert!(files(&tmp.path().join("tmp")).is_empty());
    assert!(files(&tmp.path().join("new")).is_empty());
}

#[test]
fn maildir_rename_failure_is_temporary_and_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = Store::open(Target::Maildir(dir.to_owned()), 1, test_std()).unwrap();
    // new/ replaced by a plain file: the rename into place fails.
    fs::remove_dir(dir.join("new")).unwrap();
    fs::write(dir.join("new"), b"").unwrap();
    let err = store_one(&store, "Q", MSG).unwrap_err();
    assert!(err.temporary, "{err}");
    assert!(files(&dir.join("tmp")).is_empty());
}

#[test]
fn maildir_read_only_is_temporary_and_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = Store::open(Target::Maildir(dir.to_owned()), 1, test_std()).unwrap();
    // A message started before new/ became read-only: rename fails.
    let mut p = store.begin(&envelope(), "Q", &trace()).unwrap();
    p.write_all(MSG).unwrap();
    let Some(guard) = ReadOnly::new(&dir.join("new")) else {
        eprintln!("SKIP: cannot make a read-only directory here");
        return;
    };
    let err = p.commit().unwrap_err();
    assert!(err.temporary);
    drop(guard);
    assert!(files(&dir.join("new")).is_empty());
    assert!(files(&dir.join("tmp")).is_empty());
    // tmp/ read-only: begin fails (the driver answers 451), nothing left.
    let guard = ReadOnly::new(&dir.join("tmp")).unwrap();
    assert!(store.begin(&envelope(), "Q", &trace()).is_err());
    drop(guard);
    assert!(files(&dir.join("tmp")).is_empty());
    // And open() checks writability early.
    let ro = dir.join("ro");
    fs::create_dir(&ro).unwrap();
    let guard = ReadOnly::new(&ro).unwrap();
    assert!(Store::open(Target::Maildir(ro.join("sub")), 1, test_std()).is_err());
    assert!(Store::open(Target::Dir(ro.clone()), 1, test_std()).is_err());
    assert!(Store::open(Target::Mbox(ro.join("mbox")), 1, test_std()).is_err());
    drop(guard);
}

#[test]
fn write_error_during_transfer_reported_at_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(Target::Maildir(tmp.path().to_owned()), 1, test_std()).unwrap();
    let mut p = store.begin(&envelope(), "Q", &trace()).unwrap();
    // Swap the temporary file's handle for /dev/full (ENOSPC on write).
    let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
    if let Body::Tmp(t) = &mut p.body {
        t.file = BufWriter::with_capacity(16, full);
    }
    // Writes never fail (the session must keep reading to the dot).
    p.write_all(&[b'x'; 100]).unwrap();
    p.write_all(MSG).unwrap();
    let err = p.commit().unwrap_err();
    assert!(err.temporary);
    assert!(err.message.contains("writing the message"), "{err}");
    assert!(files(&tmp.path().join("tmp")).is_empty());
    assert!(files(&tmp.path().join("new")).is_empty());
}

#[test]
fn mbox_format_locking_and_quoting() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("box");
    let store = Store::open(Target::Mbox(path.clone()), 1, test_std()).unwrap();
    assert_eq!(mode(&path), 0o600);
    let s = store_one(&store, "Q", MSG).unwrap();
    assert_eq!(s.location, path.display().to_string());
    store_one(&store, "Q", b"no final newline").unwrap();
    let got = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    let t = String::from_utf8(trace()).unwrap();
    let from = |l: &str| l.starts_with("From alice@example.org ") && l.len() == 47;
    let lines: Vec<&str> = got.split('\n').collect();
    assert!(from(lines[0]), "{:?}", lines[0]);
    let (first, second) = got.split_once("\n\nFrom alice").unwrap();
    assert_eq!(
        &first[first.find('\n').unwrap() + 1..],
        format!("{t}Subject: hi\n\n>From here\n>>From there\nbody")
    );
    assert!(
        second.ends_with(&format!("\n{t}no final newline\n\n")),
        "{second:?}"
    );
}

#[test]
fn mbox_concurrent_appends_do_not_interleave() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("box");
    let store = Store::open(Target::Mbox(path.clone()), 0, test_std()).unwrap();
    let big = "x".repeat(70) + "\n";
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = store.clone();
            let body = format!("thread {t}\n{}", big.repeat(5000)); // > SPOOL_MEM
            s.spawn(move || {
                for _ in 0..3 {
                    store_one(&store, "Q", body.as_bytes()).unwrap();
                }
            });
        }
    });
    let got = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    let msgs: Vec<&str> = got.split("\n\nFrom ").collect();
    assert_eq!(msgs.len(), 12);
    for m in msgs {
        let body = &m[m.find("thread ").unwrap()..];
        assert_eq!(
            body.trim_end().len(),
            "thread 0\n".len() + big.len() * 5000 - 1
        );
    }
}

#[test]
fn file_single_and_several() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("one.eml");
    let store = Store::open(Target::File(one.clone()), 1, test_std()).unwrap();
    store_one(&store, "Q", MSG).unwrap();
    assert_eq!(fs::read(&one).unwrap(), [&trace()[..], MSG].concat());
    // COUNT != 1: mbox-separated, appended to what was there.
    let many = tmp.path().join("many");
    fs::write(&many, b"old\n").unwrap();
    let store = Store::open(Target::File(many.clone()), 0, test_std()).unwrap();
    store_one(&store, "Q", MSG).unwrap();
    store_one(&store, "Q", MSG).unwrap();
    let got = fs::read(&many).unwrap();
    assert!(got.starts_with(b"old\nFrom alice@example.org "));
    assert_eq!(got.windows(5).filter(|w| w == b"\nFrom").count(), 2);
    assert!(got.ends_with(b"\nbody\n\n"));
}

#[test]
fn dev_null_is_a_sink() {
    let store = Store::open(Target::File("/dev/null".into()), 0, test_std()).unwrap();
    assert!(matches!(store.shared.kind, Kind::Null));
    let s = store_one(&store, "Q", MSG).unwrap();
    assert_eq!(s.location, "/dev/null");
}

#[test]
fn dev_full_fails_temporarily() {
    let store = Store::open(Target::File("/dev/full".into()), 1, test_std()).unwrap();
    let err = store_one(&store, "Q", MSG).unwrap_err();
    assert!(err.temporary);
    assert!(err.message.contains("/dev/full"), "{err}");
}

#[test]
fn append_failure_truncates_back() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f");
    fs::write(&path, b"before\n").unwrap();
    let file = OpenOptions::new().append(true).open(&path).unwrap();
    for lock in [false, true] {
        let err = append(&file, lock, |w| {
            w.write_all(&vec![b'y'; 300_000])?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(fs::read(&path).unwrap(), b"before\n");
    }
    append(&file, true, |w| w.write_all(b"after\n")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"before\nafter\n");
}

#[test]
fn dir_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let store = Store::open(Target::Dir(dir.clone()), 0, test_std()).unwrap();
    let a = store_one(&store, "Q1", MSG).unwrap();
    let b = store_one(&store, "Q1", b"second\n").unwrap();
    let c = store_one(&store, "Q2", b"third\n").unwrap();
    assert_eq!(a.location, dir.join("Q1.eml").display().to_string());
    assert_eq!(b.location, dir.join("Q1-2.eml").display().to_string());
    assert_eq!(c.location, dir.join("Q2.eml").display().to_string());
    assert_eq!(
        fs::read(dir.join("Q1.eml")).unwrap(),
        [&trace()[..], MSG].concat()
    );
    assert_eq!(
        fs::read(dir.join("Q1-2.eml")).unwrap(),
        [&trace()[..], b"second\n"].concat()
    );
    assert_eq!(mode(&dir.join("Q2.eml")), 0o600);
    assert_eq!(files(&dir).len(), 3);
    // Queue ids that would be paths are refused before anything is made.
    for bad in ["", "../x", "a/b", ".hidden", "a b", "x\n"] {
        assert!(store.begin(&envelope(), bad, &trace()).is_err(), "{bad:?}");
    }
    let p = store.begin(&envelope(), "Q3", &trace()).unwrap();
    p.abort();
    assert_eq!(files(&dir).len(), 3);
}

#[test]
fn stdout_framing() {
    for (count, mbox) in [(1, false), (2, true)] {
        let store = Store {
            shared: Arc::new(Shared {
                kind: Kind::Stdout(Mutex::new(Out::Buffer(Vec::new()))),
                mbox,
                host: "h".into(),
                counter: AtomicU64::new(0),
                output_closed: AtomicBool::new(false),
            }),
        };
        for _ in 0..count {
            assert_eq!(store_one(&store, "Q", MSG).unwrap().location, "stdout");
        }
        // An aborted message never reaches stdout.
        let mut p = store.begin(&envelope(), "Q", &trace()).unwrap();
        p.write_all(b"refused\n").unwrap();
        p.abort();
        let Kind::Stdout(out) = &store.shared.kind else {
            unreachable!()
        };
        let Out::Buffer(got) = &*locked(out) else {
            unreachable!()
        };
        if mbox {
            let text = String::from_utf8(got.clone()).unwrap();
            assert_eq!(text.matches("From alice@example.org ").count(), 2);
            assert_eq!(text.matches(">From here").count(), 2);
            assert!(!text.contains("refused"));
        } else {
            assert_eq!(got, &[&trace()[..], MSG].concat());
        }
    }
    // The real stdout opens.
    assert!(Store::open(Target::Stdout, 1, test_std()).is_ok());
}

#[test]
fn bug_stdout_reader_gone_is_noticed() {
    // EPIPE from stdout was an ordinary storage failure: the receiver kept
    // listening for messages it could never store.
    let store = Store {
        shared: Arc::new(Shared {
            kind: Kind::Stdout(Mutex::new(Out::Closed)),
            mbox: false,
            host: "h".into(),
            counter: AtomicU64::new(0),
            output_closed: AtomicBool::new(false),
        }),
    };
    assert!(!store.output_closed());
    let e = store_one(&store, "Q", MSG).unwrap_err();
    assert!(e.temporary, "{e}");
    assert!(store.output_closed());
}

#[test]
fn bug_rcpt_to_with_quoted_spaces_has_a_count() {
    // A quoted local part with a space made SMTP_RCPT_TO ambiguous.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = format!(
        "printf '%s|%s' \"$SMTP_RCPT_COUNT\" \"$SMTP_RCPT_TO\" > '{}'; cat >/dev/null",
        out.display()
    );
    let store = exec_store(&script);
    let mut env = envelope();
    env.rcpt_to = vec![
        (mb("\"a b\"", "example.net"), Params::default()),
        (mb("c", "example.net"), Params::default()),
    ];
    let mut p = store.begin(&env, "Q1", b"").unwrap();
    p.write_all(b"x\n").unwrap();
    p.commit().unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        "2|\"a b\"@example.net c@example.net"
    );
}

fn exec_store(script: &str) -> Store {
    Store::open(Target::Exec(script.into()), 0, test_std()).unwrap()
}

#[test]
fn exec_env_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let script = format!(
        "{{ printf '%s|' \"$SMTP_MAIL_FROM\" \"$SMTP_RCPT_TO\" \"$SMTP_HELO\" \
         \"$SMTP_CLIENT_ADDR\" \"$SMTP_QUEUE_ID\" \"${{SMTP_AUTH_USER-unset}}\"; cat; }} > '{}'",
        out.display()
    );
    let store = exec_store(&script);
    let s = store_one(&store, "Q9", MSG).unwrap();
    assert_eq!(s.location, "exec");
    let got = fs::read(&out).unwrap();
    let want = [
        &b"alice@example.org|bob@example.net carol@example.net|client.example|127.0.0.1:40000|Q9|unset|"[..],
        &trace(),
        MSG,
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    // Shell metacharacters in the envelope stay data.
    let mut env = envelope();
    env.mail_from = ReversePath::Mailbox(mb("\"$(touch pwned);`id`\"", "x"));
    env.auth_user = Some("u s".into());
    let mut p = store.begin(&env, "Q9", b"").unwrap();
    p.write_all(b"x\n").unwrap();
    p.commit().unwrap();
    let got = String::from_utf8(fs::read(&out).unwrap()).unwrap();
    assert!(got.starts_with("\"$(touch pwned);`id`\"@x|"), "{got}");
    assert!(got.contains("|u s|x\n"));
    assert!(!Path::new("pwned").exists());
}

#[test]
fn exec_exit_codes() {
    let cases = [
        ("cat >/dev/null; exit 0", None),
        ("exit 75", Some(true)),
        ("exit 1", Some(false)),
        ("exit 67", Some(false)),
        ("kill -9 $$", Some(true)),
        ("/nonexistent/command", Some(false)), // sh: 127
    ];
    for (script, want) in cases {
        let r = store_one(&exec_store(script), "Q", MSG);
        match want {
            None => assert!(r.is_ok(), "{script}: {r:?}"),
            Some(temporary) => assert_eq!(r.unwrap_err().temporary, temporary, "{script}"),
        }
    }
}

#[test]
fn exec_does_not_run_before_commit_or_on_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let mark = tmp.path().join("ran");
    let store = exec_store(&format!("touch '{}'", mark.display()));
    let mut p = store.begin(&envelope(), "Q", &trace()).unwrap();
    p.write_all(MSG).unwrap();
    assert!(!mark.exists());
    p.abort();
    assert!(!mark.exists());
}

#[test]
fn store_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Store>();
    fn send<T: Send>() {}
    send::<Pending>();
}
