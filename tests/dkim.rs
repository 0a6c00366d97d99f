//! mime-dkim against Python's dkimpy (python3-dkim), both directions: we
//! sign and dkimpy verifies (its `dnsfunc` answering our record), dkimpy
//! signs and we verify (`--record`); both algorithms, both
//! canonicalizations, every message of the shared corpus; tampering and
//! hostile signatures.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peers::absent;
use crate::send_mx::{Dns, Zone};
use crate::util::*;

/// The dkimpy side: `verify MSG NAME=RECORDFILE...` prints one line per
/// message file and signature (`FILE IDX True|False`), `sign OUT
/// SELECTOR DOMAIN KEYFILE ALG CANON MSG...` writes each message signed by
/// dkimpy into OUT as `N.eml`, N its place in the list (the corpus repeats
/// names in different folders). Messages without a From field (which both refuse to
/// sign) print `FILE nofrom`.
const HELPER: &str = r#"
import base64, os, sys, dkim

def records(specs):
    out = {}
    for spec in specs:
        name, path = spec.split("=", 1)
        text = open(path).read()
        parts = text.split('"')[1::2]
        out[name.lower() + "."] = ("".join(parts) if parts else text.strip()).encode()
    return out

def private(path, alg):
    pem = open(path, "rb").read()
    if alg == "ed25519-sha256":
        der = base64.b64decode(b"".join(l for l in pem.splitlines() if not l.startswith(b"-----")))
        # ring's PKCS#8 v2 (RFC 5958): the seed at 16..48.
        return base64.b64encode(der[16:48])
    return pem

if sys.argv[1] == "verify":
    table = records(sys.argv[3:])
    dns = lambda name, timeout=5: table.get(name.decode().lower())
    for path in sys.argv[2].split(","):
        msg = open(path, "rb").read()
        try:
            d = dkim.DKIM(msg)
        except dkim.MessageFormatError:
            print(path, "-", "unparsable")
            continue
        n = sum(1 for k, v in d.headers if k.lower() == b"dkim-signature")
        for i in range(n):
            try:
                ok = d.verify(idx=i, dnsfunc=dns)
            except dkim.DKIMException:
                ok = False
            print(path, i, ok)
else:
    out, sel, dom, key, alg, canon = sys.argv[2:8]
    c = tuple(x.encode() for x in canon.split("/"))
    for n, path in enumerate(sys.argv[8:]):
        msg = open(path, "rb").read()
        try:
            sig = dkim.sign(msg, sel.encode(), dom.encode(), private(key, alg),
                            canonicalize=c, signature_algorithm=alg.encode())
        except dkim.ParameterError:
            print(path, "nofrom")
            continue
        except dkim.MessageFormatError:
            print(path, "unparsable")
            continue
        with open(os.path.join(out, "%d.eml" % n), "wb") as f:
            f.write(sig + msg)
"#;

/// dkimpy with its Ed25519 support (python3-nacl), or None (SKIPPED).
pub(crate) fn dkimpy(test: &str) -> Option<PathBuf> {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import dkim, nacl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        absent(test, "python3-dkim", "scripts/test installs it");
        return None;
    }
    Some(PathBuf::from("/usr/bin/python3"))
}

pub(crate) struct Keys {
    dir: tempfile::TempDir,
    helper: PathBuf,
}

pub(crate) const DOMAIN: &str = "example.org";

