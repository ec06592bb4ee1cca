//! The admin center's Audit logs page, end to end: the real server
//! (auth on), a real headless Chromium (`browser::Browser`), real sign-in
//! through auditgraph's identity platform with the development tenant's users.
//!
//! - `an_admin_signs_in_filters_pages_inspects_shares_and_exports`: sign-in
//!   with PKCE; the category → activity → date range filters (day, week,
//!   custom, month, all) and the back button; the count;
//!   newest first; load more; keyboard navigation; the details pane with the
//!   actor and the old → new table; a reloaded and a freshly signed-in shared
//!   URL; the CSV and JSON exports equal `auditgraph export`'s output; the
//!   phone layout; nothing loaded from outside auditgraph.
//! - `the_helpdesk_user_and_an_expired_session_are_explained`: 403, 401, 429 (the
//!   emulator throttling) and a server failure (500) in words, never an empty table.
//! - HTTP-level checks of the page, its export endpoint and the identity
//!   platform's redirect rule for the page.
//!
//! Screenshots of the main states go to `target/browser-artifacts/`.

use std::process::Command;

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{Backend, NOACCESS, READER, TENANT, TestApp, client_credentials, days_ago};

const BIN: &str = env!("CARGO_BIN_EXE_auditgraph");
pub(crate) const EVENTS: &str = "/beta/deviceManagement/auditEvents";
const PUBLIC_CLIENT: &str = "00000000-0000-0000-0000-00000000a010";
const PASSWORD: &str = "Passw0rd!";
pub(crate) const ADMIN: &str = "admin@contoso.onmicrosoft.com";
const HELPDESK: &str = "helpdesk@contoso.onmicrosoft.com";

/// Wipes in the last week: more than one page of 50.
const WIPES: usize = 57;

pub(crate) fn event(id: &str, at: &str, category: &str, activity_type: &str, display: &str) -> Value {
    json!({
        "id": id,
        "displayName": display,
        "componentName": "ManagedDevices",
        "activity": null,
        "activityDateTime": at,
        "activityType": activity_type,
        "activityOperationType": "Action",
        "activityResult": "Success",
        "correlationId": "5f1b4a7e-8c2d-4e3f-9a0b-1c2d3e4f5a6b",
        "category": category,
        "actor": {
            "auditActorType": "ItPro",
            "userPermissions": ["*"],
            "applicationId": "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
            "applicationDisplayName": "Microsoft Intune portal extension",
            "userPrincipalName": "it.admin@contoso.onmicrosoft.com",
            "servicePrincipalName": null,
            "ipAddress": "203.0.113.7",
            "userId": "910ed5ca-4ecf-414c-a1be-d53511bfe1a5"
        },
        "resources": [{
            "displayName": format!("Device {id}"),
            "auditResourceType": "ManagedDevice",
            "resourceId": "0a1b2c3d-0000-4000-8000-000000000001",
            "modifiedProperties": [{"displayName": "DeviceState", "oldValue": "Active", "newValue": "WipePending"}]
        }]
    })
}

/// The one event with changed properties, two days ago, category Application.
fn policy_change() -> Value {
    json!({
        "id": "evt-props",
        "displayName": "Patch MobileApp",
        "componentName": "MobileApp",
        "activity": null,
        "activityDateTime": days_ago(2),
        "activityType": "Patch MobileApp",
        "activityOperationType": "Patch",
        "activityResult": "Success",
        "correlationId": "21e86a8c-3010-46a8-86b5-4580e432ff52",
        "category": "Application",
        "actor": {
            "auditActorType": "ItPro",
            "userPermissions": ["Microsoft.Intune_MobileApps_Update", "Microsoft.Intune_MobileApps_Read"],
            "applicationId": "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
            "applicationDisplayName": "Microsoft Intune portal extension",
            "userPrincipalName": "it.admin@contoso.onmicrosoft.com",
            "servicePrincipalName": null,
            "ipAddress": "198.51.100.23",
            "userId": "910ed5ca-4ecf-414c-a1be-d53511bfe1a5"
        },
        "resources": [{
            "displayName": "Windows Calculator",
            "auditResourceType": "WinGetApp",
            "resourceId": "df07f17c-2d58-42d9-8491-31d1a6c2a0b5",
            "modifiedProperties": [
                {"displayName": "Publisher", "oldValue": "Contoso Ltd", "newValue": "Microsoft Corporation"},
                {"displayName": "IsFeatured", "oldValue": "False", "newValue": "True"}
            ]
        }]
    })
}

