//! The SMTP client (`smtp::client::Client`) against a hostile server: a
//! whole session over an in-memory stream whose replies are the input.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use mailpipe::codec::base64;
use mailpipe::smtp::client::{Client, SendEnvelope};
use mailpipe::smtp::envelope::{Mailbox, ReversePath};
use mailpipe::smtp::sasl::{Mechanism, Secret};

use super::{Pieces, is_unsafe_char};

const USER: &str = "fuzz-user";
const PASSWORD: &str = "s3cr3t-fuzz-pass";

/// The server: hands out the input in pieces, one per read, whatever the
/// client wrote; keeps what the client wrote.
struct Server<'a> {
    pieces: std::vec::IntoIter<&'a [u8]>,
    wire: Shared,
}

impl Read for Server<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let Some(piece) = self.pieces.next() else {
            return Ok(0);
        };
        // Pieces are at most 64 bytes, and the client reads more at once.
        let n = piece.len().min(out.len());
        out[..n].copy_from_slice(&piece[..n]);
        Ok(n)
    }
}

impl Write for Server<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wire.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes written, shared: what the client sent, its `-v` transcript.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().expect("lock").clone()
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn mailbox(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local: local.into(),
        domain: domain.into(),
    }
}

/// Byte 0 cuts the server's replies, byte 1 chooses the mechanisms tried
/// (all six in turn), byte 2 the envelope (LMTP, chunking, 8-bit,
/// binary, partial, SIZE). The session: greeting, EHLO, AUTH with each
/// mechanism, a message, RSET, a second message, QUIT, as far as the
/// server lets it go. Whatever the server says: no panic; every line the
/// client writes ends with CRLF, with no bare CR or LF (the server's
/// words never become commands); the transcript (`-v`) is lines marked
/// `C: `, `S: ` or `=== `, printable, and its `C: ` lines hold neither
/// the password nor any base64 word the client sent that carries it; an
/// accepted SMTP message has a 2xx reply and only envelope recipients.
pub fn smtp_client(data: &[u8]) {
    let [seed, mechs, env_opts, replies @ ..] = data else {
        return;
    };
    let wire = Shared::default();
    let transcript = Shared::default();
    let server = Server {
        pieces: Pieces::new(*seed).split(replies).into_iter(),
        wire: wire.clone(),
    };
    let mut client = Client::new(server, Some(Box::new(transcript.clone())));
    let lmtp = env_opts & 1 != 0;
    client.set_lmtp(lmtp);
    session(&mut client, *mechs, *env_opts, lmtp);
    client.quit().ok();

    let wire = wire.bytes();
    assert!(
        wire.is_empty() || wire.ends_with(b"\r\n"),
        "last write not a whole line: {wire:?}"
    );
    for (i, &b) in wire.iter().enumerate() {
        let crlf = match b {
            b'\r' => wire.get(i + 1) == Some(&b'\n'),
            b'\n' => i > 0 && wire[i - 1] == b'\r',
            _ => true,
        };
        assert!(crlf, "bare CR or LF at {i} on the wire: {wire:?}");
    }
    // The base64 words the client sent that carry the password (PLAIN,
    // LOGIN, XOAUTH2, OAUTHBEARER).
    let secret_words: Vec<String> = String::from_utf8_lossy(&wire)
        .lines()
        .filter_map(|line| line.rsplit(' ').next())
        .filter(|word| {
            base64::decode_to_vec(word.as_bytes())
                .is_ok_and(|d| d.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()))
        })
        .map(str::to_owned)
        .collect();
    let transcript = String::from_utf8_lossy(&transcript.bytes()).into_owned();
    for line in transcript.lines() {
        assert!(
            ["C: ", "S: ", "=== "].iter().any(|p| line.starts_with(p)),
            "transcript line {line:?}"
        );
        assert!(
            !line.chars().any(is_unsafe_char),
            "an unsafe character in the transcript line {line:?}"
        );
        // The server's lines may say anything, the password too.
        if let Some(sent) = line.strip_prefix("C: ") {
            assert!(!sent.contains(PASSWORD), "password in the transcript");
            for word in &secret_words {
                assert!(
                    !sent.contains(word.as_str()),
                    "secret word {word:?} in the transcript"
                );
            }
        }
    }
}

fn session<S: Read + Write>(client: &mut Client<S>, mechs: u8, opts: u8, lmtp: bool) {
    if client.greet().is_err() || client.ehlo("client.example").is_err() {
        return;
    }
    let all = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::ScramSha256,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
    ];
    let secret = Secret::new(PASSWORD);
    for (i, mech) in all.into_iter().enumerate() {
        if mechs & (1 << i) != 0 && client.is_usable() {
            let _ = client.auth(mech, USER, &secret);
        }
    }
    let env = SendEnvelope {
        from: ReversePath::Mailbox(mailbox("from", "example.org")),
        rcpts: vec![
            mailbox("a", "example.net"),
            mailbox("b", "example.net"),
            mailbox("c", "example.com"),
        ],
        chunking: opts & 2 != 0,
        eight_bit: opts & 4 != 0,
        binary: opts & 8 != 0,
        partial: opts & 16 != 0,
        size: (opts & 32 != 0).then_some(MESSAGE.len() as u64),
        ..SendEnvelope::default()
    };
    for _ in 0..2 {
        if !client.is_usable() {
            return;
        }
        if let Ok(sent) = client.send(&env, &mut &MESSAGE[..]) {
            if !lmtp {
                assert!((200..300).contains(&sent.reply.code), "{sent:?}");
            }
            for (m, _) in sent.replies.iter().chain(&sent.refused) {
                assert!(env.rcpts.contains(m), "{m:?} not in the envelope");
            }
        }
        if client.is_usable() {
            let _ = client.rset();
        }
    }
}

/// Lines that need dot-stuffing, 8-bit text, CRLF line ends.
const MESSAGE: &[u8] =
    b"From: from@example.org\r\nSubject: t\r\n\r\n.\r\n..x\r\n\xc3\xa9t\xc3\xa9\r\n.\r\nend\r\n";
