//! The token-signing keys: RSA 2048 keys kept in
//! `{data_dir}/identity/signing-key.pem` (PKCS#8), created on first start and
//! reused afterwards, so tokens survive restarts and every process sharing the
//! data directory signs and verifies with the same key. The file holds the
//! key that signs first, then the keys it replaced, newest first
//! ([`KeyRing`]): a rotation prepends a new key, and tokens signed with the
//! earlier ones still verify (and are published in the JWKS) until they fall
//! off the end.
//!
//! The JWKS publishes the key with a self-signed certificate (`x5c`) as Entra
//! does. The certificate is derived deterministically from the key (fixed
//! subject, serial and validity; PKCS#1 v1.5 signatures are deterministic), so
//! `kid` = `x5t` = base64url(SHA-1(certificate)) is stable without storing the
//! certificate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use sha1::Digest as _;

use crate::data_dir;

/// The file name of the signing key inside `{data_dir}/identity/`.
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
/// How many keys a ring keeps: the current one and the four it replaced.
pub const KEPT_KEYS: usize = 5;

/// The RSA key that signs every token and artifact the service issues.
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    n: String,
    e: String,
    /// Standard base64 of the DER certificate, for `x5c`.
    x5c: String,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey").field("kid", &self.kid).field("path", &self.path).finish()
    }
}

impl SigningKey {
    /// The key that signs now, from `{data_dir}/identity/signing-key.pem`
    /// (created on first use).
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let (path, text) = key_file(data_dir)?;
        let first = pem_blocks(&text).into_iter().next().unwrap_or_default();
        let mut key = Self::from_pkcs8_pem(&first)
            .with_context(|| format!("invalid signing key in {}", path.display()))?;
        key.path = Some(path);
        Ok(key)
    }

    /// Builds the key from PKCS#8 PEM text.
    pub fn from_pkcs8_pem(pem: &str) -> anyhow::Result<Self> {
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem).context("not a PKCS#8 RSA private key")?;
        anyhow::ensure!(private.size() * 8 >= 2048, "the signing key must have at least 2048 bits");
        let pkcs1 = private.to_pkcs1_der().context("cannot encode the signing key")?;
        let encoding = EncodingKey::from_rsa_der(pkcs1.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let decoding =
            DecodingKey::from_rsa_components(&n, &e).context("cannot build the verification key")?;
        let cert_der = self_signed_certificate(pem)?;
        let kid = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&cert_der));
        Ok(Self { encoding, decoding, kid, n, e, x5c: STANDARD.encode(&cert_der), path: None })
    }

    /// `kid` (and `x5t`): the certificate's base64url SHA-1 thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key file, when the key came from the data directory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// Signs `claims` as an RS256 JWT with `kid` and `x5t` in the header, as
    /// Entra's v1 tokens have. `typ` distinguishes access tokens ("JWT") from
    /// auditgraph's own artifacts (codes, refresh tokens), which also differ in
    /// `aud`, so one can never be used as the other.
    pub fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(typ.to_string());
        header.kid = Some(self.kid.clone());
        header.x5t = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("cannot sign token")
    }

    /// This key as a JWK (identity.md §4). `issuer` is added for the v2 key
    /// document, as Entra does.
    pub fn jwk(&self, issuer: Option<&str>) -> serde_json::Value {
        let mut jwk = serde_json::json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
            "x5c": [self.x5c],
        });
        if let (Some(issuer), Some(map)) = (issuer, jwk.as_object_mut()) {
            map.insert("issuer".into(), serde_json::Value::String(issuer.to_string()));
        }
        jwk
    }
}

/// The key file's path and text, creating it with a new key on first use.
fn key_file(data_dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let path = data_dir.join("identity").join(SIGNING_KEY_FILE);
    if !path.exists() {
        let pem = generate_pem()?;
        if data_dir::create_once(&path, pem.as_bytes(), true)? {
            tracing::info!(path = %path.display(), "created token signing key");
        }
    }
    let text = data_dir::read_text(&path)?;
    Ok((path, text))
}

/// The PEM blocks of a key file, in order.
fn pem_blocks(text: &str) -> Vec<String> {
    const END: &str = "-----END PRIVATE KEY-----";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let (Some(start), Some(end)) = (rest.find("-----BEGIN"), rest.find(END)) {
        if end < start {
            break;
        }
        blocks.push(format!("{}\n", &rest[start..end + END.len()]));
        rest = &rest[end + END.len()..];
    }
    blocks
}

