//! The server's reading of the OAuth 2.0 bearer-token mechanisms, whose
//! messages the client side builds in [`super::start`]:
//!
//! - XOAUTH2 (Google's format, also Microsoft's):
//!   `user=USER ^A auth=Bearer TOKEN ^A ^A`.
//! - OAUTHBEARER (RFC 7628 §3.1): `client-resp = gs2-header kvsep *kvpair
//!   kvsep`, the GS2 header `n,a=USER,` (RFC 5801 §4), the kvpairs `auth`
//!   (required), `host` and `port`.
//!
//! Both end in `^A^A` (`^A` is the key-value separator, %x01). A server that
//! refuses the token does not answer 535 at once: it sends the error
//! challenge ([`ERROR_CHALLENGE`], RFC 7628 §3.2.2), the client answers it
//! with a dummy response, and only then comes the failure (§3.2.3).
//!
//! Departures: OAUTHBEARER without a user (`n,,`) is refused as malformed,
//! since the server has no token introspection and finds the token by the
//! user; channel binding (`p=`: OAUTHBEARER has none) and the GS2 flag
//! `F,` (RFC 5801 §4: for GS2 mechanisms over a non-standard GSS-API
//! mechanism, which OAUTHBEARER is not) are refused. Keys other than
//! `user`/`auth` and `auth`/`host`/`port` are ignored, as RFC 7628 §3.1
//! lets new ones come.

use std::borrow::Cow;

/// The key-value separator (RFC 7628 §3.1: `kvsep = %x01`).
pub const KVSEP: u8 = 0x01;

/// The error challenge sent (base64-encoded) in a `334` when the token is
/// refused: RFC 7628 §3.2.2's JSON object with the required `status` (an
/// RFC 6750 §3.1 error code) and `schemes`, as Google's XOAUTH2 error
/// carries. No `scope`: this server asks for none, and the member is
/// optional.
pub const ERROR_CHALLENGE: &str = r#"{"status":"invalid_token","schemes":"bearer"}"#;

/// What a client's message names: who, and with which token.
#[derive(PartialEq, Eq)]
pub struct Bearer<'a> {
    /// The user (XOAUTH2 `user=`, OAUTHBEARER `a=`, unescaped), not empty;
    /// the server decides whether it is a valid name.
    pub user: Cow<'a, [u8]>,
    /// The access token after `Bearer `.
    pub token: &'a [u8],
}

/// Never shows the token.
impl std::fmt::Debug for Bearer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = String::from_utf8_lossy(&self.user);
        write!(f, "Bearer {{ user: {user:?}, token: *** }}")
    }
}

/// An XOAUTH2 message: `user=` and `auth=` kvpairs, each once, in any order.
/// The error names what is wrong (for tests and nothing else: the client
/// gets `501`).
pub fn parse_xoauth2(message: &[u8]) -> Result<Bearer<'_>, &'static str> {
    let mut user = None;
    let mut auth = None;
    for (key, value) in kvpairs(message)? {
        let slot = match key {
            b"user" => &mut user,
            b"auth" => &mut auth,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err("a key given twice");
        }
    }
    let user = user.filter(|u| !u.is_empty()).ok_or("no user=")?;
    Ok(Bearer {
        user: Cow::Borrowed(user),
        token: bearer_token(auth)?,
    })
}

/// An OAUTHBEARER client response (RFC 7628 §3.1).
pub fn parse_oauthbearer(message: &[u8]) -> Result<Bearer<'_>, &'static str> {
    let sep = message
        .iter()
        .position(|&b| b == KVSEP)
        .ok_or("no ^A after the GS2 header")?;
    let (header, rest) = message.split_at(sep);
    let user = gs2_user(header)?;
    let mut auth = None;
    for (key, value) in kvpairs(&rest[1..])? {
        if key == b"auth" && auth.replace(value).is_some() {
            return Err("a key given twice");
        }
    }
    Ok(Bearer {
        user,
        token: bearer_token(auth)?,
    })
}

/// `gs2-header = gs2-cb-flag "," [gs2-authzid] ","` (RFC 5801 §4), the flag
/// `n` (no channel binding) or `y` (the client could bind but thinks the
/// server cannot, which is so here); `gs2-authzid = "a=" saslname`.
fn gs2_user(header: &[u8]) -> Result<Cow<'_, [u8]>, &'static str> {
    let authzid = match header {
        [b'n' | b'y', b',', rest @ ..] => rest,
        [b'p', b'=', ..] => return Err("channel binding not supported"),
        _ => return Err("GS2 header not n, or y,"),
    };
    let authzid = authzid
        .strip_suffix(b",")
        .ok_or("GS2 header does not end with ,")?;
    if authzid.is_empty() {
        return Err("no user (a=) in the GS2 header");
    }
    let name = authzid.strip_prefix(b"a=").ok_or("GS2 authzid not a=")?;
    if name.is_empty() {
        return Err("no user (a=) in the GS2 header");
    }
    saslname(name)
}

