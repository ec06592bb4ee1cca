//! Import and export through the real binary on SQLite: every import format and
//! its detection, idempotence, malformed and truncated input, `--strict`, the
//! shape of every export format; and the lossless round trip on a generated
//! tenant, imported into every backend the run has.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use auditgraph::domain::graph::{ApiVersion, event_json};
use auditgraph::odata::{EventField, OrderKey};
use auditgraph::store::{PageRequest, Store};
use serde_json::Value;

use crate::helpers::Backend;

const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn auditgraph(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN).args(args).arg("--data-dir").arg(dir).output().expect("run auditgraph")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs and asserts success; returns stderr.
fn ok(args: &[&str], dir: &Path) -> String {
    let output = auditgraph(args, dir);
    assert!(output.status.success(), "{args:?} failed: {}", stderr(&output));
    stderr(&output)
}

fn import(dir: &Path, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    auditgraph(&args, dir)
}

/// Every stored event in its beta Graph shape (every field), ordered by id.
async fn stored(dir: &Path) -> Vec<Value> {
    stored_at(&format!("sqlite://{}?mode=rwc", dir.join("auditgraph.db").display())).await
}

async fn stored_at(database_url: &str) -> Vec<Value> {
    let store = Store::connect(database_url).await.unwrap();
    let order = [OrderKey { field: EventField::Id, descending: false }];
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .page(&PageRequest {
                filter: None,
                order: &order,
                after: cursor.as_ref(),
                offset: 0,
                limit: 1000,
                not_before: auditgraph::domain::Ticks(i64::MIN),
                scan: true,
            })
            .await
            .unwrap();
        events.extend(page.events.iter().map(|e| Value::Object(event_json(e, ApiVersion::Beta, None))));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn seven_digits(time: &Value) -> bool {
    let t = time.as_str().unwrap_or_default();
    t.len() == 28
        && t.ends_with('Z')
        && t.as_bytes()[19] == b'.'
        && t[20..27].bytes().all(|b| b.is_ascii_digit())
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[tokio::test]
async fn every_import_format_is_read_forced_or_detected() {
    let scratch = temp();
    // A JSON array and an event-hub message, derived from the fixtures.
    let ndjson = std::fs::read_to_string(fixture("events-beta.ndjson")).unwrap();
    let array = scratch.path().join("events.json");
    std::fs::write(&array, serde_json::to_string_pretty(&lines(&ndjson)).unwrap()).unwrap();
    let records = std::fs::read_to_string(fixture("resource-log.jsonl")).unwrap();
    let hub = scratch.path().join("hub.json");
    std::fs::write(&hub, format!("{{\"records\":[{}]}}\n", records.trim().replace('\n', ","))).unwrap();

    let cases = [
        (fixture("graph-v1-page-real-shape.json"), "graph", 2),
        (fixture("events-beta.ndjson"), "ndjson", 3),
        (array.clone(), "json-array", 3),
        (fixture("resource-log.jsonl"), "resource-log", 2),
        (hub.clone(), "resource-log", 2),
    ];
    for (file, format, count) in &cases {
        for forced in ["auto", format] {
            let dir = temp();
            let output = import(dir.path(), file, &["--format", forced]);
            let report = stderr(&output);
            assert!(output.status.success(), "{file:?} as {forced}: {report}");
            assert!(
                report.contains(&format!("imported {count} events, skipped 0 already present, rejected 0")),
                "{file:?} as {forced}: {report}"
            );
            assert_eq!(stored(dir.path()).await.len(), *count);
        }
    }

    // The Graph page comes back exactly (v1.0 fields of the v1.0 capture).
    let dir = temp();
    ok(&["import", fixture("graph-v1-page-real-shape.json").to_str().unwrap()], dir.path());
    let page: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("graph-v1-page-real-shape.json")).unwrap())
            .unwrap();
    let mut expected: Vec<Value> = page["value"].as_array().unwrap().clone();
    expected.sort_by_key(|e| e["id"].as_str().unwrap().to_string());
    let got: Vec<Value> = stored(dir.path())
        .await
        .into_iter()
        .map(|mut e| {
            for key in ["type", "userRoleScopeTags", "remoteTenantId", "remoteUserId"] {
                e["actor"].as_object_mut().unwrap().remove(key);
            }
            for r in e["resources"].as_array_mut().unwrap() {
                r.as_object_mut().unwrap().remove("type");
            }
            e
        })
        .collect();
    assert_eq!(got, expected);

    // NDJSON keeps beta actor fields; a wrong forced format is a clear error.
    let dir = temp();
    ok(&["import", fixture("events-beta.ndjson").to_str().unwrap()], dir.path());
    let events = stored(dir.path()).await;
    assert_eq!(events[0]["actor"]["remoteTenantId"], "p1000000-0000-4000-8000-000000000001");
    assert_eq!(events[0]["actor"]["userRoleScopeTags"][0]["displayName"], "Default");
    assert_eq!(events, lines(&ndjson).into_iter().map(normalise_beta).collect::<Vec<_>>());
    let output = import(dir.path(), &fixture("graph-v1-page-real-shape.json"), &["--format", "ndjson"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("found a Graph page at line 4"), "{}", stderr(&output));

    // Records map back through the integer enums.
    let dir = temp();
    ok(&["import", fixture("resource-log.jsonl").to_str().unwrap()], dir.path());
    let events = stored(dir.path()).await;
    let e = &events[0];
    assert_eq!(e["id"], "654321aa-0000-4000-8000-000000000001");
    assert_eq!(e["activityDateTime"], "2024-12-21T01:45:10.1234000Z");
    assert_eq!(e["activityType"], "Update ClientCertificate");
    assert_eq!(e["category"], "Enrollment");
    assert_eq!(e["actor"]["userPrincipalName"], "alex.rodriguez@examplecorp.com");
    assert_eq!(e["actor"]["remoteTenantId"], "11111111-0000-4000-8000-000000000001");
    assert_eq!(e["resources"][0]["displayName"], "Certificate for Test Purpose");
    assert_eq!(e["resources"][0]["modifiedProperties"][2]["newValue"], "20");
    assert_eq!(events[1]["category"], "Application");
    assert_eq!(events[1]["actor"]["auditActorType"], "ItPro");
}

/// A beta event as the store serves it: `type` mirrors fill in, absent
/// collections become `[]`, absent strings `null`.
fn normalise_beta(mut e: Value) -> Value {
    let actor = e["actor"].as_object_mut().unwrap();
    actor.insert("type".into(), actor["auditActorType"].clone());
    for key in ["remoteTenantId", "remoteUserId"] {
        actor.entry(key).or_insert(Value::Null);
    }
    actor.entry("userRoleScopeTags").or_insert(Value::Array(vec![]));
    for r in e["resources"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        r.insert("type".into(), r["auditResourceType"].clone());
    }
    e
}

#[tokio::test]
async fn imports_are_idempotent_and_report_malformed_records() {
    let dir = temp();
    let file = fixture("events-beta.ndjson");
    ok(&["import", file.to_str().unwrap()], dir.path());
    let again = ok(&["import", file.to_str().unwrap()], dir.path());
    assert!(again.contains("imported 0 events, skipped 3 already present, rejected 0"), "{again}");
    assert_eq!(stored(dir.path()).await.len(), 3);

    // Line 2 is not JSON, line 3 lacks its correlationId: both skipped, reported.
    let good = std::fs::read_to_string(&file).unwrap();
    let good: Vec<&str> = good.lines().collect();
    let broken_json = r#"{"id":"x","activityDateTime":"2024-01-01T00:00:00Z",}"#;
    let no_correlation = r#"{"id":"y","activityDateTime":"2024-01-01T00:00:00Z"}"#;
    let scratch = temp();
    let bad = scratch.path().join("bad.ndjson");
    std::fs::write(&bad, [good[0], broken_json, no_correlation, good[1], good[2]].join("\n")).unwrap();
    let dir = temp();
    let report = ok(&["import", bad.to_str().unwrap(), "--batch-size", "1"], dir.path());
    assert!(report.contains("rejected record at line 2 (byte "), "{report}");
    assert!(
        report.contains("rejected record at line 3 (byte ") && report.contains("'correlationId' is required"),
        "{report}"
    );
    assert!(report.contains("imported 3 events, skipped 0 already present, rejected 2"), "{report}");
    assert_eq!(stored(dir.path()).await.len(), 3);

    // --strict validates first: the bad record stops it and nothing is written,
    // not even the batches before it; from stdin too.
    let dir = temp();
    let output = import(dir.path(), &bad, &["--strict", "--batch-size", "1"]);
    assert!(!output.status.success());
    let report = stderr(&output);
    assert!(report.contains("line 2") && report.contains("nothing was written"), "{report}");
    assert!(stored(dir.path()).await.is_empty());
    assert!(!strict_import_from_stdin(dir.path(), &bad).status.success());
    assert!(stored(dir.path()).await.is_empty());
    // A valid stdin import under --strict goes through.
    let output = strict_import_from_stdin(dir.path(), &file);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stored(dir.path()).await.len(), 3);
}