/// The service's signing keys, shared by every clone: the first signs, all
/// verify. Swapped whole when the keys rotate, here or on another instance.
#[derive(Clone)]
pub struct KeyRing(Arc<RwLock<Arc<Vec<Arc<SigningKey>>>>>);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.keys().iter().map(|k| k.kid.clone()).collect();
        f.debug_tuple("KeyRing").field(&kids).finish()
    }
}

impl KeyRing {
    /// The ring in `{data_dir}/identity/signing-key.pem`, created with one key on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<KeyRing> {
        let (path, text) = key_file(data_dir)?;
        Self::parse(&text).with_context(|| format!("invalid signing key in {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<KeyRing> {
        let ring = KeyRing(Arc::new(RwLock::new(Arc::new(Vec::new()))));
        ring.replace(text)?;
        Ok(ring)
    }

    /// Takes the keys of a key file's text (a rotation's result).
    pub fn replace(&self, text: &str) -> anyhow::Result<()> {
        let keys = pem_blocks(text)
            .iter()
            .map(|pem| SigningKey::from_pkcs8_pem(pem).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "no PKCS#8 private key");
        *self.0.write().expect("key ring") = Arc::new(keys);
        Ok(())
    }

    /// The key that signs.
    pub fn current(&self) -> Arc<SigningKey> {
        self.keys()[0].clone()
    }

    /// Every key, the one that signs first.
    pub fn keys(&self) -> Arc<Vec<Arc<SigningKey>>> {
        self.0.read().expect("key ring").clone()
    }

    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys().iter().find(|k| k.kid == kid).cloned()
    }
}

/// A key file's text after a rotation: a new key first, then the ones it
/// had, up to [`KEPT_KEYS`].
pub fn rotated(text: &str) -> anyhow::Result<String> {
    let mut blocks = vec![generate_pem()?];
    blocks.extend(pem_blocks(text));
    blocks.truncate(KEPT_KEYS);
    Ok(blocks.concat())
}

/// Generates a fresh RSA 2048 key as PKCS#8 PEM. Slow in unoptimised builds;
/// see the crate's `[profile.dev.package.num-bigint-dig]`.
pub fn generate_pem() -> anyhow::Result<String> {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).context("cannot generate RSA key")?;
    Ok(key.to_pkcs8_pem(LineEnding::LF).context("cannot encode RSA key")?.to_string())
}

/// The deterministic self-signed certificate published in `x5c`.
fn self_signed_certificate(pkcs8_pem: &str) -> anyhow::Result<Vec<u8>> {
    let key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pkcs8_pem, &rcgen::PKCS_RSA_SHA256)
        .context("cannot use the signing key for its certificate")?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "auditgraph token signing");
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[1]));
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let cert = params.self_signed(&key).context("cannot create the signing certificate")?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_and_kid_are_deterministic() {
        let pem = crate::identity::test_support::signing_key_pem();
        let a = SigningKey::from_pkcs8_pem(pem).expect("key");
        let b = SigningKey::from_pkcs8_pem(pem).expect("key");
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.x5c, b.x5c);
        assert_eq!(a.kid().len(), 27, "base64url SHA-1");
        let jwk = a.jwk(Some("https://localhost:5443/t/v2.0"));
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["issuer"], "https://localhost:5443/t/v2.0");
    }

    #[test]
    fn a_rotation_puts_a_new_key_first_and_keeps_five() {
        let pem = crate::identity::test_support::signing_key_pem();
        let original = SigningKey::from_pkcs8_pem(pem).unwrap().kid().to_string();
        let ring = KeyRing::parse(pem).unwrap();
        let once = rotated(pem).unwrap();
        ring.replace(&once).unwrap();
        assert_ne!(ring.current().kid(), original);
        assert_eq!(ring.keys().len(), 2);
        assert!(ring.find(&original).is_some(), "the replaced key still verifies");
        let mut text = once;
        for _ in 0..5 {
            text = rotated(&text).unwrap();
        }
        ring.replace(&text).unwrap();
        assert_eq!(ring.keys().len(), KEPT_KEYS);
        assert!(ring.find(&original).is_none(), "the oldest fall off");
        assert!(KeyRing::parse("not a key").is_err());
    }
}