/// RFC 5802 §5.1 as RFC 5801 §4 uses it: in a saslname `,` is `=2C` and `=`
/// is `=3D`; any other `=`, or a bare `,`, is malformed.
fn saslname(name: &[u8]) -> Result<Cow<'_, [u8]>, &'static str> {
    if !name.contains(&b'=') && !name.contains(&b',') {
        return Ok(Cow::Borrowed(name));
    }
    let mut out = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some(&b) = rest.first() {
        let (byte, len) = match (b, rest.get(1..3)) {
            (b'=', Some(b"2C")) => (b',', 3),
            (b'=', Some(b"3D")) => (b'=', 3),
            (b'=' | b',', _) => return Err("bad escape in the GS2 authzid"),
            _ => (b, 1),
        };
        out.push(byte);
        rest = &rest[len..];
    }
    Ok(Cow::Owned(out))
}

/// A key and its value.
type KvPair<'a> = (&'a [u8], &'a [u8]);

/// `*kvpair kvsep` with `kvpair = key "=" value kvsep`, `key = 1*ALPHA`
/// (RFC 7628 §3.1): the message ends with `^A^A` (after at least one pair),
/// its pairs split at `^A`.
fn kvpairs(message: &[u8]) -> Result<Vec<KvPair<'_>>, &'static str> {
    let pairs = message
        .strip_suffix(&[KVSEP, KVSEP])
        .ok_or("does not end with ^A^A")?;
    pairs
        .split(|&b| b == KVSEP)
        .map(|pair| {
            let eq = pair
                .iter()
                .position(|&b| b == b'=')
                .ok_or("no = in a pair")?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
                return Err("a key not letters");
            }
            Ok((key, value))
        })
        .collect()
}