impl Keys {
    /// An RSA and an Ed25519 key made by `mime-dkim keygen`, their records
    /// beside them (`rsa.txt`, `ed.txt`).
    pub(crate) fn new() -> Keys {
        let dir = tempfile::tempdir().expect("tempdir");
        for (sel, alg) in [("rsa", "rsa"), ("ed", "ed25519")] {
            let key = dir.path().join(format!("{sel}.key"));
            let r = run(
                "mime-dkim",
                &[
                    "keygen",
                    "-d",
                    DOMAIN,
                    "-s",
                    sel,
                    "-a",
                    alg,
                    "-o",
                    key.to_str().unwrap(),
                ],
                b"",
            );
            std::fs::write(dir.path().join(format!("{sel}.txt")), r.ok()).unwrap();
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&key).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o600);
        }
        let helper = write_file(dir.path(), "helper.py", HELPER.as_bytes());
        Keys { dir, helper }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn record_args(&self) -> Vec<String> {
        ["rsa", "ed"]
            .iter()
            .map(|s| format!("{s}._domainkey.{DOMAIN}={}", self.path(&format!("{s}.txt"))))
            .collect()
    }

    /// Our signature with the keys of `sels`, in `canon`.
    fn sign(&self, sels: &[&str], canon: &str, message: &Path) -> Run {
        let mut args = vec![
            "sign".to_owned(),
            "-d".into(),
            DOMAIN.into(),
            "-c".into(),
            canon.into(),
        ];
        for s in sels {
            args.extend([
                "-s".into(),
                (*s).into(),
                "-k".into(),
                self.path(&format!("{s}.key")),
            ]);
        }
        args.push(message.to_str().unwrap().into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("mime-dkim", &args, b"")
    }

    pub(crate) fn verify(&self, extra: &[&str], message: &[u8]) -> Run {
        let mut args = vec!["verify".to_owned()];
        for r in self.record_args() {
            args.extend(["--record".into(), r]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("mime-dkim", &args, message)
    }

    /// dkimpy's verdicts: `(file, index, passed)`, and the files it cannot
    /// parse (a header without its empty line after it, for one).
    pub(crate) fn dkimpy_verify(
        &self,
        files: &[PathBuf],
    ) -> (Vec<(String, usize, bool)>, Vec<String>) {
        let list: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&self.helper).arg("verify").arg(list.join(","));
        cmd.args(self.record_args());
        let r = run_cmd(cmd, b"");
        let mut verdicts = Vec::new();
        let mut unparsable = Vec::new();
        for l in String::from_utf8(r.ok().to_vec()).unwrap().lines() {
            let f: Vec<&str> = l.rsplitn(3, ' ').collect();
            match f[0] {
                "unparsable" => unparsable.push(f[2].to_owned()),
                ok => verdicts.push((f[2].to_owned(), f[1].parse().unwrap(), ok == "True")),
            }
        }
        (verdicts, unparsable)
    }

    /// dkimpy signs every message of `files` with `sel`'s key into `out`;
    /// returns the lines of the files it refused (`FILE nofrom`, `FILE
    /// unparsable`).
    fn dkimpy_sign(&self, sel: &str, canon: &str, out: &Path, files: &[PathBuf]) -> Vec<String> {
        let alg = if sel == "rsa" {
            "rsa-sha256"
        } else {
            "ed25519-sha256"
        };
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&self.helper).arg("sign").arg(out);
        cmd.args([sel, DOMAIN, &self.path(&format!("{sel}.key")), alg, canon]);
        cmd.args(files);
        let r = run_cmd(cmd, b"");
        String::from_utf8(r.ok().to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// `mime-dkim sign -d DOMAIN -s SELECTOR -k KEY ARGS... MESSAGE`.
fn sign_with(domain: &str, selector: &str, key: &str, args: &[&str], message: &Path) -> Run {
    let mut all = vec!["sign", "-d", domain, "-s", selector, "-k", key];
    all.extend_from_slice(args);
    all.push(message.to_str().unwrap());
    run("mime-dkim", &all, b"")
}

const MESSAGE: &[u8] = b"From: Joe <joe@example.org>\r\nTo: Suzie <suzie@example.net>\r\n\
Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n\
Message-ID: <1@example.org>\r\n\r\nHi.\r\n\r\nWe lost  the game.\t \r\n\r\n\r\n";

const CANONS: [&str; 4] = [
    "relaxed/relaxed",
    "simple/simple",
    "relaxed/simple",
    "simple/relaxed",
];

#[test]
fn we_sign_dkimpy_verifies_and_back() {
    let Some(_) = dkimpy("we_sign_dkimpy_verifies_and_back") else {
        return;
    };
    let keys = Keys::new();
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    let lf = write_file(
        keys.dir.path(),
        "lf.eml",
        &MESSAGE
            .iter()
            .copied()
            .filter(|&b| b != b'\r')
            .collect::<Vec<_>>(),
    );
    for canon in CANONS {
        for m in [&msg, &lf] {
            let r = keys.sign(&["rsa", "ed"], canon, m);
            let signed = r.ok().to_vec();
            assert!(signed.ends_with(&std::fs::read(m).unwrap()));
            let out = write_file(keys.dir.path(), "signed.eml", &signed);
            let (v, _) = keys.dkimpy_verify(std::slice::from_ref(&out));
            assert_eq!(v.len(), 2, "{v:?}");
            assert!(
                v.iter().all(|(_, _, ok)| *ok),
                "{canon} {}: {v:?}",
                m.display()
            );
            let ours = keys.verify(&[], &signed);
            ours.code(0);
        }
        // dkimpy signs with each key; we verify.
        let out = tempfile::tempdir().unwrap();
        for sel in ["rsa", "ed"] {
            let refused = keys.dkimpy_sign(sel, canon, out.path(), std::slice::from_ref(&msg));
            assert!(refused.is_empty());
            let signed = std::fs::read(out.path().join("0.eml")).unwrap();
            let r = keys.verify(&[], &signed);
            r.code(0);
            let line = r.stdout_str();
            assert!(
                line.starts_with("dkim=pass header.d=example.org"),
                "{canon} {sel}: {line}"
            );
        }
    }
}

#[test]
fn tampered_messages_fail_both_sides() {
    let Some(_) = dkimpy("tampered_messages_fail_both_sides") else {
        return;
    };
    let keys = Keys::new();
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    let signed = String::from_utf8(
        keys.sign(&["rsa", "ed"], "relaxed/relaxed", &msg)
            .ok()
            .to_vec(),
    )
    .unwrap();
    for (from, to) in [
        ("Is dinner ready?", "Is dinner ready!"),
        ("We lost", "We won"),
    ] {
        let bad = signed.replace(from, to);
        let r = keys.verify(&["--json"], bad.as_bytes());
        r.code(1);
        for line in r.stdout_str().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["result"], "fail", "{line}");
        }
        let f = write_file(keys.dir.path(), "bad.eml", bad.as_bytes());
        let (v, _) = keys.dkimpy_verify(&[f]);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().all(|(_, _, ok)| !ok), "{v:?}");
    }
}

