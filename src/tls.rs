//! TLS material for the https listener: a local CA and a server certificate
//! for localhost, 127.0.0.1 and ::1, created in `{data_dir}/tls/` on first start
//! and reused afterwards; or the user's own certificate and key.
//!
//! Files (all PEM):
//! - `ca.pem`: the CA certificate. Clients trust it through SSL_CERT_FILE,
//!   REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS; the banner prints its path.
//! - `ca-key.pem`: the CA key (mode 0600), kept so the server certificate can
//!   be re-issued under the same CA when it nears expiry or the names change.
//! - `server.pem`: the server certificate followed by the CA certificate.
//! - `server-key.pem`: the server key (mode 0600).
//! - `server.json`: the server certificate's names and expiry, so the reuse
//!   check needs no X.509 parser.
//!
//! Keys are ECDSA P-256 (ring can generate those; every client supports them).
//! rustls is built with the ring provider explicitly, never the process
//! default, so an aws-lc provider pulled in elsewhere cannot cause a panic.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Duration, Utc};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::data_dir;

/// The names every generated server certificate covers.
pub const DEFAULT_SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// Lifetime of a generated server certificate. 825 days is the longest that
/// Apple platforms accept for TLS server certificates.
const SERVER_CERT_DAYS: i64 = 825;
/// Re-issue the server certificate when fewer days than this remain.
const RENEW_BEFORE_DAYS: i64 = 30;

/// What the https listener needs.
pub struct TlsMaterial {
    /// Ready for `HttpServer::bind_rustls_0_23`.
    pub server_config: rustls::ServerConfig,
    /// The CA certificate clients must trust; `None` for a user certificate.
    pub ca_pem_path: Option<PathBuf>,
    /// The certificate chain in use.
    pub cert_path: PathBuf,
    /// True when this call created or re-issued a certificate.
    pub created: bool,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_pem_path", &self.ca_pem_path)
            .field("cert_path", &self.cert_path)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// Loads or creates the https certificate. With `user = Some((cert, key))` the
/// user's PEM chain and key are used as they are; otherwise the local CA in
/// `{data_dir}/tls/` is used (and created on first start).
pub fn load_or_create_tls(data_dir: &Path, user: Option<(&Path, &Path)>) -> anyhow::Result<TlsMaterial> {
    load_or_create_tls_for(data_dir, user, &[])
}

/// Like [`load_or_create_tls`], with extra DNS names or IP addresses for the
/// generated server certificate (e.g. the host of a configured https origin).
pub fn load_or_create_tls_for(
    data_dir: &Path,
    user: Option<(&Path, &Path)>,
    extra_names: &[String],
) -> anyhow::Result<TlsMaterial> {
    if let Some((cert_path, key_path)) = user {
        let chain = load_chain(cert_path)?;
        let key = PrivateKeyDer::from_pem_file(key_path)
            .with_context(|| format!("cannot read a private key from {}", key_path.display()))?;
        return Ok(TlsMaterial {
            server_config: server_config(chain, key)?,
            ca_pem_path: None,
            cert_path: cert_path.to_path_buf(),
            created: false,
        });
    }

    let dir = data_dir.join("tls");
    let ca_path = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server-key.pem");
    let meta_path = dir.join("server.json");

    let mut names: Vec<String> = DEFAULT_SERVER_NAMES.iter().map(|s| s.to_string()).collect();
    for n in extra_names {
        let n = n.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }

    let mut created = false;
    // The CA key is written before the CA certificate, so a process that sees
    // ca.pem can rely on ca-key.pem being complete.
    if !ca_path.exists() {
        let ca_key = rcgen::KeyPair::generate().context("cannot generate the CA key")?;
        let ca_key_pem = ca_key.serialize_pem();
        data_dir::create_once(&ca_key_path, ca_key_pem.as_bytes(), true)?;
        // Another process may have won the race for the key: use whatever is on disk.
        let ca_key =
            rcgen::KeyPair::from_pem(&data_dir::read_text(&ca_key_path)?).context("invalid CA key")?;
        let ca_cert = ca_params().self_signed(&ca_key).context("cannot create the CA certificate")?;
        created |= data_dir::create_once(&ca_path, ca_cert.pem().as_bytes(), false)?;
    }

    let meta: Option<ServerMeta> =
        std::fs::read_to_string(&meta_path).ok().and_then(|text| serde_json::from_str(&text).ok());
    let usable = meta.is_some_and(|m| {
        m.not_after - Utc::now() > Duration::days(RENEW_BEFORE_DAYS)
            && names.iter().all(|n| m.names.contains(n))
    }) && cert_path.exists()
        && key_path.exists();
    if !usable {
        issue_server_certificate(&ca_path, &ca_key_path, &cert_path, &key_path, &meta_path, &names)?;
        created = true;
    }

    let chain = load_chain(&cert_path)?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read a private key from {}", key_path.display()))?;
    Ok(TlsMaterial {
        server_config: server_config(chain, key)?,
        ca_pem_path: Some(ca_path),
        cert_path,
        created,
    })
}

#[derive(Serialize, Deserialize)]
struct ServerMeta {
    names: Vec<String>,
    not_after: DateTime<Utc>,
}

/// The CA's parameters. They are fixed so that an `Issuer` rebuilt from them
/// and the stored key signs certificates that chain to the stored `ca.pem`
/// (same subject, same key identifier).
fn ca_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "auditgraph local development CA");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "auditgraph");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let now = Utc::now();
    params.not_before = rcgen::date_time_ymd(now.year(), 1, 1);
    params.not_after = rcgen::date_time_ymd(now.year() + 20, 1, 1);
    params
}

