//! The storage account destination: connection strings, and the three Blob
//! REST calls the router makes (create the container, create the hourly append
//! blob, append a block) with Shared Key authorization (live-routing.md §3.2,
//! §3.3). Azurite and real Azure storage are the same to it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Azurite's well-known development account (its documented key is public).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// A version Azurite 3.35 serves and Azure accepts (append blocks of ≤ 4 MiB work on every version).
const X_MS_VERSION: &str = "2025-05-05";
/// The largest Append Block we send: 4 MiB works on every service version.
pub const MAX_APPEND: usize = 4 * 1024 * 1024;

/// One storage account: its name, key and blob endpoint.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    key: Vec<u8>,
    /// `http(s)://host[:port][/account]`, without a trailing slash.
    pub endpoint: String,
}

impl Account {
    /// Parses a connection string (`UseDevelopmentStorage=true`, or
    /// `AccountName=…;AccountKey=…` with `BlobEndpoint` or the protocol and suffix).
    pub fn parse(connection: &str) -> anyhow::Result<Account> {
        let fields: HashMap<String, String> = connection
            .split(';')
            .filter_map(|part| part.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if fields.get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Account::development(DEV_ENDPOINT);
        }
        let name = fields.get("accountname").context("the connection string has no AccountName")?.clone();
        let key = STANDARD
            .decode(fields.get("accountkey").context("the connection string has no AccountKey")?)
            .context("AccountKey is not base64")?;
        let endpoint = match fields.get("blobendpoint") {
            Some(e) => e.trim_end_matches('/').to_string(),
            None => {
                let protocol = fields.get("defaultendpointsprotocol").map_or("https", String::as_str);
                let suffix = fields.get("endpointsuffix").map_or("core.windows.net", String::as_str);
                format!("{protocol}://{name}.blob.{suffix}")
            }
        };
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            bail!("BlobEndpoint '{endpoint}' is not an http(s) URL");
        }
        Ok(Account { name, key, endpoint })
    }

    fn development(endpoint: &str) -> anyhow::Result<Account> {
        Ok(Account { name: DEV_ACCOUNT.into(), key: STANDARD.decode(DEV_KEY)?, endpoint: endpoint.into() })
    }
}

/// The accounts diagnostic settings may name (`--storage-account`), Azurite's
/// development account always among them.
#[derive(Debug, Clone)]
pub struct Accounts(Vec<Account>);

impl Accounts {
    pub fn new(configured: &[(String, String)]) -> anyhow::Result<Accounts> {
        let mut accounts = Vec::new();
        for (name, connection) in configured {
            let mut account = Account::parse(connection)
                .with_context(|| format!("--storage-account {name}: bad connection string"))?;
            account.name = name.clone();
            accounts.push(account);
        }
        if !accounts.iter().any(|a| a.name.eq_ignore_ascii_case(DEV_ACCOUNT)) {
            accounts.push(Account::development(DEV_ENDPOINT)?);
        }
        Ok(Accounts(accounts))
    }

