//! Real mail daemons as private instances on loopback, for the real_*
//! tests (issue 12): Postfix ([`Postfix`]: its own main.cf, master.cf,
//! queue, data and mail directories under a temporary directory, services
//! on free 127.0.0.1 ports) and Dovecot ([`Dovecot`]: its own config,
//! base_dir, state_dir and log, LMTP and the auth service Postfix uses for
//! SASL on free 127.0.0.1 ports), and certificates made by `openssl` the
//! way a user makes them ([`openssl_ca`], [`openssl_self_signed`]).
//!
//! Never the system's own configuration (/etc/postfix/main.cf,
//! /var/spool/postfix, /etc/dovecot) nor a running service: every path is
//! given to the daemon (`postfix -c DIR`, `dovecot -c FILE`).
//!
//! Each instance is stopped by a watchdog ([`Watchdog`]): a shell that
//! waits on a pipe from the test process and, when the pipe closes (the
//! instance dropped, or the test process gone, even by a panic or a
//! signal), stops the daemon, waits for its master to exit (with a
//! deadline) and removes the directory. A test file shares one instance
//! through a `OnceLock` (statics are never dropped: the watchdog stops
//! them when the test process exits); the daemons fork and leave their
//! master in the background, so a `Guard` on the starting command could
//! not stop them.
//!
//! A daemon that cannot start fails the test under
//! `MAILPIPE_REQUIRE_PEERS=1` (CI) and is skipped loudly otherwise
//! ([`crate::peers::absent`]).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::{absent, free_port, peer, sbin_peer};
use crate::util::{Run, run_cmd_within, write_file};

/// Longest a daemon may take to start, to stop, or to deliver a message.
pub const PATIENCE: Duration = Duration::from_secs(60);

// ----------------------------------------------------------------- watchdog

/// A shell that runs `stop` when its stdin (a pipe held here) closes: on
/// drop (then waited for, with a deadline), or when the test process exits
/// however it exits.
pub struct Watchdog {
    pipe: Option<ChildStdin>,
    child: Child,
}