fn issue_server_certificate(
    ca_path: &Path,
    ca_key_path: &Path,
    cert_path: &Path,
    key_path: &Path,
    meta_path: &Path,
    names: &[String],
) -> anyhow::Result<()> {
    let ca_key = rcgen::KeyPair::from_pem(&data_dir::read_text(ca_key_path)?).context("invalid CA key")?;
    let ca_pem = data_dir::read_text(ca_path)?;
    let issuer = rcgen::Issuer::new(ca_params(), ca_key);

    let mut params =
        rcgen::CertificateParams::new(names.to_vec()).context("invalid server certificate name")?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages =
        vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let yesterday = Utc::now() - Duration::days(1);
    // rcgen takes whole days; record the same midnight in server.json.
    let not_after = (yesterday + Duration::days(SERVER_CERT_DAYS))
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    params.not_before =
        rcgen::date_time_ymd(yesterday.year(), yesterday.month() as u8, yesterday.day() as u8);
    params.not_after = rcgen::date_time_ymd(not_after.year(), not_after.month() as u8, not_after.day() as u8);
    params.serial_number = Some(rcgen::SerialNumber::from_slice(uuid::Uuid::new_v4().as_bytes()));

    let key = rcgen::KeyPair::generate().context("cannot generate the server key")?;
    let cert = params.signed_by(&key, &issuer).context("cannot sign the server certificate")?;
    let chain = format!("{}{}", cert.pem(), ca_pem);
    // Key before certificate: a reader that sees the new certificate also finds its key.
    data_dir::replace(key_path, key.serialize_pem().as_bytes(), true)?;
    data_dir::replace(cert_path, chain.as_bytes(), false)?;
    let meta = ServerMeta { names: names.to_vec(), not_after };
    data_dir::replace(meta_path, serde_json::to_string_pretty(&meta)?.as_bytes(), false)?;
    tracing::info!(path = %cert_path.display(), names = ?names, "issued https server certificate");
    Ok(())
}

fn load_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM certificate in {}", path.display()))?;
    anyhow::ensure!(!chain.is_empty(), "no certificate in {}", path.display());
    Ok(chain)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot configure TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not match or are unsupported")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let first = load_or_create_tls(&dir, None).expect("create");
        assert!(first.created);
        let ca = std::fs::read_to_string(dir.join("tls/ca.pem")).expect("ca");
        let server = std::fs::read_to_string(dir.join("tls/server.pem")).expect("server");
        let second = load_or_create_tls(&dir, None).expect("reuse");
        assert!(!second.created);
        assert_eq!(std::fs::read_to_string(dir.join("tls/server.pem")).expect("server"), server);
        // A new name re-issues the leaf under the same CA.
        let third = load_or_create_tls_for(&dir, None, &["auditgraph.test".into()]).expect("reissue");
        assert!(third.created);
        assert_eq!(std::fs::read_to_string(dir.join("tls/ca.pem")).expect("ca"), ca);
        assert_ne!(std::fs::read_to_string(dir.join("tls/server.pem")).expect("server"), server);
        // The user's certificate is used as is.
        let user =
            load_or_create_tls(&dir, Some((&dir.join("tls/server.pem"), &dir.join("tls/server-key.pem"))))
                .expect("user cert");
        assert!(user.ca_pem_path.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
