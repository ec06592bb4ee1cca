//! `$skiptoken`: a self-contained, versioned, tamper-evident keyset cursor.
//!
//! Layout: base64url(JSON `{"v":1,"q":<query hash>,"c":<cursor>}`) "." base64url(MAC),
//! MAC = HMAC-SHA256 with the paging key (from the data directory or configured),
//! truncated to 128 bits. Being self-contained, a token works on any auditgraph
//! process that shares the key and database; binding it to a hash of `$filter` and
//! `$orderby` makes replaying it with another query a clear 400, never wrong rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::odata::{Filter, OrderKey};
#[cfg(test)]
use crate::store::Cursor;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;

#[derive(Clone)]
pub struct PagingKey([u8; 32]);

impl std::fmt::Debug for PagingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PagingKey(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "The $skiptoken is not valid for this request: it was altered, or it belongs to another $filter or $orderby. Follow @odata.nextLink as returned."
)]
pub struct InvalidSkipToken;

#[derive(Serialize, Deserialize)]
struct Payload<C> {
    v: u8,
    q: String,
    c: C,
}

impl PagingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PagingKey(bytes)
    }

    /// Parses a key given as 64 hex digits.
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        hex_decode(text.trim())
            .map(PagingKey)
            .ok_or_else(|| anyhow::anyhow!("the paging key must be 64 hex digits"))
    }

    /// Reads the key from `path`, creating a random one on first use.
    pub fn load_or_create(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        if let Ok(text) = std::fs::read_to_string(path) {
            let bytes = hex_decode(text.trim())
                .with_context(|| format!("{} is not a 64-digit hex key", path.display()))?;
            return Ok(PagingKey(bytes));
        }
        let bytes: [u8; 32] = rand::random();
        // Private, and created once: a second process starting at the same
        // moment reads the key the first one wrote.
        if crate::data_dir::create_once(path, hex_encode(&bytes).as_bytes(), true)? {
            return Ok(PagingKey(bytes));
        }
        let text = crate::data_dir::read_text(path)?;
        hex_decode(text.trim())
            .map(PagingKey)
            .with_context(|| format!("{} is not a 64-digit hex key", path.display()))
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes()[..MAC_LEN].to_vec()
    }

    /// A token for `cursor` (the store's [`Cursor`], or any position a list keeps).
    pub fn encode<C: Serialize + Clone>(&self, query_hash: &str, cursor: &C) -> String {
        let payload =
            serde_json::to_vec(&Payload { v: VERSION, q: query_hash.to_string(), c: cursor.clone() })
                .expect("a cursor always serialises");
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(self.mac(&payload)))
    }

    pub fn decode<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        query_hash: &str,
    ) -> Result<C, InvalidSkipToken> {
        let (payload, mac) = token.split_once('.').ok_or(InvalidSkipToken)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidSkipToken)?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| InvalidSkipToken)?;
        let mut check = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        check.update(&payload);
        check.verify_truncated_left(&mac).map_err(|_| InvalidSkipToken)?;
        if mac.len() != MAC_LEN {
            return Err(InvalidSkipToken);
        }
        let payload: Payload<C> = serde_json::from_slice(&payload).map_err(|_| InvalidSkipToken)?;
        if payload.v != VERSION || payload.q != query_hash {
            return Err(InvalidSkipToken);
        }
        Ok(payload.c)
    }
}

/// A short hash of what a cursor of a workload list depends on: its set and
/// the `$filter` and `$orderby` text.
pub fn text_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

/// A short hash of what a cursor depends on: the filter and the order.
pub fn query_hash(filter: Option<&Filter>, order: &[OrderKey]) -> String {
    let mut hasher = Sha256::new();
    if let Some(f) = filter {
        hasher.update(f.to_string());
    }
    hasher.update([0u8]);
    for key in order {
        hasher.update(format!("{:?}:{}", key.field, key.descending));
        hasher.update([0u8]);
    }
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..12])
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SortValue;

    fn cursor() -> Cursor {
        Cursor { keys: vec![SortValue::Ticks(42), SortValue::Text("x".into())], id: "abc".into() }
    }

    #[test]
    fn round_trips_and_binds_to_the_query() {
        let key = PagingKey::from_bytes([7; 32]);
        let token = key.encode("q1", &cursor());
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert_eq!(key.decode::<Cursor>(&token, "q1"), Ok(cursor()));
        assert_eq!(key.decode::<Cursor>(&token, "q2"), Err(InvalidSkipToken));
        assert_eq!(PagingKey::from_bytes([8; 32]).decode::<Cursor>(&token, "q1"), Err(InvalidSkipToken));
    }

    #[test]
    fn rejects_any_altered_byte() {
        let key = PagingKey::from_bytes([7; 32]);
        let token = key.encode("q1", &cursor());
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != token {
                assert_eq!(key.decode::<Cursor>(&altered, "q1"), Err(InvalidSkipToken), "{altered}");
            }
        }
        assert_eq!(key.decode::<Cursor>("garbage", "q1"), Err(InvalidSkipToken));
    }
}
