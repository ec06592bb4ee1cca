//! Azurite (the Azure Storage emulator's Blob service, tests/azurite/package.json) for
//! the live-routing tests, and a small reader of what the router delivered there.
//!
//! `Azurite::start()` runs `$AUDITGRAPH_TEST_AZURITE_BIN` (the absolute path of
//! `tests/azurite/node_modules/.bin/azurite-blob`, which `.ci/run` installs and exports)
//! on a free loopback port over a fresh `--location` directory; without the variable
//! it answers `None`, so local runs without Azurite skip. `restart()` keeps the port
//! and the directory, so the blobs survive it (a destination going away and coming
//! back). The reader is independent of the server's code: List Blobs and Get Blob with
//! Shared Key written here (spec live-routing.md §3.3), at a fixed `x-ms-version`
//! Azurite 3.35 serves.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Azurite's well-known development account and key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The container diagnostic settings write AuditLogs to (azure-monitor.md §6).
pub const AUDIT_CONTAINER: &str = "insights-logs-auditlogs";
const VERSION: &str = "2025-05-05";
/// What stays literal in a path segment: RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub struct Azurite {
    pub port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Azurite {
    /// Azurite on a free port, listening when this returns; `None` when
    /// `AUDITGRAPH_TEST_AZURITE_BIN` is unset.
    pub fn start() -> Option<Azurite> {
        let bin = std::env::var_os("AUDITGRAPH_TEST_AZURITE_BIN")?;
        let dir = tempfile::tempdir().expect("a directory for Azurite");
        let (child, port) = spawn(std::path::Path::new(&bin), 0, dir.path());
        Some(Azurite { port, dir, child })
    }

    /// Stops it (the blobs stay in its directory); stopping twice is harmless.
    pub fn stop(&mut self) {
        // SIGTERM, as an operator stops it: Azurite saves its metadata on the way
        // out (a SIGKILL loses what it had not yet saved, blobs included). Never
        // signal a child already reaped: its pid may be another process's by now.
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it and starts it again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let bin = std::env::var_os("AUDITGRAPH_TEST_AZURITE_BIN").expect("AUDITGRAPH_TEST_AZURITE_BIN");
        let (child, port) = spawn(std::path::Path::new(&bin), self.port, self.dir.path());
        assert_eq!(port, self.port, "Azurite came back on another port");
        self.child = child;
    }

    /// `http://127.0.0.1:{port}/devstoreaccount1` (path-style, as Azurite serves).
    pub fn blob_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={};",
            self.blob_endpoint()
        )
    }

    /// The value of auditgraph's `--storage-account` flag for this Azurite.
    pub fn storage_account_flag(&self) -> String {
        format!("{ACCOUNT}={}", self.connection_string())
    }

    /// Every blob of `container` with its content, in name order; empty when the
    /// container does not exist (nothing was delivered yet).
    pub async fn read_blobs(&self, container: &str) -> Vec<(String, Vec<u8>)> {
        let http = reqwest::Client::new();
        let mut names = Vec::new();
        let mut marker = String::new();
        loop {
            let mut query = vec![("comp", "list".to_string()), ("restype", "container".to_string())];
            if !marker.is_empty() {
                query.push(("marker", marker.clone()));
            }
            let (status, body) = self.get(&http, &format!("/{container}"), &query).await;
            if status == 404 {
                return Vec::new();
            }
            let xml = String::from_utf8(body).expect("List Blobs answers UTF-8 XML");
            assert_eq!(status, 200, "List Blobs {container}: {xml}");
            for blob in xml.split("<Blob>").skip(1) {
                names.push(unescape(element(blob, "Name").expect("a listed blob has a Name")));
            }
            marker = element(&xml, "NextMarker").map(unescape).unwrap_or_default();
            if marker.is_empty() {
                break;
            }
        }
        names.sort();
        let mut blobs = Vec::new();
        for name in names {
            let path: Vec<String> =
                name.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
            let (status, body) = self.get(&http, &format!("/{container}/{}", path.join("/")), &[]).await;
            assert_eq!(status, 200, "Get Blob {name}: {}", String::from_utf8_lossy(&body));
            blobs.push((name, body));
        }
        blobs
    }

    /// Every JSON line of every blob of `container`, in blob-name then offset order.
    pub async fn lines(&self, container: &str) -> Vec<serde_json::Value> {
        let mut lines = Vec::new();
        for (name, body) in self.read_blobs(container).await {
            let text = String::from_utf8(body).unwrap_or_else(|e| panic!("{name} is not UTF-8: {e}"));
            for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
                let value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{name}: a line is not JSON ({e}): {line}"));
                lines.push(value);
            }
        }
        lines
    }

    /// A signed GET of `/{account}{path}?{query}` (path already percent-encoded;
    /// query values raw): the status and the body.
    async fn get(&self, http: &reqwest::Client, path: &str, query: &[(&str, String)]) -> (u16, Vec<u8>) {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        // Canonical resource (§3.3): "/" + account + the path as sent, then each query
        // parameter, name lower-cased and sorted, value decoded.
        let mut sorted: Vec<_> = query.iter().map(|(k, v)| (k.to_lowercase(), v.as_str())).collect();
        sorted.sort();
        let mut resource = format!("/{ACCOUNT}/{ACCOUNT}{path}");
        for (k, v) in &sorted {
            resource.push_str(&format!("\n{k}:{v}"));
        }
        // A bodiless GET with x-ms-date: the ten standard headers and Range are empty.
        let to_sign = format!("GET\n{}x-ms-date:{date}\nx-ms-version:{VERSION}\n{resource}", "\n".repeat(11));
        let mut mac = Hmac::<Sha256>::new_from_slice(&STANDARD.decode(KEY).expect("the key is base64"))
            .expect("HMAC takes any key length");
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        let query: Vec<String> =
            query.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, SEGMENT))).collect();
        let mut url = format!("{}{path}", self.blob_endpoint());
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let response = http
            .get(&url)
            .header("x-ms-date", date)
            .header("x-ms-version", VERSION)
            .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Azurite at {url} does not answer: {e}"));
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("Azurite's body").to_vec())
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts azurite-blob on `port` (0: a free one) over `dir`; returns once it listens,
/// with the port it printed. Its output goes on being drained; a start that fails
/// panics with what it printed.
fn spawn(bin: &std::path::Path, port: u16, dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(bin)
        .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose"])
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run Azurite ({}): {e}", bin.display()));
    let stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut said = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        // "Azurite Blob service successfully listens on http://127.0.0.1:PORT"
        if let Some((_, rest)) =
            line.split_once("listen").and_then(|(_, r)| r.split_once("http://127.0.0.1:"))
        {
            let port = rest.trim().trim_end_matches('/').parse().expect("Azurite prints its port");
            std::thread::spawn(move || lines.for_each(drop));
            return (child, port);
        }
        said.push_str(&line);
        said.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    let errors = errors.join().unwrap_or_default();
    panic!("Azurite did not start on 127.0.0.1:{port} ({}):\n{said}{errors}", bin.display());
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn element<'x>(xml: &'x str, tag: &str) -> Option<&'x str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