/// 57 wipes and 3 retires in the last week, one wipe 20 days ago, the policy
/// change 2 days ago, and a compliance event 60 days ago (outside a month).
async fn seed(app: &TestApp) {
    let mut events = Vec::new();
    for i in 0..WIPES {
        let at = auditgraph::domain::format_graph_datetime(
            chrono::Utc::now() - chrono::Duration::minutes(90 * (i as i64 + 1)),
        );
        events.push(event(
            &format!("wipe-{i:02}"),
            &at,
            "Device",
            "Wipe ManagedDevice",
            "Wipe managed device",
        ));
    }
    for i in 0..3 {
        events.push(event(
            &format!("retire-{i}"),
            &days_ago(i + 1),
            "Device",
            "Retire ManagedDevice",
            "Retire managed device",
        ));
    }
    events.push(event("wipe-old", &days_ago(20), "Device", "Wipe ManagedDevice", "Wipe managed device"));
    events.push(event(
        "compliance-old",
        &days_ago(60),
        "Compliance",
        "Create DeviceCompliancePolicy",
        "Create compliance policy",
    ));
    events.push(policy_change());
    for e in events {
        let (status, body) = app.post_json(EVENTS, &e).await;
        assert_eq!(status, 201, "{body}");
    }
}

pub(crate) async fn spawn() -> TestApp {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    seed(&app).await;
    app
}

