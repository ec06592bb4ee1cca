//! Small file helpers for key material in the data directory.
//!
//! Several auditgraph processes may start at once against one data directory.
//! Key files are therefore created with "write a private temp file, then link
//! it into place only if nothing is there yet": the first process wins and the
//! others read what it wrote, so everybody signs with the same key.

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