/// Every message of the shared corpus, both ways, both canonicalizations,
/// both algorithms at once: where one side signs, the other verifies.
#[test]
fn corpus_both_ways() {
    let Some(_) = dkimpy("corpus_both_ways") else {
        return;
    };
    let Some(files) = corpus("corpus_both_ways") else {
        return;
    };
    let keys = Keys::new();
    for canon in ["relaxed/relaxed", "simple/simple"] {
        // We sign, dkimpy verifies (one python run for all files).
        let out = tempfile::tempdir().unwrap();
        let mut signed = Vec::new();
        let mut ours_refused = Vec::new();
        for (n, f) in files.iter().enumerate() {
            let r = keys.sign(&["rsa", "ed"], canon, f);
            if r.code == 65 {
                ours_refused.push(f.to_str().unwrap().to_owned());
                continue;
            }
            let p = out.path().join(format!("{n}.eml"));
            std::fs::write(&p, r.ok()).unwrap();
            signed.push(p);
        }
        let (verdicts, unparsable) = keys.dkimpy_verify(&signed);
        let failed: Vec<_> = verdicts.iter().filter(|v| !v.2).collect();
        assert!(
            failed.is_empty(),
            "{canon}: dkimpy rejects our signatures: {failed:?}"
        );
        assert_eq!(verdicts.len(), (signed.len() - unparsable.len()) * 2);
        // Messages dkimpy cannot read are left out; about half the corpus
        // has no From (mime4j's test messages): 22 of 72 files are signed.
        assert!(
            verdicts.len() >= 2 * 20,
            "{} verdicts, {unparsable:?}",
            verdicts.len()
        );

        // dkimpy signs, we verify.
        for sel in ["rsa", "ed"] {
            let out = tempfile::tempdir().unwrap();
            let refused = keys.dkimpy_sign(sel, canon, out.path(), &files);
            // What dkimpy finds no From in, we refuse too; what we refuse,
            // dkimpy refuses or cannot parse.
            for l in &refused {
                if let Some(f) = l.strip_suffix(" nofrom") {
                    assert!(ours_refused.iter().any(|o| o == f), "{f}");
                }
            }
            for o in &ours_refused {
                let said = format!("{o} ");
                assert!(refused.iter().any(|l| l.starts_with(&said)), "{o}");
            }
            let mut verified = 0;
            for (n, f) in files.iter().enumerate() {
                let p = out.path().join(format!("{n}.eml"));
                if !p.exists() {
                    continue;
                }
                let r = keys.verify(&[], &std::fs::read(&p).unwrap());
                assert_eq!(
                    r.code,
                    0,
                    "{canon} {sel} {}: {}",
                    f.display(),
                    r.stdout_str()
                );
                verified += 1;
            }
            assert_eq!(verified + refused.len(), files.len());
            assert!(verified >= 20, "{verified} of {}", files.len());
        }
    }
}

