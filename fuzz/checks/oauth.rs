//! OAuth (RFC 6749, RFC 7628): the token endpoint's answers, the token
//! store's account files that `smtp-send`'s `oauth =` and `smtp-oauth`
//! read, and the XOAUTH2 and OAUTHBEARER messages `smtp-recv` reads from
//! a client.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use mailpipe::send::oauth::http::Reply;
use mailpipe::send::oauth::store::Store;
use mailpipe::send::oauth::token::{self, Answer};
use mailpipe::smtp::sasl::bearer;

/// Byte 0 chooses what the rest is. A token endpoint's answer (its status
/// chosen by byte 0 too) is tokens with an access token that is not
/// empty, a refusal with its code, or an error of one short line (never
/// the body's content). An account file (mode 0600 in a 0700 store) that
/// loads saves and loads again to the same JSON. A bearer message that
/// parses names a user that is not empty.
pub fn oauth(data: &[u8]) {
    let [which, input @ ..] = data else {
        return;
    };
    if which & 2 != 0 {
        let status = [200, 400, 401, 503][usize::from(which >> 2) % 4];
        let url = "https://auth.example/token";
        match token::answer(url, &Reply::new(url, status, input.to_vec())) {
            Ok(Answer::Granted(g)) => assert!(!g.access_token.as_str().is_empty()),
            Ok(Answer::Refused(r)) => assert!(status != 200, "{r}"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.len() < 300 && !text.contains('\n'), "{text:?}");
            }
        }
        return;
    }
    if which & 1 != 0 {
        for b in [
            bearer::parse_xoauth2(input),
            bearer::parse_oauthbearer(input),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!b.user.is_empty(), "{b:?}");
        }
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::new(dir.path().to_path_buf());
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("fuzz"))
        .and_then(|mut f| f.write_all(input))
        .expect("write the account file");
    let Ok(account) = store.load("fuzz") else {
        return;
    };
    let json = serde_json::to_string(&account).expect("an account serializes");
    store.save("again", &account).expect("save");
    let again = store.load("again").expect("its own file loads");
    assert_eq!(serde_json::to_string(&again).expect("serializes"), json);
}