/// `auth-value = "Bearer" 1*SP b64token` (RFC 7628 §3.1, RFC 6750 §2.1;
/// the scheme name is case-insensitive, RFC 7235 §2.1).
fn bearer_token(auth: Option<&[u8]>) -> Result<&[u8], &'static str> {
    let auth = auth.ok_or("no auth=")?;
    let token = auth
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"Bearer "))
        .map(|_| auth[7..].trim_ascii_start())
        .ok_or("auth= not Bearer")?;
    if !token.iter().all(|&b| is_b64token(b)) || token.is_empty() {
        return Err("token not a b64token");
    }
    Ok(token)
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// (RFC 6750 §2.1), checked by character only: a token is compared as a
/// whole afterwards, so where its `=` stand does not matter.
fn is_b64token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(parsed: Result<Bearer<'_>, &'static str>) -> (String, String) {
        let b = parsed.unwrap();
        (
            String::from_utf8(b.user.into_owned()).unwrap(),
            String::from_utf8(b.token.to_vec()).unwrap(),
        )
    }

    fn pair(user: &str, token: &str) -> (String, String) {
        (user.to_owned(), token.to_owned())
    }

    #[test]
    fn xoauth2_good() {
        // Google's documented example (developers.google.com, "OAuth 2.0
        // Mechanism": user=someuser@example.com^Aauth=Bearer ya29...^A^A).
        let msg = b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01";
        assert_eq!(
            ok(parse_xoauth2(msg)),
            pair(
                "someuser@example.com",
                "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
            )
        );
        // The scheme in any case, spaces before the token, keys in any
        // order, unknown keys ignored.
        let msg = b"auth=bearer   t0k3n==\x01x=y\x01user=u\x01\x01";
        assert_eq!(ok(parse_xoauth2(msg)), pair("u", "t0k3n=="));
    }

    #[test]
    fn xoauth2_malformed() {
        for (msg, why) in [
            (&b"user=u\x01\x01"[..], "no auth="),
            (b"auth=Bearer t\x01\x01", "no user="),
            (b"user=\x01auth=Bearer t\x01\x01", "no user="),
            (b"user=u\x01auth=Bearer t\x01", "does not end with ^A^A"),
            (b"user=u\x01auth=Bearer t", "does not end with ^A^A"),
            (b"user=u\x01auth=Bearer t\x01\x01\x01", "no = in a pair"),
            (b"\x01\x01", "no = in a pair"),
            (b"", "does not end with ^A^A"),
            (b"user=u\x01auth=Basic dTpw\x01\x01", "auth= not Bearer"),
            (b"user=u\x01auth=Bearer\x01\x01", "auth= not Bearer"),
            (b"user=u\x01auth=Bearer \x01\x01", "token not a b64token"),
            (b"user=u\x01auth=Bearer a b\x01\x01", "token not a b64token"),
            (
                b"user=u\x01auth=Bearer t\x01auth=Bearer s\x01\x01",
                "a key given twice",
            ),
            (
                b"user=u\x01user=v\x01auth=Bearer t\x01\x01",
                "a key given twice",
            ),
            (b"us er=u\x01auth=Bearer t\x01\x01", "a key not letters"),
            (b"=u\x01auth=Bearer t\x01\x01", "a key not letters"),
        ] {
            assert_eq!(parse_xoauth2(msg).unwrap_err(), why, "{msg:?}");
        }
    }

    #[test]
    fn oauthbearer_good() {
        // RFC 7628 §4.1's example, with host and port.
        let msg = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
        assert_eq!(
            ok(parse_oauthbearer(msg)),
            pair(
                "user@example.com",
                "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
            )
        );
        // GS2 header variants: `y` (RFC 5801 §4: the client could bind),
        // escapes in the saslname (RFC 5802 §5.1).
        for (msg, user) in [
            (&b"y,a=u,\x01auth=Bearer t\x01\x01"[..], "u"),
            (b"n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01", "a,b=c"),
            (b"n,a=\xc3\xa9=3D,\x01auth=Bearer t\x01\x01", "\u{e9}="),
        ] {
            assert_eq!(ok(parse_oauthbearer(msg)), pair(user, "t"), "{msg:?}");
        }
    }

    #[test]
    fn oauthbearer_malformed() {
        for (msg, why) in [
            (&b"n,a=u,\x01host=h\x01\x01"[..], "no auth="),
            (b"n,a=u,\x01auth=Bearer t\x01", "does not end with ^A^A"),
            (b"n,a=u,\x01auth=Bearer t", "does not end with ^A^A"),
            (b"n,a=u,\x01\x01", "does not end with ^A^A"),
            (b"n,a=u,", "no ^A after the GS2 header"),
            // The dummy response is no client-resp to start with.
            (b"\x01", "GS2 header not n, or y,"),
            (
                b"n,,\x01auth=Bearer t\x01\x01",
                "no user (a=) in the GS2 header",
            ),
            (
                b"n,a=,\x01auth=Bearer t\x01\x01",
                "no user (a=) in the GS2 header",
            ),
            (
                b"p=tls-unique,a=u,\x01auth=Bearer t\x01\x01",
                "channel binding not supported",
            ),
            (
                b"F,n,a=u,\x01auth=Bearer t\x01\x01",
                "GS2 header not n, or y,",
            ),
            (
                b"n,a=u\x01auth=Bearer t\x01\x01",
                "GS2 header does not end with ,",
            ),
            (b"n,u,\x01auth=Bearer t\x01\x01", "GS2 authzid not a="),
            (
                b"n,a=u=2c,\x01auth=Bearer t\x01\x01",
                "bad escape in the GS2 authzid",
            ),
            (
                b"n,a=u=,\x01auth=Bearer t\x01\x01",
                "bad escape in the GS2 authzid",
            ),
            (
                b"n,a=u,v,\x01auth=Bearer t\x01\x01",
                "bad escape in the GS2 authzid",
            ),
            (
                b"n,a=u,\x01auth=Bearer t\x01auth=Bearer t\x01\x01",
                "a key given twice",
            ),
            (b"n,a=u,\x01auth=OAuth t\x01\x01", "auth= not Bearer"),
        ] {
            assert_eq!(parse_oauthbearer(msg).unwrap_err(), why, "{msg:?}");
        }
    }

    #[test]
    fn token_never_in_debug() {
        let b = parse_xoauth2(b"user=u\x01auth=Bearer s3cret\x01\x01").unwrap();
        assert_eq!(format!("{b:?}"), r#"Bearer { user: "u", token: *** }"#);
    }

    #[test]
    fn error_challenge_is_rfc7628_json() {
        // §3.2.2: a JSON object with a "status" member.
        assert!(ERROR_CHALLENGE.starts_with(r#"{"status":"invalid_token""#));
        assert!(ERROR_CHALLENGE.ends_with('}'));
    }
}