/// Hostile signatures: permerror with a reason, exit 1, never a crash.
#[test]
fn hostile_signatures_are_permerrors() {
    let keys = Keys::new();
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    let signed =
        String::from_utf8(keys.sign(&["ed"], "relaxed/relaxed", &msg).ok().to_vec()).unwrap();
    let cases = [
        ("v=1; ", "".to_owned(), "no v= tag"),
        ("v=1; ", "v=1; v=1; ".to_owned(), "appears twice"),
        ("bh=", "bh=%%%".to_owned(), "not base64"),
        (
            "s=ed;",
            "s=ed; l=100000;".to_owned(),
            "l= is longer than the body",
        ),
        ("v=1; ", format!("v=1; z={}; ", "A".repeat(100 * 1024)), ""),
        ("s=ed;", "s=nokey;".to_owned(), "no key record"),
    ];
    for (from, to, why) in &cases {
        let bad = signed.replacen(from, to, 1);
        let r = keys.verify(&[], bad.as_bytes());
        r.code(1);
        let out = r.stdout_str();
        assert!(out.contains(why), "{out}");
        assert!(out.starts_with("dkim=permerror") || why.is_empty(), "{out}");
        assert!(r.stderr.is_empty(), "{}", r.stderr);
    }
    // A 100 KB header field of its own, and a 512-bit RSA key.
    let big = format!("X-Big: {}\r\n{signed}", "y".repeat(100 * 1024));
    keys.verify(&[], big.as_bytes()).code(0);
    let small = write_file(
        keys.dir.path(),
        "small.txt",
        b"v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANTYi7Hs+GHn6qjym07X9DA3R6P0uFP+CTiqkrfrTnl6MMGcrPi8/qST+qFEbPY6CQvkt0F6XtiRxJKT5GLTBFUCAwEAAQ==",
    );
    let as_rsa = signed.replacen("a=ed25519-sha256", "a=rsa-sha256", 1);
    let r = run(
        "mime-dkim",
        &[
            "verify",
            "--record",
            &format!("ed._domainkey.{DOMAIN}={}", small.display()),
        ],
        as_rsa.as_bytes(),
    );
    r.code(1);
    assert!(
        r.stdout_str().contains("dkim=permerror") && r.stdout_str().contains("512 bits"),
        "{}",
        r.stdout_str()
    );
}

/// No signature: 1; no From: 65; a bad -a, -h or -d: 64; a key that is no key or
/// too small for ring: 78; PKCS#1 and PKCS#8 keys both sign; keygen never
/// overwrites.
#[test]
fn exit_codes_and_key_forms() {
    let keys = Keys::new();
    let r = keys.verify(&[], MESSAGE);
    r.code(1);
    assert_eq!(r.stdout_str(), "dkim=none (no signature)\n");
    let nofrom = write_file(keys.dir.path(), "nofrom.eml", b"To: a@example.org\n\nhi\n");
    keys.sign(&["ed"], "relaxed", &nofrom)
        .code(65)
        .one_line_error("mime-dkim");
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    let r = sign_with(DOMAIN, "x", &keys.path("ed.key"), &["-a", "rsa"], &msg);
    r.code(64).one_line_error("mime-dkim");
    // A file that is no key, and an RSA key ring will not sign with
    // (1024 bits): 78, said in one line.
    let bad = write_file(keys.dir.path(), "bad.key", b"not a key\n");
    let small = keys.path("small.key");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "genpkey",
        "-quiet",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:1024",
        "-out",
        &small,
    ]);
    run_cmd(cmd, b"").code(0);
    for (key, why) in [
        (bad.to_str().unwrap(), "no private key"),
        (&small, "smaller than 2048 bits"),
    ] {
        let r = sign_with(DOMAIN, "x", key, &[], &msg);
        r.code(78).one_line_error("mime-dkim");
        assert!(r.stderr.contains(why), "{}", r.stderr);
    }
    // The same RSA key as PKCS#1 ("RSA PRIVATE KEY") signs the same way.
    let pkcs1 = keys.path("rsa1.key");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "rsa",
        "-traditional",
        "-in",
        &keys.path("rsa.key"),
        "-out",
        &pkcs1,
    ]);
    run_cmd(cmd, b"").code(0);
    assert!(
        std::fs::read_to_string(&pkcs1)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    let r = sign_with(DOMAIN, "rsa", &pkcs1, &["-a", "rsa-sha256"], &msg);
    let v = keys.verify(&[], r.ok());
    v.code(0);
    assert!(
        v.stdout_str()
            .starts_with("dkim=pass header.d=example.org header.s=rsa header.a=rsa-sha256")
    );
    // A field list without From, a domain with a line break: 64, nothing
    // written.
    let key = keys.path("ed.key");
    for (domain, fields) in [(DOMAIN, "to:subject"), ("example.org\nBcc: x", "from")] {
        let r = sign_with(domain, "ed", &key, &["-h", fields], &msg);
        r.code(64).one_line_error("mime-dkim");
        assert!(r.stdout.is_empty());
    }
    // keygen never overwrites a key.
    let r = run(
        "mime-dkim",
        &[
            "keygen",
            "-d",
            DOMAIN,
            "-s",
            "ed",
            "-a",
            "ed25519",
            "-o",
            &keys.path("ed.key"),
        ],
        b"",
    );
    assert_ne!(r.code, 0);
}

