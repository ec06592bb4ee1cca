//! Device-code approval state.
//!
//! The device code itself is a signed artifact (see `tokens`), but whether a
//! user has approved it is state. It lives in small JSON files under
//! `{data_dir}/identity/device-codes/{user_code}.json`, so the process that
//! answers a poll need not be the one that handled the approval, as long as
//! they share the data directory. Only the "approve after N polls" counters
//! are per process (in memory).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::data_dir;

/// Where a device code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    /// Tokens were issued; the code cannot be used again.
    Redeemed,
}

/// One device authorization, keyed by its user code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceEntry {
    pub status: DeviceStatus,
    pub tenant_id: String,
    pub client_id: String,
    pub scope: String,
    /// Unix seconds.
    pub expires: i64,
    /// Set on approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_object_id: Option<String>,
}

/// File-backed device-code state (cheap to clone).
#[derive(Debug, Clone)]
pub struct DeviceStore {
    dir: PathBuf,
    polls: Arc<Mutex<HashMap<String, u32>>>,
}

/// Characters of user codes: upper-case letters without look-alikes, as the
/// codes Entra shows (e.g. `BPPVYQZMA`).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 9;

impl DeviceStore {
    pub fn new(data_dir: &Path) -> Self {
        Self { dir: data_dir.join("identity").join("device-codes"), polls: Arc::default() }
    }

    /// A fresh user code.
    pub fn new_user_code() -> String {
        (0..USER_CODE_LEN)
            .map(|_| USER_CODE_ALPHABET[rand::random_range(0..USER_CODE_ALPHABET.len())] as char)
            .collect()
    }

    /// Normalises what a user typed; `None` for anything that cannot be a
    /// user code (this also keeps path separators out of file names).
    pub fn normalise_user_code(input: &str) -> Option<String> {
        let code: String =
            input.trim().chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase();
        (!code.is_empty() && code.len() <= 32 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then_some(code)
    }

    fn path(&self, user_code: &str) -> PathBuf {
        self.dir.join(format!("{user_code}.json"))
    }

    /// Records a new pending authorization and prunes expired ones.
    pub fn create(&self, user_code: &str, entry: &DeviceEntry) -> anyhow::Result<()> {
        self.prune(chrono::Utc::now().timestamp());
        let text = serde_json::to_string(entry)?;
        anyhow::ensure!(
            data_dir::create_once(&self.path(user_code), text.as_bytes(), false)?,
            "user code collision"
        );
        Ok(())
    }

    pub fn get(&self, user_code: &str) -> anyhow::Result<Option<DeviceEntry>> {
        match std::fs::read_to_string(self.path(user_code)) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).context("corrupt device-code file")?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("cannot read device-code state"),
        }
    }

    pub fn put(&self, user_code: &str, entry: &DeviceEntry) -> anyhow::Result<()> {
        data_dir::replace(&self.path(user_code), serde_json::to_string(entry)?.as_bytes(), false)
    }

    /// Counts a poll of a pending code; returns how many polls were seen
    /// before this one.
    pub fn count_poll(&self, user_code: &str) -> u32 {
        let mut polls = self.polls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = polls.entry(user_code.to_string()).or_insert(0);
        let before = *seen;
        *seen += 1;
        before
    }

    fn prune(&self, now: i64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let expired = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<DeviceEntry>(&t).ok())
                // Keep a day of history so late polls still get "expired".
                .is_some_and(|e| e.expires + 86_400 < now);
            if expired {
                let _ = std::fs::remove_file(&path);
                if let Some(code) = path.file_stem().and_then(|s| s.to_str()) {
                    self.polls.lock().unwrap_or_else(|p| p.into_inner()).remove(code);
                }
            }
        }
    }
}