impl Watchdog {
    fn spawn(stop: &str) -> Watchdog {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            // Deaf to the signals a terminal sends the whole process group
            // (^C): the test process going away is what stops the daemon.
            .arg(format!("trap '' INT TERM HUP; read _; {stop}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn watchdog");
        Watchdog {
            pipe: child.stdin.take(),
            child,
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.pipe.take());
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Shell text that waits up to [`PATIENCE`] for the process whose pid is
/// in `pidfile` to exit, then kills it.
fn reap_pidfile(pidfile: &Path) -> String {
    format!(
        "p=$(tr -dc 0-9 < '{f}' 2>/dev/null); if [ -n \"$p\" ]; then \
         i=0; while kill -0 \"$p\" 2>/dev/null && [ $i -lt {n} ]; do sleep 0.1; i=$((i+1)); done; \
         kill -9 \"$p\" 2>/dev/null; fi",
        f = pidfile.display(),
        n = PATIENCE.as_millis() / 100,
    )
}

// ------------------------------------------------------------------ helpers

/// A temporary directory other users can traverse (the daemons' users:
/// postfix, dovecot), removed by its instance's watchdog.
fn open_tempdir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("mailpipe-daemon-")
        .tempdir()
        .expect("tempdir")
        .keep();
    chmod(&dir, 0o755);
    dir
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Whether we may start a daemon's master: Postfix's and Dovecot's run as
/// root and change to their users; elsewhere [`absent`] (skipped, or a
/// failure in CI, which runs as root).
fn may_start_daemons(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        absent(
            test,
            "root, which private Postfix and Dovecot instances need",
            "run the tests as root, as CI does",
        );
    }
    root
}

/// The uid and gid of the system user `name` (created by its package).
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let u = nix::unistd::User::from_name(name).ok()??;
    Some((u.uid.as_raw(), u.gid.as_raw()))
}

fn mkdir_owned(p: &Path, owner: (u32, u32), mode: u32) {
    std::fs::create_dir_all(p).expect("mkdir");
    std::os::unix::fs::chown(p, Some(owner.0), Some(owner.1)).expect("chown");
    chmod(p, mode);
}

/// Runs `cmd`, a command that starts a daemon, with a deadline; its
/// output goes to the file `out` (not a pipe: the daemon it leaves behind
/// may keep its standard output open, and a pipe would never end).
/// Returns its exit code and output.
fn start_daemon(mut cmd: Command, out: &Path) -> (i32, String) {
    let file = std::fs::File::create(out).expect("output file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st.code().unwrap_or(-1);
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, std::fs::read_to_string(out).unwrap_or_default())
}

/// Waits until `addr` accepts connections; false after [`PATIENCE`].
fn listening(addr: SocketAddr) -> bool {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The messages in Maildir `dir` (new/ and cur/), oldest first (by time,
/// then name), as stored.
pub fn maildir_messages(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort_by_key(|p| {
        (
            std::fs::metadata(p).and_then(|m| m.modified()).ok(),
            p.clone(),
        )
    });
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read message"))
        .collect()
}

/// Calls `get` until `done` holds for what it returns, and returns that;
/// after [`PATIENCE`] fails, saying `what` and the daemon's `log`.
pub fn wait_until<T>(
    what: &str,
    get: impl Fn() -> T,
    done: impl Fn(&T) -> bool,
    log: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        let got = get();
        if done(&got) {
            return got;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "still not so after {PATIENCE:?}: {what}; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes the trace lines a delivering server puts on top of a message:
/// Return-Path:, X-Original-To:, Delivered-To: and Received: (with their
/// continuation lines), as Postfix's cleanup and virtual, Dovecot's LMTP
/// and smtp-recv add them (RFC 5321 §4.4).
pub fn strip_delivery_trace(msg: &[u8]) -> Vec<u8> {
    let mut rest = msg;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        let trace = [
            "Return-Path:",
            "X-Original-To:",
            "Delivered-To:",
            "Received:",
            "\t",
            " ",
        ]
        .iter()
        .any(|p| line.starts_with(p.as_bytes()));
        if !trace || line.is_empty() {
            return rest.to_vec();
        }
        rest = &rest[end..];
    }
}

/// The trace lines [`strip_delivery_trace`] removes, as text.
pub fn delivery_trace(msg: &[u8]) -> String {
    let body = strip_delivery_trace(msg);
    String::from_utf8_lossy(&msg[..msg.len() - body.len()]).into_owned()
}

// ------------------------------------------------------------ certificates

/// PEM files made by `openssl` in a directory of their own.
pub struct OpensslCerts {
    _dir: tempfile::TempDir,
    /// The certificate a client trusts (`--ca-file`, `smtp_tls_CAfile`).
    pub ca: PathBuf,
    /// The server's certificate (chain) and key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Runs `openssl ARGS` (split at spaces) in `dir`.
fn openssl(test: &str, dir: &Path, args: &str) -> Option<()> {
    let prog = peer("openssl", test)?;
    let mut cmd = Command::new(prog);
    cmd.args(args.split_whitespace()).current_dir(dir);
    let r = run_cmd_within(cmd, PATIENCE, b"");
    assert_eq!(r.code, 0, "openssl {args}: {}", r.stderr);
    Some(())
}

/// A self-signed certificate for localhost made as users make one:
/// `openssl req -x509 -newkey` (which marks it `CA:TRUE`); it is its own
/// trust anchor.
pub fn openssl_self_signed(test: &str) -> Option<OpensslCerts> {
    let dir = tempfile::tempdir().expect("tempdir");
    openssl(
        test,
        dir.path(),
        "req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
         -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1",
    )?;
    Some(OpensslCerts {
        ca: dir.path().join("cert.pem"),
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        _dir: dir,
    })
}

/// A private CA (`ca.pem`) and a server certificate for localhost signed
/// by it (`cert.pem`, an end-entity certificate: `CA:FALSE`).
pub fn openssl_ca(test: &str) -> Option<OpensslCerts> {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    openssl(
        test,
        d,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 \
         -subj /CN=mailpipe-test-CA",
    )?;
    openssl(
        test,
        d,
        "req -newkey rsa:2048 -nodes -keyout key.pem -out req.pem -subj /CN=localhost",
    )?;
    write_file(
        d,
        "ext.cnf",
        b"basicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    openssl(
        test,
        d,
        "x509 -req -in req.pem -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem \
         -days 2 -extfile ext.cnf",
    )?;
    Some(OpensslCerts {
        ca: d.join("ca.pem"),
        cert: d.join("cert.pem"),
        key: d.join("key.pem"),
        _dir: dir,
    })
}

// ------------------------------------------------------------------ Postfix

/// The internal services of a private Postfix (Debian's master.cf without
/// chroot: the queue directory is not a prepared chroot jail), logging to
/// its own `maillog_file` through postlogd.
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// What a private Postfix is made of besides its defaults.
pub struct PostfixConf<'a> {
    /// main.cf lines after ours; `{dir}` is the instance's directory,
    /// `{port:NAME}` a free port no service of this instance listens on
    /// (for a relay the test starts: `[127.0.0.1]:{port:NAME}`).
    pub main: &'a str,
    /// master.cf services after the internal ones; `{dir}` as above, and
    /// `{port:NAME}` a free port, the same for the same NAME
    /// ([`Postfix::port`]), for `127.0.0.1:{port:NAME} inet ... smtpd`.
    pub master: &'a str,
    /// Files written into the instance's directory before it starts.
    pub files: &'a [(&'a str, &'a [u8])],
}

/// A private Postfix: main.cf and master.cf in `DIR/conf`, queue in
/// `DIR/queue`, data in `DIR/data`, its log in `DIR/maillog`; mail for
/// any `USER@test.example` goes to the Maildir `DIR/mail/all/`
/// (virtual(8)), where [`Postfix::delivered`] finds USER's by their
/// Delivered-To: line.
pub struct Postfix {
    dir: PathBuf,
    ports: Vec<(String, u16)>,
    postfix: PathBuf,
    _watchdog: Watchdog,
}

/// The domain a private Postfix delivers to Maildirs.
pub const DOMAIN: &str = "test.example";

impl Postfix {
    /// Starts one, or None when Postfix is absent or cannot start
    /// ([`absent`]: a failure under MAILPIPE_REQUIRE_PEERS=1).
    pub fn start(test: &str, conf: &PostfixConf) -> Option<Postfix> {
        let postfix = sbin_peer("postfix", test)?;
        if !may_start_daemons(test) {
            return None;
        }
        let Some(owner) = user_ids("postfix") else {
            absent(test, "the postfix user", "the postfix package creates it");
            return None;
        };
        let Some(setgid) = nix::unistd::Group::from_name("postdrop").ok().flatten() else {
            absent(test, "the postdrop group", "the postfix package creates it");
            return None;
        };
        let dir = open_tempdir();
        let conf_dir = dir.join("conf");
        let queue = dir.join("queue");
        std::fs::create_dir_all(&conf_dir).expect("mkdir");
        // Root's, as postfix(1) wants it; postfix-script makes its
        // subdirectories.
        std::fs::create_dir_all(&queue).expect("mkdir");
        mkdir_owned(&dir.join("data"), owner, 0o700);
        mkdir_owned(&dir.join("mail"), owner, 0o755);
        for (name, data) in conf.files {
            write_file(&dir, name, data);
        }
        let mut ports = Vec::new();
        let master = expand(conf.master, &dir, &mut ports);
        let services = ports.len();
        let main = format!(
            "# A private instance for mailpipe's tests: nothing here is the system's.
compatibility_level = 3.6
queue_directory = {q}
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = {g}
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
syslog_name = postfix-mailpipe-test
myhostname = postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# No header rewriting (local_header_rewrite_clients): the delivered
# message is the sent one, trace lines aside.
local_header_rewrite_clients =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {d}/mail
# One Maildir for every recipient (virtual(8) allows no $1 from a
# regexp map); a recipient's copies are told apart by Delivered-To:.
virtual_mailbox_maps = static:all/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
smtp_dns_support_level = disabled
smtp_host_lookup = native
delay_warning_time = 0
{extra}
",
            q = queue.display(),
            d = dir.display(),
            g = setgid.name,
            uid = owner.0,
            gid = owner.1,
            extra = expand(conf.main, &dir, &mut ports),
        );
        write_file(&conf_dir, "main.cf", main.as_bytes());
        write_file(
            &conf_dir,
            "master.cf",
            format!("{MASTER_CF}{master}").as_bytes(),
        );
        let watchdog = Watchdog::spawn(&format!(
            "'{p}' -c '{c}' stop; {reap}; rm -rf '{d}'",
            p = postfix.display(),
            c = conf_dir.display(),
            reap = reap_pidfile(&queue.join("pid/master.pid")),
            d = dir.display(),
        ));
        let pf = Postfix {
            dir,
            ports,
            postfix,
            _watchdog: watchdog,
        };
        let mut cmd = Command::new(&pf.postfix);
        cmd.arg("-c").arg(pf.conf()).arg("start");
        let (code, out) = start_daemon(cmd, &pf.dir.join("start.out"));
        let up = code == 0
            && pf.ports[..services]
                .iter()
                .all(|(_, p)| listening(loopback(*p)));
        if !up {
            absent(
                test,
                &format!(
                    "a private Postfix (postfix -c DIR start: {code}; {}; log: {})",
                    out.trim(),
                    pf.log()
                ),
                "scripts/test installs postfix",
            );
            return None;
        }
        Some(pf)
    }

    /// The port named NAME by `{port:NAME}`.
    pub fn port(&self, name: &str) -> u16 {
        self.ports
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no service {name}"))
            .1
    }

    /// `127.0.0.1:PORT` of the service NAME.
    pub fn server(&self, name: &str) -> String {
        format!("127.0.0.1:{}", self.port(name))
    }

    /// The instance's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its configuration directory (`-c`).
    pub fn conf(&self) -> PathBuf {
        self.dir.join("conf")
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Runs the Postfix command `prog` (postqueue, sendmail, postsuper)
    /// with `-c DIR` and `args`, `stdin` on its standard input.
    pub fn command(&self, prog: &str, args: &[&str], stdin: &[u8]) -> Run {
        let mut cmd = Command::new(Path::new("/usr/sbin").join(prog));
        // sendmail(1) spells it -C; the others -c.
        let flag = if prog == "sendmail" { "-C" } else { "-c" };
        cmd.arg(flag).arg(self.conf()).args(args);
        run_cmd_within(cmd, PATIENCE, stdin)
    }

    /// The copies delivered to USER@test.example so far, oldest first, as
    /// delivered (trace lines on top).
    pub fn delivered_now(&self, user: &str) -> Vec<Vec<u8>> {
        let line = format!("Delivered-To: {user}@{DOMAIN}\n");
        maildir_messages(&self.dir.join("mail/all"))
            .into_iter()
            .filter(|m| delivery_trace(m).contains(&line))
            .collect()
    }

    /// Waits until USER@test.example has at least `want` copies and
    /// returns them ([`Postfix::delivered_now`]).
    pub fn delivered(&self, user: &str, want: usize) -> Vec<Vec<u8>> {
        wait_until(
            &format!("{want} messages for {user}"),
            || self.delivered_now(user),
            |got| got.len() >= want,
            || self.log(),
        )
    }

    /// The messages in the queue (`postqueue -j`: one JSON object each).
    pub fn queue(&self) -> Vec<serde_json::Value> {
        let r = self.command("postqueue", &["-j"], b"");
        assert_eq!(r.code, 0, "postqueue -j: {}", r.stderr);
        r.stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    /// The queued messages with `rcpt` among their recipients.
    pub fn queued_for(&self, rcpt: &str) -> Vec<serde_json::Value> {
        self.queue()
            .into_iter()
            .filter(|m| {
                m["recipients"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| r["address"] == rcpt))
            })
            .collect()
    }

    /// Waits until the one message queued for `rcpt` is in the queue
    /// `queue_name` (`deferred`: with its reason) and returns it.
    pub fn wait_queued(&self, rcpt: &str, queue_name: &str) -> serde_json::Value {
        self.wait_queue(rcpt, |q| {
            q.len() == 1
                && q[0]["queue_name"] == queue_name
                && (queue_name != "deferred" || q[0]["recipients"][0]["delay_reason"].is_string())
        })
        .remove(0)
    }

    /// Waits until nothing is queued for `rcpt`.
    pub fn wait_unqueued(&self, rcpt: &str) {
        self.wait_queue(rcpt, |q| q.is_empty());
    }

    fn wait_queue(
        &self,
        rcpt: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        wait_until(
            &format!("the queue for {rcpt}"),
            || self.queued_for(rcpt),
            |q| done(q),
            || format!("{:?}\n{}", self.queued_for(rcpt), self.log()),
        )
    }
}

/// `text` with `{dir}` replaced by `dir` and each `{port:NAME}` by a free
/// port, recorded in `ports` (the same NAME, the same port).
fn expand(text: &str, dir: &Path, ports: &mut Vec<(String, u16)>) -> String {
    let mut out = text.replace("{dir}", &dir.display().to_string());
    while let Some(at) = out.find("{port:") {
        let end = at + out[at..].find('}').expect("{port:NAME}");
        let name = out[at + 6..end].to_owned();
        let port = match ports.iter().find(|(n, _)| *n == name) {
            Some((_, p)) => *p,
            None => {
                let p = free_port();
                ports.push((name, p));
                p
            }
        };
        out.replace_range(at..=end, &port.to_string());
    }
    out
}

// ------------------------------------------------------------------ Dovecot

/// A private Dovecot: LMTP and the SASL auth service (for Postfix's
/// `smtpd_sasl_type = dovecot`) on free 127.0.0.1 ports. Every user
/// exists (static userdb) and has the password [`Dovecot::PASSWORD`]
/// (static passdb); mail for USER@ANY goes to the Maildir `DIR/mail/USER`
/// as the dovecot user. The user [`Dovecot::BROKEN`] cannot be delivered
/// to (its Maildir path is a file): a temporary failure after the
/// message, as a full disk or a broken mailbox gives one.
pub struct Dovecot {
    dir: PathBuf,
    /// LMTP's port.
    pub lmtp: u16,
    /// The auth service's port (Postfix: `smtpd_sasl_path = inet:...`).
    pub auth: u16,
    _watchdog: Watchdog,
}

impl Dovecot {
    pub const PASSWORD: &str = "dove-secret";
    pub const BROKEN: &str = "broken";

    /// Starts one, or None when Dovecot is absent or cannot start
    /// ([`absent`]).
    pub fn start(test: &str) -> Option<Dovecot> {
        let dovecot = sbin_peer("dovecot", test)?;
        if !may_start_daemons(test) {
            return None;
        }
        let lmtpd = Path::new("/usr/lib/dovecot/lmtp");
        if !lmtpd.is_file() {
            absent(test, "Dovecot's LMTP server", "dovecot-lmtpd");
            return None;
        }
        let Some(mail_user) = user_ids("dovecot") else {
            absent(test, "the dovecot user", "dovecot-core creates it");
            return None;
        };
        let dir = open_tempdir();
        mkdir_owned(&dir.join("mail"), mail_user, 0o755);
        // A file where the broken user's Maildir should be.
        write_file(&dir.join("mail"), Dovecot::BROKEN, b"not a directory\n");
        let (lmtp, auth) = (free_port(), free_port());
        let d = dir.display();
        let conf = format!(
            "# A private instance for mailpipe's tests: nothing here is the system's.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log
info_log_path = {d}/log
instance_name = mailpipe-test-{lmtp}
protocols = lmtp
listen = 127.0.0.1
ssl = no
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%n
passdb {{
  driver = static
  args = password={pw}
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%n allow_all_users=yes
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service auth {{
  inet_listener auth-inet {{
    address = 127.0.0.1
    port = {auth}
  }}
}}
",
            pw = Dovecot::PASSWORD,
        );
        let file = write_file(&dir, "dovecot.conf", conf.as_bytes());
        let watchdog = Watchdog::spawn(&format!(
            "'{p}' -c '{f}' stop; {reap}; rm -rf '{d}'",
            p = dovecot.display(),
            f = file.display(),
            reap = reap_pidfile(&dir.join("run/master.pid")),
        ));
        let dv = Dovecot {
            dir,
            lmtp,
            auth,
            _watchdog: watchdog,
        };
        let mut cmd = Command::new(&dovecot);
        cmd.arg("-c").arg(&file);
        let (code, out) = start_daemon(cmd, &dv.dir.join("start.out"));
        let up = code == 0 && listening(loopback(lmtp)) && listening(loopback(auth));
        if !up {
            absent(
                test,
                &format!(
                    "a private Dovecot (dovecot -c FILE: {code}; {}; log: {})",
                    out.trim(),
                    dv.log()
                ),
                "scripts/test installs dovecot-core and dovecot-lmtpd",
            );
            return None;
        }
        Some(dv)
    }

    /// `127.0.0.1:PORT` of LMTP.
    pub fn lmtp_server(&self) -> String {
        format!("127.0.0.1:{}", self.lmtp)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The Maildir of USER.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("mail").join(user)
    }

    /// Waits until USER has at least `want` messages and returns them,
    /// oldest first, as delivered.
    pub fn delivered(&self, user: &str, want: usize) -> Vec<Vec<u8>> {
        wait_until(
            &format!("{want} messages for {user}"),
            || maildir_messages(&self.maildir(user)),
            |got| got.len() >= want,
            || self.log(),
        )
    }
}