/// verify through DNS (`--dns`): both keys found (the RSA record in two
/// strings), an unknown selector permerror, a server that never answers
/// temperror and exit 75.
#[test]
fn verify_through_dns() {
    let keys = Keys::new();
    let text = |sel: &str| {
        let zone = std::fs::read_to_string(keys.path(&format!("{sel}.txt"))).unwrap();
        zone.split('"').skip(1).step_by(2).collect::<String>()
    };
    let records = [
        (format!("rsa._domainkey.{DOMAIN}"), text("rsa")),
        (format!("ed._domainkey.{DOMAIN}"), text("ed")),
    ];
    assert!(records[0].1.len() > 255);
    let zones: Vec<(&str, Zone)> = records
        .iter()
        .map(|(n, t)| (n.as_str(), Zone::Txt(t.clone())))
        .chain([("slow._domainkey.example.org", Zone::Silent)])
        .collect();
    let dns = Dns::start(&zones);
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    let signed = keys.sign(&["rsa", "ed"], "relaxed", &msg).ok().to_vec();
    let arg = dns.addr.to_string();
    let r = run("mime-dkim", &["verify", "--dns", &arg], &signed);
    r.code(0);
    assert_eq!(
        r.stdout_str().matches("dkim=pass").count(),
        2,
        "{}",
        r.stdout_str()
    );

    // The RSA signature passes beside the unknown selector (exit 1); the
    // silent server alone gives 75.
    let ed_only = keys.sign(&["ed"], "relaxed", &msg).ok().to_vec();
    let cases = [
        (signed, "s=gone;", 1, "dkim=permerror"),
        (ed_only, "s=slow;", 75, "dkim=temperror"),
    ];
    for (message, selector, code, result) in cases {
        let message = String::from_utf8(message)
            .unwrap()
            .replacen("s=ed;", selector, 1);
        let r = run("mime-dkim", &["verify", "--dns", &arg], message.as_bytes());
        r.code(code);
        let name = selector.trim_end_matches(';');
        let want = format!("{result} header.d=example.org header.{name}");
        assert!(r.stdout_str().contains(&want), "{}", r.stdout_str());
    }
}