    pub fn knows(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn get(&self, name: &str) -> Option<&Account> {
        self.0.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// Blob names keep `/` and `=` (the `resourceId=/…/y=2026` layout); anything
/// else outside the unreserved set is escaped.
const BLOB_PATH: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/').remove(b'=');

/// A Blob REST client over one HTTP connection pool, remembering which
/// containers and blobs it has made so an append is one call.
pub struct BlobClient {
    http: reqwest012::Client,
    made: Mutex<HashSet<String>>,
}

impl BlobClient {
    pub fn new() -> anyhow::Result<BlobClient> {
        let http = reqwest012::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the storage HTTP client")?;
        Ok(BlobClient { http, made: Mutex::default() })
    }

    /// Signs and sends one request; `ok` lists the statuses that count as done.
    async fn send(
        &self,
        account: &Account,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Vec<u8>,
        ok: &[u16],
    ) -> anyhow::Result<u16> {
        let encoded = utf8_percent_encode(path, BLOB_PATH).to_string();
        let query_text: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let url = format!(
            "{}/{encoded}{}{}",
            account.endpoint,
            if query.is_empty() { "" } else { "?" },
            query_text.join("&")
        );
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let mut x_ms: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-ms-"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        x_ms.push(("x-ms-date".into(), date.clone()));
        x_ms.push(("x-ms-version".into(), X_MS_VERSION.into()));
        x_ms.sort();
        let header =
            |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or("", |(_, v)| *v);
        let length = if body.is_empty() { String::new() } else { body.len().to_string() };
        // The canonical resource repeats the account before the URL's path
        // (path-style endpoints such as Azurite's already start with it).
        let after_scheme = account.endpoint.split_once("://").map_or("", |(_, rest)| rest);
        let base_path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
        let mut resource = format!("/{}{base_path}/{encoded}", account.name);
        let mut sorted: Vec<&(&str, &str)> = query.iter().collect();
        sorted.sort();
        for (k, v) in sorted {
            resource.push_str(&format!("\n{}:{v}", k.to_ascii_lowercase()));
        }
        let canonical_headers: String = x_ms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let to_sign = format!(
            "PUT\n\n\n{length}\n\n{}\n\n\n\n{}\n\n\n{canonical_headers}{resource}",
            header("content-type"),
            header("if-none-match"),
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&account.key).expect("HMAC takes any key length");
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let mut request = self
            .http
            .put(&url)
            .header("authorization", format!("SharedKey {}:{signature}", account.name))
            .header("content-length", body.len().to_string());
        for (k, v) in &x_ms {
            request = request.header(k.as_str(), v.as_str());
        }
        for (k, v) in headers.iter().filter(|(k, _)| !k.starts_with("x-ms-")) {
            request = request.header(*k, *v);
        }
        let response = request.body(body).send().await.with_context(|| {
            format!("storage account '{}' is unreachable at {}", account.name, account.endpoint)
        })?;
        let status = response.status().as_u16();
        if ok.contains(&status) {
            return Ok(status);
        }
        let text = response.text().await.unwrap_or_default();
        let code = text.split("<Code>").nth(1).and_then(|t| t.split("</Code>").next()).unwrap_or("");
        bail!("storage account '{}' answered {status} {code} to PUT {path}", account.name)
    }

    /// Appends `bytes` (whole lines) to the append blob `container/blob`,
    /// creating both when this client has not yet; splits at 4 MiB.
    pub async fn append(
        &self,
        account: &Account,
        container: &str,
        blob: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let container_key = format!("{}/{container}", account.endpoint);
        if !self.made.lock().expect("blob cache").contains(&container_key) {
            // 409: it exists already.
            self.send(account, container, &[("restype", "container")], &[], Vec::new(), &[201, 409]).await?;
            self.made.lock().expect("blob cache").insert(container_key);
        }
        let path = format!("{container}/{blob}");
        let blob_key = format!("{}/{path}", account.endpoint);
        if !self.made.lock().expect("blob cache").contains(&blob_key) {
            // If-None-Match: another writer (or an earlier run) made it first: 409.
            let headers = [("x-ms-blob-type", "AppendBlob"), ("if-none-match", "*")];
            self.send(account, &path, &[], &headers, Vec::new(), &[201, 409, 412]).await?;
            self.made.lock().expect("blob cache").insert(blob_key.clone());
        }
        for chunk in line_chunks(bytes, MAX_APPEND) {
            if let Err(e) =
                self.send(account, &path, &[("comp", "appendblock")], &[], chunk.to_vec(), &[201]).await
            {
                // The blob may be gone (Azurite restarted in memory): make it again next time.
                self.made.lock().expect("blob cache").remove(&blob_key);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Forgets what it made (after a failure the destination may have lost it).
    pub fn forget(&self) {
        self.made.lock().expect("blob cache").clear();
    }
}

/// Splits newline-terminated records into chunks of at most `max` bytes, at
/// line ends (a single longer line is a chunk of its own).
pub fn line_chunks(bytes: &[u8], max: usize) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            if i + 1 - start > max && end > start {
                chunks.push(&bytes[start..end]);
                start = end;
            }
            end = i + 1;
        }
    }
    if end > start {
        chunks.push(&bytes[start..end]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let a = Account::parse("UseDevelopmentStorage=true").unwrap();
        assert_eq!((a.name.as_str(), a.endpoint.as_str()), (DEV_ACCOUNT, DEV_ENDPOINT));
        let a = Account::parse(&format!(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:15010/devstoreaccount1/;"
        ))
        .unwrap();
        assert_eq!(a.endpoint, "http://127.0.0.1:15010/devstoreaccount1");
        let a = Account::parse(&format!("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={DEV_KEY};EndpointSuffix=core.windows.net")).unwrap();
        assert_eq!(a.endpoint, "https://acme.blob.core.windows.net");
        assert!(Account::parse("AccountName=x").is_err());
        assert!(Account::parse("AccountName=x;AccountKey=not base64!").is_err());
    }

    #[test]
    fn chunks_split_at_line_ends() {
        let text = b"aaa\nbb\ncccc\n";
        assert_eq!(line_chunks(text, 100), vec![&text[..]]);
        assert_eq!(line_chunks(text, 7), vec![&b"aaa\nbb\n"[..], &b"cccc\n"[..]]);
        assert_eq!(line_chunks(text, 2), vec![&b"aaa\n"[..], &b"bb\n"[..], &b"cccc\n"[..]]);
    }
}
