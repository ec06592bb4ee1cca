//! Helpers for the identity and auth unit tests. RSA key generation is the
//! slow part, so each test process generates its keys once and copies them
//! into every test's data directory.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::{IdentityConfig, IdentityService, keys};

/// The signing key every test service uses (PKCS#8 PEM).
pub fn signing_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| keys::generate_pem().expect("generate test key"))
}

/// A second, unrelated key ("signed by another key" tests).
pub fn other_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| keys::generate_pem().expect("generate test key"))
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auditgraph-test-{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A data directory whose signing key is the shared test key.
pub fn data_dir(label: &str) -> PathBuf {
    let dir = temp_dir(label);
    std::fs::create_dir_all(dir.join("identity")).expect("create identity dir");
    std::fs::write(dir.join("identity").join(keys::SIGNING_KEY_FILE), signing_key_pem()).expect("write key");
    dir
}

pub const ORIGIN: &str = "https://localhost:5443";

/// A service over the development tenant.
pub fn service(label: &str) -> IdentityService {
    service_with(label, |_| {})
}

/// A service over the development tenant with adjusted settings.
pub fn service_with(label: &str, adjust: impl FnOnce(&mut IdentityConfig)) -> IdentityService {
    let mut config = IdentityConfig::new(data_dir(label), ORIGIN);
    adjust(&mut config);
    IdentityService::new(config).expect("identity service")
}
