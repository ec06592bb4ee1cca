//! The token-signing key: an RSA 2048 key kept in
//! `{data_dir}/identity/signing-key.pem` (PKCS#8), created on first start and
//! reused afterwards, so tokens survive restarts and every process sharing the
//! data directory signs and verifies with the same key.
//!
//! The JWKS publishes the key with a self-signed certificate (`x5c`) as Entra
//! does. The certificate is derived deterministically from the key (fixed
//! subject, serial and validity; PKCS#1 v1.5 signatures are deterministic), so
//! `kid` = `x5t` = base64url(SHA-1(certificate)) is stable without storing the
//! certificate.

use std::path::{Path, PathBuf};

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
    /// Loads `{data_dir}/identity/signing-key.pem`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("identity").join(SIGNING_KEY_FILE);
        if !path.exists() {
            let pem = generate_pem()?;
            if data_dir::create_once(&path, pem.as_bytes(), true)? {
                tracing::info!(path = %path.display(), "created token signing key");
            }
        }
        let pem = data_dir::read_text(&path)?;
        let mut key = Self::from_pkcs8_pem(&pem)
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
}
