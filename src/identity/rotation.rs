//! Rotating the token-signing key (`POST /_auditgraph/identity/keys/rotate`):
//! a new key signs from now on; the keys it replaced still verify, and the
//! JWKS lists them all, so no token issued before stops working.
//!
//! Alone, an instance rewrites its key file. With a shared database the key
//! file's text is the control `signing-keys` (changed atomically, so two
//! rotations at once both land), and every instance polls its version and
//! takes the new keys within half a second: a token signed after a rotation,
//! by any instance, verifies on all. An instance that starts later takes the
//! control's keys over the ones `shared_secrets` first stored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::IdentityService;
use super::keys::{SIGNING_KEY_FILE, rotated};
use crate::auth::{TokenVerifier, TrustedKey};
use crate::data_dir;
use crate::store::Store;

/// The control that carries the key file's text after a rotation.
const CONTROL: &str = "signing-keys";
/// How soon another instance's rotation takes effect here.
const POLL: Duration = Duration::from_millis(500);

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("identity").join(SIGNING_KEY_FILE)
}

/// auditgraph's own keys, as the resource side trusts them.
pub fn trusted_keys(identity: &IdentityService) -> Vec<TrustedKey> {
    identity.keys().keys().iter().map(|k| TrustedKey::auditgraph(k.kid(), k.decoding_key().clone())).collect()
}

/// Rotates the signing key; returns the kids, the new one first.
pub async fn rotate(
    identity: &IdentityService,
    verifier: &TokenVerifier,
    store: &Store,
) -> anyhow::Result<Vec<String>> {
    let path = key_path(&identity.config().data_dir);
    let text = if store.is_shared() {
        let local = data_dir::read_text(&path)?;
        // A rotation is slow (a new RSA key): make it once, outside the retries.
        let fresh = rotated(&local)?;
        let (text, _) = store
            .update_control(CONTROL, |current| match current {
                None => Ok(fresh.clone()),
                Some(current) if current == local => Ok(fresh.clone()),
                Some(current) => rotated(current),
            })
            .await?;
        text
    } else {
        rotated(&data_dir::read_text(&path)?)?
    };
    apply(identity, verifier, &text)?;
    tracing::info!(kid = %identity.kid(), "rotated the token signing key");
    Ok(identity.keys().keys().iter().map(|k| k.kid().to_string()).collect())
}

/// Takes a key file's text: the file, the token service's ring, the verifier.
fn apply(identity: &IdentityService, verifier: &TokenVerifier, text: &str) -> anyhow::Result<()> {
    identity.keys().replace(text).context("the rotated keys do not parse")?;
    data_dir::replace(&key_path(&identity.config().data_dir), text.as_bytes(), true)?;
    verifier.trust_own_keys(trusted_keys(identity));
    Ok(())
}

/// Before the token service loads its keys: a shared database's rotated keys
/// replace the data directory's.
pub async fn adopt_rotated(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    if let Some((text, _)) = store.control(CONTROL).await? {
        data_dir::replace(&key_path(data_dir), text.as_bytes(), true)?;
    }
    Ok(())
}

/// Follows the rotations other instances make (a shared database only).
pub fn spawn_sync(identity: IdentityService, verifier: TokenVerifier, store: Store) {
    if !store.is_shared() {
        return;
    }
    tokio::spawn(crate::store::uncounted(async move {
        let mut applied = 0;
        loop {
            tokio::time::sleep(POLL).await;
            match store.control(CONTROL).await {
                Ok(Some((text, version))) if version > applied => {
                    let signing = identity.kid();
                    match apply(&identity, &verifier, &text) {
                        Ok(()) => {
                            applied = version;
                            if identity.kid() != signing {
                                tracing::info!(kid = %identity.kid(), "took the cluster's rotated signing key");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "the cluster's signing keys do not apply")
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the cluster's signing keys; will retry")
                }
            }
        }
    }));
}
