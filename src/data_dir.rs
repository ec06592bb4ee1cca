//! Small file helpers for key material in the data directory.
//!
//! Several auditgraph processes may start at once against one data directory.
//! Key files are therefore created with "write a private temp file, then link
//! it into place only if nothing is there yet": the first process wins and the
//! others read what it wrote, so everybody signs with the same key.
//!
//! Processes with data directories of their own that share a database server
//! share their key files through it ([`share_secrets`]): the store holds the
//! first instance's, and every instance's files are made the store's.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Creates `path` with `contents` unless it already exists. Returns `true` if
/// this call created it. Private files get mode 0600 on Unix.
pub(crate) fn create_once(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<bool> {
    let dir = path.parent().context("key file path has no parent directory")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = temp_sibling(path);
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    // hard_link fails if the target exists, which is exactly "create once".
    let created = match fs::hard_link(&tmp, path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        // Some mounted volumes have no hard links: fall back to a rename,
        // which is atomic but may replace a file a racing process just wrote.
        Err(_) if !path.exists() => {
            fs::rename(&tmp, path).with_context(|| format!("cannot create {}", path.display()))?;
            return Ok(true);
        }
        Err(_) => false,
    };
    let _ = fs::remove_file(&tmp);
    Ok(created)
}

/// Replaces `path` atomically (used when a leaf certificate is re-issued).
pub(crate) fn replace(path: &Path, contents: &[u8], private: bool) -> anyhow::Result<()> {
    let tmp = temp_sibling(path);
    let _ = fs::remove_file(&tmp);
    create_once(&tmp, contents, private)?;
    fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()))
}

/// Reads a UTF-8 file with the path in the error.
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Key files that are shared as one secret (a CA's certificate and its key),
/// and the files derived from them that must go when they change.
pub(crate) struct SharedFiles {
    pub files: &'static [&'static str],
    pub derived: &'static [&'static str],
}

/// The data directory's shared key files: the token-signing key, the paging
/// key, the development CA (whose server certificate each instance issues itself).
pub(crate) const SIGNING_KEY: SharedFiles =
    SharedFiles { files: &["identity/signing-key.pem"], derived: &[] };
pub(crate) const PAGING_KEY: SharedFiles = SharedFiles { files: &["paging.key"], derived: &[] };
pub(crate) const DEV_CA: SharedFiles = SharedFiles {
    files: &["tls/ca-key.pem", "tls/ca.pem"],
    derived: &["tls/server.pem", "tls/server-key.pem", "tls/server.json"],
};

/// Makes `data_dir`'s copies of `shared` the store's: the existing local files
/// are offered (the first instance's win, atomically) and replaced by what the
/// store holds. The files must exist (their loaders create them).
pub(crate) async fn share_secrets(
    store: &crate::store::Store,
    data_dir: &Path,
    shared: &[&SharedFiles],
) -> anyhow::Result<()> {
    for group in shared {
        let mut local = serde_json::Map::new();
        for name in group.files {
            local.insert(name.to_string(), serde_json::Value::String(read_text(&data_dir.join(name))?));
        }
        let offered = serde_json::Value::Object(local.clone()).to_string();
        let stored: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            &store.adopt_secret(group.files[0], &offered).await?,
        )
        .with_context(|| format!("the shared secret {} is not what auditgraph stores", group.files[0]))?;
        if stored == local {
            continue;
        }
        for name in group.files {
            let text = stored
                .get(*name)
                .and_then(|v| v.as_str())
                .with_context(|| format!("the shared secret lacks {name}"))?;
            replace(&data_dir.join(name), text.as_bytes(), true)?;
        }
        for name in group.derived {
            let _ = fs::remove_file(data_dir.join(name));
        }
        tracing::info!(secret = group.files[0], "took the shared database's copy");
    }
    Ok(())
}
