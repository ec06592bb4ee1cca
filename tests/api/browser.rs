//! A real browser for the page tests: headless Chromium driven over WebDriver
//! (chromedriver, fantoccini). Shared by every browser test (the admin page,
//! the GraphQL explorer).
//!
//! - [`Browser::launch`] starts `chromedriver` on a free loopback port and a
//!   headless Chromium whose resolver knows only `localhost` and `127.0.0.1`:
//!   a page that tries to load anything from the internet fails the way it
//!   would offline.
//! - `.client` is the `fantoccini::Client`.
//! - [`Browser::screenshot`] saves `target/browser-artifacts/{name}.png`.
//! - Downloads land in [`Browser::download_dir`] (a fresh temporary folder).
//! - [`Browser::close`] ends the session and chromedriver.
//!
//! A missing chromedriver FAILS the test, naming the fix (`bash .ci/run`
//! installs Debian's `chromium` and `chromium-driver`): a silently skipped
//! browser test would look like a passing one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// Where chromedriver and Chromium are, unless `CHROMEDRIVER` / `CHROMIUM` say otherwise.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long [`Browser::wait_until`] and [`Browser::wait_for_download`] wait
/// before failing the test: generous, as CI machines are shared and slow.
const WAIT: Duration = Duration::from_secs(30);

/// How long chromedriver and Chromium may take to open a session.
const LAUNCH: Duration = Duration::from_secs(60);

pub struct Browser {
    pub client: Client,
    driver: Child,
    downloads: tempfile::TempDir,
    /// Chromium's profile; its path also identifies this session's processes.
    profile: tempfile::TempDir,
}

/// `target/browser-artifacts/`, honouring `CARGO_TARGET_DIR`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("browser-artifacts")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("local address").port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1366×900).
    pub async fn launch() -> Browser {
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_string());
        let chromium_path = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_string());
        for (what, path) in [("chromedriver", &driver_path), ("chromium", &chromium_path)] {
            assert!(
                Path::new(path).exists(),
                "{what} not found at {path}: the browser tests need Debian's chromium and chromium-driver. \
                 Run `bash .ci/run` (it installs them), or `apt-get install chromium chromium-driver`."
            );
        }
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_path}: {e}; run `bash .ci/run`"));
        let downloads = tempfile::tempdir().expect("download dir");
        let profile = tempfile::tempdir().expect("profile dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_path,
                "args": [
                    "--headless=new",
                    // Containers run the tests as root, where the sandbox cannot start.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1366,900",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--lang=en-US",
                    // No internet: every host but loopback fails to resolve.
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().display().to_string(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut driver = driver;
        let started = Instant::now();
        let client = loop {
            let attempt = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await;
            let error = match attempt {
                Ok(client) => break client,
                Err(e) => e,
            };
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("{driver_path} exited ({status}) before a session opened: {error}");
            }
            if started.elapsed() > LAUNCH {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("cannot open a Chromium session through {driver_path}: {error}");
            }
            // chromedriver takes a moment to listen.
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        Browser { client, driver, downloads, profile }
    }

    /// Saves a PNG of the viewport as `target/browser-artifacts/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("create artifacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Where the browser saves downloads.
    pub fn download_dir(&self) -> &Path {
        self.downloads.path()
    }

    /// Evaluates `expression` (JavaScript) until it is truthy; fails the test
    /// with `what` and a screenshot after 30 s. A script error counts as "not
    /// yet": mid-navigation the elements it reads may not exist.
    pub async fn wait_until(&self, expression: &str, what: &str) {
        let script = format!("return Boolean({expression});");
        let started = Instant::now();
        let mut last_error = String::new();
        loop {
            match self.client.execute(&script, vec![]).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(e) => last_error = format!(" (last script error: {e})"),
            }
            if started.elapsed() > WAIT {
                let shot = self
                    .screenshot(&format!(
                        "timeout-{}",
                        what.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                    ))
                    .await;
                let body = self
                    .client
                    .execute("return document.body ? document.body.innerText : ''", vec![])
                    .await
                    .unwrap_or(Value::Null);
                panic!(
                    "timed out waiting for {what} ({expression}){last_error}; screenshot {}; page text:\n{}",
                    shot.display(),
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body; `return` a value) and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits for one finished download and returns its path. Chromium writes
    /// into `*.crdownload` and may reserve the final name early as an empty
    /// file, so "finished" means: no partial file left, and a non-empty file
    /// whose size held still between two looks.
    pub async fn wait_for_download(&self) -> PathBuf {
        let started = Instant::now();
        let mut last: Option<(PathBuf, u64)> = None;
        loop {
            let files: Vec<(PathBuf, u64)> = std::fs::read_dir(self.download_dir())
                .expect("read download dir")
                .filter_map(|e| e.ok())
                .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
                .collect();
            let partial =
                files.iter().any(|(p, _)| p.extension().is_some_and(|x| x == "crdownload" || x == "tmp"));
            let done = files.into_iter().find(|(p, len)| p.is_file() && *len > 0);
            match (partial, done) {
                (false, Some(now)) if last.as_ref() == Some(&now) => return now.0,
                (_, seen) => last = seen,
            }
            assert!(started.elapsed() < WAIT, "no download finished in {}", self.download_dir().display());
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// A failed test leaves no chromedriver or Chromium behind. Chromium does
    /// not exit when its driver is killed, so its processes are found by this
    /// session's own profile directory and ended by pid.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let marker = format!("--user-data-dir={}", self.profile.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if cmdline.split(|b| *b == 0).any(|arg| arg == marker.as_bytes()) {
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            }
        }
    }
}