#[tokio::test]
async fn a_truncated_file_is_an_error_naming_the_offset() {
    let page = std::fs::read(fixture("graph-v1-page-real-shape.json")).unwrap();
    let cut = &page[..page.len() / 2];
    let scratch = temp();
    let file = scratch.path().join("cut.json");
    std::fs::write(&file, cut).unwrap();
    for strict in [false, true] {
        let dir = temp();
        let output = import(dir.path(), &file, if strict { &["--strict"] } else { &[] });
        assert!(!output.status.success());
        let report = stderr(&output);
        assert!(report.contains(&format!("truncated at byte {}", cut.len())), "{report}");
        // The first event is complete: kept by default, not under --strict.
        assert_eq!(stored(dir.path()).await.len(), if strict { 0 } else { 1 }, "{report}");
    }
}

/// A store holding two seeded tenants: 300 events inside one 4-minute window
/// (to fill event-hub messages past 256 KB) and 200 spread over months.
fn seeded() -> tempfile::TempDir {
    let dir = temp();
    ok(
        &[
            "seed",
            "--count",
            "300",
            "--seed",
            "3",
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-01T00:04:00Z",
        ],
        dir.path(),
    );
    ok(
        &[
            "seed",
            "--count",
            "200",
            "--seed",
            "4",
            "--from",
            "2025-06-01T00:00:00Z",
            "--to",
            "2025-12-01T00:00:00Z",
        ],
        dir.path(),
    );
    dir
}

