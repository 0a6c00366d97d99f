//! Keys: the private keys that sign (PEM, PKCS#1 or PKCS#8, read with
//! rustls-pki-types; the crypto is ring's) and the public key records
//! that verify (RFC 6376 §3.6.1, RFC 8463 §4).
//!
//! ring signs with RSA keys of 2048 to 4096 bits only (it refuses smaller
//! ones); RFC 8301 §3.2 asks signers for 1024 bits at least and 2048
//! recommended, so a 1024-bit key is refused here with that reason.
//! Verifying accepts RSA keys from 1024 bits (RFC 8301 §3.2: verifiers
//! MUST accept 1024 to 4096), through ring's
//! `RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY`; a smaller one is a
//! permanent error.

use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;

use crate::codec::base64;

crate::exit::message_error! {
    /// A private key that cannot sign, or a key that cannot be made.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct KeyError(pub String) => CONFIG;
}

/// A signing algorithm (§3.3, RFC 8463 §3). rsa-sha1 is absent on purpose:
/// RFC 8301 §3.1 forbids signing with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `rsa-sha256`.
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463).
    Ed25519Sha256,
}

impl Algorithm {
    /// The name in `a=`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa-sha256",
            Algorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key type in the record's `k=`.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "rsa",
            Algorithm::Ed25519Sha256 => "ed25519",
        }
    }

    /// The algorithm named `name`: an `a=` name, or the key type alone
    /// (`rsa`, `ed25519`) as the command line accepts it; case-insensitive.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::RsaSha256, Algorithm::Ed25519Sha256]
            .into_iter()
            .find(|a| {
                name.eq_ignore_ascii_case(a.name()) || name.eq_ignore_ascii_case(a.key_type())
            })
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private key ready to sign.
pub struct SigningKey {
    pair: Pair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.algorithm().name())
    }
}

fn rsa_refused(e: ring::error::KeyRejected) -> KeyError {
    if e.to_string().contains("TooSmall") {
        KeyError(
            "RSA key smaller than 2048 bits: ring signs with 2048 to 4096-bit keys only \
             (RFC 8301 recommends 2048)"
                .to_owned(),
        )
    } else {
        KeyError(format!("unusable RSA key: {e}"))
    }
}

impl SigningKey {
    /// The key of a PEM file: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY`
    /// (PKCS#8, RSA or Ed25519).
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| KeyError(format!("no private key in PEM form: {e}")))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs1(k) => {
                Pair::Rsa(RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(rsa_refused)?)
            }
            PrivateKeyDer::Pkcs8(k) => {
                let bytes = k.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(bytes) {
                    Ok(pair) => Pair::Rsa(pair),
                    Err(rsa) if rsa.to_string().contains("TooSmall") => {
                        return Err(rsa_refused(rsa));
                    }
                    // OpenSSL writes Ed25519 keys as PKCS#8 v1 (no public
                    // key inside): ring checks what it can.
                    Err(_) => {
                        Pair::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes).map_err(
                            |e| KeyError(format!("PKCS#8 key neither RSA nor Ed25519: {e}")),
                        )?)
                    }
                }
            }
            _ => {
                return Err(KeyError(
                    "an EC key: DKIM signs with RSA or Ed25519".to_owned(),
                ));
            }
        };
        Ok(SigningKey { pair })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match self.pair {
            Pair::Rsa(_) => Algorithm::RsaSha256,
            Pair::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }

    /// The size of an RSA key's modulus in bits.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.pair {
            Pair::Rsa(k) => Some(k.public().modulus_len() * 8),
            Pair::Ed25519(_) => None,
        }
    }

    /// The public key as the record's `p=` holds it: SubjectPublicKeyInfo
    /// for RSA (§3.6.1), the 32 bytes themselves for Ed25519 (RFC 8463 §4).
    pub fn public_key(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Rsa(k) => rsa_spki(k.public().as_ref()),
            Pair::Ed25519(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// The TXT record to publish at `SELECTOR._domainkey.DOMAIN` (§3.6.1).
    pub fn record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().key_type(),
            base64::encode_to_string(&self.public_key())
        )
    }

    /// Signs `data` (§3.7: the hash of the canonical header fields is
    /// computed by the algorithm: SHA-256 inside PKCS#1 v1.5, or Ed25519
    /// over the SHA-256 digest, RFC 8463 §3).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            Pair::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    data,
                    &mut sig,
                )
                .map_err(|_| KeyError("RSA signing failed".to_owned()))?;
                Ok(sig)
            }
            Pair::Ed25519(k) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, data);
                Ok(k.sign(digest.as_ref()).as_ref().to_vec())
            }
        }
    }
}

/// Makes a new Ed25519 key: its PKCS#8 PEM.
pub fn generate_ed25519() -> Result<String, KeyError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| KeyError("no randomness for a new key".to_owned()))?;
    let b64 = base64::encode_to_string(doc.as_ref());
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// A DER length (X.690 §8.1.3).
fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// RSAPublicKey (PKCS#1) wrapped in a SubjectPublicKeyInfo (RFC 5280
/// §4.1.2.7) with the rsaEncryption algorithm (RFC 8017 A.1).
fn rsa_spki(rsa_public_key: &[u8]) -> Vec<u8> {
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x03];
    der_len(rsa_public_key.len() + 1, &mut bits);
    bits.push(0); // no unused bits
    bits.extend_from_slice(rsa_public_key);
    let mut out = vec![0x30];
    der_len(ALGORITHM.len() + bits.len(), &mut out);
    out.extend_from_slice(&ALGORITHM);
    out.extend_from_slice(&bits);
    out
}

/// A public key from a record's `p=`, ready to verify.
#[derive(Debug)]
pub(crate) enum PublicKey {
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The 32 bytes of an Ed25519 key.
    Ed25519(Vec<u8>),
}

/// Why a public key cannot be used (a permanent error of §6.1.2).
pub(crate) fn parse_public(algorithm: Algorithm, der: &[u8]) -> Result<PublicKey, String> {
    match algorithm {
        Algorithm::Ed25519Sha256 => {
            if der.len() != 32 {
                return Err(format!("Ed25519 key of {} bytes, not 32", der.len()));
            }
            Ok(PublicKey::Ed25519(der.to_vec()))
        }
        Algorithm::RsaSha256 => {
            use x509_parser::prelude::FromDer as _;
            use x509_parser::public_key::PublicKey as X509Key;
            let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der)
                .map_err(|_| "key is not a SubjectPublicKeyInfo".to_owned())?;
            let Ok(X509Key::RSA(rsa)) = spki.parsed() else {
                return Err("key is not an RSA key".to_owned());
            };
            let n: Vec<u8> = rsa
                .modulus
                .iter()
                .copied()
                .skip_while(|&b| b == 0)
                .collect();
            let bits = n
                .first()
                .map_or(0, |&b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize));
            // RFC 8301 §3.2: keys under 1024 bits are not to be trusted.
            if bits < 1024 {
                return Err(format!("RSA key of {bits} bits (1024 at least, RFC 8301)"));
            }
            Ok(PublicKey::Rsa {
                n,
                e: rsa.exponent.to_vec(),
            })
        }
    }
}

impl PublicKey {
    /// Whether `sig` signs `data` under this key.
    pub(crate) fn verify(&self, data: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    data,
                    sig,
                )
                .is_ok(),
            PublicKey::Ed25519(key) => {
                let digest = ring::digest::digest(&ring::digest::SHA256, data);
                signature::UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(digest.as_ref(), sig)
                    .is_ok()
            }
        }
    }
}
