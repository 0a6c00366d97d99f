use super::*;

fn mb(s: &str) -> Mailbox {
    envelope::parse_forward_path(&format!("<{s}>"), true)
        .unwrap()
        .0
}

fn stored(q: &Queue, rcpts: &[&str]) -> String {
    let mut msg = super::tests::prepared(rcpts);
    let rcpts: Vec<Mailbox> = rcpts.iter().map(|r| mb(r)).collect();
    q.store(&mut msg, &rcpts, "451 later", 100).unwrap()
}

/// `narrow` replaced the file with a new inode but kept the lock on the
/// old one: between the narrowing and the end of the attempt (state
/// update, move to failed/) a second flush could lock and send the
/// narrowed message.
#[test]
fn bug_narrow_keeps_the_message_locked() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open(dir.path()).unwrap();
    let id = stored(&q, &["b@example.net", "c@example.net"]);
    let Lock::Held(mut l) = q.lock(&id, false).unwrap() else {
        panic!("not locked")
    };
    l.narrow(&q, &[mb("c@example.net")]).unwrap();
    assert!(
        matches!(q.lock(&id, false).unwrap(), Lock::Busy),
        "the narrowed message is not locked"
    );
    // The holder still reads the narrowed file correctly.
    let mut sent = Vec::new();
    use std::io::Read;
    l.prepare(false)
        .unwrap()
        .reader()
        .read_to_end(&mut sent)
        .unwrap();
    assert_eq!(sent, b"Subject: hi\n\nbody\n");
    l.attempted(&q, "451 again", 200).unwrap();
    drop(l);
    let Lock::Held(l) = q.lock(&id, false).unwrap() else {
        panic!("not released")
    };
    assert_eq!(l.entry.head.rcpts, [mb("c@example.net")]);
}

/// A queue file that cannot be read is skipped with a warning on every
/// flush and `--list`, but `--drop` refused it too ("not a version-1
/// queue file"): the only way out was `rm` by hand.
#[test]
fn bug_drop_removes_an_unreadable_queue_file() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open(dir.path()).unwrap();
    let target = dir.path().join("target");
    fs::write(&target, b"keep me").unwrap();
    fs::write(dir.path().join("1.garbage"), b"\x00garbage").unwrap();
    fs::write(dir.path().join("1.garbage.state"), b"junk").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("2.link")).unwrap();
    fs::write(dir.path().join("failed/3.bad"), b"mailpipe-queue 9\n").unwrap();
    for id in ["1.garbage", "2.link", "3.bad"] {
        assert!(q.drop_message(id).unwrap(), "{id}");
    }
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .chain(fs::read_dir(dir.path().join("failed")).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut left: Vec<&str> = left.iter().map(String::as_str).collect();
    left.sort();
    assert_eq!(left, ["failed", "target", "tmp"]);
    assert_eq!(fs::read(&target).unwrap(), b"keep me");
    // Still: no such message, and no path outside the queue.
    assert!(q.drop_message("1.garbage").is_err());
    assert!(q.drop_message("../target").is_err());
    assert!(target.exists());
}

/// A message queued (or last tried) while the clock was far ahead
/// (a VM or an RTC reset, corrected since) was never due and never
/// expired: every flush skipped it as "not due" for years.
#[test]
fn bug_future_times_do_not_freeze_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open(dir.path()).unwrap();
    let now = now_secs();
    let future = now + 10 * 365 * 86_400;
    let head = format!(
        "mailpipe-queue 1\ncreated {future}\nfrom <a@b.example>\nrcpt <c@d.example>\nreply x\n\nSubject: s\n\nx\n"
    );
    fs::write(dir.path().join("1.a"), &head).unwrap();
    fs::write(dir.path().join("2.b"), &head).unwrap();
    fs::write(
        dir.path().join("2.b.state"),
        format!("mailpipe-queue-state 1\nattempts 3\nlast {future}\nreply y\n"),
    )
    .unwrap();
    let list = q
        .entries(false, &mut |p, w| panic!("{}: {w}", p.display()))
        .unwrap();
    assert_eq!(list.len(), 2);
    for e in &list {
        assert!(
            e.next_attempt() <= now_secs() + MAX_RETRY,
            "{}: next attempt {} (now {now})",
            e.id,
            e.next_attempt()
        );
    }
}