pub(crate) async fn click(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

pub(crate) async fn select(b: &Browser, css: &str, value: &str) {
    let element = b.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    element.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

pub(crate) async fn text(b: &Browser, css: &str) -> String {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// From the welcome panel through auditgraph's sign-in form, back to the page.
/// Fills in and submits auditgraph's sign-in form, which must be showing.
async fn submit_sign_in_form(b: &Browser, upn: &str) {
    b.client.find(Locator::Css("input[name=login]")).await.unwrap().send_keys(upn).await.unwrap();
    b.client.find(Locator::Css("input[name=passwd]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    click(b, "button[type=submit]").await;
}

pub(crate) async fn sign_in(b: &Browser, upn: &str) {
    b.wait_until("!document.getElementById('welcome').hidden", "the welcome panel").await;
    click(b, "#sign-in-welcome").await;
    b.wait_until("document.querySelector('input[name=passwd]')", "the sign-in form").await;
    let url = b.client.current_url().await.expect("url");
    assert!(url.path().ends_with("/oauth2/v2.0/authorize"), "{url}");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"), "PKCE with Web Crypto: {url}");
    assert_eq!(get("client_id").as_deref(), Some(PUBLIC_CLIENT));
    submit_sign_in_form(b, upn).await;
    b.wait_until(
        &format!("location.pathname === '/auditlogs' && document.getElementById('who').textContent.includes({upn:?})"),
        "the page to show who is signed in",
    )
    .await;
    let url = b.client.current_url().await.expect("url");
    assert!(!url.query().unwrap_or_default().contains("code="), "the code leaves the address bar: {url}");
}

pub(crate) const ROWS: &str = "document.querySelectorAll('#rows tr').length";

/// The alert's text, once the page shows one (`what` names it in a timeout).
async fn alert_text(b: &Browser, what: &str) -> String {
    b.wait_until("!document.getElementById('alert').hidden", what).await;
    text(b, "#alert").await
}

pub(crate) async fn row_count(b: &Browser) -> u64 {
    b.eval(&format!("return {ROWS};")).await.as_u64().expect("a number")
}

pub(crate) async fn wait_for_count(b: &Browser, count: usize) {
    let noun = if count == 1 { "event matches" } else { "events match" };
    b.wait_until(
        &format!("document.getElementById('status').textContent.startsWith('{count} {noun} this filter')"),
        &format!("the count {count}"),
    )
    .await;
}

/// `auditgraph export` on the test's database, as a user would run it.
fn cli_export(app: &TestApp, format: &str, filter: Option<&str>) -> Vec<u8> {
    let mut command = Command::new(BIN);
    command
        .args(["export", "--format", format, "--database-url", &app.database_url, "--data-dir"])
        .arg(app.data_dir());
    if let Some(filter) = filter {
        command.args(["--filter", filter]);
    }
    let output = command.output().expect("run auditgraph export");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

async fn download(b: &Browser, format: &str) -> Vec<u8> {
    for entry in std::fs::read_dir(b.download_dir()).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    select(b, "#export-format", format).await;
    click(b, "#export").await;
    let path = b.wait_for_download().await;
    let expected_extension = match format {
        "graph" => "json",
        other => other,
    };
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some(expected_extension), "{}", path.display());
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_filters_pages_inspects_shares_and_exports() {
    let app = spawn().await;
    let b = Browser::launch().await;

    // `/` is the page too; signed out it explains what to do.
    b.client.goto(&app.url("/")).await.unwrap();
    b.wait_until("!document.getElementById('welcome').hidden", "the welcome panel").await;
    assert!(text(&b, "#welcome").await.contains("Sign in"));
    b.screenshot("admin-page-signed-out").await;

    b.client.goto(&app.url("/auditlogs")).await.unwrap();
    sign_in(&b, ADMIN).await;
    assert!(text(&b, "#who").await.contains(ADMIN));

    // Default view: the previous month, newest first, with the total.
    wait_for_count(&b, WIPES + 3 + 1 + 1).await;
    assert_eq!(row_count(&b).await, 50);
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("range=month"), "the default filter is in the URL");

    // Category, then its activities (disabled until a category is chosen).
    assert_eq!(b.eval("return document.getElementById('f-activity').disabled").await, json!(true));
    b.wait_until("document.querySelectorAll('#f-category option').length === 22", "21 categories and All")
        .await;
    select(&b, "#f-category", "Device").await;
    b.wait_until(
        "!document.getElementById('f-activity').disabled && [...document.querySelectorAll('#f-activity option')].some(o => o.value === 'Wipe ManagedDevice')",
        "Device's activity types",
    )
    .await;
    // Intune's catalogue for Device plus what the store holds.
    let options =
        b.eval("return [...document.querySelectorAll('#f-activity option')].map(o => o.value)").await;
    assert!(options.as_array().unwrap().iter().any(|o| o == "Retire ManagedDevice"), "{options}");
    select(&b, "#f-activity", "Wipe ManagedDevice").await;
    select(&b, "#f-range", "week").await;
    click(&b, "#apply").await;
    wait_for_count(&b, WIPES).await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("category=Device&activity=Wipe+ManagedDevice&range=week"));
    assert_eq!(row_count(&b).await, 50);
    assert!(text(&b, "#status").await.contains("showing 50"), "{}", text(&b, "#status").await);
    b.screenshot("admin-page-filtered").await;

    // The previous day: the wipes 90, 180, … 1350 minutes old (the 16th, at
    // exactly 24 hours when seeded, is older than that by the time it is asked).
    select(&b, "#f-range", "day").await;
    click(&b, "#apply").await;
    wait_for_count(&b, 15).await;
    // Back to the week for paging (history keeps each applied view).
    b.client.back().await.unwrap();
    wait_for_count(&b, WIPES).await;
    assert_eq!(b.eval("return document.getElementById('f-range').value").await, json!("week"));

    // Load more follows the nextLink to the end.
    assert!(b.client.find(Locator::Css("#more")).await.unwrap().is_displayed().await.unwrap());
    click(&b, "#more").await;
    b.wait_until(&format!("{ROWS} === {WIPES}"), "the second page").await;
    b.wait_until("document.getElementById('more').hidden", "no more pages").await;
    // Newest first; the date cell is local time with the UTC value on hover.
    let times = b
        .eval("return [...document.querySelectorAll('#rows time')].map(t => t.getAttribute('datetime'))")
        .await;
    let times: Vec<&str> = times.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first: {times:?}");
    let title = b.eval("return document.querySelector('#rows time').title").await;
    assert_eq!(title, json!(format!("UTC: {}", times[0])));
    let cells = b.eval("return [...document.querySelector('#rows tr').cells].map(c => c.innerText)").await;
    assert_eq!(cells[1], "it.admin@contoso.onmicrosoft.com");
    assert_eq!(cells[2], "Microsoft Intune portal extension");
    // Activity is the activityType, as the filter that selected it; Target(s) as the CSV.
    assert_eq!(cells[3], "Wipe ManagedDevice");
    assert_eq!(cells[4], "Device wipe-00");
    assert_eq!(cells[5], "Device");
    assert_eq!(cells[6], "Success");

    // Keyboard: arrows move between rows, Enter opens, Escape closes and returns focus.
    let first = b.client.find(Locator::Css("#rows tr:first-child button")).await.unwrap();
    b.eval("document.querySelector('#rows tr:first-child button').focus(); return true").await;
    first.send_keys(&Key::Down).await.unwrap();
    assert_eq!(b.eval("return document.activeElement.dataset.index").await, json!("1"));
    // Keyboard focus is visible.
    assert_eq!(b.eval("return getComputedStyle(document.activeElement).outlineStyle").await, json!("solid"));
    let second = b.client.find(Locator::Css("#rows tr:nth-child(2) button")).await.unwrap();
    second.send_keys(&Key::Enter).await.unwrap();
    b.wait_until("!document.getElementById('details').hidden", "the details pane").await;
    assert_eq!(b.eval("return document.activeElement.id").await, json!("details"), "focus moves to the pane");
    b.eval("window.scrollTo(0, 0); return true").await;
    b.screenshot("admin-page-list-details").await;
    // A larger view of the same state for the README (docs/admin-page.png).
    b.client.set_window_size(1600, 1500).await.unwrap();
    b.eval("window.scrollTo(0, 0); return true").await;
    b.screenshot("admin-page-readme").await;
    b.client.set_window_size(1366, 900).await.unwrap();
    assert!(b.client.current_url().await.unwrap().query().unwrap().contains("event=wipe-01"));
    b.client.find(Locator::Css("#details")).await.unwrap().send_keys(&Key::Escape).await.unwrap();
    b.wait_until("document.getElementById('details').hidden", "the pane to close").await;
    assert_eq!(
        b.eval("return document.activeElement.dataset.index").await,
        json!("1"),
        "focus returns to the row"
    );

    // Custom dates: 25 to 15 days ago holds only the old wipe. Their inputs
    // show only for a custom range.
    assert!(!b.client.find(Locator::Css("#custom-dates")).await.unwrap().is_displayed().await.unwrap());
    select(&b, "#f-range", "custom").await;
    b.wait_until("!document.getElementById('custom-dates').hidden", "the date inputs").await;
    let date = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    b.eval(&format!(
        "document.getElementById('f-from').value = '{}'; document.getElementById('f-to').value = '{}'; return true",
        date(25),
        date(15)
    ))
    .await;
    click(&b, "#apply").await;
    wait_for_count(&b, 1).await;
    assert_eq!(b.eval("return document.querySelector('#rows tr').dataset.id").await, json!("wipe-old"));
    assert!(b.client.current_url().await.unwrap().query().unwrap().contains(&format!(
        "range=custom&from={}&to={}",
        date(25),
        date(15)
    )));

    // The details of the event with changed properties.
    select(&b, "#f-category", "Application").await;
    b.wait_until("!document.getElementById('f-activity').disabled", "Application's activity types").await;
    select(&b, "#f-range", "month").await;
    click(&b, "#apply").await;
    wait_for_count(&b, 1).await;
    click(&b, "#rows tr:first-child button").await;
    b.wait_until("!document.getElementById('details').hidden", "the details pane").await;
    assert_details(&b).await;
    b.eval("window.scrollTo(0, 0); return true").await;
    b.screenshot("admin-page-details").await;
    // The correlation id's copy button reaches the clipboard.
    click(&b, "#details button[aria-label='Correlation id']").await;
    b.wait_until(
        "document.getElementById('notice').textContent === 'Correlation id: copied to the clipboard.'",
        "the copy confirmation",
    )
    .await;

    // The URL is the view: reload it...
    let shared = b.client.current_url().await.unwrap().to_string();
    assert!(shared.contains("category=Application") && shared.contains("event=evt-props"), "{shared}");
    b.client.refresh().await.unwrap();
    b.wait_until("!document.getElementById('details').hidden && document.getElementById('details-title').textContent === 'Patch MobileApp'", "the shared details after reload").await;
    assert_eq!(b.eval("return document.getElementById('f-category').value").await, json!("Application"));
    assert_eq!(b.eval("return document.getElementById('f-range').value").await, json!("month"));
    wait_for_count(&b, 1).await;
    assert_details(&b).await;

    // ...or open it signed out: sign-in brings the user back to it.
    click(&b, "#sign-out").await;
    b.wait_until(
        "location.pathname === '/auditlogs' && !document.getElementById('welcome').hidden",
        "the signed-out page",
    )
    .await;
    assert!(text(&b, "#who").await.contains("Not signed in"));
    b.client.goto(&shared).await.unwrap();
    sign_in(&b, ADMIN).await;
    b.wait_until("!document.getElementById('details').hidden", "the shared details after sign-in").await;
    assert_eq!(b.client.current_url().await.unwrap().to_string(), shared);
    assert_details(&b).await;

    // Export equals `auditgraph export` for the same filter.
    select(&b, "#f-category", "Device").await;
    b.wait_until("!document.getElementById('f-activity').disabled", "Device's activity types").await;
    select(&b, "#f-range", "all").await;
    click(&b, "#apply").await;
    wait_for_count(&b, WIPES + 3 + 1).await;
    let csv = download(&b, "csv").await;
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        String::from_utf8(cli_export(&app, "csv", Some("category eq 'Device'"))).unwrap()
    );
    b.wait_until(
        "document.getElementById('notice').textContent.startsWith('Exported the events of this filter as CSV')",
        "the export notice",
    )
    .await;
    wait_for_count(&b, WIPES + 3 + 1).await;
    let graph = download(&b, "graph").await;
    assert_eq!(
        String::from_utf8(graph).unwrap(),
        String::from_utf8(cli_export(&app, "graph", Some("category eq 'Device'"))).unwrap()
    );
    let ndjson = download(&b, "ndjson").await;
    assert_eq!(ndjson.iter().filter(|c| **c == b'\n').count(), WIPES + 3 + 1);
    assert_eq!(ndjson, cli_export(&app, "ndjson", Some("category eq 'Device'")));

    // Every control has an accessible name: a label, aria-label or its text.
    let unnamed = b
        .eval(
            "return [...document.querySelectorAll('select, input, button')].filter(e => \
             !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim()).map(e => e.outerHTML)",
        )
        .await;
    assert_eq!(unnamed, json!([]));

    // Nothing came from anywhere but auditgraph.
    let foreign = b
        .eval("return performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith(location.origin) && !n.startsWith('blob:') && !n.startsWith('data:'))")
        .await;
    assert_eq!(foreign, json!([]));

    // Phone width: one column, no sideways scrolling, details over the list.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&shared).await.unwrap();
    b.wait_until("!document.getElementById('details').hidden", "the details on a phone").await;
    b.screenshot("admin-page-phone-details").await;
    click(&b, "#details-close").await;
    b.wait_until("document.getElementById('details').hidden", "the pane to close").await;
    let overflow = b.eval("return document.documentElement.scrollWidth - window.innerWidth").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the page scrolls sideways by {overflow}px at 390px");
    b.screenshot("admin-page-phone").await;

    b.close().await;
}

async fn assert_details(b: &Browser) {
    let pane = text(b, "#details").await;
    for expected in [
        "Patch MobileApp",
        "21e86a8c-3010-46a8-86b5-4580e432ff52",
        "it.admin@contoso.onmicrosoft.com",
        "Microsoft Intune portal extension",
        "5926fc8e-304e-4f59-8bed-58ca97cc39a4",
        "198.51.100.23",
        "Microsoft.Intune_MobileApps_Update",
        "Microsoft.Intune_MobileApps_Read",
        "Windows Calculator",
        "WinGetApp",
        "df07f17c-2d58-42d9-8491-31d1a6c2a0b5",
    ] {
        assert!(pane.contains(expected), "the details show {expected:?}:\n{pane}");
    }
    // Each modified property as a row: name, old → new.
    let rows = b
        .eval("return [...document.querySelectorAll('#details table.props tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        .await;
    assert_eq!(
        rows,
        json!([
            ["Publisher", "Contoso Ltd", "→", "Microsoft Corporation"],
            ["IsFeatured", "False", "→", "True"]
        ])
    );
    // The raw JSON is the event as Graph (beta) returns it.
    let raw = b.eval("return document.querySelector('#details pre').textContent").await;
    let raw: Value = serde_json::from_str(raw.as_str().unwrap()).unwrap();
    assert_eq!(raw["id"], "evt-props");
    assert_eq!(raw["resources"][0]["modifiedProperties"][0]["oldValue"], "Contoso Ltd");
    assert_eq!(raw["actor"]["type"], "ItPro", "beta's actor.type");
    assert!(
        b.client.find(Locator::Css("#details button[aria-label='Correlation id']")).await.is_ok(),
        "a copy button"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helpdesk_user_and_an_expired_session_are_explained() {
    let app = spawn().await;
    let b = Browser::launch().await;

    b.client.goto(&app.url("/auditlogs")).await.unwrap();
    sign_in(&b, HELPDESK).await;
    let alert = alert_text(&b, "the 403 explanation").await;
    assert!(alert.contains("You do not have permission to view audit logs"), "{alert}");
    assert!(
        alert.contains(HELPDESK) && alert.contains("Audit data - Read") && alert.contains("403"),
        "{alert}"
    );
    assert_eq!(
        b.eval("return document.getElementById('workspace').hidden").await,
        json!(true),
        "no empty table"
    );
    assert_eq!(row_count(&b).await, 0);
    assert!(alert.contains("Sign out and use another account"), "{alert}");
    b.screenshot("admin-page-helpdesk-403").await;

    // The helpdesk user signs out; an admin's session then expires (a token
    // the API no longer accepts): the page says so and offers to sign in.
    click(&b, "#alert-actions button").await;
    b.wait_until("!document.getElementById('welcome').hidden", "the signed-out page").await;
    sign_in(&b, ADMIN).await;
    wait_for_count(&b, WIPES + 3 + 1 + 1).await;
    b.eval(
        "const s = JSON.parse(sessionStorage.getItem('auditgraph.session')); s.accessToken = s.accessToken.slice(0, -8) + 'AAAAAAAA'; \
         sessionStorage.setItem('auditgraph.session', JSON.stringify(s)); return true",
    )
    .await;
    b.client.refresh().await.unwrap();
    let alert = alert_text(&b, "the 401 explanation").await;
    assert!(alert.contains("Your sign-in is no longer valid") && alert.contains("401"), "{alert}");
    assert!(alert.contains("Sign in again"), "{alert}");
    assert_eq!(b.eval("return document.getElementById('workspace').hidden").await, json!(true));
    b.screenshot("admin-page-expired-401").await;

    // A server failure (the events table gone under the running server)
    // is a 500 in words, with the request id to look up in the log.
    click(&b, "#alert-actions button").await;
    b.wait_until("document.querySelector('input[name=passwd]')", "the sign-in form").await;
    submit_sign_in_form(&b, ADMIN).await;
    wait_for_count(&b, WIPES + 3 + 1 + 1).await;

    // Throttled (the emulator's limits cut to one request per window, counted
    // from the change): the first Apply is served, the second is a 429 in
    // words, with how long to wait.
    let http = reqwest::Client::new();
    let throttling =
        |body: serde_json::Value| http.patch(app.url("/_auditgraph/throttling")).json(&body).send();
    let limits = json!({ "limits": { "tenantAny": 1, "appAny": 1 } });
    assert_eq!(throttling(limits).await.unwrap().status(), 200);
    click(&b, "#apply").await;
    wait_for_count(&b, WIPES + 3 + 1 + 1).await;
    click(&b, "#apply").await;
    let alert = alert_text(&b, "the 429 explanation").await;
    assert!(
        alert.contains("Too many requests") && alert.contains("429") && alert.contains("Wait"),
        "{alert}"
    );
    b.screenshot("admin-page-throttled").await;
    assert_eq!(throttling(json!({ "enabled": false })).await.unwrap().status(), 200);
    click(&b, "#apply").await;
    wait_for_count(&b, WIPES + 3 + 1 + 1).await;
    assert_eq!(
        b.eval("return document.getElementById('alert').hidden").await,
        json!(true),
        "the 429 explanation goes once the list loads"
    );

    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "ALTER TABLE audit_events RENAME TO audit_events_gone")
        .await
        .unwrap();
    click(&b, "#apply").await;
    let alert = alert_text(&b, "the 5xx explanation").await;
    assert!(
        alert.contains("auditgraph could not answer")
            && alert.contains("500")
            && alert.contains("request-id"),
        "{alert}"
    );
    assert!(alert.contains("Try again"), "{alert}");
    assert!(
        !b.client.find(Locator::Css("#events")).await.unwrap().is_displayed().await.unwrap(),
        "no empty table"
    );
    b.screenshot("admin-page-server-error").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_from_the_binary_with_its_settings() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await.unwrap();
    let plain = reqwest::Client::new();
    for path in ["/", "/auditlogs"] {
        let response = plain.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!(r#""tenantId":"{TENANT}""#)), "{html}");
        assert!(html.contains(&format!(r#""clientId":"{PUBLIC_CLIENT}""#)), "{html}");
        assert!(html.contains(r#""auth":true"#));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no absolute URL: everything is same-origin"
        );
    }
    for (path, kind) in [
        ("/auditlogs/app.js", "text/javascript; charset=utf-8"),
        ("/auditlogs/app.css", "text/css; charset=utf-8"),
    ] {
        let response = plain.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], kind);
        assert!(
            !response.text().await.unwrap().contains("https://"),
            "{path} loads nothing from the internet"
        );
    }
    // With --auth off the page knows it need not sign in.
    let open = TestApp::spawn(Backend::Sqlite, &["--auth", "off"]).await.unwrap();
    let html = plain.get(open.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#""auth":false"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_endpoint_takes_the_list_permission_and_the_cli_format() {
    let app = spawn().await;
    let plain = reqwest::Client::new();
    let url = app.url("/auditlogs/export?format=csv&$filter=category%20eq%20%27Application%27");

    let response = plain.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    let noaccess = client_credentials(&plain, &app.address, NOACCESS).await;
    let response = plain.get(&url).bearer_auth(&noaccess).send().await.unwrap();
    assert_eq!(response.status(), 403);

    let reader = client_credentials(&plain, &app.address, READER).await;
    let response = plain.get(&url).bearer_auth(&reader).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"auditlogs.csv\"");
    assert_eq!(
        response.bytes().await.unwrap().to_vec(),
        cli_export(&app, "csv", Some("category eq 'Application'"))
    );

    for bad in ["format=xml", "format=csv&$filter=nonsense%20eq%201"] {
        let response = plain
            .get(app.url(&format!("/auditlogs/export?{bad}")))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }

    // More than one store page (1000 events): the streamed chunks still join
    // into the CLI's output, for every format and with no filter at all.
    let from = auditgraph::domain::format_graph_datetime(chrono::Utc::now() - chrono::Duration::days(300));
    let seeded = Command::new(BIN)
        .args(["seed", "--count", "1500", "--from", &from, "--database-url", &app.database_url, "--data-dir"])
        .arg(app.data_dir())
        .output()
        .expect("run auditgraph seed");
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    for format in ["csv", "graph", "ndjson"] {
        let response = plain
            .get(app.url(&format!("/auditlogs/export?format={format}")))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{format}");
        let body = response.bytes().await.unwrap().to_vec();
        let expected = cli_export(&app, format, None);
        assert!(
            body == expected,
            "{format}: the endpoint's {} bytes differ from the CLI's {}",
            body.len(),
            expected.len()
        );
    }
    let graph = cli_export(&app, "graph", None);
    assert_eq!(graph.iter().filter(|b| **b == b'\n').count(), 2, "two Graph pages");
}

/// The page signs in with `redirect_uri={origin}/auditlogs`: accepted on the
/// origin the browser used even when that is not loopback, and for the public
/// client only; any other URI on a non-loopback host is still refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_accepts_the_admin_page_on_its_own_origin_only() {
    let app = TestApp::spawn(Backend::Sqlite, &[]).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = |client_id: &str, redirect: &str| {
        let query = serde_urlencoded::to_string([
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", "openid DeviceManagementApps.Read.All"),
            ("login_hint", ADMIN),
            ("state", "s1"),
        ])
        .unwrap();
        client
            .get(app.url(&format!("/{TENANT}/oauth2/v2.0/authorize?{query}")))
            .header("host", "auditgraph.test:5080")
    };

    let response = authorize(PUBLIC_CLIENT, "http://auditgraph.test:5080/auditlogs").send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("http://auditgraph.test:5080/auditlogs?code="), "{location}");

    for (client_id, redirect) in [
        (PUBLIC_CLIENT, "http://elsewhere.test:5080/auditlogs"),
        (PUBLIC_CLIENT, "http://auditgraph.test:5080/other"),
        (PUBLIC_CLIENT, "https://auditgraph.test:5080/auditlogs"),
        (READER.0, "http://auditgraph.test:5080/auditlogs"),
    ] {
        let response = authorize(client_id, redirect).send().await.unwrap();
        assert_eq!(response.status(), 400, "{client_id} {redirect}");
        assert!(response.text().await.unwrap().contains("AADSTS50011"), "{redirect}");
    }
}