/// dkimpy's own command-line signer (`dkimsign`, in python3-dkim) signs;
/// we verify against the records, each canonicalization pair, both
/// algorithms. (Its `dkimverify` asks live DNS only, so it has no place
/// in a loopback test; its library is the other direction, above.)
#[test]
fn dkimpy_dkimsign_tool_signs_we_verify() {
    let Some(_) = dkimpy("dkimpy_dkimsign_tool_signs_we_verify") else {
        return;
    };
    let keys = Keys::new();
    // dkimsign reads an Ed25519 key as its 32-byte seed in base64 (RFC
    // 8463 §A.1's form), not as PKCS#8 PEM: the seed is the OCTET STRING
    // inside the privateKey OCTET STRING (RFC 8410 §7: 04 22 04 20 ...).
    let pem = std::fs::read_to_string(keys.path("ed.key")).unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .unwrap();
    let at = der
        .windows(4)
        .position(|w| w == [0x04, 0x22, 0x04, 0x20])
        .expect("an Ed25519 PKCS#8 key")
        + 4;
    let seed = base64::engine::general_purpose::STANDARD.encode(&der[at..at + 32]);
    let ed_seed = write_file(keys.dir.path(), "ed.seed", seed.as_bytes());
    let msg = write_file(keys.dir.path(), "msg.eml", MESSAGE);
    for (sel, alg, key) in [
        ("rsa", "rsa-sha256", PathBuf::from(keys.path("rsa.key"))),
        ("ed", "ed25519-sha256", ed_seed.clone()),
    ] {
        for (h, b) in [
            ("relaxed", "relaxed"),
            ("simple", "simple"),
            ("relaxed", "simple"),
            ("simple", "relaxed"),
        ] {
            let out = Command::new("dkimsign")
                .args(["--signalg", alg, "--hcanon", h, "--bcanon", b, sel, DOMAIN])
                .arg(&key)
                .stdin(std::fs::File::open(&msg).unwrap())
                .output()
                .expect("dkimsign");
            let signed = out.stdout;
            assert!(
                signed.starts_with(b"DKIM-Signature:"),
                "dkimsign {alg} {h}/{b} did not sign: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let r = keys.verify(&[], &signed);
            r.code(0);
            assert!(
                r.stdout_str().starts_with(&format!(
                    "dkim=pass header.d={DOMAIN} header.s={sel} header.a={alg}"
                )),
                "{alg} {h}/{b}: {}",
                r.stdout_str()
            );
        }
    }
}

/// OpenDKIM (the milter, in its test mode `-t`, with the keys given by
/// `TestPublicKeys`: no DNS, no daemon) against us, both directions, over
/// the shared corpus and in both canonicalizations: it verifies what we
/// sign (RSA and Ed25519) and we verify what it signs (RSA: it cannot read
/// ring's Ed25519 PKCS#8 v2 keys); a changed body fails on its side too.
#[test]
fn opendkim_both_directions() {
    let Some(opendkim) = crate::peers::peer("opendkim", "opendkim_both_directions") else {
        return;
    };
    let mut files = corpus("opendkim_both_directions").unwrap_or_default();
    let keys = Keys::new();
    files.push(write_file(keys.dir.path(), "rfc.eml", MESSAGE));
    // TestPublicKeys: "NAME RECORD" lines.
    let table: String = ["rsa", "ed"]
        .iter()
        .map(|sel| {
            let zone = std::fs::read_to_string(keys.path(&format!("{sel}.txt"))).unwrap();
            let record: String = zone.split('"').skip(1).step_by(2).collect();
            format!("{sel}._domainkey.{DOMAIN} {record}\n")
        })
        .collect();
    let public = write_file(keys.dir.path(), "public", table.as_bytes());
    let config = |name: &str, lines: &str| {
        // The keys live under /tmp, which others can write: OpenDKIM
        // refuses such keys unless told it is a test.
        let text = format!("Syslog no\nRequireSafeKeys false\n{lines}");
        write_file(keys.dir.path(), name, text.as_bytes())
    };
    let verifying = config(
        "verify.conf",
        &format!("Mode v\nTestPublicKeys {}\n", public.display()),
    );
    // `opendkim -t FILE -v`: "FILE: verification (...) succeeded" or
    // "failed" on standard output; None for a message it cannot read: one
    // it calls malformed (exit 65, a header line it cannot parse; it stops
    // the whole run, so one file at a time), or one it finds "not signed"
    // (its test mode loses the header of the corpus messages with body
    // lines of 7000 octets).
    let opendkim_verify = |file: &Path| -> Option<String> {
        let mut cmd = Command::new(&opendkim);
        cmd.arg("-x").arg(&verifying).arg("-t").arg(file).arg("-v");
        let r = run_cmd(cmd, b"");
        if r.code == 65 {
            return None;
        }
        let out = String::from_utf8_lossy(&r.stdout).into_owned();
        if out.contains(": message not signed") {
            return None;
        }
        let line = out.lines().find(|l| l.contains(": verification"));
        Some(
            line.unwrap_or_else(|| panic!("{}: {out} {}", file.display(), r.stderr))
                .to_owned(),
        )
    };
    for canon in ["relaxed/relaxed", "simple/simple"] {
        // We sign (both keys), OpenDKIM verifies every signature.
        let out = tempfile::tempdir().unwrap();
        let mut signed = Vec::new();
        for (n, f) in files.iter().enumerate() {
            if canon.starts_with("simple") && !opendkim_reads_as_is(&std::fs::read(f).unwrap()) {
                continue;
            }
            for sel in ["rsa", "ed"] {
                let r = keys.sign(&[sel], canon, f);
                if r.code == 65 {
                    continue; // no From: refused by both (corpus_both_ways)
                }
                let p = out.path().join(format!("{n}-{sel}.eml"));
                std::fs::write(&p, r.ok()).unwrap();
                signed.push(p);
            }
        }
        let lines: Vec<String> = signed.iter().filter_map(|p| opendkim_verify(p)).collect();
        let bad: Vec<&String> = lines.iter().filter(|l| !l.ends_with("succeeded")).collect();
        assert!(bad.is_empty(), "{canon}: OpenDKIM: {bad:?}");
        // Both signatures of the RFC example and of most of the corpus
        // messages we sign (36 of 46 here: OpenDKIM cannot read the
        // others, see opendkim_verify).
        assert!(
            lines.len() * 4 >= signed.len() * 3 && signed.len() >= 2,
            "{canon}: {} of {} verified",
            lines.len(),
            signed.len()
        );
        // A changed body fails there as here.
        let first = std::fs::read_to_string(&signed[0]).unwrap();
        let (head, body) = first.split_once("\n\n").unwrap_or((&first, ""));
        let tampered = write_file(
            out.path(),
            "tampered.eml",
            format!("{head}\n\n{body}changed\n").as_bytes(),
        );
        let line = opendkim_verify(&tampered).expect("readable");
        assert!(line.contains("failed"), "{line}");

        // OpenDKIM signs (RSA), we verify.
        let signing = config(
            "sign.conf",
            &format!(
                "Mode s\nDomain {DOMAIN}\nSelector rsa\nKeyFile {}\n\
                 SignatureAlgorithm rsa-sha256\nCanonicalization {canon}\n",
                keys.path("rsa.key")
            ),
        );
        let mut verified = 0;
        for f in &files {
            let mut cmd = Command::new(&opendkim);
            cmd.arg("-x").arg(&signing).arg("-t").arg(f).arg("-vvv");
            let r = run_cmd(cmd, b"");
            // Test mode prints the field it would insert:
            // ### INSHEADER: idx=0 hname='DKIM-Signature' hvalue='...'
            let text = String::from_utf8_lossy(&r.stdout).into_owned();
            let Some(value) = text
                .split("hname='DKIM-Signature' hvalue='")
                .nth(1)
                .and_then(|v| v.split('\'').next())
            else {
                continue; // nothing signed (no From, say)
            };
            let mut message = format!("DKIM-Signature: {value}\n").into_bytes();
            message.extend(std::fs::read(f).unwrap());
            let r = keys.verify(&[], &message);
            assert_eq!(r.code, 0, "{canon} {}: {}", f.display(), r.stdout_str());
            verified += 1;
        }
        assert!(verified >= 1, "{canon}: OpenDKIM signed nothing");
    }
}

/// Whether OpenDKIM's test mode hashes `msg` as its bytes are, which
/// `simple` canonicalization (RFC 6376 §3.4.1, §3.4.3: nothing changed)
/// needs. It does not when:
/// - a header field has other than one space after its colon: the
///   milter protocol hands OpenDKIM a field's name and value apart, and
///   the field is rebuilt as `Name: value` (`To:  x` is hashed as `To: x`);
/// - the message does not end with a line end (§3.4.3 adds the CRLF; its
///   test mode does not);
/// - a line is over 998 octets (its test mode reads in pieces).
///
/// dkimpy, which reads the bytes, verifies all of these
/// (corpus_both_ways); `relaxed` is not affected.
fn opendkim_reads_as_is(msg: &[u8]) -> bool {
    let text = String::from_utf8_lossy(msg);
    let head = text.split("\n\r\n").next().unwrap_or_default();
    let head = head.split("\n\n").next().unwrap_or_default();
    let spacing = head
        .lines()
        .filter(|l| !l.starts_with([' ', '\t']) && !l.starts_with("From "))
        .all(|l| {
            l.split_once(':').is_some_and(|(_, v)| {
                let v = v.trim_end_matches('\r');
                v.is_empty() || (v.starts_with(' ') && !v[1..].starts_with([' ', '\t']))
            })
        });
    spacing && text.ends_with('\n') && text.lines().all(|l| l.len() <= 1000)
}