fn export(dir: &Path, format: &str, extra: &[&str]) -> String {
    let mut args = vec!["export", "--format", format];
    args.extend_from_slice(extra);
    let output = auditgraph(&args, dir);
    assert!(output.status.success(), "{format}: {}", stderr(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn every_export_format_has_its_shape() {
    let dir = seeded();
    let d = dir.path();

    let pages = lines(&export(d, "graph", &["--page-size", "128", "--version", "v1.0"]));
    assert_eq!(pages.len(), 4);
    assert!(
        pages.iter().all(|p| p["@odata.context"]
            == "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/auditEvents")
    );
    let events: Vec<&Value> = pages.iter().flat_map(|p| p["value"].as_array().unwrap()).collect();
    assert_eq!(events.len(), 500);
    assert!(events.iter().all(|e| seven_digits(&e["activityDateTime"]) && e["actor"].get("type").is_none()));
    let times: Vec<&str> = events.iter().map(|e| e["activityDateTime"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "chronological");

    let ndjson = lines(&export(d, "ndjson", &[]));
    assert_eq!(ndjson.len(), 500);
    assert!(ndjson.iter().all(|e| e["actor"].get("type").is_some()), "beta by default");

    let csv_text = export(d, "csv", &[]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..7],
        ["Date", "Initiated by (actor)", "Application name", "Activity", "Target(s)", "Category", "Result"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 500);
    let first = &ndjson[0];
    assert_eq!(&rows[0][0], first["activityDateTime"].as_str().unwrap());
    assert_eq!(&rows[0][5], first["category"].as_str().unwrap());
    assert_eq!(&rows[0][7], first["id"].as_str().unwrap());
    let resources: Value = serde_json::from_str(&rows[0][15]).unwrap();
    assert_eq!(resources.as_array().unwrap().len(), first["resources"].as_array().unwrap().len());

    let records = lines(&export(d, "resource-log", &[]));
    assert_eq!(records.len(), 500);
    for (r, e) in records.iter().zip(&ndjson) {
        assert!(seven_digits(&r["time"]));
        assert_eq!(r["time"], e["activityDateTime"]);
        assert_eq!(r["category"], "AuditLogs");
        assert_eq!(r["correlationId"], e["correlationId"]);
        assert_eq!(r["resultType"], e["activityResult"]);
        let p = &r["properties"];
        assert_eq!(p["AuditEventId"], e["id"]);
        assert!(
            p["Category"].is_u64() && p["ActivityType"].is_u64() && p["Actor"]["ActorType"].is_u64(),
            "{p}"
        );
        assert!(p["ActivityResultStatus"].is_u64());
        assert_eq!(p["TargetObjectIds"].as_array().unwrap().len(), e["resources"].as_array().unwrap().len());
        let date = p["ActivityDate"].as_str().unwrap();
        assert!(date.ends_with(" AM") || date.ends_with(" PM"), "{date}");
    }

    let la = lines(&export(d, "log-analytics", &[]));
    assert_eq!(la.len(), 500);
    for (row, r) in la.iter().zip(&records) {
        assert_eq!(row["Type"], "IntuneAuditLogs");
        assert_eq!(row["Category"], "AuditLogs");
        assert_eq!(row["TimeGenerated"], r["time"]);
        let properties: Value =
            serde_json::from_str(row["Properties"].as_str().expect("Properties is a string")).unwrap();
        assert_eq!(properties, r["properties"]);
    }

    let messages = export(d, "event-hub", &[]);
    let mut in_messages = 0;
    let mut big = 0;
    for line in messages.lines() {
        assert!(line.len() <= 256 * 1024, "message of {} bytes", line.len());
        big += usize::from(line.len() > 128 * 1024);
        let message: Value = serde_json::from_str(line).unwrap();
        let records = message["records"].as_array().unwrap();
        in_messages += records.len();
        // One 5-minute window per message.
        let window = |r: &Value| {
            let t = r["time"].as_str().unwrap();
            (t[..15].to_string(), t[15..16].parse::<u32>().unwrap() / 5)
        };
        assert!(records.iter().all(|r| window(r) == window(&records[0])));
    }
    assert_eq!(in_messages, 500);
    assert!(big >= 2, "the busy window is split into several full messages");

    let out = temp();
    let report = ok(&["export", "--format", "storage", "--output", out.path().to_str().unwrap()], d);
    assert!(report.contains("exported 500 events"), "{report}");
    let mut blobs = Vec::new();
    let mut stack = vec![out.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap().path();
            if entry.is_dir() { stack.push(entry) } else { blobs.push(entry) }
        }
    }
    let mut stored_lines = 0;
    let prefix = "insights-logs-auditlogs/resourceId=/TENANTS/7D0F0A2C-1B1E-4C55-9A3E-2F5C00000001/PROVIDERS/MICROSOFT.INTUNE/";
    for blob in &blobs {
        let relative = blob.strip_prefix(out.path()).unwrap().to_str().unwrap().to_string();
        assert!(relative.starts_with(prefix) && relative.ends_with("/m=00/PT1H.json"), "{relative}");
        // y=YYYY/m=MM/d=DD/h=HH → the hour every record of the blob falls in.
        let parts: Vec<&str> =
            relative[prefix.len()..].split('/').map(|p| p.split_once('=').map_or(p, |(_, v)| v)).collect();
        let hour = format!("{}-{}-{}T{}", parts[0], parts[1], parts[2], parts[3]);
        for record in lines(&std::fs::read_to_string(blob).unwrap()) {
            assert!(record["time"].as_str().unwrap().starts_with(&hour), "{relative}: {}", record["time"]);
            stored_lines += 1;
        }
    }
    assert_eq!(stored_lines, 500);
    assert!(blobs.len() > 100, "200 events over months spread over many hours");

    // --filter and --from/--to select, through the OData engine.
    let devices = lines(&export(d, "ndjson", &["--filter", "category eq 'Device'"]));
    assert_eq!(devices.len(), ndjson.iter().filter(|e| e["category"] == "Device").count());
    assert!(!devices.is_empty());
    let busy =
        lines(&export(d, "ndjson", &["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"]));
    assert_eq!(busy.len(), 300);
}

#[test]
fn an_export_that_cannot_be_written_fails_and_says_why() {
    let dir = seeded();
    for format in ["graph", "ndjson", "csv", "resource-log"] {
        let output = auditgraph(&["export", "--format", format, "--output", "/dev/full"], dir.path());
        assert!(!output.status.success(), "{format}: a full disk must fail the export");
        let message = stderr(&output);
        assert!(message.contains("cannot write the export: No space left on device"), "{format}: {message}");
    }
}

#[tokio::test]
async fn graph_ndjson_and_resource_log_round_trip_losslessly() {
    let source = temp();
    ok(
        &[
            "seed",
            "--count",
            "500",
            "--seed",
            "11",
            "--from",
            "2025-01-01T00:00:00Z",
            "--to",
            "2025-12-31T00:00:00Z",
        ],
        source.path(),
    );
    let original = stored(source.path()).await;
    assert_eq!(original.len(), 500);
    let scratch = temp();
    for (format, extra) in [("graph", &["--page-size", "77"][..]), ("ndjson", &[]), ("resource-log", &[])] {
        let file = scratch.path().join(format);
        let mut args = vec!["export", "--format", format, "--output", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(&args, source.path());
        // Into every backend the run has: the bulk path is the same on each.
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
            let target = temp();
            let Some(url) = backend.fresh_database(target.path()).await else { continue };
            let args = ["import", file.to_str().unwrap(), "--batch-size", "64", "--database-url", &url];
            let report = ok(&args, target.path());
            assert!(
                report.contains("imported 500 events, skipped 0 already present, rejected 0"),
                "{format} into {backend:?}: {report}"
            );
            let copy = stored_at(&url).await;
            assert_eq!(copy.len(), original.len(), "{format} into {backend:?}");
            for (a, b) in original.iter().zip(&copy) {
                // Value equality ignores key order; compare the text too, for order of
                // resources and properties and the exact strings.
                assert_eq!(a.to_string(), b.to_string(), "{format} into {backend:?}");
            }
        }
    }
}

/// `auditgraph import - --strict` fed `file` on standard input.
fn strict_import_from_stdin(data_dir: &Path, file: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(["import", "-", "--strict", "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&std::fs::read(file).unwrap()).unwrap();
    child.wait_with_output().unwrap()
}
