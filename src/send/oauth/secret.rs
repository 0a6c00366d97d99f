//! Tokens and client secrets as [`Secret`]s that serde can read and write:
//! the JSON of a token response and of the store holds them, and nothing
//! else may see them (`Debug` prints `***`, the bytes are zeroed on drop).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::smtp::sasl::Secret;

/// An access token, refresh token, device code or client secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token(pub Secret);

impl Token {
    /// The token's text (tokens are ASCII: RFC 6749 Appendix A.12, A.17).
    pub fn as_str(&self) -> &str {
        // Built only from `String`s (JSON, files read as UTF-8): never fails.
        std::str::from_utf8(self.0.as_bytes()).unwrap_or_default()
    }
}

impl From<String> for Token {
    fn from(s: String) -> Token {
        Token(Secret::from(s))
    }
}

impl Serialize for Token {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        // The String moves into the Secret: no copy is left behind.
        String::deserialize(d).map(Token::from)
    }
}
